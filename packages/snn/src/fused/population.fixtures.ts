import type { NetworkState, TrialBatch } from '../engine.js';
import { initNetwork } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { Rng } from '../rng.js';

/* Fixtures of the population tests (not built into the package). */

const FIVE = [...PROPERTY_KEYS];

/** Gaussian inputs, one-hot targets by trial, the first third of the steps unscored; from `stream`. */
export function populationBatch(
  T: number,
  B: number,
  nIn: number,
  nOut: number,
  seed: number,
  stream: string,
): TrialBatch {
  const rng = Rng.seeded(seed, stream);
  const inputs = new Float32Array(T * B * nIn);
  for (let i = 0; i < inputs.length; i++) inputs[i] = 1.5 * rng.normal();
  const targets = new Float32Array(T * B * nOut);
  const mask = new Float32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      targets[(t * B + b) * nOut + ((b + seed) % nOut)] = 1;
      mask[t * B + b] = t > T / 3 ? 1 : 0;
    }
  }
  return { steps: T, batch: B, nIn, nOut, inputs, targets, mask };
}

/** The bit patterns of a float array (to compare exactly, NaN included). */
export function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/**
 * Members that differ in mask, seed, surrogate, spike mode, loss, adaptation, noise and learning rates
 * (4 in, 16 recurrent, 3 out); the first `count` of the seven.
 */
export function mixedMembers(count = 7): NetworkState[] {
  const sizes = { nIn: 4, nRec: 16, nOut: 3, weights: { inGain: 3, recGain: 1.5 } };
  return [
    () => initNetwork({ ...sizes, space: FIVE, learnable: FIVE, seed: 1 }),
    () => initNetwork({ ...sizes, learnable: ['tauD'], seed: 2, inputNoise: 0.2 }),
    () => initNetwork({ ...sizes, space: FIVE, learnable: ['beta', 'tauA'], trainWeights: false, seed: 3 }),
    () => initNetwork({ ...sizes, surrogate: { name: 'multi-gaussian' }, loss: { kind: 'xent' }, seed: 4 }),
    () => initNetwork({ ...sizes, spike: 'soft', space: FIVE, learnable: ['theta'], seed: 5 }),
    () => initNetwork({ ...sizes, surrogate: { name: 'arctan' }, optimizer: { lrWeights: 1e-2 }, seed: 6 }),
    () => initNetwork({ ...sizes, space: FIVE, learnable: FIVE, seed: 7, inputNoise: 0.1 }),
  ]
    .slice(0, count)
    .map((make) => make());
}

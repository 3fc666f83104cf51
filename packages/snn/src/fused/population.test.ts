import { describe, expect, it } from 'vitest';
import type { NetworkState, ParamKey, TrialBatch } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { initNetwork } from '../network.js';
import { PROPERTY_KEYS } from '../properties.js';
import { Rng } from '../rng.js';
import { FusedEngine } from './fused-engine.js';
import { FusedPopulation } from './population.js';

const ALL: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];
const FIVE = [...PROPERTY_KEYS];

function batchOf(T: number, B: number, nIn: number, nOut: number, seed: number): TrialBatch {
  const rng = Rng.seeded(seed, 'population-test-batch');
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

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function expectSame(a: NetworkState, b: NetworkState): void {
  for (const k of ALL) expect(bits(a.params[k]), k).toEqual(bits(b.params[k]));
  expect(a.adam.step).toBe(b.adam.step);
  for (const k of Object.keys(b.adam.m) as ParamKey[]) {
    expect(bits(a.adam.m[k]!), `m.${k}`).toEqual(bits(b.adam.m[k]!));
    expect(bits(a.adam.v[k]!), `v.${k}`).toEqual(bits(b.adam.v[k]!));
  }
  expect(a.rng).toEqual(b.rng);
}

/** Members that differ in mask, seed, surrogate, spike mode, loss, adaptation, noise and learning rates. */
function members(): NetworkState[] {
  const sizes = { nIn: 4, nRec: 16, nOut: 3, weights: { inGain: 3, recGain: 1.5 } };
  return [
    initNetwork({ ...sizes, space: FIVE, learnable: FIVE, seed: 1 }),
    initNetwork({ ...sizes, learnable: ['tauD'], seed: 2, inputNoise: 0.2 }),
    initNetwork({ ...sizes, space: FIVE, learnable: ['beta', 'tauA'], trainWeights: false, seed: 3 }),
    initNetwork({ ...sizes, surrogate: { name: 'multi-gaussian' }, loss: { kind: 'xent' }, seed: 4 }),
    initNetwork({ ...sizes, spike: 'soft', space: FIVE, learnable: ['theta'], seed: 5 }),
    initNetwork({ ...sizes, surrogate: { name: 'arctan' }, optimizer: { lrWeights: 1e-2 }, seed: 6 }),
  ];
}

describe('FusedPopulation', () => {
  it('each member equals a standalone FusedEngine, exactly (shared batch)', () => {
    const states = members();
    const pop = FusedPopulation.create(states);
    const solo = states.map((s) => FusedEngine.create(s));
    pop.setHomeostaticTarget(0, 0.05);
    solo[0]!.setHomeostaticTarget(0.05);
    const batch = batchOf(25, 2, 4, 3, 1);
    for (let i = 0; i < 8; i++) {
      const stats = pop.trainStep(batch);
      for (const [p, e] of solo.entries()) expect(stats[p]).toEqual(e.trainStep(batch));
    }
    for (const [p, e] of solo.entries()) expectSame(pop.snapshot(p), e.snapshot());
    const grads = pop.gradients(batch);
    const evals = pop.evaluate(batch);
    for (const [p, e] of solo.entries()) {
      expect(grads[p]).toEqual(e.gradients(batch));
      expect(evals[p]).toEqual(e.evaluate(batch));
    }
  });

  it('each member equals a standalone FusedEngine, exactly (a batch per member)', () => {
    const states = members().slice(0, 4);
    const pop = FusedPopulation.create(states);
    const solo = states.map((s) => FusedEngine.create(s));
    for (let i = 0; i < 6; i++) {
      const batches = states.map((_, p) => batchOf(20, 3, 4, 3, 10 * i + p));
      pop.trainStep(batches);
      for (const [p, e] of solo.entries()) e.trainStep(batches[p]!);
    }
    pop.resetOptimizer(1);
    solo[1]!.resetOptimizer();
    const batches = states.map((_, p) => batchOf(20, 3, 4, 3, 99 + p));
    pop.trainStep(batches);
    for (const [p, e] of solo.entries()) e.trainStep(batches[p]!);
    for (const [p, e] of solo.entries()) expectSame(pop.snapshot(p), e.snapshot());
  });

  it('rejects members of different sizes and batches of different lengths', () => {
    expect(() => FusedPopulation.create([initNetwork({ nRec: 8 }), initNetwork({ nRec: 9 })])).toThrow(/same sizes/);
    const pop = FusedPopulation.create([initNetwork({ nIn: 2, nOut: 2 }), initNetwork({ nIn: 2, nOut: 2, seed: 2 })]);
    expect(() => pop.trainStep([batchOf(5, 1, 2, 2, 1), batchOf(6, 1, 2, 2, 1)])).toThrow(/same steps/);
  });
});

import type { TrialBatch } from './engine.js';
import { Rng } from './rng.js';

export interface RandomBatchOptions {
  readonly steps: number;
  readonly batch: number;
  readonly nIn: number;
  readonly nOut: number;
  /** Scale of the Gaussian inputs. */
  readonly inputScale?: number;
  /** Fraction of steps scored by the loss (the rest masked out). */
  readonly scored?: number;
  readonly seed?: number;
}

/**
 * A batch of random inputs and one-hot targets, for checks and benchmarks that need data of a given
 * shape but no task rule. Labels and a response window (the last quarter) are included.
 */
export function randomBatch(o: RandomBatchOptions): TrialBatch {
  const rng = Rng.seeded(o.seed ?? 0, 'random-batch');
  const { steps: T, batch: B, nIn, nOut } = o;
  const scale = o.inputScale ?? 1;
  const inputs = new Float32Array(T * B * nIn);
  for (let i = 0; i < inputs.length; i++) inputs[i] = scale * rng.normal();
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) labels[b] = rng.int(nOut);
  const targets = new Float32Array(T * B * nOut);
  const mask = new Float32Array(T * B);
  const responseMask = new Float32Array(T * B);
  const scored = o.scored ?? 1;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      targets[(t * B + b) * nOut + labels[b]!] = 1;
      mask[t * B + b] = rng.uniform() < scored ? 1 : 0;
      responseMask[t * B + b] = t >= Math.floor((3 * T) / 4) ? 1 : 0;
    }
  }
  return { steps: T, batch: B, nIn, nOut, inputs, targets, mask, labels, responseMask };
}

import type { TrialBatch } from '../engine.js';

/** Where the outputs of a batch's rows lie in a larger array: row (t, b) starts at offset + t·stepStride + b·nOut. */
export interface OutputLayout {
  readonly offset: number;
  readonly stepStride: number;
}

/**
 * The masked task loss of SCIENCE.md §4 on outputs y [T][B][nOut] (float64 sums, rows in (t, b)
 * order): 'mse' = Σ mask·(y − target)² / (nOut·Σ mask); 'xent' = −Σ mask·Σ target·log softmax(y) / Σ mask;
 * 0 when nothing is scored. With `dy`, also writes ∂loss/∂y there (zero for unscored rows). `layout`
 * places the rows inside a larger array (the fused engine's [T][P][B][nOut]); by default they are
 * contiguous from 0.
 */
export function maskedTaskLoss(
  kind: 'mse' | 'xent',
  batch: TrialBatch,
  y: ArrayLike<number>,
  dy: Float32Array | Float64Array | null,
  layout: OutputLayout = { offset: 0, stepStride: batch.batch * batch.nOut },
): number {
  const { steps: T, batch: B, nOut, targets, mask } = batch;
  let total = 0;
  for (let s = 0; s < mask.length; s++) total += mask[s]!;
  const norm = total === 0 ? 0 : kind === 'mse' ? 1 / (total * nOut) : 1 / total;
  let value = 0;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const w = mask[t * B + b]!;
      const at = layout.offset + t * layout.stepStride + b * nOut;
      const to = (t * B + b) * nOut;
      if (w === 0 || total === 0) {
        if (dy) for (let o = 0; o < nOut; o++) dy[at + o] = 0;
        continue;
      }
      if (kind === 'mse') {
        for (let o = 0; o < nOut; o++) {
          const e = y[at + o]! - targets[to + o]!;
          value += w * e * e;
          if (dy) dy[at + o] = 2 * w * e * norm;
        }
      } else {
        let max = -Infinity;
        for (let o = 0; o < nOut; o++) max = Math.max(max, y[at + o]!);
        let sum = 0;
        for (let o = 0; o < nOut; o++) sum += Math.exp(y[at + o]! - max);
        const lse = max + Math.log(sum);
        let mass = 0;
        for (let o = 0; o < nOut; o++) {
          value -= w * targets[to + o]! * (y[at + o]! - lse);
          mass += targets[to + o]!;
        }
        if (dy) {
          for (let o = 0; o < nOut; o++) dy[at + o] = w * norm * (mass * Math.exp(y[at + o]! - lse) - targets[to + o]!);
        }
      }
    }
  }
  return value * norm;
}

import type { TrialBatch } from './engine.js';

/**
 * Fraction of trials whose readout, averaged over the response window, is largest on the trial's
 * label. NaN when the batch carries no labels or no response window.
 */
export function batchAccuracy(batch: TrialBatch, outputs: Float32Array): number {
  const { labels, responseMask, steps: T, batch: B, nOut } = batch;
  if (!labels || !responseMask) return Number.NaN;
  let correct = 0;
  const mean = new Float64Array(nOut);
  for (let b = 0; b < B; b++) {
    mean.fill(0);
    let n = 0;
    for (let t = 0; t < T; t++) {
      const w = responseMask[t * B + b] as number;
      if (w === 0) continue;
      n += w;
      for (let o = 0; o < nOut; o++) mean[o]! += w * (outputs[(t * B + b) * nOut + o] as number);
    }
    if (n === 0) continue;
    let best = 0;
    for (let o = 1; o < nOut; o++) if ((mean[o] as number) > (mean[best] as number)) best = o;
    if (best === labels[b]) correct++;
  }
  return correct / B;
}

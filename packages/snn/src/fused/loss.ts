import type { ParamKey, TrialBatch } from '../engine.js';
import type { FusedCore } from './core.js';

/** Loss terms of network p from the forward pass, and ∂L/∂y into dy. */
export function loss(core: FusedCore, p: number, batch: TrialBatch): void {
  const { P, N, T, B, nOut } = core;
  const m = core.members[p]!;
  const c = m.config;
  const y = core.arena.f.y;
  const dy = core.arena.f.dy;
  const mask = batch.mask;
  const tg = batch.targets;
  let total = 0;
  for (let i = 0; i < mask.length; i++) total += mask[i]!;
  const norm = total === 0 ? 0 : m.xent ? 1 / total : 1 / (total * nOut);
  let task = 0;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const w = mask[t * B + b]!;
      const yo = ((t * P + p) * B + b) * nOut;
      const to = (t * B + b) * nOut;
      if (w === 0 || total === 0) {
        for (let k = 0; k < nOut; k++) dy[yo + k] = 0;
        continue;
      }
      if (!m.xent) {
        for (let k = 0; k < nOut; k++) {
          const e = y[yo + k]! - tg[to + k]!;
          task += w * e * e;
          dy[yo + k] = 2 * w * e * norm;
        }
      } else {
        let max = -Infinity;
        for (let k = 0; k < nOut; k++) max = Math.max(max, y[yo + k]!);
        let z = 0;
        for (let k = 0; k < nOut; k++) z += Math.exp(y[yo + k]! - max);
        const lse = max + Math.log(z);
        let sumT = 0;
        for (let k = 0; k < nOut; k++) {
          task -= w * tg[to + k]! * (y[yo + k]! - lse);
          sumT += tg[to + k]!;
        }
        for (let k = 0; k < nOut; k++) {
          dy[yo + k] = w * norm * (Math.exp(y[yo + k]! - lse) * sumT - tg[to + k]!);
        }
      }
    }
  }
  const taskLoss = task * norm;
  const count = T * B * N;
  const meanU2 = core.sumU2[p]! / count;
  const target = m.homeostaticTarget;
  const homeoOn = target !== null && c.loss.lambdaH !== 0;
  const homeoLoss = homeoOn ? c.loss.lambdaH * Math.abs(meanU2 - target) : 0;
  // d|x|/dx is taken as +1 for x > 0 and −1 otherwise, as TensorFlow.js's Abs gradient does.
  core.ch[p] = homeoOn ? (c.loss.lambdaH * (meanU2 - target > 0 ? 2 : -2)) / count : 0;
  const l2Loss = !m.l2InLoss
    ? 0
    : c.loss.lambdaIn * meanSq(core, 'wIn', p) +
      c.loss.lambdaRec * meanSq(core, 'wRec', p) +
      c.loss.lambdaOut * meanSq(core, 'wOut', p);
  core.terms[p] = {
    loss: taskLoss + homeoLoss + l2Loss,
    taskLoss,
    homeoLoss,
    l2Loss,
    meanU2,
    firingRate: core.sumS[p]! / count,
  };
}

export function meanSq(core: FusedCore, k: ParamKey, p: number): number {
  const n = core.sizes[k];
  const w = core.params[k];
  let s = 0;
  for (let i = p * n; i < (p + 1) * n; i++) s += w[i]! * w[i]!;
  return s / n;
}

import type { ParamKey, TrialBatch } from '../engine.js';
import { maskedTaskLoss } from '../model/loss.js';
import type { FusedCore } from './core.js';

/** Loss terms of network p from the forward pass, and ∂L/∂y into yBar. */
export function loss(core: FusedCore, p: number, batch: TrialBatch): void {
  const { P, N, T, B, nOut } = core;
  const m = core.members[p]!;
  const c = m.config;
  // The outputs of network p: rows [T][B] at stride P·B·nOut between steps.
  const taskLoss = maskedTaskLoss(m.xent ? 'xent' : 'mse', batch, core.arena.f.y, core.arena.f.yBar, {
    offset: p * B * nOut,
    stepStride: P * B * nOut,
  });
  const count = T * B * N;
  const meanU2 = core.sumU2[p]! / count;
  const target = m.homeostaticTarget;
  const homeoOn = target !== null && c.loss.lambdaH !== 0;
  const homeoLoss = homeoOn ? c.loss.lambdaH * Math.abs(meanU2 - target) : 0;
  // d|x|/dx is taken as +1 for x > 0 and −1 otherwise, as TensorFlow.js's Abs gradient does.
  core.homeostaticFactor[p] = homeoOn ? (c.loss.lambdaH * (meanU2 - target > 0 ? 2 : -2)) / count : 0;
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

import { hasAdaptation, type NetworkConfig } from './config.js';
import type { LossTerms, Params, TrialBatch } from './engine.js';
import { toNatural } from './properties.js';

export interface Trace {
  /** Per step, per trial, per neuron: [T][B][N], float64. */
  readonly d: Float64Array;
  readonly u: Float64Array;
  readonly a: Float64Array;
  readonly thr: Float64Array;
  readonly s: Float64Array;
  /** Filtered spike trains of the spike readout, [T][B][N] (zero with the membrane readout). */
  readonly z: Float64Array;
  /** [T][B][nOut] */
  readonly y: Float64Array;
}

/**
 * A plain float64 forward pass of the model (SCIENCE.md §2), written loop by loop from the
 * equations. Used as an independent check of the engines (finite differences, hand traces).
 * `homeostaticTarget` null disables the homeostatic term.
 */
export function referenceForward(
  c: NetworkConfig,
  params: Params,
  batch: TrialBatch,
  homeostaticTarget: number | null,
): { terms: LossTerms; trace: Trace } {
  const { steps: T, batch: B } = batch;
  const N = c.nRec;
  const nIn = c.nIn;
  const nOut = c.nOut;
  const prop = (k: 'tauD' | 'tauS' | 'theta' | 'beta' | 'tauA') =>
    Float64Array.from(params[k], (r) => toNatural(k, r, c.tauClamp));
  const tauD = prop('tauD');
  const tauS = prop('tauS');
  const theta = prop('theta');
  const adapt = hasAdaptation(c);
  const beta = adapt ? prop('beta') : new Float64Array(N);
  const tauA = prop('tauA');
  const aD = tauD.map((t) => Math.exp(-c.dt / t));
  const aS = tauS.map((t) => Math.exp(-c.dt / t));
  const rho = tauA.map((t) => Math.exp(-c.dt / t));

  const size = T * B * N;
  const tr: Trace = {
    d: new Float64Array(size),
    u: new Float64Array(size),
    a: new Float64Array(size),
    thr: new Float64Array(size),
    s: new Float64Array(size),
    z: new Float64Array(size),
    y: new Float64Array(T * B * nOut),
  };
  const spikeReadout = c.readout === 'spikes';
  const kappa = Math.exp(-c.dt / c.tauOut);
  let sumU2 = 0;
  let sumS = 0;
  for (let b = 0; b < B; b++) {
    const d = new Float64Array(N);
    const u = new Float64Array(N);
    const a = new Float64Array(N);
    let s = new Float64Array(N);
    const z = new Float64Array(N);
    let thr = Float64Array.from(theta);
    for (let t = 0; t < T; t++) {
      const sNew = new Float64Array(N);
      const thrNew = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        let I = params.b[i] as number;
        for (let k = 0; k < nIn; k++)
          I += (batch.inputs[(t * B + b) * nIn + k] as number) * (params.wIn[k * N + i] as number);
        for (let j = 0; j < N; j++) I += (s[j] as number) * (params.wRec[j * N + i] as number);
        d[i] = aD[i]! * d[i]! + (1 - aD[i]!) * I;
        u[i] = aS[i]! * u[i]! + (1 - aS[i]!) * d[i]! - thr[i]! * s[i]!;
        if (adapt) a[i] = rho[i]! * a[i]! + (1 - rho[i]!) * s[i]!;
        thrNew[i] = theta[i]! + beta[i]! * a[i]!;
        const v = u[i]! - thrNew[i]!;
        sNew[i] = c.spike === 'soft' ? 1 / (1 + Math.exp((-c.surrogate.kappa * v) / theta[i]!)) : v > 0 ? 1 : 0;
        const at = (t * B + b) * N + i;
        tr.d[at] = d[i]!;
        tr.u[at] = u[i]!;
        tr.a[at] = a[i]!;
        tr.thr[at] = thrNew[i]!;
        tr.s[at] = sNew[i]!;
        sumU2 += u[i]! * u[i]!;
        sumS += sNew[i]!;
        if (spikeReadout) {
          z[i] = kappa * z[i]! + (1 - kappa) * sNew[i]!;
          tr.z[at] = z[i]!;
        }
      }
      const read = spikeReadout ? z : u;
      for (let o = 0; o < nOut; o++) {
        let y = params.bOut[o] as number;
        for (let i = 0; i < N; i++) y += read[i]! * (params.wOut[i * nOut + o] as number);
        tr.y[(t * B + b) * nOut + o] = y;
      }
      s = sNew;
      thr = thrNew;
    }
  }
  let total = 0;
  let task = 0;
  for (let tb = 0; tb < T * B; tb++) {
    const m = batch.mask[tb] as number;
    total += m;
    if (m === 0) continue;
    const y = tr.y.subarray(tb * nOut, (tb + 1) * nOut);
    const tg = batch.targets.subarray(tb * nOut, (tb + 1) * nOut);
    if (c.loss.kind === 'mse') {
      for (let o = 0; o < nOut; o++) task += m * (y[o]! - tg[o]!) ** 2;
    } else {
      let max = -Infinity;
      for (let o = 0; o < nOut; o++) max = Math.max(max, y[o]!);
      let z = 0;
      for (let o = 0; o < nOut; o++) z += Math.exp(y[o]! - max);
      const lse = max + Math.log(z);
      for (let o = 0; o < nOut; o++) task -= m * tg[o]! * (y[o]! - lse);
    }
  }
  const taskLoss = total === 0 ? 0 : c.loss.kind === 'mse' ? task / (total * nOut) : task / total;
  const meanU2 = sumU2 / size;
  const homeoLoss =
    homeostaticTarget === null || c.loss.lambdaH === 0 ? 0 : c.loss.lambdaH * Math.abs(meanU2 - homeostaticTarget);
  const meanSq = (w: Float32Array) => {
    let s = 0;
    for (const x of w) s += x * x;
    return s / w.length;
  };
  const l2Loss =
    c.weightDecay.mode !== 'loss'
      ? 0
      : c.loss.lambdaIn * meanSq(params.wIn) +
        c.loss.lambdaRec * meanSq(params.wRec) +
        c.loss.lambdaOut * meanSq(params.wOut);
  return {
    terms: { loss: taskLoss + homeoLoss + l2Loss, taskLoss, homeoLoss, l2Loss, meanU2, firingRate: sumS / size },
    trace: tr,
  };
}

import { hasAdaptation, type NetworkConfig } from './config.js';
import type { LossTerms, Params, TrialBatch } from '../engine.js';
import { maskedTaskLoss } from './loss.js';
import { toNatural } from './properties.js';
import { initialState, step, synapticInput, type NeuronParams } from './step.js';

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
 * A plain float64 forward pass of the model (SCIENCE.md §2): the neuron step of step.ts, trial by
 * trial, with the readout and the loss of §4. Used as an independent check of the engines (finite differences, hand traces).
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
  const adapt = hasAdaptation(c);
  const spikeReadout = c.readout === 'spikes';
  const neurons: NeuronParams = {
    tauD: prop('tauD'),
    tauS: prop('tauS'),
    theta: prop('theta'),
    beta: adapt ? prop('beta') : new Float64Array(N),
    tauA: prop('tauA'),
    adapt,
    spike: c.spike,
    softness: c.surrogate.kappa,
    tauOut: spikeReadout ? c.tauOut : null,
  };

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
  let sumU2 = 0;
  let sumS = 0;
  for (let b = 0; b < B; b++) {
    let state = initialState(neurons);
    for (let t = 0; t < T; t++) {
      const x = batch.inputs.subarray((t * B + b) * nIn, (t * B + b + 1) * nIn);
      state = step(synapticInput(x, state.s, params.wIn, params.wRec, params.b), state, neurons, c.dt);
      const at = (t * B + b) * N;
      tr.d.set(state.d, at);
      tr.u.set(state.u, at);
      tr.a.set(state.a, at);
      tr.thr.set(state.thr, at);
      tr.s.set(state.s, at);
      tr.z.set(state.z, at);
      for (let i = 0; i < N; i++) {
        sumU2 += state.u[i]! * state.u[i]!;
        sumS += state.s[i]!;
      }
      const read = spikeReadout ? state.z : state.u;
      for (let o = 0; o < nOut; o++) {
        let y = params.bOut[o] as number;
        for (let i = 0; i < N; i++) y += read[i]! * (params.wOut[i * nOut + o] as number);
        tr.y[(t * B + b) * nOut + o] = y;
      }
    }
  }
  const taskLoss = maskedTaskLoss(c.loss.kind, batch, tr.y, null);
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

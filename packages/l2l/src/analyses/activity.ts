import { deserializeState, referenceForward, type NetworkState, type TrialBatch } from '@ip2/snn';
import type { Learner } from '../learner.js';
import type { Numbers } from './stats.js';

/**
 * Mean activity of each neuron over a raster laid out as [samples][neurons] (any leading
 * dimensions, e.g. [T][B][N], flattened into samples). For a spike raster this is the firing rate in
 * spikes per step.
 */
export function firingRates(raster: Numbers, neurons: number): Float64Array {
  if (!Number.isInteger(neurons) || neurons < 1)
    throw new RangeError(`neurons must be a positive integer, got ${neurons}`);
  if (raster.length % neurons !== 0)
    throw new RangeError(`a raster of ${raster.length} values is not a whole number of rows of ${neurons} neurons`);
  const samples = raster.length / neurons;
  const rates = new Float64Array(neurons);
  if (samples === 0) return rates.fill(Number.NaN);
  for (let s = 0; s < samples; s++) {
    const row = s * neurons;
    for (let i = 0; i < neurons; i++) rates[i]! += raster[row + i]!;
  }
  for (let i = 0; i < neurons; i++) rates[i]! /= samples;
  return rates;
}

/** Rates in spikes per step converted to Hz at `dtMs` per step. */
export function ratesToHz(perStep: Numbers, dtMs: number): Float64Array {
  if (!(dtMs > 0)) throw new RangeError(`dt must be positive, got ${dtMs}`);
  return Float64Array.from(perStep, (r) => (r * 1000) / dtMs);
}

/**
 * Participation ratio PR = (Σλ)² / Σλ² of the eigenvalues λ of the covariance of `activity`
 * ([samples][neurons], columns centred): the number of dimensions the activity effectively spans,
 * between 1 and the number of neurons. It equals (tr C)² / tr(C²), so no eigen-decomposition is
 * needed; C's scale cancels, and the smaller of the neuron and sample Gram matrices is used, as
 * XᵀX and XXᵀ share their non-zero spectrum. NaN when the activity does not vary.
 */
export function participationRatio(activity: Numbers, neurons: number): number {
  if (!Number.isInteger(neurons) || neurons < 1)
    throw new RangeError(`neurons must be a positive integer, got ${neurons}`);
  if (activity.length % neurons !== 0)
    throw new RangeError(`${activity.length} values are not a whole number of rows of ${neurons} neurons`);
  const samples = activity.length / neurons;
  if (samples < 2) return Number.NaN;
  const means = firingRates(activity, neurons);
  const x = new Float64Array(activity.length);
  for (let s = 0; s < samples; s++)
    for (let i = 0; i < neurons; i++) x[s * neurons + i] = activity[s * neurons + i]! - means[i]!;
  let trace = 0;
  for (const v of x) trace += v * v;
  if (trace === 0) return Number.NaN;
  let trace2 = 0;
  if (neurons <= samples) {
    // G = XᵀX (neurons × neurons); tr(G²) = Σ G_ij², symmetric so each off-diagonal pair counts twice.
    // Columns copied out so that the inner products run over contiguous memory.
    const cols = Array.from({ length: neurons }, (_, i) => {
      const c = new Float64Array(samples);
      for (let s = 0; s < samples; s++) c[s] = x[s * neurons + i]!;
      return c;
    });
    for (let i = 0; i < neurons; i++) {
      const ci = cols[i]!;
      for (let j = i; j < neurons; j++) {
        const cj = cols[j]!;
        let g = 0;
        for (let s = 0; s < samples; s++) g += ci[s]! * cj[s]!;
        trace2 += (i === j ? 1 : 2) * g * g;
      }
    }
  } else {
    for (let a = 0; a < samples; a++) {
      for (let b = a; b < samples; b++) {
        let g = 0;
        for (let i = 0; i < neurons; i++) g += x[a * neurons + i]! * x[b * neurons + i]!;
        trace2 += (a === b ? 1 : 2) * g * g;
      }
    }
  }
  return (trace * trace) / trace2;
}

/** Spikes and membrane potentials of every neuron at every step of every trial of a batch. */
export interface SpikingActivity {
  readonly steps: number;
  readonly batch: number;
  readonly neurons: number;
  /** ms per step. */
  readonly dt: number;
  /** [T][B][N] */
  readonly spikes: Float64Array;
  /** [T][B][N] */
  readonly membrane: Float64Array;
  /** Task loss of the same pass (no lesion). */
  readonly taskLoss: number;
  /** Mean spikes per neuron per step. */
  readonly firingRate: number;
}

/** The network state behind a spiking learner; a clear error for models that have none. */
export function spikingState(learner: Learner): NetworkState {
  try {
    return deserializeState(learner.save());
  } catch (e) {
    throw new RangeError(`model '${learner.model}' has no spiking network state to analyse`, { cause: e });
  }
}

/**
 * Runs a batch through a spiking learner and records its activity. The pass uses the project's
 * float64 reference forward pass on the learner's current parameters (the engines give only
 * summaries), so nothing in the learner changes; it sees the batch's inputs without input noise,
 * as `Learner.evaluate` does.
 */
export function spikingActivity(learner: Learner, batch: TrialBatch): SpikingActivity {
  const state = spikingState(learner);
  const { terms, trace } = referenceForward(state.config, state.params, batch, state.homeostaticTarget);
  return {
    steps: batch.steps,
    batch: batch.batch,
    neurons: state.config.nRec,
    dt: state.config.dt,
    spikes: trace.s,
    membrane: trace.u,
    taskLoss: terms.taskLoss,
    firingRate: terms.firingRate,
  };
}

export interface NeuronRates {
  /** Spikes per step, per neuron. */
  readonly perStep: Float64Array;
  /** The same in Hz. */
  readonly hz: Float64Array;
  /** Mean over neurons, spikes per step (what `Learner.evaluate` reports as `firingRate`). */
  readonly mean: number;
}

/** Firing rate of each neuron of a spiking learner over a batch (e.g. the held-out batch). */
export function neuronFiringRates(learner: Learner, batch: TrialBatch): NeuronRates {
  const a = spikingActivity(learner, batch);
  const perStep = firingRates(a.spikes, a.neurons);
  return { perStep, hz: ratesToHz(perStep, a.dt), mean: a.firingRate };
}

/** Which recorded signal the dimensionality is measured on. */
export type ActivitySource = 'spikes' | 'membrane';

/**
 * Participation ratio of a spiking learner's population activity over a batch, every (step, trial)
 * a sample. **Choice**: raw spikes by default; `membrane` uses the somatic potentials u, which the
 * readout sees.
 */
export function activityDimensionality(learner: Learner, batch: TrialBatch, source: ActivitySource = 'spikes'): number {
  const a = spikingActivity(learner, batch);
  return participationRatio(source === 'spikes' ? a.spikes : a.membrane, a.neurons);
}

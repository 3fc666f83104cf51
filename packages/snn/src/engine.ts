import type { NetworkConfig } from './model/config.js';
import type { PropertyKey } from './model/properties.js';
import type { RngState } from './rng.js';

/** Synaptic parameter groups. Layouts (row-major): wIn [nIn][nRec], wRec [nRec pre][nRec post], wOut [nRec][nOut]. */
export const WEIGHT_KEYS = ['wIn', 'wRec', 'b', 'wOut', 'bOut'] as const;
export type WeightKey = (typeof WEIGHT_KEYS)[number];
/** Every parameter group: the weights and the raw (unconstrained) intrinsic properties, each [nRec]. */
export type ParamKey = WeightKey | PropertyKey;
export type Params = Record<ParamKey, Float32Array>;

/**
 * A batch of trials, time-major: inputs [T][B][nIn], targets [T][B][nOut], mask [T][B] (weight of
 * each step in the task loss; 0 outside the scored window). `labels` and `responseMask` are optional
 * and used only for accuracy: the correct output channel of each trial, and the steps over which the
 * response is read out.
 */
export interface TrialBatch {
  readonly steps: number;
  readonly batch: number;
  readonly nIn: number;
  readonly nOut: number;
  readonly inputs: Float32Array;
  readonly targets: Float32Array;
  readonly mask: Float32Array;
  readonly labels?: Int32Array;
  readonly responseMask?: Float32Array;
}

/** Adam state: first and second moments per trainable group, and the step count. */
export interface AdamState {
  readonly step: number;
  readonly m: Partial<Record<ParamKey, Float32Array>>;
  readonly v: Partial<Record<ParamKey, Float32Array>>;
}

/** Everything needed to continue training exactly where it stopped. */
export interface NetworkState {
  readonly config: NetworkConfig;
  readonly params: Params;
  readonly adam: AdamState;
  /** σ_h of the homeostatic term; null until the first task converges. */
  readonly homeostaticTarget: number | null;
  /** Noise stream state. */
  readonly rng: RngState;
}

export interface LossTerms {
  readonly loss: number;
  readonly taskLoss: number;
  readonly homeoLoss: number;
  readonly l2Loss: number;
  /** mean(u²) over steps, trials and neurons (the homeostatic statistic). */
  readonly meanU2: number;
  /** Mean spikes per neuron per step. */
  readonly firingRate: number;
}

export interface StepStats extends LossTerms {
  /** Global norm of the trainable gradients before clipping. */
  readonly gradNorm: number;
}

export interface Evaluation extends LossTerms {
  /** Readout, [T][B][nOut]. */
  readonly outputs: Float32Array;
  /** Fraction of trials whose response-window mean readout peaks on the label (NaN without labels). */
  readonly accuracy: number;
  /** Hidden neurons that spiked at least once in the batch. */
  readonly activeNeurons: number;
}

export interface Gradients extends LossTerms {
  /** ∂L/∂p for every parameter group (zeros for groups that are not trainable are still reported). */
  readonly grads: Params;
}

export interface EngineInfo {
  /** 'tfjs' or 'fused'. */
  readonly engine: string;
  /** Compute backend within the engine ('wasm', 'cpu', 'tensorflow', 'js', ...). */
  readonly backend: string;
}

export interface EvalOptions {
  /** Neurons to silence (1 = silenced: spikes and readout contribution forced to 0). */
  readonly lesion?: Uint8Array;
}

/**
 * What trains a network. Implementations: the TensorFlow.js autodiff engine (reference) and the
 * fused hand-derived engine. Every method is synchronous once the engine exists.
 */
export interface Engine {
  readonly info: EngineInfo;
  readonly config: NetworkConfig;
  /** One optimiser step on one batch: forward, BPTT, clip, masked Adam. */
  trainStep(batch: TrialBatch): StepStats;
  /** Forward only, no update. */
  evaluate(batch: TrialBatch, options?: EvalOptions): Evaluation;
  /** Loss and gradients of every group, no update (for checks and analyses). */
  gradients(batch: TrialBatch): Gradients;
  /** Zero Adam's moments and step count (called at each new task). */
  resetOptimizer(): void;
  setHomeostaticTarget(value: number | null): void;
  /** A deep copy of the whole state. */
  snapshot(): NetworkState;
  dispose(): void;
}

import type { EngineInfo, TrialBatch } from '@ip2/snn';

/** One training step's numbers, as the protocol needs them. */
export interface LearnerStep {
  /** Total loss (task + regularisers). */
  readonly loss: number;
  /** Task loss: what the convergence criterion reads. */
  readonly taskLoss: number;
  /** The homeostatic statistic mean(u²) (spiking models; NaN elsewhere). */
  readonly meanU2: number;
}

export interface LearnerEvaluation {
  readonly taskLoss: number;
  readonly accuracy: number;
  /** Mean spikes per hidden neuron per step (NaN for non-spiking models). */
  readonly firingRate: number;
  /** Hidden neurons that spiked at least once on the batch (NaN for non-spiking models). */
  readonly activeNeurons: number;
  /** Hidden neurons (units) of the network. */
  readonly neurons: number;
  readonly outputs: Float32Array;
}

/**
 * A network that learns task after task: the IP² spiking network and every baseline of
 * SCIENCE.md §7 sit behind this interface, so the protocol treats them alike.
 */
export interface Learner {
  /** Model name ('ip2', 'rsnn-noip', 'rnn', 'lstm', ...). */
  readonly model: string;
  readonly info: EngineInfo;
  /** One optimiser step on one batch. */
  trainStep(batch: TrialBatch): LearnerStep;
  /** Forward only, no update. `lesion` silences neurons (1 = silenced) where the model supports it. */
  evaluate(batch: TrialBatch, lesion?: Uint8Array): LearnerEvaluation;
  /** Called before each task: resets the optimiser state (Adam moments), keeps the weights. */
  startTask(): void;
  /** Called once, when the first task of the sequence converges, with the mean of `meanU2` over the window. */
  firstConvergence(meanU2: number): void;
  /** The whole state as bytes; `createLearner(..., bytes)` restores it exactly. */
  save(): Uint8Array;
  /** Per-neuron intrinsic values, for models that have them. */
  intrinsic?(): Record<string, Float64Array>;
  /** Recurrent weight matrix [pre][post], for network analyses. */
  recurrentWeights?(): { readonly n: number; readonly w: Float32Array };
  /**
   * Values the optimiser updates: every weight, bias and gain of a baseline; the weights and the
   * learnable intrinsic properties of a spiking network.
   */
  parameterCount?(): number;
  dispose(): void;
}

/**
 * What the sequential protocol trains: a learner whose every operation completes later (a member of
 * a lock-step population, lockstep.ts, whose passes wait for the other members and may run on other
 * threads or a GPU). `sequenceLearner(learner)` makes one of any Learner.
 */
export interface SequenceLearner {
  readonly model: string;
  readonly info: EngineInfo;
  trainStep(batch: TrialBatch): Promise<LearnerStep>;
  evaluate(batch: TrialBatch): Promise<LearnerEvaluation>;
  startTask(): Promise<void>;
  firstConvergence(meanU2: number): Promise<void>;
  save(): Promise<Uint8Array>;
  /** Per-neuron intrinsic values, for models that have them. */
  intrinsic?(): Promise<Record<string, Float64Array>>;
  dispose(): Promise<void>;
}

/** A Learner as a SequenceLearner (each call done at once, its result in a promise). */
export function sequenceLearner(learner: Learner): SequenceLearner {
  const intrinsic = learner.intrinsic?.bind(learner);
  return {
    model: learner.model,
    info: learner.info,
    trainStep: async (batch) => learner.trainStep(batch),
    evaluate: async (batch) => learner.evaluate(batch),
    startTask: async () => learner.startTask(),
    firstConvergence: async (meanU2) => learner.firstConvergence(meanU2),
    save: async () => learner.save(),
    ...(intrinsic ? { intrinsic: async () => intrinsic() } : {}),
    dispose: async () => learner.dispose(),
  };
}

/** What every model is built from. */
export interface LearnerSpec {
  readonly model: string;
  readonly nIn: number;
  readonly nOut: number;
  /** Hidden units (neurons, RNN units, LSTM/GRU cells, attention model width). */
  readonly hidden: number;
  /** ms per step. */
  readonly dt: number;
  readonly seed: number;
  /** Loss form. */
  readonly loss: 'mse' | 'xent';
  /** Learning rate of the weights (each model documents its default use of it). */
  readonly lr: number;
}

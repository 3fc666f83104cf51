import { createInstance, getFamily, heldOutBatch, inputDrive } from '@ip2/tasks';
import {
  calibrateFiringRate,
  createEngine,
  CURRENT_MODEL_VERSION,
  deriveSeed,
  deserializeState,
  initNetwork,
  intrinsicValues,
  paramSizes,
  PAPER_SPACE,
  PROPERTY_KEYS,
  Rng,
  serializeState,
  trainableKeys,
  type ComputeOptions,
  type Engine,
  type NetworkConfigInput,
  type NetworkState,
  type PropertyKey,
  type TrialBatch,
} from '@ip2/snn';
import type { Learner, LearnerEvaluation, LearnerSpec, LearnerStep } from '../learner.js';

/** The spiking models: IP² with a given mask and its three controls (SCIENCE.md §7). */
export const SPIKING_MODELS = ['ip2', 'rsnn-noip', 'ip-inner', 'ip-random'] as const;
export type SpikingModel = (typeof SPIKING_MODELS)[number];

/** With the engine and TensorFlow.js backend (ComputeOptions) that the app chose. */
export interface SpikingOptions extends ComputeOptions {
  /** Search space (default: the paper's). */
  readonly space?: readonly PropertyKey[];
  /** Learnable properties for `ip2` (ignored by the controls, which fix their own). */
  readonly mask?: readonly PropertyKey[];
  /** Further network configuration (surrogate, λs, ηs, ...). */
  readonly network?: NetworkConfigInput;
  /**
   * The task family the network will learn: sets the input scaling from the family's expected input
   * norm and calibrates the initial firing rate (SCIENCE.md §2) when the network is created.
   */
  readonly family?: string;
}

/** The learnable set a spiking model uses. `ip-random` draws each bit with probability ½ from the seed. */
export function spikingMask(
  model: SpikingModel,
  space: readonly PropertyKey[],
  seed: number,
  mask: readonly PropertyKey[] = [],
) {
  switch (model) {
    case 'ip2':
      return [...mask];
    case 'rsnn-noip':
      return [];
    case 'ip-inner':
      return [...space];
    case 'ip-random': {
      const rng = Rng.seeded(seed, 'ip-random');
      return space.filter(() => rng.uniform() < 0.5);
    }
  }
}

/**
 * The trainable parameters of a spiking network of `family` with `hidden` neurons whose learnable
 * intrinsic set is `keys`: its weights and biases (W_in, W_rec, b, W_out, b_out) and one value per
 * neuron for each learnable property. What `parameterCount()` of its learner gives, without building it.
 */
export function spikingParameterCount(family: string, hidden: number, keys: readonly PropertyKey[]): number {
  const { nIn, nOut } = createInstance(family, 0, 0);
  const sizes = paramSizes({ nIn, nRec: hidden, nOut } as Parameters<typeof paramSizes>[0]);
  const weights = sizes.wIn + sizes.wRec + sizes.b + sizes.wOut + sizes.bOut;
  return weights + new Set(keys).size * hidden;
}

/** Per-neuron intrinsic values of a spiking network state (the adaptation pair only where the space has it). */
export function intrinsicOf(s: NetworkState): Record<string, Float64Array> {
  const keys = s.config.space.includes('beta')
    ? PROPERTY_KEYS
    : PROPERTY_KEYS.filter((k) => k !== 'beta' && k !== 'tauA');
  return Object.fromEntries(keys.map((k) => [k, intrinsicValues(s, k)]));
}

class SpikingLearner implements Learner {
  constructor(
    readonly model: string,
    private readonly engine: Engine,
  ) {}

  get info() {
    return this.engine.info;
  }

  trainStep(batch: TrialBatch): LearnerStep {
    const s = this.engine.trainStep(batch);
    return { loss: s.loss, taskLoss: s.taskLoss, meanU2: s.meanU2 };
  }

  evaluate(batch: TrialBatch, lesion?: Uint8Array): LearnerEvaluation {
    const e = this.engine.evaluate(batch, lesion ? { lesion } : {});
    return {
      taskLoss: e.taskLoss,
      accuracy: e.accuracy,
      firingRate: e.firingRate,
      activeNeurons: e.activeNeurons,
      neurons: this.engine.config.nRec,
      outputs: e.outputs,
    };
  }

  startTask(): void {
    this.engine.resetOptimizer();
  }

  firstConvergence(meanU2: number): void {
    this.engine.setHomeostaticTarget(meanU2);
  }

  save(): Uint8Array {
    return serializeState(this.engine.snapshot());
  }

  intrinsic(): Record<string, Float64Array> {
    return intrinsicOf(this.engine.snapshot());
  }

  recurrentWeights() {
    return { n: this.engine.config.nRec, w: this.engine.snapshot().params.wRec };
  }

  parameterCount(): number {
    const sizes = paramSizes(this.engine.config);
    return trainableKeys(this.engine.config).reduce((n, k) => n + sizes[k], 0);
  }

  dispose(): void {
    this.engine.dispose();
  }
}

/** The network state a spiking learner starts from: a fresh one from the spec, or the saved one. */
export function spikingNetworkState(spec: LearnerSpec, options: SpikingOptions = {}, saved?: Uint8Array): NetworkState {
  const model = spec.model as SpikingModel;
  const space = options.space ?? PAPER_SPACE;
  if (saved) return deserializeState(saved);
  const family = options.family;
  const fresh = initNetwork({
    ...options.network,
    // Version 1 scaled W_in by all input channels; from version 2 on, by the family's input norm.
    ...(family === undefined || (options.network?.modelVersion ?? CURRENT_MODEL_VERSION) < 2
      ? {}
      : { weights: { inputNorm: inputDrive(family, spec.dt), ...options.network?.weights } }),
    nIn: spec.nIn,
    nOut: spec.nOut,
    nRec: spec.hidden,
    dt: spec.dt,
    seed: spec.seed,
    space: [...space],
    learnable: spikingMask(model, space, spec.seed, options.mask),
    loss: { ...options.network?.loss, kind: spec.loss },
    optimizer: { ...options.network?.optimizer, lrWeights: spec.lr },
  });
  const target = fresh.config.firingTarget;
  if (family === undefined || target === null) return fresh;
  return calibrateFiringRate(fresh, calibrationBatch(family, spec.seed, spec.dt), target).state;
}

/**
 * The trials on which a new network's firing is calibrated: 8 of each condition of an instance of the
 * family that no run trains on (its own seed stream).
 */
export function calibrationBatch(family: string, seed: number, dt: number): TrialBatch {
  const calibration = deriveSeed(seed, 'calibration');
  return heldOutBatch(createInstance(family, calibration, 0), calibration, 8 * getFamily(family).conditions.length, dt);
}

export async function createSpikingLearner(
  spec: LearnerSpec,
  options: SpikingOptions = {},
  saved?: Uint8Array,
): Promise<Learner> {
  const state = spikingNetworkState(spec, options, saved);
  const engine = await createEngine(state, options);
  return new SpikingLearner(spec.model, engine);
}

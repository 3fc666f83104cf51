import type { Learner, LearnerSpec } from '../learner.js';
import { BASELINE_MODELS, baselineDescription, createBaselineLearner } from './baselines.js';
import { createSpikingLearner, SPIKING_MODELS, type SpikingOptions } from './spiking.js';
import type { BaselineOptionsInput } from './tf-learner.js';

export {
  BASELINE_MODELS,
  baselineParameters,
  createBaselineLearner,
  hiddenForParameters,
  type BaselineModel,
} from './baselines.js';
export type { FusedBaselineLearner } from './fused-baseline.js';
export { BaselineLearner, type BaselineOptions, type BaselineOptionsInput } from './tf-learner.js';

/** Options of every model: the spiking models read the SpikingOptions fields, the baselines `baseline`. */
export interface ModelOptions extends SpikingOptions {
  /** λs, Adam settings and architecture details of the non-spiking baselines. */
  readonly baseline?: BaselineOptionsInput;
}

export type LearnerFactory = (spec: LearnerSpec, options: ModelOptions, saved?: Uint8Array) => Promise<Learner>;

export interface ModelEntry {
  readonly name: string;
  readonly description: string;
  readonly create: LearnerFactory;
}

const spikingDescriptions: Record<(typeof SPIKING_MODELS)[number], string> = {
  ip2: 'IP²-RSNN: spiking network whose masked intrinsic properties learn alongside the weights',
  'rsnn-noip': 'the same spiking network, mask all zeros (synaptic plasticity only)',
  'ip-inner': 'the same spiking network, every property of the space learnable (inner-level IP only)',
  'ip-random':
    'the same spiking network with a random mask drawn from the seed (one run is one draw; the control is the distribution over every mask of the space)',
};

const createBaseline: LearnerFactory = (spec, options, saved) =>
  createBaselineLearner(spec, options.baseline, saved, options);

/** Every model the protocol can train, by name. Adding one is one entry here. */
export const MODELS: readonly ModelEntry[] = [
  ...SPIKING_MODELS.map((name) => ({ name, description: spikingDescriptions[name], create: createSpikingLearner })),
  ...BASELINE_MODELS.map((name) => ({
    name,
    description: baselineDescription(name),
    create: createBaseline,
  })),
];

export function modelNames(): string[] {
  return MODELS.map((m) => m.name);
}

export function getModel(name: string): ModelEntry {
  const m = MODELS.find((x) => x.name === name);
  if (!m) throw new RangeError(`unknown model '${name}'; valid: ${modelNames().join(', ')}`);
  return m;
}

export function createLearner(spec: LearnerSpec, options: ModelOptions = {}, saved?: Uint8Array): Promise<Learner> {
  return getModel(spec.model).create(spec, options, saved);
}

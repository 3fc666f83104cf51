import { ENGINE_ENV, ENGINE_NAMES, type EngineName } from '@ip2/snn';
import type { LearnerSpec } from '../learner.js';
import { attention } from './attention.js';
import { gru, lstm } from './gated.js';
import { rnn } from './rnn.js';
import { FusedAttentionLearner } from './attention-fused.js';
import type { FusedBaselineLearner } from './fused-baseline.js';
import { FusedGruLearner, FusedLstmLearner } from './gated-fused.js';
import { FusedRnnLearner } from './rnn-fused.js';
import { BaselineLearner, type Architecture, type BaselineOptionsInput } from './tf-learner.js';

/** The non-spiking baselines of SCIENCE.md §7, trained by the same protocol as the spiking models. */
export const BASELINE_MODELS = ['rnn', 'lstm', 'gru', 'attn-h1', 'attn-h2', 'attn-h4'] as const;
export type BaselineModel = (typeof BASELINE_MODELS)[number];

const ARCHITECTURES: Record<BaselineModel, { readonly arch: Architecture; readonly description: string }> = {
  rnn: { arch: rnn, description: 'point-neuron leaky RNN, softplus, τ = 100 ms (Goudar et al. 2023)' },
  lstm: { arch: lstm, description: 'LSTM, readout from the hidden state' },
  gru: { arch: gru, description: 'GRU, readout from the hidden state' },
  'attn-h1': { arch: attention(1), description: 'one causal self-attention transformer block, 1 head' },
  'attn-h2': { arch: attention(2), description: 'one causal self-attention transformer block, 2 heads' },
  'attn-h4': { arch: attention(4), description: 'one causal self-attention transformer block, 4 heads' },
};

export function baselineDescription(model: BaselineModel): string {
  return ARCHITECTURES[model].description;
}

type FusedFactory = (spec: LearnerSpec, options: BaselineOptionsInput, saved?: Uint8Array) => FusedBaselineLearner;

/** The fused (WebAssembly, hand-derived) engine of each baseline that has one besides TensorFlow.js. */
const FUSED: Partial<Record<BaselineModel, FusedFactory>> = {
  rnn: FusedRnnLearner.create,
  lstm: FusedLstmLearner.create,
  gru: FusedGruLearner.create,
  'attn-h1': FusedAttentionLearner.create,
  'attn-h2': FusedAttentionLearner.create,
  'attn-h4': FusedAttentionLearner.create,
};

/** Baselines with a fused (typed-array, hand-derived) engine besides the TensorFlow.js one. */
export const FUSED_BASELINES = BASELINE_MODELS.filter((m) => FUSED[m] !== undefined);

/**
 * Builds (or, with `saved`, restores) the baseline named by `spec.model`. Engine: `engine`, else
 * the IP2_ENGINE environment variable, else `fused` where the model has a fused engine and
 * TensorFlow.js elsewhere (asking for `fused` on a model without one falls back to TensorFlow.js;
 * `learner.info` records which ran). Both engines of a model read each other's saved state.
 */
export async function createBaselineLearner(
  spec: LearnerSpec,
  options: BaselineOptionsInput = {},
  saved?: Uint8Array,
  engine?: EngineName,
): Promise<BaselineLearner | FusedBaselineLearner> {
  if (!(BASELINE_MODELS as readonly string[]).includes(spec.model)) {
    throw new RangeError(`unknown baseline '${spec.model}'; valid: ${BASELINE_MODELS.join(', ')}`);
  }
  const model = spec.model as BaselineModel;
  const name = engine ?? process.env[ENGINE_ENV] ?? 'fused';
  if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`unknown engine '${name}'; valid: ${ENGINE_NAMES.join(', ')}`);
  }
  const fused = FUSED[model];
  if (name === 'fused' && fused) return fused(spec, options, saved);
  return BaselineLearner.create(ARCHITECTURES[model].arch, spec, options, saved);
}

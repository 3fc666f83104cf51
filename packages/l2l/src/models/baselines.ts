import type { LearnerSpec } from '../learner.js';
import { attention } from './attention.js';
import { gru, lstm } from './gated.js';
import { rnn } from './rnn.js';
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

/** Builds (or, with `saved`, restores) the baseline named by `spec.model`. */
export async function createBaselineLearner(
  spec: LearnerSpec,
  options: BaselineOptionsInput = {},
  saved?: Uint8Array,
): Promise<BaselineLearner> {
  if (!(BASELINE_MODELS as readonly string[]).includes(spec.model)) {
    throw new RangeError(`unknown baseline '${spec.model}'; valid: ${BASELINE_MODELS.join(', ')}`);
  }
  return BaselineLearner.create(ARCHITECTURES[spec.model as BaselineModel].arch, spec, options, saved);
}

import { resolveEngineName, type ComputeOptions } from '@ip2/snn';
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

/**
 * Parameters of a baseline with `hidden` units (model width for attention; its MLP `mlpRatio` times
 * wider): every weight, bias and layer-norm gain and shift that its initialiser creates.
 */
export function baselineParameters(
  model: BaselineModel,
  nIn: number,
  nOut: number,
  hidden: number,
  mlpRatio = 4,
): number {
  const n = hidden;
  const readout = n * nOut + nOut;
  if (model.startsWith('attn')) {
    const m = mlpRatio * n;
    return nIn * n + n + 3 * n * n + 3 * n + n * n + n + 2 * n + n * m + m + m * n + n + 2 * n + readout;
  }
  const gates = model === 'lstm' ? 4 : model === 'gru' ? 3 : 1;
  return gates * (nIn * n + n * n + n) + (model === 'gru' ? n : 0) + readout;
}

/**
 * The hidden size whose parameter count is nearest `target` (the smaller one on a tie); attention
 * models only take widths their heads divide. RangeError when no size fits.
 */
export function hiddenForParameters(
  model: BaselineModel,
  target: number,
  nIn: number,
  nOut: number,
  mlpRatio = 4,
): number {
  if (!(Number.isFinite(target) && target > 0)) throw new RangeError(`parameter count must be positive, got ${target}`);
  const step = model.startsWith('attn') ? Number(model.slice('attn-h'.length)) : 1;
  const count = (h: number) => baselineParameters(model, nIn, nOut, h, mlpRatio);
  // The count grows with the size: find the last size at or below the target, then compare with the next.
  let lo = step;
  while (count(2 * lo) <= target) lo *= 2;
  let hi = 2 * lo;
  while (hi - lo > step) {
    const mid = lo + Math.floor((hi - lo) / (2 * step)) * step;
    if (count(mid) <= target) lo = mid;
    else hi = mid;
  }
  return Math.abs(count(hi) - target) < Math.abs(target - count(lo)) ? hi : lo;
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
 * Builds (or, with `saved`, restores) the baseline named by `spec.model`. Engine: `compute.engine`,
 * else `fused` where the model has a fused engine and TensorFlow.js elsewhere (asking for `fused` on
 * a model without one falls back to TensorFlow.js, on the backend `compute.tf` picks; `learner.info`
 * records which ran). Both engines of a model read each other's saved state.
 */
export async function createBaselineLearner(
  spec: LearnerSpec,
  options: BaselineOptionsInput = {},
  saved?: Uint8Array,
  compute: ComputeOptions = {},
): Promise<BaselineLearner | FusedBaselineLearner> {
  if (!(BASELINE_MODELS as readonly string[]).includes(spec.model)) {
    throw new RangeError(`unknown baseline '${spec.model}'; valid: ${BASELINE_MODELS.join(', ')}`);
  }
  const model = spec.model as BaselineModel;
  const name = resolveEngineName(compute);
  const fused = FUSED[model];
  if (name === 'fused' && fused) return fused(spec, options, saved);
  return BaselineLearner.create(ARCHITECTURES[model].arch, spec, options, saved, compute.tf);
}

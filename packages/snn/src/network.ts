import {
  CURRENT_MODEL_VERSION,
  hasAdaptation,
  type ModelVersion,
  learnableSet,
  parseNetworkConfig,
  type NetworkConfig,
  type NetworkConfigInput,
} from './model/config.js';
import { WEIGHT_KEYS, type NetworkState, type ParamKey, type Params, type TrialBatch } from './engine.js';
import { PROPERTY_KEYS, PROPERTY_INFO, toNatural, toRaw, type PropertyKey } from './model/properties.js';
import { Rng } from './rng.js';

/** Shape of every parameter group. */
export function paramSizes(c: NetworkConfig): Record<ParamKey, number> {
  return {
    wIn: c.nIn * c.nRec,
    wRec: c.nRec * c.nRec,
    b: c.nRec,
    wOut: c.nRec * c.nOut,
    bOut: c.nOut,
    tauD: c.nRec,
    tauS: c.nRec,
    theta: c.nRec,
    beta: c.nRec,
    tauA: c.nRec,
  };
}

/** Groups updated by the optimiser: weights (unless trainWeights is false) and the learnable properties. */
/**
 * The sizes every network of a population shares; a RangeError when there is none (`empty` says what
 * needs one) or when their sizes differ.
 */
export function sharedSizes(
  states: readonly NetworkState[],
  empty: string,
): { readonly nIn: number; readonly nRec: number; readonly nOut: number } {
  if (states.length === 0) throw new RangeError(empty);
  const { nIn, nRec, nOut } = states[0]!.config;
  for (const s of states) {
    const c = s.config;
    if (c.nIn !== nIn || c.nRec !== nRec || c.nOut !== nOut) {
      throw new RangeError(
        `all networks must have the same sizes (nIn ${nIn}, nRec ${nRec}, nOut ${nOut}); got ${c.nIn}, ${c.nRec}, ${c.nOut}`,
      );
    }
  }
  return { nIn, nRec, nOut };
}

export function trainableKeys(c: NetworkConfig): ParamKey[] {
  const keys: ParamKey[] = c.trainWeights ? [...WEIGHT_KEYS] : [];
  const learn = learnableSet(c);
  for (const k of PROPERTY_KEYS) if (learn.has(k)) keys.push(k);
  return keys;
}

export function learningRate(c: NetworkConfig, key: ParamKey): number {
  return (PROPERTY_KEYS as readonly string[]).includes(key)
    ? (c.optimizer.lr[key as PropertyKey] ?? c.optimizer.lrWeights)
    : c.optimizer.lrWeights;
}

/** Decoupled weight-decay rate λ of a group (0 for biases, properties, and in 'loss' mode). */
export function decayRate(c: NetworkConfig, key: ParamKey): number {
  if (c.weightDecay.mode !== 'decoupled') return 0;
  return key === 'wIn' ? c.weightDecay.in : key === 'wRec' ? c.weightDecay.rec : key === 'wOut' ? c.weightDecay.out : 0;
}

/**
 * The range [log min, log max] (float32) that a time constant's raw value is clamped to after each
 * optimiser step ('step' clamp mode); null for other groups and in 'forward' mode.
 */
export function tauRange(c: NetworkConfig, key: ParamKey): readonly [number, number] | null {
  if (c.tauClamp.mode !== 'step' || (key !== 'tauD' && key !== 'tauS' && key !== 'tauA')) return null;
  return [Math.fround(Math.log(c.tauClamp.min)), Math.fround(Math.log(c.tauClamp.max))];
}

/**
 * Initial natural value of each property for neuron i (SCIENCE.md §3): time constants
 * log-uniform, θ and β uniform in mean ± spread; β is 0 when adaptation is off.
 */
function initProperty(c: NetworkConfig, key: PropertyKey, rng: Rng): Float32Array {
  const out = new Float32Array(c.nRec);
  if (key === 'beta' && !hasAdaptation(c)) {
    // β ≡ 0: stored raw as −∞ so that softplus gives exactly 0 and no adaptation current flows.
    out.fill(Number.NEGATIVE_INFINITY);
    return out;
  }
  for (let i = 0; i < c.nRec; i++) {
    let natural: number;
    if (PROPERTY_INFO[key].kind === 'tau') {
      const r = c.init[key as 'tauD' | 'tauS' | 'tauA'];
      natural = Math.exp(rng.range(Math.log(r.min), Math.log(r.max)));
      natural = Math.min(c.tauClamp.max, Math.max(c.tauClamp.min, natural));
    } else {
      const r = c.init[key as 'theta' | 'beta'];
      natural = rng.range(r.mean - r.spread, r.mean + r.spread);
    }
    out[i] = toRaw(key, natural);
  }
  return out;
}

function gaussian(n: number, std: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}

/** A fresh network: validated config, seeded initial weights and properties, zero optimiser state. */
export function initNetwork(input: NetworkConfigInput | NetworkConfig = {}): NetworkState {
  const c = parseNetworkConfig(input as NetworkConfigInput);
  const w = Rng.seeded(c.seed, 'weights');
  const p = Rng.seeded(c.seed, 'intrinsic');
  const params: Params = {
    wIn: gaussian(c.nIn * c.nRec, c.weights.inGain / Math.sqrt(c.weights.inputNorm ?? c.nIn), w),
    wRec: gaussian(c.nRec * c.nRec, c.weights.recGain / Math.sqrt(c.nRec), w),
    b: new Float32Array(c.nRec).fill(c.weights.bias),
    wOut: gaussian(c.nRec * c.nOut, c.weights.outGain / Math.sqrt(c.nRec), w),
    bOut: new Float32Array(c.nOut),
    tauD: initProperty(c, 'tauD', p),
    tauS: initProperty(c, 'tauS', p),
    theta: initProperty(c, 'theta', p),
    beta: initProperty(c, 'beta', p),
    tauA: initProperty(c, 'tauA', p),
  };
  return {
    config: c,
    params,
    adam: { step: 0, m: {}, v: {} },
    homeostaticTarget: null,
    rng: Rng.seeded(c.seed, 'noise').state(),
  };
}

/** The default configuration of a model version (every field), what a fixed configuration's hash covers. */
export function modelDefaults(version: ModelVersion = CURRENT_MODEL_VERSION): NetworkConfig {
  return parseNetworkConfig({ modelVersion: version });
}

/** Natural (interpretable) values of a property, per neuron, in float64. */
export function intrinsicValues(state: NetworkState, key: PropertyKey): Float64Array {
  const raw = state.params[key];
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = toNatural(key, raw[i] as number, state.config.tauClamp);
  return out;
}

/** A new state whose mask (learnable set) differs; parameters carried over as they are. */
export function withLearnable(state: NetworkState, learnable: readonly PropertyKey[]): NetworkState {
  const config = parseNetworkConfig({ ...state.config, learnable: [...learnable] });
  return { ...state, config, adam: { step: 0, m: {}, v: {} } };
}

/**
 * Inputs with the network's Gaussian input noise added, drawn from the noise stream (advancing it).
 * Both engines call this so that noise is identical across engines.
 */
export function noisyInputs(batch: TrialBatch, std: number, rng: Rng): Float32Array {
  if (std === 0) return batch.inputs;
  const x = new Float32Array(batch.inputs);
  for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) + std * rng.normal();
  return x;
}

export function checkBatch(c: NetworkConfig, batch: TrialBatch): void {
  const { steps: T, batch: B } = batch;
  if (batch.nIn !== c.nIn) throw new RangeError(`batch has ${batch.nIn} input channels, network expects nIn=${c.nIn}`);
  if (batch.nOut !== c.nOut)
    throw new RangeError(`batch has ${batch.nOut} output channels, network expects nOut=${c.nOut}`);
  if (batch.inputs.length !== T * B * c.nIn) throw new RangeError('batch.inputs length is not steps × batch × nIn');
  if (batch.targets.length !== T * B * c.nOut) throw new RangeError('batch.targets length is not steps × batch × nOut');
  if (batch.mask.length !== T * B) throw new RangeError('batch.mask length is not steps × batch');
}

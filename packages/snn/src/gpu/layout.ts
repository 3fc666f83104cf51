import type { NetworkState, ParamKey, Params } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { Member, SURROGATE_MULTI_GAUSSIAN } from '../fused/members.js';
import { paramSizes, sharedSizes, tauRange } from '../network.js';
import { ACCUMULATOR_PLANES, PROPERTY_PLANES, SLOPE_PLANES, TRAJECTORY_PLANES } from '../model/planes.js';
import { PROPERTY_KEYS } from '../model/properties.js';

/** Parameter groups in the order they are packed in a network's parameter vector. */
export const GROUP_KEYS: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

/** Per-network scalar settings, float32, META_STRIDE floats per network (see META below). */
export const META_STRIDE = 64;
/** Offsets inside a network's settings record. */
export const META = {
  adapt: 0,
  surrogate: 1,
  gamma: 2,
  kappa: 3,
  mgSigma: 4,
  mgW2: 5,
  mgScale: 6,
  xent: 7,
  dt: 8,
  tauMin: 9,
  tauMax: 10,
  /** 1 / Σ mask (xent) or 1 / (Σ mask · nOut) (mse); 0 when the mask is all zero. */
  norm: 11,
  /** λ_h when the homeostatic term is on (σ_h set and λ_h ≠ 0), else 0. */
  lambdaH: 12,
  target: 13,
  lambdaIn: 14,
  lambdaRec: 15,
  lambdaOut: 16,
  clipNorm: 17,
  beta1: 18,
  beta2: 19,
  eps: 20,
  /** Bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ of this step. */
  bc1: 21,
  bc2: 22,
  /** 1 when this pass updates the network (a training pass with something to train). */
  update: 23,
  /** 10 flags (GROUP_KEYS order): 1 when the group is trainable. */
  trainable: 24,
  /** 10 learning rates (GROUP_KEYS order). */
  lr: 34,
  /** 1: spike readout y = W_out z + b_out over the filtered spikes z; 0: membrane readout y = W_out u + b_out. */
  spikeReadout: 44,
  /** κ = exp(−dt/τ_out) of the spike readout. */
  kappaOut: 45,
  /** 1: the time constants' raw values are clamped after each step ('step' mode), not inside the pass. */
  clampAfterStep: 46,
  /** 1: the properties step by plain gradient descent instead of Adam. */
  sgdProperties: 47,
  /** 10 decoupled weight-decay rates λ (GROUP_KEYS order; 0: none): w ← w − lr·λ·w before the step. */
  decay: 48,
  /** float32 log τ_min and log τ_max, the range of a time constant's raw value in 'step' clamp mode. */
  logTauMin: 58,
  logTauMax: 59,
} as const;

/** Per-network results of a pass, float32, STATS_STRIDE floats per network. */
export const STATS_STRIDE = 16;
export const STATS = {
  loss: 0,
  taskLoss: 1,
  homeoLoss: 2,
  l2Loss: 3,
  meanU2: 4,
  firingRate: 5,
  /** c_h = 2 λ_h sign(m − σ_h) / (T B N): the homeostatic term's factor in the backward pass. */
  homeostaticFactor: 6,
  gradNorm: 7,
  /** Clip factor min(1, clip / ‖g‖) (1 when clipNorm is 0). */
  scale: 8,
  /** Hidden neurons that spiked at least once in the pass. */
  activeNeurons: 9,
} as const;

/** Planes of the trajectory buffer, each [T+1][P][B][N] (slot 0: the initial state): the glossary's. */
export const TRAJ_PLANES = TRAJECTORY_PLANES;

/**
 * Natural values (the glossary's PROPERTY_PLANES) and derivative factors (SLOPE_PLANES) of the
 * intrinsic properties, each [P][N], in the work buffer.
 */
export const NATURAL_PLANES = [...PROPERTY_PLANES, ...SLOPE_PLANES] as const;
/**
 * Adjoints carried from one backward step to the previous one, each [P][B][N], twice (this step's and
 * the next's) in the work buffer: ū, d̄, ā and the filtered spikes' z̄ (zero with the membrane readout).
 */
export const ADJOINTS = 4;
/** Per-trial accumulators of the intrinsic derivatives (the glossary's), each [P][B][N], in the work buffer. */
export const ACC_PLANES = ACCUMULATOR_PLANES;

/**
 * Where everything lives in the GPU buffers of a population of P networks with nIn inputs, N
 * neurons and nOut outputs. All values are float32; offsets and sizes count floats.
 *
 * - params, grads, adamM, adamV: [P][total], each network's groups contiguous in GROUP_KEYS order
 *   (wIn [nIn][N], wRec [N pre][N post], b [N], wOut [N][nOut], bOut [nOut], tauD … tauA [N]).
 * - meta [P][META_STRIDE] (uploaded per pass), stats [P][STATS_STRIDE] (written by the kernels).
 * - traj: TRAJ_PLANES, each [T+1][P][B][N].
 * - io: x [P][T][B][nIn], targets [P][T][B][nOut], mask [P][T][B] (uploaded per pass).
 * - out: y [T][P][B][nOut], ȳ [T][P][B][nOut], task-loss partial sums [P][T][B].
 * - work: keep [P][N] (1, or 0 for a lesioned neuron), NATURAL_PLANES [P][N], the adjoints ū, d̄, ā, z̄
 *   of two consecutive steps [2][ADJOINTS][P][B][N], ACC_PLANES [P][B][N].
 */
export class GpuLayout {
  readonly P: number;
  readonly nIn: number;
  readonly N: number;
  readonly nOut: number;
  readonly sizes: Readonly<Record<ParamKey, number>>;
  /** Offset of each group inside a network's parameter vector. */
  readonly offset: Readonly<Record<ParamKey, number>>;
  /** Floats per network in params, grads and the Adam moments. */
  readonly total: number;

  constructor(P: number, nIn: number, N: number, nOut: number) {
    this.P = P;
    this.nIn = nIn;
    this.N = N;
    this.nOut = nOut;
    const sizes = paramSizes({ nIn, nRec: N, nOut } as Parameters<typeof paramSizes>[0]);
    this.sizes = sizes;
    const offset = {} as Record<ParamKey, number>;
    let total = 0;
    for (const k of GROUP_KEYS) {
      offset[k] = total;
      total += sizes[k];
    }
    this.offset = offset;
    this.total = total;
  }

  static of(states: readonly NetworkState[]): GpuLayout {
    const { nIn, nRec, nOut } = sharedSizes(states, 'a GPU population needs at least one network');
    return new GpuLayout(states.length, nIn, nRec, nOut);
  }

  /** Float sizes of the buffers whose size depends on the steps T and trials B. */
  stepSizes(T: number, B: number): { traj: number; plane: number; io: number; out: number; work: number } {
    const { P, N, nIn, nOut } = this;
    const plane = (T + 1) * P * B * N;
    const io = P * T * B * (nIn + nOut + 1);
    const out = 2 * T * P * B * nOut + P * T * B;
    const work = P * N * (1 + NATURAL_PLANES.length) + (2 * ADJOINTS + ACC_PLANES.length) * P * B * N;
    return { traj: TRAJ_PLANES.length * plane, plane, io, out, work };
  }

  /** All networks' parameter groups (or one kind of them: params, m or v) packed [P][total]. */
  pack(groups: readonly Partial<Params>[]): Float32Array {
    const out = new Float32Array(this.P * this.total);
    for (const [p, g] of groups.entries()) {
      for (const k of GROUP_KEYS) {
        const a = g[k];
        if (a === undefined) continue;
        if (a.length !== this.sizes[k]) {
          throw new RangeError(`parameter ${k} has ${a.length} values, expected ${this.sizes[k]}`);
        }
        out.set(a, p * this.total + this.offset[k]);
      }
    }
    return out;
  }

  /** Copies of network p's groups from a packed [P][total] array (or from a single network's vector). */
  unpack(packed: Float32Array, p: number, keys: readonly ParamKey[] = GROUP_KEYS): Partial<Params> {
    const base = packed.length === this.total ? 0 : p * this.total;
    const out: Partial<Params> = {};
    for (const k of keys) out[k] = packed.slice(base + this.offset[k], base + this.offset[k] + this.sizes[k]);
    return out;
  }

  /** Inputs (with the given per-network arrays), targets and masks packed into the io layout. */
  packIo(
    inputs: readonly Float32Array[],
    targets: readonly Float32Array[],
    masks: readonly Float32Array[],
    T: number,
    B: number,
  ): Float32Array {
    const { P, nIn, nOut } = this;
    const out = new Float32Array(P * T * B * (nIn + nOut + 1));
    const xs = T * B * nIn;
    const ts = T * B * nOut;
    for (let p = 0; p < P; p++) {
      out.set(inputs[p]!, p * xs);
      out.set(targets[p]!, P * xs + p * ts);
      out.set(masks[p]!, P * (xs + ts) + p * T * B);
    }
    return out;
  }

  /** The settings record of every network for one pass. */
  packMeta(members: readonly Member[], pass: readonly MemberPass[]): Float32Array {
    const out = new Float32Array(this.P * META_STRIDE);
    for (const [p, m] of members.entries()) {
      const r = pass[p]!;
      const c = m.config;
      const o = p * META_STRIDE;
      const set = (k: keyof typeof META, v: number) => {
        out[o + META[k]] = v;
      };
      set('adapt', m.adapt ? 1 : 0);
      set('surrogate', m.surrogate);
      set('gamma', m.gamma);
      set('kappa', m.kappa);
      set('mgSigma', m.surrogate === SURROGATE_MULTI_GAUSSIAN ? m.mgSigma : 0);
      set('mgW2', m.mgW2);
      set('mgScale', m.mgScale);
      set('xent', m.xent ? 1 : 0);
      set('dt', c.dt);
      set('tauMin', c.tauClamp.min);
      set('tauMax', c.tauClamp.max);
      set('norm', r.norm);
      const homeo = m.homeostaticTarget !== null && c.loss.lambdaH !== 0;
      set('lambdaH', homeo ? c.loss.lambdaH : 0);
      set('target', homeo ? m.homeostaticTarget! : 0);
      // The L2 terms are in the loss only in 'loss' weight-decay mode (version 1).
      set('lambdaIn', m.l2InLoss ? c.loss.lambdaIn : 0);
      set('lambdaRec', m.l2InLoss ? c.loss.lambdaRec : 0);
      set('lambdaOut', m.l2InLoss ? c.loss.lambdaOut : 0);
      set('clipNorm', c.optimizer.clipNorm);
      set('beta1', c.optimizer.beta1);
      set('beta2', c.optimizer.beta2);
      set('eps', c.optimizer.eps);
      set('bc1', 1 - Math.pow(c.optimizer.beta1, m.step));
      set('bc2', 1 - Math.pow(c.optimizer.beta2, m.step));
      set('update', r.update ? 1 : 0);
      set('spikeReadout', m.spikeReadout ? 1 : 0);
      set('kappaOut', m.kappaOut);
      set('clampAfterStep', m.clampAfterStep ? 1 : 0);
      set('sgdProperties', m.sgdProperties ? 1 : 0);
      const range = tauRange(c, 'tauD');
      set('logTauMin', range ? range[0] : 0);
      set('logTauMax', range ? range[1] : 0);
      for (const [g, k] of GROUP_KEYS.entries()) {
        out[o + META.trainable + g] = m.trainableSet.has(k) ? 1 : 0;
        out[o + META.lr + g] = m.lr[k];
        out[o + META.decay + g] = m.decay[k];
      }
    }
    return out;
  }
}

/** What one pass needs to know about one network beyond its configuration. */
export interface MemberPass {
  /** The task-loss normaliser (see META.norm). */
  readonly norm: number;
  /** Whether this pass applies an optimiser step to it. */
  readonly update: boolean;
}

/** The task-loss normaliser of a mask: 1 / Σ w (xent), 1 / (Σ w · nOut) (mse), 0 for an empty mask. */
export function lossNorm(mask: Float32Array, xent: boolean, nOut: number): number {
  let total = 0;
  for (let i = 0; i < mask.length; i++) total += mask[i]!;
  return total === 0 ? 0 : xent ? 1 / total : 1 / (total * nOut);
}

export { Member };

import type { LossTerms, NetworkState, ParamKey, Params, TrialBatch } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { checkBatch, paramSizes, sharedSizes } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { Arena, regionSizes } from './arena.js';
import { backward } from './backward.js';
import { forward } from './forward.js';
import { loss } from './loss.js';
import { Member } from './members.js';
import { optimiserStep } from './optimiser.js';
import { naturalProperties, prepareParams, type NaturalProperties } from './transforms.js';

export const ALL_KEYS: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

/** What a pass computes: loss only, gradients of every group, or gradients for an optimiser step. */
export type PassKind = 'eval' | 'grad' | 'train';

/**
 * P networks of the same sizes, trained in lock-step: parameters, gradients and optimiser
 * moments of all networks live in one region per kind ([group][P][size]), the trajectory in one
 * array per state variable ([T+1][P][B][N]), so that each time step of every network is one pass.
 * A single network is the case P = 1.
 *
 * The arithmetic runs in WebAssembly SIMD kernels (kernels/) over one memory,
 * the arena (arena.ts); this class holds the networks' state, binds each pass's batches and
 * sequences its parts: the parameter transforms (transforms.ts), the forward pass (forward.ts), the
 * loss (loss.ts), BPTT (backward.ts) and the optimiser step (optimiser.ts). Soft spikes and lesioned
 * evaluation use a float64 scalar forward step. Buffers are allocated at construction and grow only
 * when a batch needs more steps or trials.
 */
export class FusedCore {
  readonly P: number;
  readonly nIn: number;
  readonly N: number;
  readonly nOut: number;
  readonly members: Member[];
  readonly sizes: Readonly<Record<ParamKey, number>>;
  /** Views into the arena (replaced when it grows). */
  readonly params: Record<ParamKey, Float32Array>;
  readonly grads: Record<ParamKey, Float32Array>;
  readonly adamM: Record<ParamKey, Float32Array>;
  readonly adamV: Record<ParamKey, Float32Array>;
  /** How many times the step-dependent buffers were (re)allocated. */
  allocations = 0;
  /** Float offset of each group in the [group][P][size] regions, and their total size per network. */
  readonly groupAt: Readonly<Record<ParamKey, number>>;
  readonly total: number;

  /**
   * The working state of a pass, shared with the files that do its parts (transforms.ts, forward.ts,
   * loss.ts, backward.ts, optimiser.ts); not for use outside the fused engine.
   */
  /** Natural values and derivative factors of the intrinsic properties, [P][N]. */
  readonly natural: NaturalProperties;
  /** Per-network terms of the last pass. */
  readonly terms: LossTerms[];
  readonly gradNorms: Float64Array;
  readonly sumU2: Float64Array;
  readonly sumS: Float64Array;
  /** The homeostatic term's factor c_h of each network in the backward pass. */
  readonly homeostaticFactor: Float64Array;

  arena: Arena;
  private capSlots = 0;
  private capB = 0;
  /** Which half of the adjoint region holds the current step's ū, d̄, ā (the other: the next step's). */
  adjFlip = 0;
  T = 0;
  B = 0;
  /** 1 for the networks that the current pass advances (a pass may leave some out). */
  readonly inPass: Uint8Array;

  constructor(states: readonly NetworkState[]) {
    const sizes = sharedSizes(states, 'a fused core needs at least one network');
    const c0 = states[0]!.config;
    this.P = states.length;
    this.nIn = sizes.nIn;
    this.N = sizes.nRec;
    this.nOut = sizes.nOut;
    this.members = states.map((s) => new Member(s));
    this.sizes = paramSizes(c0);
    const P = this.P;
    const groupAt = {} as Record<ParamKey, number>;
    let total = 0;
    for (const k of ALL_KEYS) {
      groupAt[k] = P * total;
      total += this.sizes[k];
    }
    this.groupAt = groupAt;
    this.total = total;
    this.arena = new Arena(regionSizes(this, 0, 0));
    const none = () => ({}) as Record<ParamKey, Float32Array>;
    this.params = none();
    this.grads = none();
    this.adamM = none();
    this.adamV = none();
    this.bindArenaViews();
    for (const [p, s] of states.entries()) {
      for (const k of ALL_KEYS) {
        const a = s.params[k];
        if (a.length !== this.sizes[k]) {
          throw new RangeError(`parameter ${k} has ${a.length} values, expected ${this.sizes[k]}`);
        }
        this.params[k].set(a, p * this.sizes[k]);
      }
      for (const k of this.members[p]!.trainable) {
        const m = s.adam.m[k];
        const v = s.adam.v[k];
        if (m) this.adamM[k].set(m, p * this.sizes[k]);
        if (v) this.adamV[k].set(v, p * this.sizes[k]);
      }
    }
    this.natural = naturalProperties(P * this.N);
    this.terms = states.map(() => ({ loss: 0, taskLoss: 0, homeoLoss: 0, l2Loss: 0, meanU2: 0, firingRate: 0 }));
    this.gradNorms = new Float64Array(P);
    this.inPass = new Uint8Array(P).fill(1);
    this.sumU2 = new Float64Array(P);
    this.sumS = new Float64Array(P);
    this.homeostaticFactor = new Float64Array(P);
  }

  /** Points the weight groups that the kernels read or write at the arena. */
  private bindArenaViews(): void {
    const f = this.arena.f;
    for (const k of ALL_KEYS) {
      const from = this.groupAt[k];
      const to = from + this.P * this.sizes[k];
      this.params[k] = f.params.subarray(from, to);
      this.grads[k] = f.grads.subarray(from, to);
      this.adamM[k] = f.adamM.subarray(from, to);
      this.adamV[k] = f.adamV.subarray(from, to);
    }
  }

  /** Byte address of network p's values of group k in a [group][P][size] region. */
  addr(region: 'params' | 'grads' | 'adamM' | 'adamV', k: ParamKey, p: number): number {
    return this.arena.at[region] + (this.groupAt[k] + p * this.sizes[k]) * 4;
  }

  /** Grows the step-dependent buffers to hold T steps of B trials (capacity is kept per dimension). */
  private ensureCapacity(T: number, B: number): void {
    if (T + 1 <= this.capSlots && B <= this.capB) return;
    const capSlots = Math.max(T + 1, this.capSlots);
    const capB = Math.max(B, this.capB);
    const old = this.arena;
    const next = new Arena(regionSizes(this, capSlots, capB));
    for (const r of ['params', 'grads', 'adamM', 'adamV', 'gradWOutT'] as const) next.f[r].set(old.f[r]);
    this.arena = next;
    this.bindArenaViews();
    this.capSlots = capSlots;
    this.capB = capB;
    this.allocations++;
  }

  /**
   * Binds the batches of one pass (one per network; the same object may be shared) and copies
   * their inputs into the arena; a training pass adds each network's input noise from its own
   * stream, with the same draws and rounding as noisyInputs.
   */
  private bind(batches: readonly (TrialBatch | null)[], noisy: boolean): void {
    if (batches.length !== this.P) throw new RangeError(`expected ${this.P} batches, got ${batches.length}`);
    const first = batches.find((b) => b !== null);
    if (!first) throw new RangeError('a pass needs a batch for at least one network');
    const T = first.steps;
    const B = first.batch;
    for (const [p, batch] of batches.entries()) {
      if (batch === null) continue;
      checkBatch(this.members[p]!.config, batch);
      if (batch.steps !== T || batch.batch !== B) {
        throw new RangeError(`all batches of a pass must have the same steps and trials (${T}×${B})`);
      }
    }
    this.ensureCapacity(T, B);
    this.T = T;
    this.B = B;
    const xin = this.arena.f.xin;
    const len = T * B * this.nIn;
    for (const [p, batch] of batches.entries()) {
      if (batch === null) continue;
      const m = this.members[p]!;
      const std = m.config.inputNoise;
      const src = batch.inputs;
      const o = p * len;
      if (!noisy || std === 0) xin.set(src, o);
      else for (let i = 0; i < len; i++) xin[o + i] = src[i]! + std * m.rng.normal();
    }
  }

  /** Hidden neurons of network p that spiked at least once in the last pass. */
  activeNeurons(p: number): number {
    const { P, N, T, B } = this;
    const s = this.arena.f.s;
    const seen = new Uint8Array(N);
    for (let t = 1; t <= T; t++) {
      for (let b = 0; b < B; b++) {
        const o = ((t * P + p) * B + b) * N;
        for (let i = 0; i < N; i++) if (s[o + i]! !== 0) seen[i] = 1;
      }
    }
    let n = 0;
    for (const x of seen) n += x;
    return n;
  }

  /**
   * The networks of this pass grouped into spans of consecutive networks with equal `key` (and `ok`):
   * each span is [p0, p1, ok(p0)]. The kernels advance a span in one call per step.
   */
  spans(ok: (p: number) => boolean, key: (p: number) => string): [number, number, boolean][] {
    const out: [number, number, boolean][] = [];
    for (let p = 0; p < this.P; p++) {
      if (!this.inPass[p]) continue;
      const last = out[out.length - 1];
      if (last && last[1] === p && last[2] === ok(p) && key(p) === key(last[0])) last[1] = p + 1;
      else out.push([p, p + 1, ok(p)]);
    }
    return out;
  }

  /** What the kernels of a network depend on: adaptation, spike mode and surrogate. */
  variant(p: number): string {
    const m = this.members[p]!;
    return `${m.adapt}|${m.soft}|${m.surrogate}|${m.gamma}|${m.kappa}|${m.spikeReadout}|${m.kappaOut}`;
  }

  /**
   * One pass over one batch per network. 'eval': forward only (lesion allowed). 'grad': gradients
   * of every group of every network. 'train': noise, gradients of the trainable groups, one Adam
   * step per network (networks with nothing to train still advance their step count).
   */
  pass(
    batches: readonly (TrialBatch | null)[],
    kind: PassKind,
    lesion: readonly (Uint8Array | null)[] | null = null,
  ): void {
    const train = kind === 'train';
    this.bind(batches, train);
    for (let p = 0; p < this.P; p++) this.inPass[p] = batches[p] !== null ? 1 : 0;
    if (train) for (const [p, m] of this.members.entries()) if (this.inPass[p]) m.step += 1;
    const cut = kind === 'eval' ? lesion : null;
    prepareParams(this, cut);
    forward(this, cut);
    for (let p = 0; p < this.P; p++) {
      this.gradNorms[p] = 0;
      if (this.inPass[p]) loss(this, p, batches[p]!);
    }
    if (kind === 'eval') return;
    const active = this.members.map((m, p) => this.inPass[p] === 1 && (kind === 'grad' || m.trainable.length > 0));
    const weights = this.members.map((m) => kind === 'grad' || m.trainWeights);
    if (!active.some((x) => x)) return;
    backward(this, active, weights);
    if (!train) return;
    for (let p = 0; p < this.P; p++) if (active[p]) optimiserStep(this, p);
  }

  /** Readout of network p from the last pass, [T][B][nOut] (a copy). */
  outputs(p: number): Float32Array {
    const { P, T, B, nOut } = this;
    const y = this.arena.f.y;
    const out = new Float32Array(T * B * nOut);
    for (let t = 0; t < T; t++) {
      out.set(y.subarray((t * P + p) * B * nOut, (t * P + p + 1) * B * nOut), t * B * nOut);
    }
    return out;
  }

  /** Copies of network p's parameter groups. */
  paramsOf(p: number, from: Record<ParamKey, Float32Array> = this.params): Params {
    return Object.fromEntries(
      ALL_KEYS.map((k) => [k, from[k].slice(p * this.sizes[k], (p + 1) * this.sizes[k])]),
    ) as Params;
  }

  /** The whole state of network p, loadable by any engine. */
  snapshot(p: number): NetworkState {
    const m = this.members[p]!;
    const mm: Partial<Params> = {};
    const vv: Partial<Params> = {};
    for (const k of m.trainable) {
      mm[k] = this.adamM[k].slice(p * this.sizes[k], (p + 1) * this.sizes[k]);
      vv[k] = this.adamV[k].slice(p * this.sizes[k], (p + 1) * this.sizes[k]);
    }
    return {
      config: m.config,
      params: this.paramsOf(p),
      adam: { step: m.step, m: mm, v: vv },
      homeostaticTarget: m.homeostaticTarget,
      rng: m.rng.state(),
    };
  }

  resetOptimizer(p: number): void {
    const m = this.members[p]!;
    m.step = 0;
    for (const k of ALL_KEYS) {
      this.adamM[k].fill(0, p * this.sizes[k], (p + 1) * this.sizes[k]);
      this.adamV[k].fill(0, p * this.sizes[k], (p + 1) * this.sizes[k]);
    }
  }
}

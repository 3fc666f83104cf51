import type { LossTerms, NetworkState, ParamKey, Params, TrialBatch } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { checkBatch, paramSizes, sharedSizes } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { MG_H } from '../model/surrogates.js';
import { instantiateKernels, matvec, type KernelExports } from './kernels.js';
import { Member, SURROGATE_ARCTAN, SURROGATE_FAST_SIGMOID, SURROGATE_MULTI_GAUSSIAN } from './members.js';
import { wasm } from './wasm-emit.js';

export const ALL_KEYS: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

/** What a pass computes: loss only, gradients of every group, or gradients for an optimiser step. */
export type PassKind = 'eval' | 'grad' | 'train';

/** ψ(v; θ), the surrogate derivative of the hard spike (surrogates.ts), with θ a constant. */
function surrogateAt(m: Member, v: number, theta: number): number {
  const x = v / theta;
  if (m.surrogate === SURROGATE_FAST_SIGMOID) {
    const d = 1 + m.kappa * (x < 0 ? -x : x);
    return m.gamma / (d * d);
  }
  if (m.surrogate === SURROGATE_ARCTAN) {
    const z = 1.5707963267948966 * m.kappa * x;
    return m.gamma / (1 + z * z);
  }
  const s = m.mgSigma;
  const w2 = m.mgW2;
  const l = x - s;
  const r = x + s;
  return (
    m.mgScale *
    ((1 + MG_H) * Math.exp(-(x * x) / (2 * s * s)) - MG_H * (Math.exp(-(l * l) / w2) + Math.exp(-(r * r) / w2)))
  );
}

const REGIONS = [
  // Every parameter group, its gradient and Adam moments: [group][P][size] (ALL_KEYS order).
  'params',
  'grads',
  'adamM',
  'adamV',
  'woT',
  'gWoT',
  // Intrinsic properties as float32 rows [P][N], and the accumulators of their derivatives.
  'paD',
  'pcD',
  'paS',
  'pcS',
  'prho',
  'pcR',
  'pth',
  'pbe',
  'gaD',
  'gaS',
  'gRho',
  'gBe',
  'gTh',
  'gB',
  'sums',
  'ch',
  'xin',
  'I',
  'd',
  'u',
  'a',
  'thr',
  's',
  'psi',
  'z',
  'zb',
  'dI',
  'ds',
  'adj',
  'y',
  'dy',
  'spikeIdx',
  'spikeOff',
] as const;
type Region = (typeof REGIONS)[number];

/**
 * The kernels' operands, in one WebAssembly memory: weights and their gradients (kept across
 * growth), the intrinsic properties and their derivative accumulators, inputs, trajectory
 * [T+1][P][B][N] (slot 0: the initial state), ψ, Ī, the adjoints of d, u, a for two steps,
 * spike lists, readout and its gradient. Float32 except the spike lists and the f64 sums.
 */
class Arena {
  readonly kernels: KernelExports;
  /** Byte offsets. */
  readonly at: Readonly<Record<Region, number>>;
  readonly f: Readonly<Record<Exclude<Region, 'spikeIdx' | 'spikeOff' | 'sums'>, Float32Array>>;
  readonly spikeIdx: Int32Array;
  readonly spikeOff: Int32Array;
  readonly sums: Float64Array;

  constructor(sizes: Readonly<Record<Region, number>>) {
    const at = {} as Record<Region, number>;
    let bytes = 0;
    for (const r of REGIONS) {
      at[r] = bytes;
      bytes += Math.ceil((sizes[r] * 4) / 64) * 64;
    }
    const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(bytes / 65536)) });
    this.kernels = instantiateKernels(memory);
    this.at = at;
    const f = {} as Record<Region, Float32Array>;
    for (const r of REGIONS) f[r] = new Float32Array(memory.buffer, at[r], sizes[r]);
    this.f = f;
    this.spikeIdx = new Int32Array(memory.buffer, at.spikeIdx, sizes.spikeIdx);
    this.spikeOff = new Int32Array(memory.buffer, at.spikeOff, sizes.spikeOff);
    this.sums = new Float64Array(memory.buffer, at.sums, sizes.sums / 2);
  }
}

/**
 * P networks of the same sizes, trained in lock-step: parameters, gradients and optimiser
 * moments of all networks live in one region per kind ([group][P][size]), the trajectory in one
 * array per state variable ([T+1][P][B][N]), so that each time step of every network is one pass.
 * A single network is the case P = 1.
 *
 * The arithmetic runs in WebAssembly SIMD kernels (kernels.ts, neuron-kernels.ts) over one memory
 * (the arena); this class lays out the arena, sequences the kernels, and does the per-pass scalar
 * work (parameter transforms, loss, chain rule to the raw parameters). Soft spikes and lesioned
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
  private readonly groupAt: Readonly<Record<ParamKey, number>>;
  private readonly total: number;

  // Natural values and derivative factors of the intrinsic properties, [P][N].
  private readonly aD: Float64Array;
  private readonly cD: Float64Array;
  private readonly aS: Float64Array;
  private readonly cS: Float64Array;
  private readonly rho: Float64Array;
  private readonly cR: Float64Array;
  private readonly th: Float64Array;
  private readonly be: Float64Array;
  /** ∂α/∂raw (zero where the clamp is active), ∂θ/∂raw, ∂β/∂raw. */
  private readonly kD: Float64Array;
  private readonly kS: Float64Array;
  private readonly kR: Float64Array;
  private readonly kTh: Float64Array;
  private readonly kBe: Float64Array;
  /** Per-network terms of the last pass. */
  readonly terms: LossTerms[];
  readonly gradNorms: Float64Array;
  private readonly sumU2: Float64Array;
  private readonly sumS: Float64Array;
  private readonly ch: Float64Array;

  private arena: Arena;
  private capSlots = 0;
  private capB = 0;
  /** Which half of the adjoint region holds the current step's ū, d̄, ā (the other: the next step's). */
  private adjFlip = 0;
  private T = 0;
  private B = 0;
  /** 1 for the networks that the current pass advances (a pass may leave some out). */
  private readonly inPass: Uint8Array;

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
    this.arena = new Arena(this.regionSizes(0, 0));
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
    const PN = P * this.N;
    const f64 = () => new Float64Array(PN);
    this.aD = f64();
    this.cD = f64();
    this.aS = f64();
    this.cS = f64();
    this.rho = f64();
    this.cR = f64();
    this.th = f64();
    this.be = f64();
    this.kD = f64();
    this.kS = f64();
    this.kR = f64();
    this.kTh = f64();
    this.kBe = f64();
    this.terms = states.map(() => ({ loss: 0, taskLoss: 0, homeoLoss: 0, l2Loss: 0, meanU2: 0, firingRate: 0 }));
    this.gradNorms = new Float64Array(P);
    this.inPass = new Uint8Array(P).fill(1);
    this.sumU2 = new Float64Array(P);
    this.sumS = new Float64Array(P);
    this.ch = new Float64Array(P);
  }

  private regionSizes(slots: number, B: number): Record<Region, number> {
    const { P, N, nIn, nOut } = this;
    const traj = slots * P * B * N;
    const PN = P * N;
    const all = P * this.total;
    return {
      params: all,
      grads: all,
      adamM: all,
      adamV: all,
      woT: P * nOut * N,
      gWoT: P * nOut * N,
      paD: PN,
      pcD: PN,
      paS: PN,
      pcS: PN,
      prho: PN,
      pcR: PN,
      pth: PN,
      pbe: PN,
      gaD: PN,
      gaS: PN,
      gRho: PN,
      gBe: PN,
      gTh: PN,
      gB: PN,
      sums: 4 * P,
      ch: P,
      xin: P * slots * B * nIn,
      I: traj,
      d: traj,
      u: traj,
      a: traj,
      thr: traj,
      s: traj,
      psi: traj,
      z: traj,
      zb: traj,
      dI: traj,
      ds: P * B * N,
      adj: 6 * P * B * N,
      y: slots * P * B * nOut,
      dy: slots * P * B * nOut,
      spikeIdx: traj,
      spikeOff: slots * P * B + 1,
    };
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
  private addr(region: 'params' | 'grads' | 'adamM' | 'adamV', k: ParamKey, p: number): number {
    return this.arena.at[region] + (this.groupAt[k] + p * this.sizes[k]) * 4;
  }

  /** Grows the step-dependent buffers to hold T steps of B trials (capacity is kept per dimension). */
  private ensureCapacity(T: number, B: number): void {
    if (T + 1 <= this.capSlots && B <= this.capB) return;
    const capSlots = Math.max(T + 1, this.capSlots);
    const capB = Math.max(B, this.capB);
    const old = this.arena;
    const next = new Arena(this.regionSizes(capSlots, capB));
    for (const r of ['params', 'grads', 'adamM', 'adamV', 'gWoT'] as const) next.f[r].set(old.f[r]);
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

  /**
   * Natural values of the intrinsic properties (float64 for the scalar paths, float32 rows for the
   * kernels), the derivative factors, and W_outᵀ with the lesioned columns zeroed.
   */
  private prepareParams(lesion: readonly (Uint8Array | null)[] | null): void {
    const { N, nOut } = this;
    const { tauD, tauS, theta, beta, tauA, wOut } = this.params;
    const F = this.arena.f;
    for (const [p, m] of this.members.entries()) {
      if (!this.inPass[p]) continue;
      const c = m.config;
      const lo = Math.fround(c.tauClamp.min);
      const hi = Math.fround(c.tauClamp.max);
      const dt = c.dt;
      for (let i = 0; i < N; i++) {
        const n = p * N + i;
        const ad = decay(tauD[n]!, dt, c.tauClamp, lo, hi, this.kD, n, m.clampAfterStep);
        this.aD[n] = ad;
        this.cD[n] = 1 - ad;
        const as = decay(tauS[n]!, dt, c.tauClamp, lo, hi, this.kS, n, m.clampAfterStep);
        this.aS[n] = as;
        this.cS[n] = 1 - as;
        const rt = theta[n]!;
        this.th[n] = softplus(rt);
        this.kTh[n] = sigmoid(rt);
        if (m.adapt) {
          const r = decay(tauA[n]!, dt, c.tauClamp, lo, hi, this.kR, n, m.clampAfterStep);
          this.rho[n] = r;
          this.cR[n] = 1 - r;
          const rb = beta[n]!;
          this.be[n] = softplus(rb);
          this.kBe[n] = sigmoid(rb);
        } else {
          this.rho[n] = 0;
          this.cR[n] = 0;
          this.be[n] = 0;
          this.kR[n] = 0;
          this.kBe[n] = 0;
        }
      }
      const wo = p * N * nOut;
      const to = p * nOut * N;
      const cut = lesion?.[p] ?? null;
      for (let i = 0; i < N; i++) {
        const keep = cut === null || cut[i] === 0;
        for (let o = 0; o < nOut; o++) F.woT[to + o * N + i] = keep ? wOut[wo + i * nOut + o]! : 0;
      }
    }
    F.paD.set(this.aD);
    F.pcD.set(this.cD);
    F.paS.set(this.aS);
    F.pcS.set(this.cS);
    F.prho.set(this.rho);
    F.pcR.set(this.cR);
    F.pth.set(this.th);
    F.pbe.set(this.be);
  }

  /** Forward pass over the bound batches; lesion (per network, or null) silences neurons. */
  private forward(lesion: readonly (Uint8Array | null)[] | null): void {
    const { P, N, T, B, nIn, nOut } = this;
    const A = this.arena;
    const F = A.f;
    const K = A.kernels;
    this.sumU2.fill(0);
    this.sumS.fill(0);
    // Slot 0: d = u = a = s = 0 and ϑ = θ.
    const PBN = P * B * N;
    F.d.fill(0, 0, PBN);
    F.u.fill(0, 0, PBN);
    F.a.fill(0, 0, PBN);
    F.s.fill(0, 0, PBN);
    for (let p = 0; p < P; p++) {
      for (let b = 0; b < B; b++) F.thr.set(F.pth.subarray(p * N, (p + 1) * N), (p * B + b) * N);
    }
    A.spikeOff.fill(0, 0, P * B + 1);
    A.sums.fill(0, 0, 2 * P);
    // The input drive x W_in of every step at once, into I (slots 1..T).
    for (let p = 0; p < P; p++) {
      if (!this.inPass[p]) continue;
      K.proj(
        A.at.xin + p * T * B * nIn * 4,
        nIn * 4,
        B * nIn * 4,
        this.addr('params', 'wIn', p),
        A.at.I + (P + p) * B * N * 4,
        PBN * 4,
        T,
        B,
        nIn,
        N,
      );
    }
    // Runs of consecutive networks that the kernels advance together (hard spikes, no lesion).
    const runs = this.runs(
      (p) => (lesion?.[p] ?? null) === null && !this.members[p]!.soft,
      (p) => this.variant(p),
    );
    for (let t = 0; t < T; t++) {
      let next = 0;
      for (const [p0, p1, kernel] of runs) {
        this.noSpikes(t, next, p0);
        if (kernel) this.forwardKernelStep(t, p0, p1);
        else for (let p = p0; p < p1; p++) this.forwardStep(t, p, lesion?.[p] ?? null);
        next = p1;
      }
      this.noSpikes(t, next, P);
    }
    for (let p = 0; p < P; p++) {
      this.sumU2[p]! += A.sums[2 * p]!;
      this.sumS[p]! += A.sums[2 * p + 1]!;
    }
    // Readout y = W_out u + b_out, or W_out z + b_out over the filtered spikes z, of every step
    // (W_outᵀ has the lesioned columns zeroed).
    const bOut = this.params.bOut;
    for (let p = 0; p < P; p++) {
      if (!this.inPass[p]) continue;
      const spikes = this.members[p]!.spikeReadout;
      if (spikes) this.filterSpikes(p);
      const groups = P === 1 ? 1 : T;
      const trials = P === 1 ? T * B : B;
      for (let g = 0; g < groups; g++) {
        matvec(
          K,
          A.at.woT + p * nOut * N * 4,
          (spikes ? A.at.z : A.at.u) + ((g + 1) * P + p) * B * N * 4,
          A.at.y + (g * P + p) * B * nOut * 4,
          nOut,
          N,
          trials,
          nOut,
        );
      }
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          const yo = ((t * P + p) * B + b) * nOut;
          for (let k = 0; k < nOut; k++) F.y[yo + k] = F.y[yo + k]! + bOut[p * nOut + k]!;
        }
      }
    }
  }

  /** z[t] = κ z[t−1] + (1 − κ) s[t] of network p over the pass (slot 0: z = 0). */
  private filterSpikes(p: number): void {
    const { P, N, T, B } = this;
    const A = this.arena;
    const kappa = this.members[p]!.kappaOut;
    const row = B * N;
    A.f.z.fill(0, p * row, (p + 1) * row);
    const first = (P + p) * row * 4;
    A.kernels.leak(A.at.z + first, A.at.s + first, T, row, P * row * 4, kappa, 1 - kappa);
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
   * The networks of this pass grouped into runs of consecutive networks with equal `key` (and `ok`):
   * each run is [p0, p1, ok(p0)]. The kernels advance a run in one call per step.
   */
  private runs(ok: (p: number) => boolean, key: (p: number) => string): [number, number, boolean][] {
    const out: [number, number, boolean][] = [];
    for (let p = 0; p < this.P; p++) {
      if (!this.inPass[p]) continue;
      const last = out[out.length - 1];
      if (last && last[1] === p && last[2] === ok(p) && key(p) === key(last[0])) last[1] = p + 1;
      else out.push([p, p + 1, ok(p)]);
    }
    return out;
  }

  /**
   * Empty spike lists at step t for networks [p0, p1), which this pass leaves out: the lists of all
   * networks are one sequence (offsets [T+1][P][B]), so the next network's list starts where theirs end.
   */
  private noSpikes(t: number, p0: number, p1: number): void {
    const off = this.arena.spikeOff;
    const { P, B } = this;
    for (let r = ((t + 1) * P + p0) * B; r < ((t + 1) * P + p1) * B; r++) off[r + 1] = off[r]!;
  }

  /** What the kernels of a network depend on: adaptation, spike mode and surrogate. */
  private variant(p: number): string {
    const m = this.members[p]!;
    return `${m.adapt}|${m.soft}|${m.surrogate}|${m.gamma}|${m.kappa}|${m.spikeReadout}|${m.kappaOut}`;
  }

  /** The sparse recurrent input and the neuron update of step t for networks [p0, p1), all trials, in two calls. */
  private forwardKernelStep(t: number, p0: number, p1: number): void {
    const { P, N, B } = this;
    const A = this.arena;
    const K = A.kernels;
    const at = A.at;
    const rows = (p1 - p0) * B;
    const slot0 = ((t + 1) * P + p0) * B;
    const prev0 = slot0 - P * B;
    K.gather_net(
      this.addr('params', 'wRec', p0),
      N * N * 4,
      B,
      at.spikeIdx,
      at.spikeOff + prev0 * 4,
      at.I + slot0 * N * 4,
      rows,
      N,
    );
    const pn = p0 * N * 4;
    (this.members[p0]!.adapt ? K.forward_adapt : K.forward_plain)(
      at.I,
      at.d,
      at.u,
      at.a,
      at.thr,
      at.s,
      slot0 * N * 4,
      prev0 * N * 4,
      at.paD + pn,
      at.pcD + pn,
      at.paS + pn,
      at.pcS + pn,
      at.prho + pn,
      at.pcR + pn,
      at.pth + pn,
      at.pbe + pn,
      this.addr('params', 'b', p0),
      rows,
      N,
      at.spikeIdx,
      at.spikeOff + slot0 * 4,
      at.sums + p0 * 16,
      B,
      N * 4,
    );
  }

  /** The same step in float64 scalar code: soft spikes (dense recurrence) and lesioned evaluation. */
  private forwardStep(t: number, p: number, lesion: Uint8Array | null): void {
    const { P, N, B } = this;
    const m = this.members[p]!;
    const adapt = m.adapt;
    const soft = m.soft;
    const kappa = m.kappa;
    const A = this.arena;
    const K = A.kernels;
    const { I, d, u, a, thr, s } = A.f;
    const spikeIdx = A.spikeIdx;
    const spikeOff = A.spikeOff;
    const { aD, cD, aS, cS, rho, cR, th, be } = this;
    const bias = this.params.b;
    const wr = this.addr('params', 'wRec', p);
    const slot0 = ((t + 1) * P + p) * B;
    const pn = p * N;
    // Recurrent input: the W_rec rows of the neurons that spiked at t − 1 (all rows, weighted, for soft spikes).
    if (soft) {
      if (t > 0) {
        K.proj_add(A.at.s + (slot0 - P * B) * N * 4, N * 4, 0, wr, A.at.I + slot0 * N * 4, 0, 1, B, N, N);
      }
    } else {
      for (let b = 0; b < B; b++) {
        const prev = slot0 + b - P * B;
        const q0 = spikeOff[prev]!;
        const q1 = spikeOff[prev + 1]!;
        if (q1 > q0) K.gather_rows(wr, A.at.spikeIdx, q0, q1, A.at.I + (slot0 + b) * N * 4, N);
      }
    }
    let sumU2 = 0;
    let sumS = 0;
    for (let b = 0; b < B; b++) {
      const slot = slot0 + b;
      const o = slot * N;
      const op = o - P * B * N;
      let count = spikeOff[slot]!;
      for (let i = 0; i < N; i++) {
        const n = pn + i;
        I[o + i] = I[o + i]! + bias[n]!;
        const Ii = I[o + i]!;
        const sP = s[op + i]!;
        const di = aD[n]! * d[op + i]! + cD[n]! * Ii;
        const ui = aS[n]! * u[op + i]! + cS[n]! * di - thr[op + i]! * sP;
        let thi = th[n]!;
        if (adapt) {
          const ai = rho[n]! * a[op + i]! + cR[n]! * sP;
          a[o + i] = ai;
          thi += be[n]! * ai;
        }
        d[o + i] = di;
        u[o + i] = ui;
        thr[o + i] = thi;
        const v = ui - thi;
        let si = soft ? 1 / (1 + Math.exp((-kappa * v) / th[n]!)) : v > 0 ? 1 : 0;
        if (lesion !== null && lesion[i] !== 0) si = 0;
        s[o + i] = si;
        sumU2 += ui * ui;
        sumS += si;
        if (si !== 0 && !soft) spikeIdx[count++] = i;
      }
      spikeOff[slot + 1] = count;
    }
    this.sumU2[p]! += sumU2;
    this.sumS[p]! += sumS;
  }

  /** ψ at every step of networks [p0, p1) (one variant): the surrogate (hard spikes) or σ'(·) κ/θ (soft spikes). */
  private surrogates(p0: number, p1: number): void {
    const { P, N, T, B } = this;
    const m = this.members[p0]!;
    const A = this.arena;
    const at = A.at;
    if (!m.soft && m.surrogate !== SURROGATE_MULTI_GAUSSIAN) {
      const kernel = m.surrogate === SURROGATE_FAST_SIGMOID ? A.kernels.psi_fast_sigmoid : A.kernels.psi_arctan;
      const k = m.surrogate === SURROGATE_FAST_SIGMOID ? m.kappa : 1.5707963267948966 * m.kappa;
      if (p0 === 0 && p1 === P) {
        const o = P * B * N * 4;
        kernel(at.u + o, at.thr + o, at.pth, at.psi + o, T * P * B, N, m.gamma, k, B, P, N * 4);
      } else {
        for (let t = 0; t < T; t++) {
          const o = ((t + 1) * P + p0) * B * N * 4;
          kernel(at.u + o, at.thr + o, at.pth + p0 * N * 4, at.psi + o, (p1 - p0) * B, N, m.gamma, k, B, P, N * 4);
        }
      }
      return;
    }
    const { u, thr, s, psi } = A.f;
    const th = this.th;
    for (let p = p0; p < p1; p++) {
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          const o = (((t + 1) * P + p) * B + b) * N;
          for (let i = 0; i < N; i++) {
            const theta = th[p * N + i]!;
            const si = s[o + i]!;
            psi[o + i] = m.soft ? (si * (1 - si) * m.kappa) / theta : surrogateAt(m, u[o + i]! - thr[o + i]!, theta);
          }
        }
      }
    }
  }

  /** Loss terms of network p from the forward pass, and ∂L/∂y into dy. */
  private loss(p: number, batch: TrialBatch): void {
    const { P, N, T, B, nOut } = this;
    const m = this.members[p]!;
    const c = m.config;
    const y = this.arena.f.y;
    const dy = this.arena.f.dy;
    const mask = batch.mask;
    const tg = batch.targets;
    let total = 0;
    for (let i = 0; i < mask.length; i++) total += mask[i]!;
    const norm = total === 0 ? 0 : m.xent ? 1 / total : 1 / (total * nOut);
    let task = 0;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const w = mask[t * B + b]!;
        const yo = ((t * P + p) * B + b) * nOut;
        const to = (t * B + b) * nOut;
        if (w === 0 || total === 0) {
          for (let k = 0; k < nOut; k++) dy[yo + k] = 0;
          continue;
        }
        if (!m.xent) {
          for (let k = 0; k < nOut; k++) {
            const e = y[yo + k]! - tg[to + k]!;
            task += w * e * e;
            dy[yo + k] = 2 * w * e * norm;
          }
        } else {
          let max = -Infinity;
          for (let k = 0; k < nOut; k++) max = Math.max(max, y[yo + k]!);
          let z = 0;
          for (let k = 0; k < nOut; k++) z += Math.exp(y[yo + k]! - max);
          const lse = max + Math.log(z);
          let sumT = 0;
          for (let k = 0; k < nOut; k++) {
            task -= w * tg[to + k]! * (y[yo + k]! - lse);
            sumT += tg[to + k]!;
          }
          for (let k = 0; k < nOut; k++) {
            dy[yo + k] = w * norm * (Math.exp(y[yo + k]! - lse) * sumT - tg[to + k]!);
          }
        }
      }
    }
    const taskLoss = task * norm;
    const count = T * B * N;
    const meanU2 = this.sumU2[p]! / count;
    const target = m.homeostaticTarget;
    const homeoOn = target !== null && c.loss.lambdaH !== 0;
    const homeoLoss = homeoOn ? c.loss.lambdaH * Math.abs(meanU2 - target) : 0;
    // d|x|/dx is taken as +1 for x > 0 and −1 otherwise, as TensorFlow.js's Abs gradient does.
    this.ch[p] = homeoOn ? (c.loss.lambdaH * (meanU2 - target > 0 ? 2 : -2)) / count : 0;
    const l2Loss = !m.l2InLoss
      ? 0
      : c.loss.lambdaIn * this.meanSq('wIn', p) +
        c.loss.lambdaRec * this.meanSq('wRec', p) +
        c.loss.lambdaOut * this.meanSq('wOut', p);
    this.terms[p] = {
      loss: taskLoss + homeoLoss + l2Loss,
      taskLoss,
      homeoLoss,
      l2Loss,
      meanU2,
      firingRate: this.sumS[p]! / count,
    };
  }

  private meanSq(k: ParamKey, p: number): number {
    const n = this.sizes[k];
    const w = this.params[k];
    let s = 0;
    for (let i = p * n; i < (p + 1) * n; i++) s += w[i]! * w[i]!;
    return s / n;
  }

  /** BPTT through the stored trajectory, for the networks flagged in `active`. */
  private backward(active: readonly boolean[], weights: readonly boolean[]): void {
    const { P, N, T, B, nIn, nOut } = this;
    const A = this.arena;
    const F = A.f;
    const PBN = P * B * N;
    // The next step's adjoints start at zero: both halves of the adjoint region.
    F.adj.fill(0, 0, 6 * PBN);
    this.adjFlip = 0;
    for (let p = 0; p < P; p++) {
      if (!active[p]) continue;
      const pn = p * N;
      for (const g of [F.gaD, F.gaS, F.gRho, F.gBe, F.gTh, F.gB]) g.fill(0, pn, pn + N);
      if (weights[p]) {
        F.gWoT.fill(0, p * nOut * N, (p + 1) * nOut * N);
        this.grads.wIn.fill(0, p * nIn * N, (p + 1) * nIn * N);
        this.grads.wRec.fill(0, p * N * N, (p + 1) * N * N);
      }
    }
    F.ch.set(this.ch);
    const runs = this.runs(
      (p) => active[p]!,
      (p) => `${this.variant(p)}|${weights[p]}`,
    ).filter((r) => r[2]);
    for (const [p0, p1] of runs) this.surrogates(p0, p1);
    for (let p = 0; p < P; p++) if (active[p] && this.members[p]!.spikeReadout) this.readoutAdjoint(p);
    for (let t = T - 1; t >= 0; t--) {
      for (const [p0, p1] of runs) this.backwardStep(t, p0, p1, weights[p0]!);
      this.adjFlip ^= 1;
    }
    for (let p = 0; p < P; p++) {
      if (!active[p]) continue;
      if (weights[p]) {
        // ∂L/∂W_in = Σ_t xᵀ Ī, ∂L/∂W_outᵀ = Σ_t ȳᵀ u, and for soft spikes ∂L/∂W_rec = Σ_t s[t−1]ᵀ Ī.
        const dI1 = A.at.dI + (P + p) * B * N * 4;
        this.gemmTn(
          A.at.xin + p * T * B * nIn * 4,
          nIn * 4,
          B * nIn * 4,
          dI1,
          PBN * 4,
          T,
          B,
          nIn,
          N,
          this.addr('grads', 'wIn', p),
        );
        this.gemmTn(
          A.at.dy + p * B * nOut * 4,
          nOut * 4,
          P * B * nOut * 4,
          (this.members[p]!.spikeReadout ? A.at.z : A.at.u) + (P + p) * B * N * 4,
          PBN * 4,
          T,
          B,
          nOut,
          N,
          A.at.gWoT + p * nOut * N * 4,
        );
        if (this.members[p]!.soft) {
          this.gemmTn(A.at.s + p * B * N * 4, N * 4, PBN * 4, dI1, PBN * 4, T, B, N, N, this.addr('grads', 'wRec', p));
        }
      }
      this.finishGradients(p, weights[p]!);
    }
  }

  /**
   * The adjoint of the filtered spikes of network p at every step, into zb [T][P][B][N]:
   * z̄[t] = W_out ȳ[t] + κ z̄[t+1]. Step t's backward adds (1 − κ) z̄[t] to s̄[t].
   */
  private readoutAdjoint(p: number): void {
    const { P, N, T, B, nOut } = this;
    const A = this.arena;
    const K = A.kernels;
    const groups = P === 1 ? 1 : T;
    const trials = P === 1 ? T * B : B;
    for (let g = 0; g < groups; g++) {
      matvec(
        K,
        this.addr('params', 'wOut', p),
        A.at.dy + (g * P + p) * B * nOut * 4,
        A.at.zb + (g * P + p) * B * N * 4,
        N,
        nOut,
        trials,
        N,
      );
    }
    // z̄[t] += κ z̄[t+1], from t = T − 2 down to 0, in place.
    if (T > 1) {
      const at = A.at.zb + ((T - 2) * P + p) * B * N * 4;
      K.leak(at, at, T - 1, B * N, -P * B * N * 4, this.members[p]!.kappaOut, 1);
    }
  }

  /**
   * G[k] += Σ_rows X[row][k] D[row] over `groups` groups of `perGroup` rows, in chunks of groups
   * whose D rows fit in cache (the per-element order, and so the result, is that of one call).
   */
  private gemmTn(
    x: number,
    xRow: number,
    xGroup: number,
    d: number,
    dGroup: number,
    groups: number,
    perGroup: number,
    k: number,
    n: number,
    g: number,
  ): void {
    const chunk = Math.max(1, Math.floor(131072 / (perGroup * n * 4)));
    for (let g0 = 0; g0 < groups; g0 += chunk) {
      const count = Math.min(chunk, groups - g0);
      this.arena.kernels.gemm_tn(x + g0 * xGroup, xRow, xGroup, d + g0 * dGroup, dGroup, count, perGroup, k, n, g);
    }
  }

  /** Step t of the backward pass for networks [p0, p1) (one variant), all trials. */
  private backwardStep(t: number, p0: number, p1: number, weights: boolean): void {
    const { P, N, T, B, nOut } = this;
    const m = this.members[p0]!;
    const A = this.arena;
    const K = A.kernels;
    const at = A.at;
    const rows = (p1 - p0) * B;
    const slot0 = ((t + 1) * P + p0) * B;
    const prev0 = slot0 - P * B;
    const st = p0 * B * N * 4;
    const half = 3 * P * B * N * 4;
    const cur = at.adj + this.adjFlip * half;
    const next = at.adj + (1 - this.adjFlip) * half;
    const plane = P * B * N * 4;
    // W_rec Ī[t+1]: Σ_post W_rec[pre][post] Ī[t+1][post], for each network's B trials.
    if (t < T - 1) {
      for (let p = p0; p < p1; p++) {
        const o = (slot0 + (p - p0) * B + P * B) * N * 4;
        matvec(K, this.addr('params', 'wRec', p), at.dI + o, at.ds + p * B * N * 4, N, N, B, N);
      }
    } else {
      A.f.ds.fill(0, st / 4, st / 4 + rows * N);
    }
    if (m.spikeReadout) K.axpy(at.ds + st, at.zb + (t * P + p0) * B * N * 4, rows * N, 1 - m.kappaOut);
    const kernel = m.adapt
      ? m.soft
        ? K.backward_adapt_soft
        : K.backward_adapt_hard
      : m.soft
        ? K.backward_plain_soft
        : K.backward_plain_hard;
    const pn = p0 * N * 4;
    kernel(
      at.ds,
      next,
      next + plane,
      next + 2 * plane,
      cur,
      cur + plane,
      cur + 2 * plane,
      st,
      at.u,
      at.thr,
      at.s,
      at.psi,
      at.d,
      at.I,
      at.a,
      at.dI,
      slot0 * N * 4,
      prev0 * N * 4,
      at.paD + pn,
      at.pcD + pn,
      at.paS + pn,
      at.pcS + pn,
      at.prho + pn,
      at.pcR + pn,
      at.pth + pn,
      at.pbe + pn,
      at.gaD + pn,
      at.gaS + pn,
      at.gRho + pn,
      at.gBe + pn,
      at.gTh + pn,
      at.gB + pn,
      at.dy + (t * P + p0) * B * nOut * 4,
      at.woT + p0 * nOut * N * 4,
      // The spike readout reaches u only through s (added to s̄ above), not through W_out ȳ.
      m.spikeReadout ? 0 : nOut,
      rows,
      N,
      at.ch + p0 * 4,
      B,
      N * 4,
      nOut * N * 4,
    );
    // ∂L/∂W_rec += s[t−1]ᵀ Ī[t]: the outer product over the neurons that spiked at t − 1 only.
    if (weights && !m.soft) {
      K.scatter_net(
        this.addr('grads', 'wRec', p0),
        N * N * 4,
        B,
        at.spikeIdx,
        at.spikeOff + prev0 * 4,
        at.dI + slot0 * N * 4,
        rows,
        N,
      );
    }
  }

  /** Chain rule to the raw parameters, W_out and b_out from their accumulators, and the L2 terms. */
  private finishGradients(p: number, weights: boolean): void {
    const { P, N, T, B, nIn, nOut } = this;
    const m = this.members[p]!;
    const c = m.config.loss;
    const g = this.grads;
    const F = this.arena.f;
    const pn = p * N;
    for (let i = 0; i < N; i++) {
      const n = pn + i;
      g.tauD[n] = F.gaD[n]! * this.kD[n]!;
      g.tauS[n] = F.gaS[n]! * this.kS[n]!;
      g.theta[n] = F.gTh[n]! * this.kTh[n]!;
      g.beta[n] = m.adapt ? F.gBe[n]! * this.kBe[n]! : 0;
      g.tauA[n] = m.adapt ? F.gRho[n]! * this.kR[n]! : 0;
      g.b[n] = F.gB[n]!;
    }
    if (!weights) return;
    const w = this.params;
    const dy = F.dy;
    for (let k = 0; k < nOut; k++) {
      let sum = 0;
      for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) sum += dy[((t * P + p) * B + b) * nOut + k]!;
      g.bOut[p * nOut + k] = sum;
    }
    const K = this.arena.kernels;
    const inLoss = m.l2InLoss;
    if (inLoss) {
      K.axpy(this.addr('grads', 'wIn', p), this.addr('params', 'wIn', p), nIn * N, (2 * c.lambdaIn) / (nIn * N));
      K.axpy(this.addr('grads', 'wRec', p), this.addr('params', 'wRec', p), N * N, (2 * c.lambdaRec) / (N * N));
    }
    const sOut = inLoss ? (2 * c.lambdaOut) / (N * nOut) : 0;
    const wo = p * N * nOut;
    const gWoT = F.gWoT;
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < nOut; k++) {
        g.wOut[wo + i * nOut + k] = gWoT[(p * nOut + k) * N + i]! + sOut * w.wOut[wo + i * nOut + k]!;
      }
    }
  }

  /** Clip by global norm over the trainable groups, then Adam with bias correction. */
  private adam(p: number): void {
    const m = this.members[p]!;
    const o = m.config.optimizer;
    const K = this.arena.kernels;
    let sq = 0;
    for (const k of m.trainable) sq += K.sum_squares(this.addr('grads', k, p), this.sizes[k]);
    const norm = Math.sqrt(sq);
    this.gradNorms[p] = norm;
    const scale = o.clipNorm > 0 ? Math.min(1, o.clipNorm / Math.max(norm, 1e-30)) : 1;
    const bc1 = 1 - Math.pow(o.beta1, m.step);
    const bc2 = 1 - Math.pow(o.beta2, m.step);
    for (const k of m.trainable) {
      const lambda = m.decay[k];
      const w = this.addr('params', k, p);
      // Decoupled weight decay (w ← w − lr·λ·w) before the optimiser's step.
      if (lambda !== 0) K.axpy(w, w, this.sizes[k], -m.lr[k] * lambda);
      if (m.sgdProperties && isProperty(k)) {
        K.axpy(w, this.addr('grads', k, p), this.sizes[k], -m.lr[k] * scale);
      } else {
        K.adam(
          this.addr('params', k, p),
          this.addr('grads', k, p),
          this.addr('adamM', k, p),
          this.addr('adamV', k, p),
          this.sizes[k],
          scale,
          m.lr[k],
          o.beta1,
          1 - o.beta1,
          o.beta2,
          1 - o.beta2,
          bc1,
          bc2,
          o.eps,
        );
      }
      const range = m.tauRange[k];
      if (range) {
        const v = this.params[k];
        const [lo, hi] = range;
        for (let i = p * this.sizes[k]; i < (p + 1) * this.sizes[k]; i++) {
          const x = v[i]!;
          if (x < lo) v[i] = lo;
          else if (x > hi) v[i] = hi;
        }
      }
    }
  }

  /**
   * One pass over one batch per network. 'eval': forward only (lesion allowed). 'grad': gradients
   * of every group of every network. 'train': noise, gradients of the trainable groups, one Adam
   * step per network (networks with nothing to train still advance their step count).
   */
  run(
    batches: readonly (TrialBatch | null)[],
    kind: PassKind,
    lesion: readonly (Uint8Array | null)[] | null = null,
  ): void {
    const train = kind === 'train';
    this.bind(batches, train);
    for (let p = 0; p < this.P; p++) this.inPass[p] = batches[p] !== null ? 1 : 0;
    if (train) for (const [p, m] of this.members.entries()) if (this.inPass[p]) m.step += 1;
    const cut = kind === 'eval' ? lesion : null;
    this.prepareParams(cut);
    this.forward(cut);
    for (let p = 0; p < this.P; p++) {
      this.gradNorms[p] = 0;
      if (this.inPass[p]) this.loss(p, batches[p]!);
    }
    if (kind === 'eval') return;
    const active = this.members.map((m, p) => this.inPass[p] === 1 && (kind === 'grad' || m.trainable.length > 0));
    const weights = this.members.map((m) => kind === 'grad' || m.trainWeights);
    if (!active.some((x) => x)) return;
    this.backward(active, weights);
    if (!train) return;
    for (let p = 0; p < this.P; p++) if (active[p]) this.adam(p);
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

/**
 * α = exp(−dt / exp(raw)) and ∂α/∂raw into k[n]. In 'forward' clamp mode (version 1) α uses
 * clamp(exp(raw)) and k[n] is zero where the clamp is active (clipByValue passes the gradient only
 * where min ≤ exp(raw) ≤ max, compared in float32).
 */
function decay(
  raw: number,
  dt: number,
  clamp: { readonly min: number; readonly max: number },
  lo: number,
  hi: number,
  k: Float64Array,
  n: number,
  afterStep: boolean,
): number {
  const te = Math.exp(raw);
  if (afterStep) {
    // The raw value is kept in range by the clamp after each step: no clamp, and no cut gradient, here.
    const alpha = Math.exp(-dt / te);
    k[n] = (alpha * dt) / te;
    return alpha;
  }
  const tf = Math.fround(te);
  const alpha = Math.exp(-dt / Math.min(clamp.max, Math.max(clamp.min, te)));
  k[n] = tf >= lo && tf <= hi ? (alpha * dt) / te : 0;
  return alpha;
}

function isProperty(k: ParamKey): boolean {
  return (PROPERTY_KEYS as readonly string[]).includes(k);
}

function softplus(x: number): number {
  return x > 30 ? x : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

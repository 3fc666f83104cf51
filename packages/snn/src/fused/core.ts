import type { LossTerms, NetworkState, ParamKey, Params, TrialBatch } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { checkBatch, paramSizes } from '../network.js';
import { PROPERTY_KEYS } from '../properties.js';
import { MG_H } from '../surrogates.js';
import { Member, SURROGATE_ARCTAN, SURROGATE_FAST_SIGMOID } from './members.js';

export const ALL_KEYS: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

/** What a pass computes: loss only, gradients of every group, or gradients for an optimiser step. */
export type PassKind = 'eval' | 'grad' | 'train';

/**
 * ψ(v; θ), the surrogate derivative of the hard spike (surrogates.ts), with θ a constant.
 */
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

/** y += W x for each row of W (row-major, n×n): out[i] = Σ_j W[i][j] x[j]. Four partial sums. */
function matvec(
  w: Float32Array,
  wo: number,
  x: Float64Array,
  xo: number,
  out: Float64Array,
  oo: number,
  n: number,
): void {
  const n4 = n - (n % 4);
  for (let i = 0; i < n; i++) {
    const r = wo + i * n;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    let j = 0;
    for (; j < n4; j += 4) {
      a0 += w[r + j]! * x[xo + j]!;
      a1 += w[r + j + 1]! * x[xo + j + 1]!;
      a2 += w[r + j + 2]! * x[xo + j + 2]!;
      a3 += w[r + j + 3]! * x[xo + j + 3]!;
    }
    for (; j < n; j++) a0 += w[r + j]! * x[xo + j]!;
    out[oo + i] = a0 + a1 + (a2 + a3);
  }
}

/**
 * P networks of the same sizes, trained in lock-step: parameters, gradients and optimiser
 * moments of all networks live in one array per group ([P][size]), the trajectory in one array
 * per state variable ([T+1][P][B][N], slot 0 holding the initial state), so that each time step
 * of every network is computed in one pass. A single network is the case P = 1.
 *
 * Buffers are allocated at construction and grow only when a batch needs more steps or trials.
 */
export class FusedCore {
  readonly P: number;
  readonly nIn: number;
  readonly N: number;
  readonly nOut: number;
  readonly members: Member[];
  readonly sizes: Readonly<Record<ParamKey, number>>;
  readonly params: Record<ParamKey, Float32Array>;
  readonly grads: Record<ParamKey, Float32Array>;
  readonly adamM: Record<ParamKey, Float32Array>;
  readonly adamV: Record<ParamKey, Float32Array>;
  /** How many times the step-dependent buffers were (re)allocated. */
  allocations = 0;

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
  // Gradient accumulators with respect to α_d, α_s, ρ, θ, β, b, [P][N]; W_out transposed [P][nOut][N].
  private readonly gaD: Float64Array;
  private readonly gaS: Float64Array;
  private readonly gRho: Float64Array;
  private readonly gTh: Float64Array;
  private readonly gBe: Float64Array;
  private readonly gB: Float64Array;
  private readonly woT: Float32Array;
  private readonly gWoT: Float64Array;
  private readonly acc: Float64Array;
  private readonly rb: Float64Array;
  /** Per-network sums of the last pass: Σu², Σs, task loss, and the resulting terms. */
  readonly terms: LossTerms[];
  readonly gradNorms: Float64Array;
  private readonly sumU2: Float64Array;
  private readonly sumS: Float64Array;
  private readonly ch: Float64Array;

  // Step-dependent buffers.
  private capSlots = 0;
  private capB = 0;
  private cI = new Float32Array(0);
  private cD2 = new Float32Array(0);
  private cU = new Float32Array(0);
  private cA = new Float32Array(0);
  private cThr = new Float32Array(0);
  private cS2 = new Float32Array(0);
  private spikeIdx = new Int32Array(0);
  private spikeOff = new Int32Array(0);
  private y = new Float32Array(0);
  private dy = new Float64Array(0);
  private bDu = new Float64Array(0);
  private bDd = new Float64Array(0);
  private bDa = new Float64Array(0);
  private bDi = new Float64Array(0);
  private bDuN = new Float64Array(0);
  private bDdN = new Float64Array(0);
  private bDaN = new Float64Array(0);
  private bDiN = new Float64Array(0);
  private ds = new Float64Array(0);
  private noise: Float32Array[] = [];

  private xs: Float32Array[];
  private T = 0;
  private B = 0;

  constructor(states: readonly NetworkState[]) {
    if (states.length === 0) throw new RangeError('a fused core needs at least one network');
    const c0 = states[0]!.config;
    this.P = states.length;
    this.nIn = c0.nIn;
    this.N = c0.nRec;
    this.nOut = c0.nOut;
    for (const s of states) {
      const c = s.config;
      if (c.nIn !== this.nIn || c.nRec !== this.N || c.nOut !== this.nOut) {
        throw new RangeError(
          `all networks must have the same sizes (nIn ${this.nIn}, nRec ${this.N}, nOut ${this.nOut}); got ${c.nIn}, ${c.nRec}, ${c.nOut}`,
        );
      }
    }
    this.members = states.map((s) => new Member(s));
    this.sizes = paramSizes(c0);
    const P = this.P;
    const alloc = () =>
      Object.fromEntries(ALL_KEYS.map((k) => [k, new Float32Array(P * this.sizes[k])])) as Record<
        ParamKey,
        Float32Array
      >;
    this.params = alloc();
    this.grads = alloc();
    this.adamM = alloc();
    this.adamV = alloc();
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
    this.gaD = f64();
    this.gaS = f64();
    this.gRho = f64();
    this.gTh = f64();
    this.gBe = f64();
    this.gB = f64();
    this.woT = new Float32Array(P * this.nOut * this.N);
    this.gWoT = new Float64Array(P * this.nOut * this.N);
    this.acc = new Float64Array(this.N);
    this.rb = new Float64Array(this.N);
    this.terms = states.map(() => ({ loss: 0, taskLoss: 0, homeoLoss: 0, l2Loss: 0, meanU2: 0, firingRate: 0 }));
    this.gradNorms = new Float64Array(P);
    this.sumU2 = new Float64Array(P);
    this.sumS = new Float64Array(P);
    this.ch = new Float64Array(P);
    this.xs = states.map(() => new Float32Array(0));
    this.noise = states.map(() => new Float32Array(0));
  }

  /** Grows the step-dependent buffers to hold T steps of B trials. */
  private ensureCapacity(T: number, B: number): void {
    const slots = (T + 1) * B;
    if (slots <= this.capSlots && B <= this.capB) return;
    const capSlots = Math.max(slots, this.capSlots);
    const capB = Math.max(B, this.capB);
    const P = this.P;
    const N = this.N;
    const traj = capSlots * P * N;
    this.cI = new Float32Array(traj);
    this.cD2 = new Float32Array(traj);
    this.cU = new Float32Array(traj);
    this.cA = new Float32Array(traj);
    this.cThr = new Float32Array(traj);
    this.cS2 = new Float32Array(traj);
    this.spikeIdx = new Int32Array(traj);
    this.spikeOff = new Int32Array(capSlots * P + 1);
    this.y = new Float32Array(capSlots * P * this.nOut);
    this.dy = new Float64Array(capSlots * P * this.nOut);
    const st = capB * P * N;
    this.bDu = new Float64Array(st);
    this.bDd = new Float64Array(st);
    this.bDa = new Float64Array(st);
    this.bDi = new Float64Array(st);
    this.bDuN = new Float64Array(st);
    this.bDdN = new Float64Array(st);
    this.bDaN = new Float64Array(st);
    this.bDiN = new Float64Array(st);
    this.ds = new Float64Array(st);
    this.capSlots = capSlots;
    this.capB = capB;
    this.allocations++;
  }

  /**
   * Binds the batches of one pass (one per network; the same object may be shared) and, for a
   * training pass, draws each network's input noise from its own stream (as noisyInputs does).
   */
  private bind(batches: readonly TrialBatch[], noisy: boolean): void {
    if (batches.length !== this.P) throw new RangeError(`expected ${this.P} batches, got ${batches.length}`);
    const T = batches[0]!.steps;
    const B = batches[0]!.batch;
    for (const [p, batch] of batches.entries()) {
      checkBatch(this.members[p]!.config, batch);
      if (batch.steps !== T || batch.batch !== B) {
        throw new RangeError(`all batches of a pass must have the same steps and trials (${T}×${B})`);
      }
    }
    this.ensureCapacity(T, B);
    this.T = T;
    this.B = B;
    for (const [p, batch] of batches.entries()) {
      const m = this.members[p]!;
      const std = m.config.inputNoise;
      if (!noisy || std === 0) {
        this.xs[p] = batch.inputs;
        continue;
      }
      // The same draws, in the same order and rounding, as noisyInputs, into a reused buffer.
      const src = batch.inputs;
      if (this.noise[p]!.length < src.length) {
        this.noise[p] = new Float32Array(src.length);
        this.allocations++;
      }
      const x = this.noise[p]!;
      for (let i = 0; i < src.length; i++) x[i] = src[i]! + std * m.rng.normal();
      this.xs[p] = x;
    }
  }

  /** Natural values of the intrinsic properties and the derivative factors of their parameterisation. */
  private prepareParams(): void {
    const N = this.N;
    const { tauD, tauS, theta, beta, tauA, wOut } = this.params;
    for (const [p, m] of this.members.entries()) {
      const c = m.config;
      const lo = Math.fround(c.tauClamp.min);
      const hi = Math.fround(c.tauClamp.max);
      const dt = c.dt;
      for (let i = 0; i < N; i++) {
        const n = p * N + i;
        const ad = decay(tauD[n]!, dt, c.tauClamp, lo, hi, this.kD, n);
        this.aD[n] = ad;
        this.cD[n] = 1 - ad;
        const as = decay(tauS[n]!, dt, c.tauClamp, lo, hi, this.kS, n);
        this.aS[n] = as;
        this.cS[n] = 1 - as;
        const rt = theta[n]!;
        this.th[n] = softplus(rt);
        this.kTh[n] = sigmoid(rt);
        if (m.adapt) {
          const r = decay(tauA[n]!, dt, c.tauClamp, lo, hi, this.kR, n);
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
      const nOut = this.nOut;
      const wo = p * N * nOut;
      const to = p * nOut * N;
      for (let i = 0; i < N; i++) for (let o = 0; o < nOut; o++) this.woT[to + o * N + i] = wOut[wo + i * nOut + o]!;
    }
  }

  /** Forward pass over the bound batches; lesion (per network, or null) silences neurons. */
  private forward(lesion: readonly (Uint8Array | null)[] | null): void {
    const { P, N, T, B } = this;
    this.sumU2.fill(0);
    this.sumS.fill(0);
    // Slot 0: d = u = a = s = 0 and ϑ = θ.
    const PBN = P * B * N;
    this.cD2.fill(0, 0, PBN);
    this.cU.fill(0, 0, PBN);
    this.cA.fill(0, 0, PBN);
    this.cS2.fill(0, 0, PBN);
    for (let p = 0; p < P; p++) {
      for (let b = 0; b < B; b++) {
        const o = (p * B + b) * N;
        for (let i = 0; i < N; i++) this.cThr[o + i] = this.th[p * N + i]!;
      }
    }
    this.spikeOff.fill(0, 0, P * B + 1);
    for (let t = 0; t < T; t++) {
      for (let p = 0; p < P; p++) this.forwardStep(t, p, lesion?.[p] ?? null);
    }
  }

  private forwardStep(t: number, p: number, lesion: Uint8Array | null): void {
    const { P, N, B, nIn, nOut } = this;
    const m = this.members[p]!;
    const adapt = m.adapt;
    const soft = m.soft;
    const kappa = m.kappa;
    const acc = this.acc;
    const I = this.cI;
    const d = this.cD2;
    const u = this.cU;
    const a = this.cA;
    const thr = this.cThr;
    const s = this.cS2;
    const spikeIdx = this.spikeIdx;
    const spikeOff = this.spikeOff;
    const { aD, cD, aS, cS, rho, cR, th, be, woT } = this;
    const x = this.xs[p]!;
    const wIn = this.params.wIn;
    const wRec = this.params.wRec;
    const bias = this.params.b;
    const bOut = this.params.bOut;
    const y = this.y;
    const wi0 = p * nIn * N;
    const wr0 = p * N * N;
    const pn = p * N;
    let sumU2 = 0;
    let sumS = 0;
    for (let b = 0; b < B; b++) {
      const slot = ((t + 1) * P + p) * B + b;
      const prevSlot = slot - P * B;
      const o = slot * N;
      const op = prevSlot * N;
      acc.fill(0);
      const xo = (t * B + b) * nIn;
      for (let k = 0; k < nIn; k++) {
        const xk = x[xo + k]!;
        if (xk === 0) continue;
        const r = wi0 + k * N;
        for (let i = 0; i < N; i++) acc[i]! += xk * wIn[r + i]!;
      }
      if (soft) {
        for (let j = 0; j < N; j++) {
          const sj = s[op + j]!;
          if (sj === 0) continue;
          const r = wr0 + j * N;
          for (let i = 0; i < N; i++) acc[i]! += sj * wRec[r + i]!;
        }
      } else {
        const end = spikeOff[prevSlot + 1]!;
        for (let q = spikeOff[prevSlot]!; q < end; q++) {
          const r = wr0 + spikeIdx[q]! * N;
          for (let i = 0; i < N; i++) acc[i]! += wRec[r + i]!;
        }
      }
      let count = spikeOff[slot]!;
      for (let i = 0; i < N; i++) {
        const n = pn + i;
        I[o + i] = acc[i]! + bias[n]!;
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
      const yo = ((t * P + p) * B + b) * nOut;
      for (let k = 0; k < nOut; k++) {
        const r = (p * nOut + k) * N;
        let sum = 0;
        if (lesion === null) {
          for (let i = 0; i < N; i++) sum += u[o + i]! * woT[r + i]!;
        } else {
          for (let i = 0; i < N; i++) if (lesion[i] === 0) sum += u[o + i]! * woT[r + i]!;
        }
        y[yo + k] = sum + bOut[p * nOut + k]!;
      }
    }
    this.sumU2[p]! += sumU2;
    this.sumS[p]! += sumS;
  }

  /** Loss terms of network p from the forward pass, and ∂L/∂y into dy. */
  private loss(p: number, batch: TrialBatch): void {
    const { P, N, T, B, nOut } = this;
    const m = this.members[p]!;
    const c = m.config;
    const y = this.y;
    const dy = this.dy;
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
    const l2Loss =
      c.loss.lambdaIn * this.meanSq('wIn', p) +
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
    const PBN = P * B * N;
    this.bDuN.fill(0, 0, PBN);
    this.bDdN.fill(0, 0, PBN);
    this.bDaN.fill(0, 0, PBN);
    this.bDiN.fill(0, 0, PBN);
    for (let p = 0; p < P; p++) {
      if (!active[p]) continue;
      const pn = p * N;
      this.gaD.fill(0, pn, pn + N);
      this.gaS.fill(0, pn, pn + N);
      this.gRho.fill(0, pn, pn + N);
      this.gTh.fill(0, pn, pn + N);
      this.gBe.fill(0, pn, pn + N);
      this.gB.fill(0, pn, pn + N);
      if (weights[p]) {
        this.gWoT.fill(0, p * nOut * N, (p + 1) * nOut * N);
        this.grads.wIn.fill(0, p * nIn * N, (p + 1) * nIn * N);
        this.grads.wRec.fill(0, p * N * N, (p + 1) * N * N);
        this.grads.bOut.fill(0, p * nOut, (p + 1) * nOut);
      }
    }
    for (let t = T - 1; t >= 0; t--) {
      for (let p = 0; p < P; p++) if (active[p]) this.backwardStep(t, p, weights[p]!);
      let tmp = this.bDu;
      this.bDu = this.bDuN;
      this.bDuN = tmp;
      tmp = this.bDd;
      this.bDd = this.bDdN;
      this.bDdN = tmp;
      tmp = this.bDa;
      this.bDa = this.bDaN;
      this.bDaN = tmp;
      tmp = this.bDi;
      this.bDi = this.bDiN;
      this.bDiN = tmp;
    }
    for (let p = 0; p < P; p++) if (active[p]) this.finishGradients(p, weights[p]!);
  }

  private backwardStep(t: number, p: number, weights: boolean): void {
    const { P, N, T, B, nIn, nOut } = this;
    const m = this.members[p]!;
    const adapt = m.adapt;
    const soft = m.soft;
    const kappa = m.kappa;
    const I = this.cI;
    const d = this.cD2;
    const u = this.cU;
    const a = this.cA;
    const thr = this.cThr;
    const s = this.cS2;
    const { aD, cD, aS, cS, rho, cR, th, be, woT, gaD, gaS, gRho, gTh, gBe, gB, gWoT, rb } = this;
    const du = this.bDu;
    const dd = this.bDd;
    const da = this.bDa;
    const dI = this.bDi;
    const duN = this.bDuN;
    const ddN = this.bDdN;
    const daN = this.bDaN;
    const dIN = this.bDiN;
    const ds = this.ds;
    const dy = this.dy;
    const ch = this.ch[p]!;
    const wRec = this.params.wRec;
    const gWin = this.grads.wIn;
    const gWrec = this.grads.wRec;
    const gbOut = this.grads.bOut;
    const x = this.xs[p]!;
    const pn = p * N;
    const hasNext = t < T - 1;
    for (let b = 0; b < B; b++) {
      const slot = ((t + 1) * P + p) * B + b;
      const o = slot * N;
      const op = o - P * B * N;
      const st = (p * B + b) * N;
      if (hasNext) matvec(wRec, p * N * N, dIN, st, ds, st, N);
      else ds.fill(0, st, st + N);
      const yo = ((t * P + p) * B + b) * nOut;
      rb.fill(0);
      for (let k = 0; k < nOut; k++) {
        const g = dy[yo + k]!;
        if (g === 0) continue;
        const r = (p * nOut + k) * N;
        for (let i = 0; i < N; i++) rb[i]! += g * woT[r + i]!;
      }
      for (let i = 0; i < N; i++) {
        const n = pn + i;
        const q = st + i;
        const ut = u[o + i]!;
        const thrt = thr[o + i]!;
        const sNext = s[o + i]!;
        const duNext = duN[q]!;
        const v = ut - thrt;
        const dsi = ds[q]! - thrt * duNext + cR[n]! * daN[q]!;
        const sp = soft ? (sNext * (1 - sNext) * kappa) / th[n]! : surrogateAt(m, v, th[n]!);
        const dv = dsi * sp;
        const dthr = -dv - sNext * duNext;
        const dui = rb[i]! + ch * ut + aS[n]! * duNext + dv;
        const ddi = cS[n]! * dui + aD[n]! * ddN[q]!;
        const dIi = cD[n]! * ddi;
        du[q] = dui;
        dd[q] = ddi;
        dI[q] = dIi;
        gaD[n]! += ddi * (d[op + i]! - I[o + i]!);
        gaS[n]! += dui * (u[op + i]! - d[o + i]!);
        const dai = adapt ? be[n]! * dthr + rho[n]! * daN[q]! : 0;
        da[q] = dai;
        if (adapt) {
          gRho[n]! += dai * (a[op + i]! - s[op + i]!);
          gBe[n]! += dthr * a[o + i]!;
        }
        gTh[n]! += soft ? dthr - (dv * v) / th[n]! : dthr;
        gB[n]! += dIi;
      }
      if (!weights) continue;
      for (let k = 0; k < nOut; k++) {
        const g = dy[yo + k]!;
        if (g === 0) continue;
        gbOut[p * nOut + k]! += g;
        const r = (p * nOut + k) * N;
        for (let i = 0; i < N; i++) gWoT[r + i]! += g * u[o + i]!;
      }
      const xo = (t * B + b) * nIn;
      for (let k = 0; k < nIn; k++) {
        const xk = x[xo + k]!;
        if (xk === 0) continue;
        const r = p * nIn * N + k * N;
        for (let i = 0; i < N; i++) gWin[r + i]! += xk * dI[st + i]!;
      }
      if (soft) {
        for (let j = 0; j < N; j++) {
          const sj = s[op + j]!;
          if (sj === 0) continue;
          const r = p * N * N + j * N;
          for (let i = 0; i < N; i++) gWrec[r + i]! += sj * dI[st + i]!;
        }
      } else {
        const prevSlot = slot - P * B;
        const end = this.spikeOff[prevSlot + 1]!;
        for (let qq = this.spikeOff[prevSlot]!; qq < end; qq++) {
          const r = p * N * N + this.spikeIdx[qq]! * N;
          for (let i = 0; i < N; i++) gWrec[r + i]! += dI[st + i]!;
        }
      }
    }
  }

  /** Chain rule to the raw parameters, and the L2 terms. */
  private finishGradients(p: number, weights: boolean): void {
    const { N, nIn, nOut } = this;
    const m = this.members[p]!;
    const c = m.config.loss;
    const g = this.grads;
    const pn = p * N;
    for (let i = 0; i < N; i++) {
      const n = pn + i;
      g.tauD[n] = this.gaD[n]! * this.kD[n]!;
      g.tauS[n] = this.gaS[n]! * this.kS[n]!;
      g.theta[n] = this.gTh[n]! * this.kTh[n]!;
      g.beta[n] = m.adapt ? this.gBe[n]! * this.kBe[n]! : 0;
      g.tauA[n] = m.adapt ? this.gRho[n]! * this.kR[n]! : 0;
      g.b[n] = this.gB[n]!;
    }
    if (!weights) return;
    const w = this.params;
    const sIn = (2 * c.lambdaIn) / (nIn * N);
    for (let i = p * nIn * N; i < (p + 1) * nIn * N; i++) g.wIn[i]! += sIn * w.wIn[i]!;
    const sRec = (2 * c.lambdaRec) / (N * N);
    for (let i = p * N * N; i < (p + 1) * N * N; i++) g.wRec[i]! += sRec * w.wRec[i]!;
    const sOut = (2 * c.lambdaOut) / (N * nOut);
    const wo = p * N * nOut;
    for (let i = 0; i < N; i++) {
      for (let k = 0; k < nOut; k++) {
        g.wOut[wo + i * nOut + k] = this.gWoT[(p * nOut + k) * N + i]! + sOut * w.wOut[wo + i * nOut + k]!;
      }
    }
  }

  /** Clip by global norm over the trainable groups, then Adam with bias correction. */
  private adam(p: number): void {
    const m = this.members[p]!;
    const o = m.config.optimizer;
    let sq = 0;
    for (const k of m.trainable) {
      const n = this.sizes[k];
      const g = this.grads[k];
      for (let i = p * n; i < (p + 1) * n; i++) sq += g[i]! * g[i]!;
    }
    const norm = Math.sqrt(sq);
    this.gradNorms[p] = norm;
    const scale = o.clipNorm > 0 ? Math.min(1, o.clipNorm / Math.max(norm, 1e-30)) : 1;
    const bc1 = 1 - Math.pow(o.beta1, m.step);
    const bc2 = 1 - Math.pow(o.beta2, m.step);
    const { beta1: b1, beta2: b2, eps } = o;
    for (const k of m.trainable) {
      const n = this.sizes[k];
      const lr = m.lr[k];
      const g = this.grads[k];
      const w = this.params[k];
      const mm = this.adamM[k];
      const vv = this.adamV[k];
      for (let i = p * n; i < (p + 1) * n; i++) {
        const gi = g[i]! * scale;
        const mi = b1 * mm[i]! + (1 - b1) * gi;
        const vi = b2 * vv[i]! + (1 - b2) * gi * gi;
        mm[i] = mi;
        vv[i] = vi;
        w[i] = w[i]! - lr * (mi / bc1 / (Math.sqrt(vi / bc2) + eps));
      }
    }
  }

  /**
   * One pass over one batch per network. 'eval': forward only (lesion allowed). 'grad': gradients
   * of every group of every network. 'train': noise, gradients of the trainable groups, one Adam
   * step per network (networks with nothing to train still advance their step count).
   */
  run(batches: readonly TrialBatch[], kind: PassKind, lesion: readonly (Uint8Array | null)[] | null = null): void {
    const train = kind === 'train';
    this.bind(batches, train);
    if (train) for (const m of this.members) m.step += 1;
    this.prepareParams();
    this.forward(kind === 'eval' ? lesion : null);
    for (let p = 0; p < this.P; p++) this.loss(p, batches[p]!);
    this.gradNorms.fill(0);
    if (kind === 'eval') return;
    const active = this.members.map((m) => kind === 'grad' || m.trainable.length > 0);
    const weights = this.members.map((m) => kind === 'grad' || m.trainWeights);
    if (!active.some((x) => x)) return;
    this.backward(active, weights);
    if (!train) return;
    for (let p = 0; p < this.P; p++) if (active[p]) this.adam(p);
  }

  /** Readout of network p from the last pass, [T][B][nOut] (a copy). */
  outputs(p: number): Float32Array {
    const { P, T, B, nOut } = this;
    const out = new Float32Array(T * B * nOut);
    for (let t = 0; t < T; t++) {
      out.set(this.y.subarray((t * P + p) * B * nOut, (t * P + p + 1) * B * nOut), t * B * nOut);
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
 * α = exp(−dt / clamp(exp(raw))); stores ∂α/∂raw into k[n], zero where the clamp is active
 * (clipByValue passes the gradient only where min ≤ exp(raw) ≤ max, compared in float32).
 */
function decay(
  raw: number,
  dt: number,
  clamp: { readonly min: number; readonly max: number },
  lo: number,
  hi: number,
  k: Float64Array,
  n: number,
): number {
  const te = Math.exp(raw);
  const tf = Math.fround(te);
  const alpha = Math.exp(-dt / Math.min(clamp.max, Math.max(clamp.min, te)));
  k[n] = tf >= lo && tf <= hi ? (alpha * dt) / te : 0;
  return alpha;
}

function softplus(x: number): number {
  return x > 30 ? x : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

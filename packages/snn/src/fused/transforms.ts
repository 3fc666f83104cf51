/**
 * The intrinsic properties' transforms in the fused engine (SCIENCE.md §3): raw (learned) values to
 * the natural values the neuron update uses, and the chain rule back to the raw values.
 */
import type { FusedCore } from './core.js';

/**
 * Natural values of the intrinsic properties of every network, [P][N], float64: the decays α_d, α_s,
 * ρ, their complements 1 − α, θ and β; and the derivative factors of the raw parameterisation:
 * ∂α/∂raw (zero where a forward-mode clamp is active), ∂θ/∂raw, ∂β/∂raw.
 */
export class NaturalProperties {
  readonly aD: Float64Array;
  readonly cD: Float64Array;
  readonly aS: Float64Array;
  readonly cS: Float64Array;
  readonly rho: Float64Array;
  readonly cR: Float64Array;
  readonly th: Float64Array;
  readonly be: Float64Array;
  readonly kD: Float64Array;
  readonly kS: Float64Array;
  readonly kR: Float64Array;
  readonly kTh: Float64Array;
  readonly kBe: Float64Array;

  constructor(PN: number) {
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
  }
}

/**
 * Natural values of the intrinsic properties (float64 for the scalar paths, float32 rows for the
 * kernels), the derivative factors, and W_outᵀ with the lesioned columns zeroed.
 */
export function prepareParams(core: FusedCore, lesion: readonly (Uint8Array | null)[] | null): void {
  const { N, nOut } = core;
  const { tauD, tauS, theta, beta, tauA, wOut } = core.params;
  const F = core.arena.f;
  for (const [p, m] of core.members.entries()) {
    if (!core.inPass[p]) continue;
    const c = m.config;
    const lo = Math.fround(c.tauClamp.min);
    const hi = Math.fround(c.tauClamp.max);
    const dt = c.dt;
    for (let i = 0; i < N; i++) {
      const n = p * N + i;
      const ad = decay(tauD[n]!, dt, c.tauClamp, lo, hi, core.nat.kD, n, m.clampAfterStep);
      core.nat.aD[n] = ad;
      core.nat.cD[n] = 1 - ad;
      const as = decay(tauS[n]!, dt, c.tauClamp, lo, hi, core.nat.kS, n, m.clampAfterStep);
      core.nat.aS[n] = as;
      core.nat.cS[n] = 1 - as;
      const rt = theta[n]!;
      core.nat.th[n] = softplus(rt);
      core.nat.kTh[n] = sigmoid(rt);
      if (m.adapt) {
        const r = decay(tauA[n]!, dt, c.tauClamp, lo, hi, core.nat.kR, n, m.clampAfterStep);
        core.nat.rho[n] = r;
        core.nat.cR[n] = 1 - r;
        const rb = beta[n]!;
        core.nat.be[n] = softplus(rb);
        core.nat.kBe[n] = sigmoid(rb);
      } else {
        core.nat.rho[n] = 0;
        core.nat.cR[n] = 0;
        core.nat.be[n] = 0;
        core.nat.kR[n] = 0;
        core.nat.kBe[n] = 0;
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
  F.paD.set(core.nat.aD);
  F.pcD.set(core.nat.cD);
  F.paS.set(core.nat.aS);
  F.pcS.set(core.nat.cS);
  F.prho.set(core.nat.rho);
  F.pcR.set(core.nat.cR);
  F.pth.set(core.nat.th);
  F.pbe.set(core.nat.be);
}

/**
 * The chain rule from the accumulated derivatives with respect to α_d, α_s, ρ, θ, β (and b) to the
 * raw parameters of network p: ∂L/∂raw = ∂L/∂natural · k, with the factors of prepareParams.
 */
export function rawGradients(core: FusedCore, p: number): void {
  const { N } = core;
  const m = core.members[p]!;
  const g = core.grads;
  const F = core.arena.f;
  const pn = p * N;
  for (let i = 0; i < N; i++) {
    const n = pn + i;
    g.tauD[n] = F.gaD[n]! * core.nat.kD[n]!;
    g.tauS[n] = F.gaS[n]! * core.nat.kS[n]!;
    g.theta[n] = F.gTh[n]! * core.nat.kTh[n]!;
    g.beta[n] = m.adapt ? F.gBe[n]! * core.nat.kBe[n]! : 0;
    g.tauA[n] = m.adapt ? F.gRho[n]! * core.nat.kR[n]! : 0;
    g.b[n] = F.gB[n]!;
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

function softplus(x: number): number {
  return x > 30 ? x : Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

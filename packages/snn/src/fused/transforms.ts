/**
 * The intrinsic properties' transforms in the fused engine (SCIENCE.md §3): raw (learned) values to
 * the natural values the neuron update uses, and the chain rule back to the raw values.
 */
import { PROPERTY_PLANES, SLOPE_PLANES, type PropertyPlane, type SlopePlane } from '../model/planes.js';
import type { FusedCore } from './core.js';

/**
 * Natural values of the intrinsic properties of every network, [P][N], float64: the glossary's
 * PROPERTY_PLANES (α_d, α_s, ρ, their complements 1 − α, θ and β) and SLOPE_PLANES, the derivative
 * factors of the raw parameterisation (∂α/∂raw, zero where a forward-mode clamp is active, ∂θ/∂raw, ∂β/∂raw).
 */
export type NaturalProperties = Readonly<Record<PropertyPlane | SlopePlane, Float64Array>>;

export function naturalProperties(PN: number): NaturalProperties {
  return Object.fromEntries([...PROPERTY_PLANES, ...SLOPE_PLANES].map((k) => [k, new Float64Array(PN)])) as Record<
    PropertyPlane | SlopePlane,
    Float64Array
  >;
}

/**
 * Natural values of the intrinsic properties (float64 for the scalar paths, float32 rows for the
 * kernels), the derivative factors, and W_outᵀ with the lesioned columns zeroed.
 */
export function prepareParams(core: FusedCore, lesion: readonly (Uint8Array | null)[] | null): void {
  const { N, nOut } = core;
  const { tauD, tauS, theta, beta, tauA, wOut } = core.params;
  const F = core.arena.f;
  const nat = core.natural;
  for (const [p, m] of core.members.entries()) {
    if (!core.inPass[p]) continue;
    const c = m.config;
    const lo = Math.fround(c.tauClamp.min);
    const hi = Math.fround(c.tauClamp.max);
    const dt = c.dt;
    for (let i = 0; i < N; i++) {
      const n = p * N + i;
      const ad = decay(tauD[n]!, dt, c.tauClamp, lo, hi, nat.alphaDSlope, n, m.clampAfterStep);
      nat.alphaD[n] = ad;
      nat.oneMinusAlphaD[n] = 1 - ad;
      const as = decay(tauS[n]!, dt, c.tauClamp, lo, hi, nat.alphaSSlope, n, m.clampAfterStep);
      nat.alphaS[n] = as;
      nat.oneMinusAlphaS[n] = 1 - as;
      const rt = theta[n]!;
      nat.threshold[n] = softplus(rt);
      nat.thresholdSlope[n] = sigmoid(rt);
      if (m.adapt) {
        const r = decay(tauA[n]!, dt, c.tauClamp, lo, hi, nat.rhoSlope, n, m.clampAfterStep);
        nat.rho[n] = r;
        nat.oneMinusRho[n] = 1 - r;
        const rb = beta[n]!;
        nat.adaptationStrength[n] = softplus(rb);
        nat.adaptationStrengthSlope[n] = sigmoid(rb);
      } else {
        nat.rho[n] = 0;
        nat.oneMinusRho[n] = 0;
        nat.adaptationStrength[n] = 0;
        nat.rhoSlope[n] = 0;
        nat.adaptationStrengthSlope[n] = 0;
      }
    }
    const wo = p * N * nOut;
    const to = p * nOut * N;
    const cut = lesion?.[p] ?? null;
    for (let i = 0; i < N; i++) {
      const keep = cut === null || cut[i] === 0;
      for (let o = 0; o < nOut; o++) F.wOutT[to + o * N + i] = keep ? wOut[wo + i * nOut + o]! : 0;
    }
  }
  for (const k of PROPERTY_PLANES) F[k].set(nat[k]);
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
  const nat = core.natural;
  const pn = p * N;
  for (let i = 0; i < N; i++) {
    const n = pn + i;
    g.tauD[n] = F.gradAlphaD[n]! * nat.alphaDSlope[n]!;
    g.tauS[n] = F.gradAlphaS[n]! * nat.alphaSSlope[n]!;
    g.theta[n] = F.gradThreshold[n]! * nat.thresholdSlope[n]!;
    g.beta[n] = m.adapt ? F.gradAdaptationStrength[n]! * nat.adaptationStrengthSlope[n]! : 0;
    g.tauA[n] = m.adapt ? F.gradRho[n]! * nat.rhoSlope[n]! : 0;
    g.b[n] = F.gradBias[n]!;
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

import { MG_H } from '../model/surrogates.js';
import { matvec } from './kernels/index.js';
import { SURROGATE_FAST_SIGMOID, SURROGATE_ARCTAN, SURROGATE_MULTI_GAUSSIAN, type Member } from './members.js';
import { ACCUMULATOR_PLANES } from '../model/planes.js';
import { rawGradients } from './transforms.js';
import type { FusedCore } from './core.js';

/** BPTT through the stored trajectory, for the networks flagged in `active`. */
export function backward(core: FusedCore, active: readonly boolean[], weights: readonly boolean[]): void {
  const { P, N, T, B, nIn, nOut } = core;
  const A = core.arena;
  const F = A.f;
  const PBN = P * B * N;
  // The next step's adjoints start at zero: both halves of the adjoint region.
  F.adj.fill(0, 0, 6 * PBN);
  core.adjFlip = 0;
  for (let p = 0; p < P; p++) {
    if (!active[p]) continue;
    const pn = p * N;
    for (const g of ACCUMULATOR_PLANES) F[g].fill(0, pn, pn + N);
    if (weights[p]) {
      F.gradWOutT.fill(0, p * nOut * N, (p + 1) * nOut * N);
      core.grads.wIn.fill(0, p * nIn * N, (p + 1) * nIn * N);
      core.grads.wRec.fill(0, p * N * N, (p + 1) * N * N);
    }
  }
  F.homeostaticFactor.set(core.homeostaticFactor);
  const spans = core
    .spans(
      (p) => active[p]!,
      (p) => `${core.variant(p)}|${weights[p]}`,
    )
    .filter((r) => r[2]);
  for (const [p0, p1] of spans) surrogates(core, p0, p1);
  for (let p = 0; p < P; p++) if (active[p] && core.members[p]!.spikeReadout) readoutAdjoint(core, p);
  for (let t = T - 1; t >= 0; t--) {
    for (const [p0, p1] of spans) backwardStep(core, t, p0, p1, weights[p0]!);
    core.adjFlip ^= 1;
  }
  for (let p = 0; p < P; p++) {
    if (!active[p]) continue;
    if (weights[p]) {
      // ∂L/∂W_in = Σ_t xᵀ Ī, ∂L/∂W_outᵀ = Σ_t ȳᵀ u, and for soft spikes ∂L/∂W_rec = Σ_t s[t−1]ᵀ Ī.
      const dI1 = A.at.IBar + (P + p) * B * N * 4;
      gemmTn(
        core,
        A.at.xin + p * T * B * nIn * 4,
        nIn * 4,
        B * nIn * 4,
        dI1,
        PBN * 4,
        T,
        B,
        nIn,
        N,
        core.addr('grads', 'wIn', p),
      );
      gemmTn(
        core,
        A.at.yBar + p * B * nOut * 4,
        nOut * 4,
        P * B * nOut * 4,
        (core.members[p]!.spikeReadout ? A.at.z : A.at.u) + (P + p) * B * N * 4,
        PBN * 4,
        T,
        B,
        nOut,
        N,
        A.at.gradWOutT + p * nOut * N * 4,
      );
      if (core.members[p]!.soft) {
        gemmTn(core, A.at.s + p * B * N * 4, N * 4, PBN * 4, dI1, PBN * 4, T, B, N, N, core.addr('grads', 'wRec', p));
      }
    }
    finishGradients(core, p, weights[p]!);
  }
}

/**
 * The adjoint of the filtered spikes of network p at every step, into zBar [T][P][B][N]:
 * z̄[t] = W_out ȳ[t] + κ z̄[t+1]. Step t's backward adds (1 − κ) z̄[t] to s̄[t].
 */
export function readoutAdjoint(core: FusedCore, p: number): void {
  const { P, N, T, B, nOut } = core;
  const A = core.arena;
  const K = A.kernels;
  const groups = P === 1 ? 1 : T;
  const trials = P === 1 ? T * B : B;
  for (let g = 0; g < groups; g++) {
    matvec(
      K,
      core.addr('params', 'wOut', p),
      A.at.yBar + (g * P + p) * B * nOut * 4,
      A.at.zBar + (g * P + p) * B * N * 4,
      N,
      nOut,
      trials,
      N,
    );
  }
  // z̄[t] += κ z̄[t+1], from t = T − 2 down to 0, in place.
  if (T > 1) {
    const at = A.at.zBar + ((T - 2) * P + p) * B * N * 4;
    K.leak(at, at, T - 1, B * N, -P * B * N * 4, core.members[p]!.kappaOut, 1);
  }
}

/**
 * G[k] += Σ_rows X[row][k] D[row] over `groups` groups of `perGroup` rows, in chunks of groups
 * whose D rows fit in cache (the per-element order, and so the result, is that of one call).
 */
export function gemmTn(
  core: FusedCore,
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
    core.arena.kernels.gemm_tn(x + g0 * xGroup, xRow, xGroup, d + g0 * dGroup, dGroup, count, perGroup, k, n, g);
  }
}

/** Step t of the backward pass for networks [p0, p1) (one variant), all trials. */
export function backwardStep(core: FusedCore, t: number, p0: number, p1: number, weights: boolean): void {
  const { P, N, T, B, nOut } = core;
  const m = core.members[p0]!;
  const A = core.arena;
  const K = A.kernels;
  const at = A.at;
  const rows = (p1 - p0) * B;
  const slot0 = ((t + 1) * P + p0) * B;
  const prev0 = slot0 - P * B;
  const st = p0 * B * N * 4;
  const half = 3 * P * B * N * 4;
  const cur = at.adj + core.adjFlip * half;
  const next = at.adj + (1 - core.adjFlip) * half;
  const plane = P * B * N * 4;
  // W_rec Ī[t+1]: Σ_post W_rec[pre][post] Ī[t+1][post], for each network's B trials.
  if (t < T - 1) {
    for (let p = p0; p < p1; p++) {
      const o = (slot0 + (p - p0) * B + P * B) * N * 4;
      matvec(K, core.addr('params', 'wRec', p), at.IBar + o, at.sBar + p * B * N * 4, N, N, B, N);
    }
  } else {
    A.f.sBar.fill(0, st / 4, st / 4 + rows * N);
  }
  if (m.spikeReadout) K.axpy(at.sBar + st, at.zBar + (t * P + p0) * B * N * 4, rows * N, 1 - m.kappaOut);
  const kernel = m.adapt
    ? m.soft
      ? K.backward_adapt_soft
      : K.backward_adapt_hard
    : m.soft
      ? K.backward_plain_soft
      : K.backward_plain_hard;
  const pn = p0 * N * 4;
  kernel(
    at.sBar,
    next,
    next + plane,
    next + 2 * plane,
    cur,
    cur + plane,
    cur + 2 * plane,
    st,
    at.u,
    at.adaptiveThreshold,
    at.s,
    at.psi,
    at.d,
    at.I,
    at.a,
    at.IBar,
    slot0 * N * 4,
    prev0 * N * 4,
    at.alphaD + pn,
    at.oneMinusAlphaD + pn,
    at.alphaS + pn,
    at.oneMinusAlphaS + pn,
    at.rho + pn,
    at.oneMinusRho + pn,
    at.threshold + pn,
    at.adaptationStrength + pn,
    at.gradAlphaD + pn,
    at.gradAlphaS + pn,
    at.gradRho + pn,
    at.gradAdaptationStrength + pn,
    at.gradThreshold + pn,
    at.gradBias + pn,
    at.yBar + (t * P + p0) * B * nOut * 4,
    at.wOutT + p0 * nOut * N * 4,
    // The spike readout reaches u only through s (added to s̄ above), not through W_out ȳ.
    m.spikeReadout ? 0 : nOut,
    rows,
    N,
    at.homeostaticFactor + p0 * 4,
    B,
    N * 4,
    nOut * N * 4,
  );
  // ∂L/∂W_rec += s[t−1]ᵀ Ī[t]: the outer product over the neurons that spiked at t − 1 only.
  if (weights && !m.soft) {
    K.scatter_net(
      core.addr('grads', 'wRec', p0),
      N * N * 4,
      B,
      at.spikeIdx,
      at.spikeOff + prev0 * 4,
      at.IBar + slot0 * N * 4,
      rows,
      N,
    );
  }
}

/** ψ at every step of networks [p0, p1) (one variant): the surrogate (hard spikes) or σ'(·) κ/θ (soft spikes). */
export function surrogates(core: FusedCore, p0: number, p1: number): void {
  const { P, N, T, B } = core;
  const m = core.members[p0]!;
  const A = core.arena;
  const at = A.at;
  if (!m.soft && m.surrogate !== SURROGATE_MULTI_GAUSSIAN) {
    const kernel = m.surrogate === SURROGATE_FAST_SIGMOID ? A.kernels.psi_fast_sigmoid : A.kernels.psi_arctan;
    const k = m.surrogate === SURROGATE_FAST_SIGMOID ? m.kappa : 1.5707963267948966 * m.kappa;
    if (p0 === 0 && p1 === P) {
      const o = P * B * N * 4;
      kernel(at.u + o, at.adaptiveThreshold + o, at.threshold, at.psi + o, T * P * B, N, m.gamma, k, B, P, N * 4);
    } else {
      for (let t = 0; t < T; t++) {
        const o = ((t + 1) * P + p0) * B * N * 4;
        kernel(
          at.u + o,
          at.adaptiveThreshold + o,
          at.threshold + p0 * N * 4,
          at.psi + o,
          (p1 - p0) * B,
          N,
          m.gamma,
          k,
          B,
          P,
          N * 4,
        );
      }
    }
    return;
  }
  const { u, adaptiveThreshold: thr, s, psi } = A.f;
  const th = core.natural.threshold;
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

/** Chain rule to the raw parameters, W_out and b_out from their accumulators, and the L2 terms. */
export function finishGradients(core: FusedCore, p: number, weights: boolean): void {
  const { P, N, T, B, nIn, nOut } = core;
  const m = core.members[p]!;
  const c = m.config.loss;
  const g = core.grads;
  const F = core.arena.f;
  rawGradients(core, p);
  if (!weights) return;
  const w = core.params;
  const yBar = F.yBar;
  for (let k = 0; k < nOut; k++) {
    let sum = 0;
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) sum += yBar[((t * P + p) * B + b) * nOut + k]!;
    g.bOut[p * nOut + k] = sum;
  }
  const K = core.arena.kernels;
  const inLoss = m.l2InLoss;
  if (inLoss) {
    K.axpy(core.addr('grads', 'wIn', p), core.addr('params', 'wIn', p), nIn * N, (2 * c.lambdaIn) / (nIn * N));
    K.axpy(core.addr('grads', 'wRec', p), core.addr('params', 'wRec', p), N * N, (2 * c.lambdaRec) / (N * N));
  }
  const sOut = inLoss ? (2 * c.lambdaOut) / (N * nOut) : 0;
  const wo = p * N * nOut;
  const gradWOutT = F.gradWOutT;
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < nOut; k++) {
      g.wOut[wo + i * nOut + k] = gradWOutT[(p * nOut + k) * N + i]! + sOut * w.wOut[wo + i * nOut + k]!;
    }
  }
}

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

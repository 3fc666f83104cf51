import { matvec } from './kernels/index.js';
import type { FusedCore } from './core.js';

/** Forward pass over the bound batches; lesion (per network, or null) silences neurons. */
export function forward(core: FusedCore, lesion: readonly (Uint8Array | null)[] | null): void {
  const { P, N, T, B, nIn, nOut } = core;
  const A = core.arena;
  const F = A.f;
  const K = A.kernels;
  core.sumU2.fill(0);
  core.sumS.fill(0);
  // Slot 0: d = u = a = s = 0 and ϑ = θ.
  const PBN = P * B * N;
  F.d.fill(0, 0, PBN);
  F.u.fill(0, 0, PBN);
  F.a.fill(0, 0, PBN);
  F.s.fill(0, 0, PBN);
  for (let p = 0; p < P; p++) {
    for (let b = 0; b < B; b++) F.adaptiveThreshold.set(F.threshold.subarray(p * N, (p + 1) * N), (p * B + b) * N);
  }
  A.spikeOff.fill(0, 0, P * B + 1);
  A.sums.fill(0, 0, 2 * P);
  // The input drive x W_in of every step at once, into I (slots 1..T).
  for (let p = 0; p < P; p++) {
    if (!core.inPass[p]) continue;
    K.proj(
      A.at.xin + p * T * B * nIn * 4,
      nIn * 4,
      B * nIn * 4,
      core.addr('params', 'wIn', p),
      A.at.I + (P + p) * B * N * 4,
      PBN * 4,
      T,
      B,
      nIn,
      N,
    );
  }
  // Spans of consecutive networks that the kernels advance together (hard spikes, no lesion).
  const spans = core.spans(
    (p) => (lesion?.[p] ?? null) === null && !core.members[p]!.soft,
    (p) => core.variant(p),
  );
  for (let t = 0; t < T; t++) {
    let next = 0;
    for (const [p0, p1, kernel] of spans) {
      noSpikes(core, t, next, p0);
      if (kernel) forwardKernelStep(core, t, p0, p1);
      else for (let p = p0; p < p1; p++) forwardStep(core, t, p, lesion?.[p] ?? null);
      next = p1;
    }
    noSpikes(core, t, next, P);
  }
  for (let p = 0; p < P; p++) {
    core.sumU2[p]! += A.sums[2 * p]!;
    core.sumS[p]! += A.sums[2 * p + 1]!;
  }
  // Readout y = W_out u + b_out, or W_out z + b_out over the filtered spikes z, of every step
  // (W_outᵀ has the lesioned columns zeroed).
  const bOut = core.params.bOut;
  for (let p = 0; p < P; p++) {
    if (!core.inPass[p]) continue;
    const spikes = core.members[p]!.spikeReadout;
    if (spikes) filterSpikes(core, p);
    const groups = P === 1 ? 1 : T;
    const trials = P === 1 ? T * B : B;
    for (let g = 0; g < groups; g++) {
      matvec(
        K,
        A.at.wOutT + p * nOut * N * 4,
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
export function filterSpikes(core: FusedCore, p: number): void {
  const { P, N, T, B } = core;
  const A = core.arena;
  const kappa = core.members[p]!.kappaOut;
  const row = B * N;
  A.f.z.fill(0, p * row, (p + 1) * row);
  const first = (P + p) * row * 4;
  A.kernels.leak(A.at.z + first, A.at.s + first, T, row, P * row * 4, kappa, 1 - kappa);
}

/**
 * Empty spike lists at step t for networks [p0, p1), which core pass leaves out: the lists of all
 * networks are one sequence (offsets [T+1][P][B]), so the next network's list starts where theirs end.
 */
export function noSpikes(core: FusedCore, t: number, p0: number, p1: number): void {
  const off = core.arena.spikeOff;
  const { P, B } = core;
  for (let r = ((t + 1) * P + p0) * B; r < ((t + 1) * P + p1) * B; r++) off[r + 1] = off[r]!;
}

/** The sparse recurrent input and the neuron update of step t for networks [p0, p1), all trials, in two calls. */
export function forwardKernelStep(core: FusedCore, t: number, p0: number, p1: number): void {
  const { P, N, B } = core;
  const A = core.arena;
  const K = A.kernels;
  const at = A.at;
  const rows = (p1 - p0) * B;
  const slot0 = ((t + 1) * P + p0) * B;
  const prev0 = slot0 - P * B;
  K.gather_net(
    core.addr('params', 'wRec', p0),
    N * N * 4,
    B,
    at.spikeIdx,
    at.spikeOff + prev0 * 4,
    at.I + slot0 * N * 4,
    rows,
    N,
  );
  const pn = p0 * N * 4;
  (core.members[p0]!.adapt ? K.forward_adapt : K.forward_plain)(
    at.I,
    at.d,
    at.u,
    at.a,
    at.adaptiveThreshold,
    at.s,
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
    core.addr('params', 'b', p0),
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
export function forwardStep(core: FusedCore, t: number, p: number, lesion: Uint8Array | null): void {
  const { P, N, B } = core;
  const m = core.members[p]!;
  const adapt = m.adapt;
  const soft = m.soft;
  const kappa = m.kappa;
  const A = core.arena;
  const K = A.kernels;
  const { I, d, u, a, adaptiveThreshold: thr, s } = A.f;
  const spikeIdx = A.spikeIdx;
  const spikeOff = A.spikeOff;
  const {
    alphaD: aD,
    oneMinusAlphaD: cD,
    alphaS: aS,
    oneMinusAlphaS: cS,
    rho,
    oneMinusRho: cR,
    threshold: th,
    adaptationStrength: be,
  } = core.natural;
  const bias = core.params.b;
  const wr = core.addr('params', 'wRec', p);
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
  core.sumU2[p]! += sumU2;
  core.sumS[p]! += sumS;
}

import { matvec } from '@ip2/snn';
import type { LearnerSpec } from '../learner.js';
import { attention, GELU_A, GELU_C, positions } from './attention.js';
import { FusedBaselineLearner, fusedState, sumRows, tanh, type FusedState } from './fused-baseline.js';
import { LAYER_NORM_EPS } from './tf-common.js';
import type { BaselineOptionsInput } from './tf-learner.js';

/** Heads of each attention model. */
export const ATTENTION_HEADS: Readonly<Record<string, number>> = { 'attn-h1': 1, 'attn-h2': 2, 'attn-h4': 4 };

/**
 * The attention baselines (attention.ts: one causal post-norm transformer block, `heads` heads over
 * a width d = hidden, MLP width m = mlpRatio·d) on the fused engine (fused-baseline.ts). Rows are
 * (step, trial) pairs, time-major like the inputs: R = T·B rows. Nothing is recurrent, so every layer
 * is one kernel call over all rows; attention runs per trial and head on contiguous copies of its
 * q, k, v ([T][d_h] each), with P = softmax(q kᵀ / √d_h) over the steps s ≤ t.
 *
 * Forward: e = x W_in + b_in + PE;  [q k v] = e W_qkv + b_qkv;  o = P v per head, merged;
 *   a = e + o W_o + b_o;  h1 = LN(a);  u = h1 W_1 + b_1;  r = h1 + GELU(u) W_2 + b_2;  h2 = LN(r);
 *   y = h2 W_out + b_out.
 * Backward (LN(x) = x̂ g + n, x̂ = (x − μ) ρ, ρ = 1/√(var + ε)):
 *   ∂x = ρ (∂x̂ − mean(∂x̂) − x̂ mean(∂x̂ ⊙ x̂)) with ∂x̂ = ∂LN ⊙ g;  ∂g = Σ ∂LN ⊙ x̂;  ∂n = Σ ∂LN;
 *   ∂r from LN2;  ∂W_2 = Σ GELU(u)ᵀ ∂r;  ∂u = ∂r W_2ᵀ ⊙ GELU'(u);  ∂h1 = ∂r + ∂u W_1ᵀ;  ∂a from LN1;
 *   ∂o = ∂a W_oᵀ;  per head ∂P = ∂o vᵀ, ∂v = Pᵀ ∂o, ∂S = P ⊙ (∂P − rowsum(P ⊙ ∂P)) / √d_h,
 *   ∂q = ∂S k, ∂k = ∂Sᵀ q;  ∂e = ∂a + ∂[q k v] W_qkvᵀ;  ∂W_in = Σ xᵀ ∂e (and every ∂W = Σ inputᵀ ∂output,
 *   every ∂b = Σ ∂output).
 */
export class FusedAttentionLearner extends FusedBaselineLearner {
  /** Float64 column sums of the layer-norm gains' and shifts' gradients. */
  private readonly sums: Float64Array;

  private constructor(
    state: FusedState,
    private readonly heads: number,
  ) {
    super(state);
    this.sums = new Float64Array(2 * state.config.hidden);
  }

  static create(spec: LearnerSpec, options: BaselineOptionsInput = {}, saved?: Uint8Array): FusedAttentionLearner {
    const heads = ATTENTION_HEADS[spec.model] ?? 1;
    const state = fusedState(attention(heads), Object.keys(ATTENTION_HEADS), spec, options, saved);
    return new FusedAttentionLearner(state, heads);
  }

  protected regions(T: number, B: number): Record<string, number> {
    const d = this.config.hidden;
    const m = this.config.mlpRatio * d;
    const R = T * B;
    const H = this.heads;
    return {
      e: R * d,
      qkv: R * 3 * d,
      // q, k, v of every trial and head: [B][H][3][T][d_h]; P: [B][H][T][T].
      qkvHeads: B * 3 * T * d,
      p: B * H * T * T,
      o: R * d,
      a: R * d,
      xh1: R * d,
      rho1: R,
      h1: R * d,
      u: R * m,
      th: R * m,
      gu: R * m,
      r: R * d,
      xh2: R * d,
      rho2: R,
      h2: R * d,
      dh2: R * d,
      dr: R * d,
      du: R * m,
      dh1: R * d,
      da: R * d,
      dout: R * d,
      dqkv: R * 3 * d,
      de: R * d,
      // One trial and head at a time: ∂o of the head, ∂P (then ∂S), and ∂q, ∂k, ∂v.
      dHead: T * d,
      dp: T * T,
      dqkvHead: 3 * T * d,
    };
  }

  /** Byte offset of q (part 0), k (1) or v (2) of trial b, head h. */
  private headAt(T: number, b: number, h: number, part: number): number {
    const dh = this.config.hidden / this.heads;
    return this.at.qkvHeads! + ((b * this.heads + h) * 3 + part) * T * dh * 4;
  }

  protected forward(T: number, B: number): void {
    const { nIn, hidden: d } = this.config;
    const m = this.config.mlpRatio * d;
    const { K, at, pa, P } = this;
    const w = this.w;
    const R = T * B;
    const H = this.heads;
    const dh = d / H;
    const scale = 1 / Math.sqrt(dh);
    const e = w.e!;
    const pe = positions(T, d);
    K.proj(at.x!, nIn * 4, 0, pa.wIn!, at.e!, 0, 1, R, nIn, d);
    addBias(e, R, d, P.bIn!);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++)
        for (let j = 0; j < d; j++) e[(t * B + b) * d + j] = e[(t * B + b) * d + j]! + pe[t * d + j]!;
    }
    K.proj(at.e!, d * 4, 0, pa.wQkv!, at.qkv!, 0, 1, R, d, 3 * d);
    addBias(w.qkv!, R, 3 * d, P.bQkv!);
    const qkv = w.qkv!;
    const heads = w.qkvHeads!;
    const p = w.p!;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let part = 0; part < 3; part++) {
          const to = (this.headAt(T, b, h, part) - at.qkvHeads!) / 4;
          for (let t = 0; t < T; t++) {
            const from = (t * B + b) * 3 * d + part * d + h * dh;
            for (let j = 0; j < dh; j++) heads[to + t * dh + j] = qkv[from + j]!;
          }
        }
        const pAt = (b * H + h) * T * T * 4;
        // Scores S[t][s] = q[t] · k[s] (every s; those after t are masked out below).
        matvec(K, this.headAt(T, b, h, 1), this.headAt(T, b, h, 0), at.p! + pAt, T, dh, T, T);
        for (let t = 0; t < T; t++) {
          const row = pAt / 4 + t * T;
          let max = -Infinity;
          for (let s = 0; s <= t; s++) max = Math.max(max, p[row + s]! * scale);
          let sum = 0;
          for (let s = 0; s <= t; s++) {
            const x = Math.exp(p[row + s]! * scale - max);
            p[row + s] = x;
            sum += x;
          }
          for (let s = 0; s <= t; s++) p[row + s] = p[row + s]! / sum;
          p.fill(0, row + t + 1, row + T);
        }
        // o[t] = Σ_s P[t][s] v[s], into the head's columns of the trial's rows.
        K.proj(at.p! + pAt, 0, T * 4, this.headAt(T, b, h, 2), at.o! + (b * d + h * dh) * 4, B * d * 4, T, 1, T, dh);
      }
    }
    K.proj(at.o!, d * 4, 0, pa.wO!, at.a!, 0, 1, R, d, d);
    const a = w.a!;
    for (let i = 0; i < R * d; i++) a[i] = a[i]! + e[i]!;
    addBias(a, R, d, P.bO!);
    layerNorm(a, R, d, P.g1!, P.n1!, w.xh1!, w.rho1!, w.h1!);
    K.proj(at.h1!, d * 4, 0, pa.w1!, at.u!, 0, 1, R, d, m);
    const u = w.u!;
    const th = w.th!;
    const gu = w.gu!;
    addBias(u, R, m, P.b1!);
    for (let i = 0; i < R * m; i++) {
      const x = u[i]!;
      const t = tanh(GELU_C * (x + GELU_A * x * x * x));
      th[i] = t;
      gu[i] = 0.5 * x * (1 + t);
    }
    K.proj(at.gu!, m * 4, 0, pa.w2!, at.r!, 0, 1, R, m, d);
    const r = w.r!;
    const h1 = w.h1!;
    for (let i = 0; i < R * d; i++) r[i] = r[i]! + h1[i]!;
    addBias(r, R, d, P.b2!);
    layerNorm(r, R, d, P.g2!, P.n2!, w.xh2!, w.rho2!, w.h2!);
    this.readout(at.h2!, R);
  }

  protected backward(T: number, B: number): void {
    const { nIn, hidden: d } = this.config;
    const m = this.config.mlpRatio * d;
    const { K, at, pa, ga, G, P } = this;
    const w = this.w;
    const R = T * B;
    const H = this.heads;
    const dh = d / H;
    const scale = 1 / Math.sqrt(dh);
    this.readoutBackward(at.h2!, R, at.dh2!);
    this.layerNormBackward(R, d, w.dh2!, w.xh2!, w.rho2!, P.g2!, w.dr!, G.g2!, G.n2!);
    const dr = w.dr!;
    K.gemm_tn(at.gu!, m * 4, 0, at.dr!, 0, 1, R, m, d, ga.w2!);
    sumRows(dr, R, d, G.b2!);
    matvec(K, pa.w2!, at.dr!, at.du!, m, d, R, m);
    const du = w.du!;
    const u = w.u!;
    const th = w.th!;
    for (let i = 0; i < R * m; i++) {
      const x = u[i]!;
      const t = th[i]!;
      const slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * x * x);
      du[i] = du[i]! * slope;
    }
    K.gemm_tn(at.h1!, d * 4, 0, at.du!, 0, 1, R, d, m, ga.w1!);
    sumRows(du, R, m, G.b1!);
    matvec(K, pa.w1!, at.du!, at.dh1!, d, m, R, d);
    const dh1 = w.dh1!;
    for (let i = 0; i < R * d; i++) dh1[i] = dh1[i]! + dr[i]!;
    this.layerNormBackward(R, d, dh1, w.xh1!, w.rho1!, P.g1!, w.da!, G.g1!, G.n1!);
    K.gemm_tn(at.o!, d * 4, 0, at.da!, 0, 1, R, d, d, ga.wO!);
    sumRows(w.da!, R, d, G.bO!);
    matvec(K, pa.wO!, at.da!, at.dout!, d, d, R, d);
    const dout = w.dout!;
    const dHead = w.dHead!;
    const dp = w.dp!;
    const p = w.p!;
    const dq = w.dqkvHead!;
    const dqkv = w.dqkv!;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let t = 0; t < T; t++) {
          const from = (t * B + b) * d + h * dh;
          for (let j = 0; j < dh; j++) dHead[t * dh + j] = dout[from + j]!;
        }
        const pAt = (b * H + h) * T * T * 4;
        // ∂P[t][s] = ∂o[t] · v[s];  ∂v = Pᵀ ∂o.
        matvec(K, this.headAt(T, b, h, 2), at.dHead!, at.dp!, T, dh, T, T);
        dq.fill(0);
        K.gemm_tn(at.p! + pAt, T * 4, 0, at.dHead!, 0, 1, T, T, dh, at.dqkvHead! + 2 * T * dh * 4);
        for (let t = 0; t < T; t++) {
          const row = t * T;
          const prow = pAt / 4 + row;
          let dot = 0;
          for (let s = 0; s <= t; s++) dot += p[prow + s]! * dp[row + s]!;
          for (let s = 0; s <= t; s++) dp[row + s] = scale * p[prow + s]! * (dp[row + s]! - dot);
          dp.fill(0, row + t + 1, row + T);
        }
        // ∂q = ∂S k;  ∂k = ∂Sᵀ q.
        K.proj(at.dp!, T * 4, 0, this.headAt(T, b, h, 1), at.dqkvHead!, 0, 1, T, T, dh);
        K.gemm_tn(at.dp!, T * 4, 0, this.headAt(T, b, h, 0), 0, 1, T, T, dh, at.dqkvHead! + T * dh * 4);
        for (let part = 0; part < 3; part++) {
          for (let t = 0; t < T; t++) {
            const to = (t * B + b) * 3 * d + part * d + h * dh;
            for (let j = 0; j < dh; j++) dqkv[to + j] = dq[(part * T + t) * dh + j]!;
          }
        }
      }
    }
    K.gemm_tn(at.e!, d * 4, 0, at.dqkv!, 0, 1, R, d, 3 * d, ga.wQkv!);
    sumRows(dqkv, R, 3 * d, G.bQkv!);
    matvec(K, pa.wQkv!, at.dqkv!, at.de!, d, 3 * d, R, d);
    const de = w.de!;
    const da = w.da!;
    for (let i = 0; i < R * d; i++) de[i] = de[i]! + da[i]!;
    K.gemm_tn(at.x!, nIn * 4, 0, at.de!, 0, 1, R, nIn, d, ga.wIn!);
    sumRows(de, R, d, G.bIn!);
  }

  /**
   * ∂x of the layer norm from ∂out (rows of d), and ∂g += Σ ∂out ⊙ x̂, ∂n += Σ ∂out (float64 sums).
   */
  private layerNormBackward(
    R: number,
    d: number,
    dOut: Float32Array,
    xh: Float32Array,
    rho: Float32Array,
    g: Float32Array,
    dx: Float32Array,
    dg: Float32Array,
    dn: Float32Array,
  ): void {
    const sums = this.sums.fill(0);
    for (let r = 0; r < R; r++) {
      const o = r * d;
      let m1 = 0;
      let m2 = 0;
      for (let j = 0; j < d; j++) {
        const dy = dOut[o + j]!;
        const x = xh[o + j]!;
        const dxh = dy * g[j]!;
        m1 += dxh;
        m2 += dxh * x;
        sums[j] = sums[j]! + dy * x;
        sums[d + j] = sums[d + j]! + dy;
      }
      m1 /= d;
      m2 /= d;
      const k = rho[r]!;
      for (let j = 0; j < d; j++) dx[o + j] = k * (dOut[o + j]! * g[j]! - m1 - xh[o + j]! * m2);
    }
    for (let j = 0; j < d; j++) {
      dg[j] = dg[j]! + sums[j]!;
      dn[j] = dn[j]! + sums[d + j]!;
    }
  }
}

/** rows of width n += bias. */
function addBias(x: Float32Array, rows: number, n: number, bias: Float32Array): void {
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) x[r * n + j] = x[r * n + j]! + bias[j]!;
}

/**
 * Layer norm over rows of d: x̂ = (x − μ) ρ with ρ = 1/√(var + ε) (float64 moments), out = x̂ g + n;
 * keeps x̂ and ρ for the backward pass.
 */
function layerNorm(
  x: Float32Array,
  R: number,
  d: number,
  g: Float32Array,
  n: Float32Array,
  xh: Float32Array,
  rho: Float32Array,
  out: Float32Array,
): void {
  for (let r = 0; r < R; r++) {
    const o = r * d;
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[o + j]!;
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[o + j]! - mean) ** 2;
    const k = 1 / Math.sqrt(v / d + LAYER_NORM_EPS);
    rho[r] = k;
    for (let j = 0; j < d; j++) {
      const hat = (x[o + j]! - mean) * k;
      xh[o + j] = hat;
      out[o + j] = hat * g[j]! + n[j]!;
    }
  }
}

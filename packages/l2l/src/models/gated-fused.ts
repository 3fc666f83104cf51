import { matvec } from '@ip2/snn';
import type { LearnerSpec } from '../learner.js';
import { FusedBaselineLearner, fusedState, sigmoid, sumRows, tanh } from './fused-baseline.js';
import { gru, lstm } from './gated.js';
import type { BaselineOptionsInput } from './tf-learner.js';

/**
 * The `lstm` baseline (gated.ts) on the fused engine (fused-baseline.ts). Per step, gate blocks
 * i, f, g, o of z[t] = x[t] W_in + b + h[t−1] W_rec:
 *   c[t] = σ(f) c[t−1] + σ(i) tanh(g),  h[t] = σ(o) tanh(c[t]).
 * Workspace: `gates` [T][B][4n] (x W_in, then z[t], then the activations σ(i), σ(f), tanh(g), σ(o),
 * then ∂z[t]), `c` and `h` [T+1][B][n] (slot 0 the zero initial state), `tc` = tanh(c[t]) [T][B][n],
 * `dh` [T][B][n] (∂y W_outᵀ), `carry` = ∂h[t−1] from step t and `dc` = ∂c[t−1] from step t, [B][n].
 *
 * Backward, with ∂h = ∂y[t] W_outᵀ + carry:
 *   ∂o = ∂h tanh(c) σ(o)(1 − σ(o));  ∂c = ∂h σ(o)(1 − tanh²(c)) + ∂c from step t+1;
 *   ∂f = ∂c c[t−1] σ(f)(1 − σ(f));  ∂i = ∂c tanh(g) σ(i)(1 − σ(i));  ∂g = ∂c σ(i)(1 − tanh²(g));
 *   ∂c[t−1] = ∂c σ(f);  ∂h[t−1] = ∂z W_recᵀ;  ∂W_rec = Σ h[t−1]ᵀ ∂z;  ∂W_in = Σ x[t]ᵀ ∂z;  ∂b = Σ ∂z.
 */
export class FusedLstmLearner extends FusedBaselineLearner {
  static create(spec: LearnerSpec, options: BaselineOptionsInput = {}, saved?: Uint8Array): FusedLstmLearner {
    return new FusedLstmLearner(fusedState(lstm, ['lstm'], spec, options, saved));
  }

  protected regions(T: number, B: number): Record<string, number> {
    const n = this.config.hidden;
    return {
      gates: T * B * 4 * n,
      c: (T + 1) * B * n,
      h: (T + 1) * B * n,
      tc: T * B * n,
      dh: T * B * n,
      carry: B * n,
      dc: B * n,
    };
  }

  protected forward(T: number, B: number): void {
    const { nIn, hidden: n } = this.config;
    const { K, at, pa } = this;
    const { gates, c, h, tc } = this.w as Record<'gates' | 'c' | 'h' | 'tc', Float32Array>;
    const bias = this.P.b!;
    const G = 4 * n;
    const row = B * n;
    K.proj(at.x!, nIn * 4, 0, pa.wIn!, at.gates!, 0, 1, T * B, nIn, G);
    c.fill(0, 0, row);
    h.fill(0, 0, row);
    for (let t = 0; t < T; t++) {
      const go = t * B * G;
      if (t > 0) K.proj_add(at.h! + t * row * 4, n * 4, 0, pa.wRec!, at.gates! + go * 4, 0, 1, B, n, G);
      for (let b = 0; b < B; b++) {
        const z = go + b * G;
        const prev = t * row + b * n;
        for (let j = 0; j < n; j++) {
          const i = sigmoid(gates[z + j]! + bias[j]!);
          const f = sigmoid(gates[z + n + j]! + bias[n + j]!);
          const g = tanh(gates[z + 2 * n + j]! + bias[2 * n + j]!);
          const o = sigmoid(gates[z + 3 * n + j]! + bias[3 * n + j]!);
          gates[z + j] = i;
          gates[z + n + j] = f;
          gates[z + 2 * n + j] = g;
          gates[z + 3 * n + j] = o;
          const cell = f * c[prev + j]! + i * g;
          const th = tanh(cell);
          c[prev + row + j] = cell;
          tc[prev + j] = th;
          h[prev + row + j] = o * th;
        }
      }
    }
    this.readout(at.h! + row * 4, T * B);
  }

  protected backward(T: number, B: number): void {
    const { nIn, hidden: n } = this.config;
    const { K, at, pa, ga } = this;
    const { gates, c, tc, dh, carry, dc } = this.w as Record<
      'gates' | 'c' | 'tc' | 'dh' | 'carry' | 'dc',
      Float32Array
    >;
    const G = 4 * n;
    const row = B * n;
    this.readoutBackward(at.h! + row * 4, T * B, at.dh!);
    carry.fill(0);
    dc.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const z = (t * B + b) * G;
        const s = t * row + b * n;
        const cb = b * n;
        for (let j = 0; j < n; j++) {
          const d = dh[s + j]! + carry[cb + j]!;
          const i = gates[z + j]!;
          const f = gates[z + n + j]!;
          const g = gates[z + 2 * n + j]!;
          const o = gates[z + 3 * n + j]!;
          const th = tc[s + j]!;
          const dCell = d * o * (1 - th * th) + dc[cb + j]!;
          gates[z + j] = dCell * g * i * (1 - i);
          gates[z + n + j] = dCell * c[s + j]! * f * (1 - f);
          gates[z + 2 * n + j] = dCell * i * (1 - g * g);
          gates[z + 3 * n + j] = d * th * o * (1 - o);
          dc[cb + j] = dCell * f;
        }
      }
      if (t > 0) matvec(K, pa.wRec!, at.gates! + t * B * G * 4, at.carry!, n, G, B, n);
    }
    K.gemm_tn(at.h!, n * 4, 0, at.gates!, 0, 1, T * B, n, G, ga.wRec!);
    K.gemm_tn(at.x!, nIn * 4, 0, at.gates!, 0, 1, T * B, nIn, G, ga.wIn!);
    sumRows(gates, T * B, G, this.G.b!);
  }
}

/**
 * The `gru` baseline (gated.ts, the cuDNN/PyTorch form) on the fused engine. Per step, gate blocks
 * r, z, n of the drive d[t] = x[t] W_in + b and of q[t] = h[t−1] W_rec:
 *   r = σ(d_r + q_r),  u = σ(d_z + q_z),  ñ = tanh(d_n + r ⊙ (q_n + b_rec)),  h[t] = ñ + u ⊙ (h[t−1] − ñ).
 * Workspace: `drive` [T][B][3n] (x W_in, then r, u, ñ, then ∂d[t]), `rec` [T][B][3n] (q[t], its
 * third block then q_n + b_rec, then ∂q[t]), `h` [T+1][B][n], `dh` [T][B][n] (∂y W_outᵀ, then the
 * direct part u ⊙ ∂h of ∂h[t−1]) and `carry` [B][n].
 *
 * Backward, with ∂h = ∂y[t] W_outᵀ + carry and a = q_n + b_rec:
 *   ∂ñ = ∂h (1 − u);  ∂n = ∂ñ (1 − ñ²);  ∂r = ∂n a r(1 − r);  ∂u = ∂h (h[t−1] − ñ) u(1 − u);
 *   ∂d = (∂r, ∂u, ∂n);  ∂q = (∂r, ∂u, ∂n r);  ∂b_rec = Σ ∂n r;
 *   ∂h[t−1] = u ∂h + ∂q W_recᵀ;  ∂W_rec = Σ h[t−1]ᵀ ∂q;  ∂W_in = Σ x[t]ᵀ ∂d;  ∂b = Σ ∂d.
 */
export class FusedGruLearner extends FusedBaselineLearner {
  static create(spec: LearnerSpec, options: BaselineOptionsInput = {}, saved?: Uint8Array): FusedGruLearner {
    return new FusedGruLearner(fusedState(gru, ['gru'], spec, options, saved));
  }

  protected regions(T: number, B: number): Record<string, number> {
    const n = this.config.hidden;
    return { drive: T * B * 3 * n, rec: T * B * 3 * n, h: (T + 1) * B * n, dh: T * B * n, carry: B * n };
  }

  protected forward(T: number, B: number): void {
    const { nIn, hidden: n } = this.config;
    const { K, at, pa } = this;
    const { drive, rec, h } = this.w as Record<'drive' | 'rec' | 'h', Float32Array>;
    const bias = this.P.b!;
    const bRec = this.P.bRec!;
    const G = 3 * n;
    const row = B * n;
    K.proj(at.x!, nIn * 4, 0, pa.wIn!, at.drive!, 0, 1, T * B, nIn, G);
    h.fill(0, 0, row);
    for (let t = 0; t < T; t++) {
      const go = t * B * G;
      if (t > 0) K.proj(at.h! + t * row * 4, n * 4, 0, pa.wRec!, at.rec! + go * 4, 0, 1, B, n, G);
      else rec.fill(0, 0, B * G);
      for (let b = 0; b < B; b++) {
        const z = go + b * G;
        const prev = t * row + b * n;
        for (let j = 0; j < n; j++) {
          const r = sigmoid(drive[z + j]! + bias[j]! + rec[z + j]!);
          const u = sigmoid(drive[z + n + j]! + bias[n + j]! + rec[z + n + j]!);
          const a = rec[z + 2 * n + j]! + bRec[j]!;
          const cand = tanh(drive[z + 2 * n + j]! + bias[2 * n + j]! + r * a);
          drive[z + j] = r;
          drive[z + n + j] = u;
          drive[z + 2 * n + j] = cand;
          rec[z + 2 * n + j] = a;
          h[prev + row + j] = cand + u * (h[prev + j]! - cand);
        }
      }
    }
    this.readout(at.h! + row * 4, T * B);
  }

  protected backward(T: number, B: number): void {
    const { nIn, hidden: n } = this.config;
    const { K, at, pa, ga } = this;
    const { drive, rec, h, dh, carry } = this.w as Record<'drive' | 'rec' | 'h' | 'dh' | 'carry', Float32Array>;
    const G = 3 * n;
    const row = B * n;
    this.readoutBackward(at.h! + row * 4, T * B, at.dh!);
    carry.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const z = (t * B + b) * G;
        const s = t * row + b * n;
        const cb = b * n;
        for (let j = 0; j < n; j++) {
          const d = dh[s + j]! + carry[cb + j]!;
          const r = drive[z + j]!;
          const u = drive[z + n + j]!;
          const cand = drive[z + 2 * n + j]!;
          const a = rec[z + 2 * n + j]!;
          const dn = d * (1 - u) * (1 - cand * cand);
          const dr = dn * a * r * (1 - r);
          const du = d * (h[s + j]! - cand) * u * (1 - u);
          drive[z + j] = dr;
          drive[z + n + j] = du;
          drive[z + 2 * n + j] = dn;
          rec[z + j] = dr;
          rec[z + n + j] = du;
          rec[z + 2 * n + j] = dn * r;
          dh[s + j] = u * d;
        }
      }
      if (t === 0) continue;
      matvec(K, pa.wRec!, at.rec! + t * B * G * 4, at.carry!, n, G, B, n);
      for (let i = 0; i < row; i++) carry[i] = carry[i]! + dh[t * row + i]!;
    }
    K.gemm_tn(at.h!, n * 4, 0, at.rec!, 0, 1, T * B, n, G, ga.wRec!);
    K.gemm_tn(at.x!, nIn * 4, 0, at.drive!, 0, 1, T * B, nIn, G, ga.wIn!);
    sumRows(drive, T * B, G, this.G.b!);
    sumRows(rec, T * B, G, this.G.bRec!, 2 * n);
  }
}

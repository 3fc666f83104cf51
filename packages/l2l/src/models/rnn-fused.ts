import { matvec } from '@ip2/snn';
import type { LearnerSpec } from '../learner.js';
import { FusedBaselineLearner, fusedState, sigmoid, sumRows } from './fused-baseline.js';
import { rnn, rnnAlpha } from './rnn.js';
import type { BaselineOptionsInput } from './tf-learner.js';

const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

/**
 * The `rnn` baseline (Goudar et al. 2023's leaky softplus RNN, the model of rnn.ts) on the fused
 * engine (fused-baseline.ts): the TensorFlow.js learner's initialisation, loss, update rule and byte
 * format, a hand-derived backward pass. Workspace: `z` [T][B][n] (x W_in, then z[t] with h[t−1] W_rec
 * added, then softplus'(z[t]) = sigmoid(z[t]), then ∂z[t]), `h` [T+1][B][n] (h[−1] = 0 in slot 0),
 * `dh` [T][B][n] (∂y W_outᵀ, then the total ∂h[t]) and `carry` [B][n] (∂h[t−1] from step t).
 *
 * Backward, with a[t] = (1 − α) h[t−1] + α softplus(z[t]), h[t] = keep ⊙ a[t],
 * z[t] = h[t−1] W_rec + x[t] W_in + b (keep is all ones in training):
 *   ∂h[t] = ∂y[t] W_outᵀ + ∂h[t] from step t+1;  ∂z = α ∂h ⊙ sigmoid(z[t]);
 *   ∂h[t−1] = (1 − α) ∂h + ∂z W_recᵀ;  ∂W_rec = Σ h[t−1]ᵀ ∂z;  ∂W_in = Σ x[t]ᵀ ∂z;  ∂b = Σ ∂z.
 */
export class FusedRnnLearner extends FusedBaselineLearner {
  protected override readonly lesion = true;

  static create(spec: LearnerSpec, options: BaselineOptionsInput = {}, saved?: Uint8Array): FusedRnnLearner {
    return new FusedRnnLearner(fusedState(rnn, ['rnn'], spec, options, saved));
  }

  protected regions(T: number, B: number): Record<string, number> {
    const n = this.config.hidden;
    return { z: T * B * n, h: (T + 1) * B * n, dh: T * B * n, carry: B * n };
  }

  protected forward(T: number, B: number, keep: Float32Array | null): void {
    const { nIn, hidden: n, dt, tau } = this.config;
    const { K, at, pa } = this;
    const { z, h } = this.w as Record<'z' | 'h', Float32Array>;
    const b = this.P.b!;
    const alpha = rnnAlpha(dt, tau);
    const leak = 1 - alpha;
    const row = B * n;
    K.proj(at.x!, nIn * 4, 0, pa.wIn!, at.z!, 0, 1, T * B, nIn, n);
    h.fill(0, 0, row);
    for (let t = 0; t < T; t++) {
      const o = t * row;
      if (t > 0) K.proj_add(at.h! + o * 4, n * 4, 0, pa.wRec!, at.z! + o * 4, 0, 1, B, n, n);
      for (let i = 0; i < row; i++) {
        const j = i % n;
        const zi = z[o + i]! + b[j]!;
        z[o + i] = sigmoid(zi);
        const a = leak * h[o + i]! + alpha * softplus(zi);
        h[o + row + i] = keep ? keep[j]! * a : a;
      }
    }
    this.readout(at.h! + row * 4, T * B);
  }

  protected backward(T: number, B: number): void {
    const { hidden: n, nIn, dt, tau } = this.config;
    const { K, at, pa, ga } = this;
    const { z, dh, carry } = this.w as Record<'z' | 'dh' | 'carry', Float32Array>;
    const alpha = rnnAlpha(dt, tau);
    const leak = 1 - alpha;
    const row = B * n;
    this.readoutBackward(at.h! + row * 4, T * B, at.dh!);
    carry.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      const o = t * row;
      for (let i = 0; i < row; i++) {
        const d = dh[o + i]! + carry[i]!;
        dh[o + i] = d;
        z[o + i] = alpha * d * z[o + i]!;
      }
      if (t === 0) break;
      matvec(K, pa.wRec!, at.z! + o * 4, at.carry!, n, n, B, n);
      for (let i = 0; i < row; i++) carry[i] = carry[i]! + leak * dh[o + i]!;
    }
    K.gemm_tn(at.h!, n * 4, 0, at.z!, 0, 1, T * B, n, n, ga.wRec!);
    K.gemm_tn(at.x!, nIn * 4, 0, at.z!, 0, 1, T * B, nIn, n, ga.wIn!);
    sumRows(z, T * B, n, this.G.b!);
  }

  recurrentWeights(): { readonly n: number; readonly w: Float32Array } {
    this.assertLive();
    return { n: this.config.hidden, w: this.P.wRec!.slice() };
  }
}

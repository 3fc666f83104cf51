import * as tf from '@tensorflow/tfjs-core';
import type { Architecture } from './tf-learner.js';
import { gaussian, inputDrive, matMul, readout } from './tf-common.js';

/** α = dt/τ of the leaky units, capped at 1 (dt ≥ τ: no memory in the leak). */
export function rnnAlpha(dt: number, tau: number): number {
  return Math.min(1, dt / tau);
}

/**
 * Goudar et al. 2023's point-neuron leaky RNN:
 *   h[t] = (1 − α) h[t−1] + α softplus(h[t−1] W_rec + x[t] W_in + b),  y[t] = h[t] W_out + b_out,
 * h[−1] = 0, α = dt/τ (τ = 100 ms by default). Init: W_in ~ N(0, 1/nIn); W_rec ~ N(0, g²/n) with
 * g = 1.5, so that with softplus' ≈ ½ around 0 the effective recurrent gain (≈ 0.75) is below
 * the chaotic regime; W_out ~ N(0, 1/n); biases 0. Lesioned units are held at 0, so they reach
 * neither the recurrence nor the readout.
 */
export const rnn: Architecture = {
  recurrent: 'wRec',
  lesion: true,
  init(c, rng) {
    const { nIn, nOut, hidden: n } = c;
    return {
      wIn: { shape: [nIn, n], values: gaussian(rng, nIn * n, 1 / Math.sqrt(nIn)), l2: 'in' },
      wRec: { shape: [n, n], values: gaussian(rng, n * n, c.gain / Math.sqrt(n)), l2: 'rec' },
      b: { shape: [n], values: new Float32Array(n) },
      wOut: { shape: [n, nOut], values: gaussian(rng, n * nOut, 1 / Math.sqrt(n)), l2: 'out' },
      bOut: { shape: [nOut], values: new Float32Array(nOut) },
    };
  },
  forward(c, p, x, keep) {
    const [T, B] = x.shape;
    const n = c.hidden;
    const alpha = rnnAlpha(c.dt, c.tau);
    // One scalar tensor each, not one per step.
    const a = tf.scalar(alpha);
    const leak = tf.scalar(1 - alpha);
    const drive = inputDrive(x, p.wIn!, p.b!);
    let h: tf.Tensor2D = tf.zeros([B, n]);
    const hs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const r = tf.softplus(tf.add(matMul(h, p.wRec!), drive[t]!));
      h = tf.add(tf.mul(leak, h), tf.mul(a, r));
      if (keep) h = tf.mul(h, keep);
      hs.push(h);
    }
    return readout(tf.stack(hs) as tf.Tensor3D, p.wOut!, p.bOut!);
  },
};

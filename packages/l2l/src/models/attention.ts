import * as tf from '@tensorflow/tfjs-core';
import type { Architecture } from './tf-learner.js';
import { gaussian, layerNorm, matMul } from './tf-common.js';

const masks = new Map<number, Float32Array>();
const encodings = new Map<string, Float32Array>();

/** Additive causal mask [T, T]: 0 where step t may attend to step s ≤ t, −1e9 above the diagonal. */
function causalMask(T: number): Float32Array {
  let m = masks.get(T);
  if (!m) {
    m = new Float32Array(T * T);
    for (let t = 0; t < T; t++) for (let s = t + 1; s < T; s++) m[t * T + s] = -1e9;
    masks.set(T, m);
  }
  return m;
}

/** Sinusoidal position code [T, d] (Vaswani et al. 2017): any trial length, no parameters. */
export function positions(T: number, d: number): Float32Array {
  const key = `${T}x${d}`;
  let pe = encodings.get(key);
  if (!pe) {
    pe = new Float32Array(T * d);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < d; i++) {
        const angle = t / Math.pow(10000, (2 * Math.floor(i / 2)) / d);
        pe[t * d + i] = i % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
      }
    }
    encodings.set(key, pe);
  }
  return pe;
}

/** The constants of GELU's tanh form: tanh(GELU_C (x + GELU_A x³)). */
export const GELU_C = Math.sqrt(2 / Math.PI);
export const GELU_A = 0.044715;

/** GELU, tanh form (Hendrycks & Gimpel 2016): smooth, so the loss is differentiable everywhere. */
function gelu(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(GELU_C, tf.add(x, tf.mul(GELU_A, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/**
 * One causal self-attention transformer block (post-norm, as Vaswani et al. 2017) with `heads`
 * heads over a width d = hidden:
 *   e = x W_in + b_in + PE;  a = e + MHA(e);  h1 = LN(a);  h2 = LN(h1 + GELU(h1 W_1 + b_1) W_2 + b_2);
 *   y = h2 W_out + b_out at every step.
 * Step t attends to steps ≤ t only, so y[t] depends on x[0..t] alone, as for the recurrent models.
 * Init: W_in ~ N(0, 1/nIn); W_qkv, W_o ~ N(0, 1/d); W_1 ~ N(0, 2/d); W_2 ~ N(0, 1/(r·d));
 * W_out ~ N(0, 1/d); biases 0, layer-norm gains 1. L2: W_in under λ_in; W_qkv, W_o, W_1, W_2
 * (the block's mixing weights, counterpart of W_rec) under λ_rec; W_out under λ_out.
 * `hidden` must be divisible by `heads`: anything else is a RangeError naming `hidden`.
 */
export function attention(heads: number): Architecture {
  return {
    check(c) {
      if (c.hidden % heads !== 0) {
        throw new RangeError(`hidden (${c.hidden}) must be divisible by the number of heads (${heads}) of ${c.model}`);
      }
    },
    init(c, rng) {
      const { nIn, nOut, hidden: d } = c;
      const m = c.mlpRatio * d;
      const zeros = (k: number) => ({ shape: [k], values: new Float32Array(k) });
      const ones = (k: number) => ({ shape: [k], values: new Float32Array(k).fill(1) });
      return {
        wIn: { shape: [nIn, d], values: gaussian(rng, nIn * d, 1 / Math.sqrt(nIn)), l2: 'in' },
        bIn: zeros(d),
        wQkv: { shape: [d, 3 * d], values: gaussian(rng, 3 * d * d, 1 / Math.sqrt(d)), l2: 'rec' },
        bQkv: zeros(3 * d),
        wO: { shape: [d, d], values: gaussian(rng, d * d, 1 / Math.sqrt(d)), l2: 'rec' },
        bO: zeros(d),
        g1: ones(d),
        n1: zeros(d),
        w1: { shape: [d, m], values: gaussian(rng, d * m, Math.sqrt(2 / d)), l2: 'rec' },
        b1: zeros(m),
        w2: { shape: [m, d], values: gaussian(rng, m * d, 1 / Math.sqrt(m)), l2: 'rec' },
        b2: zeros(d),
        g2: ones(d),
        n2: zeros(d),
        wOut: { shape: [d, nOut], values: gaussian(rng, d * nOut, 1 / Math.sqrt(d)), l2: 'out' },
        bOut: zeros(nOut),
      };
    },
    forward(c, p, x) {
      const [T, B, nIn] = x.shape;
      const d = c.hidden;
      const dh = d / heads;
      const dense = (v: tf.Tensor2D, w: string, b: string) => tf.add(matMul(v, p[w]!), p[b]!) as tf.Tensor2D;
      // Rows ordered (trial, step) from here on.
      const rows = tf.reshape(tf.transpose(x, [1, 0, 2]), [B * T, nIn]) as tf.Tensor2D;
      const pe = tf.tensor2d(positions(T, d), [T, d]);
      const e = tf.reshape(tf.add(tf.reshape(dense(rows, 'wIn', 'bIn'), [B, T, d]), pe), [B * T, d]) as tf.Tensor2D;
      const split = (v: tf.Tensor) =>
        tf.reshape(tf.transpose(tf.reshape(v, [B, T, heads, dh]), [0, 2, 1, 3]), [B * heads, T, dh]) as tf.Tensor3D;
      const [q, k, v] = tf.split(dense(e, 'wQkv', 'bQkv'), 3, 1).map(split) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      const scores = tf.add(
        tf.mul(matMul(q, tf.transpose(k, [0, 2, 1])), 1 / Math.sqrt(dh)),
        tf.tensor2d(causalMask(T), [T, T]),
      );
      const mixed = matMul(tf.softmax(scores) as tf.Tensor3D, v); // [B·heads, T, dh]
      const merged = tf.reshape(tf.transpose(tf.reshape(mixed, [B, heads, T, dh]), [0, 2, 1, 3]), [B * T, d]);
      const h1 = layerNorm(tf.add(e, dense(merged as tf.Tensor2D, 'wO', 'bO')), p.g1!, p.n1!) as tf.Tensor2D;
      const mlp = dense(gelu(dense(h1, 'w1', 'b1')), 'w2', 'b2');
      const h2 = layerNorm(tf.add(h1, mlp), p.g2!, p.n2!) as tf.Tensor2D;
      const y = tf.reshape(dense(h2, 'wOut', 'bOut'), [B, T, c.nOut]);
      return tf.transpose(y, [1, 0, 2]) as tf.Tensor3D;
    },
  };
}

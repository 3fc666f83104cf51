import * as tf from '@tensorflow/tfjs-core';
import type { Architecture, ParamInit } from './tf-learner.js';
import { gaussian, inputDrive, matMul, readout } from './tf-common.js';
import type { Rng } from '@ip2/snn';

/**
 * Weights of a gated cell with `gates` blocks of n units side by side: W_in [nIn][gates·n] ~
 * N(0, 1/nIn), W_rec [n][gates·n] ~ N(0, 1/n), readout W_out ~ N(0, 1/n); biases 0 unless set.
 */
function gatedInit(nIn: number, n: number, nOut: number, gates: number, rng: Rng, bias: Float32Array) {
  return {
    wIn: { shape: [nIn, gates * n], values: gaussian(rng, nIn * gates * n, 1 / Math.sqrt(nIn)), l2: 'in' },
    wRec: { shape: [n, gates * n], values: gaussian(rng, n * gates * n, 1 / Math.sqrt(n)), l2: 'rec' },
    b: { shape: [gates * n], values: bias },
    wOut: { shape: [n, nOut], values: gaussian(rng, n * nOut, 1 / Math.sqrt(n)), l2: 'out' },
    bOut: { shape: [nOut], values: new Float32Array(nOut) },
  } satisfies Record<string, ParamInit>;
}

/**
 * LSTM, gate blocks in the order input, forget, cell, output; forget-gate bias 1 at init;
 * readout from the hidden state h; h and c start at 0.
 */
export const lstm: Architecture = {
  init(c, rng) {
    const n = c.hidden;
    const bias = new Float32Array(4 * n);
    bias.fill(1, n, 2 * n);
    return gatedInit(c.nIn, n, c.nOut, 4, rng, bias);
  },
  forward(c, p, x) {
    const [, B] = x.shape;
    const drive = inputDrive(x, p.wIn!, p.b!);
    let h: tf.Tensor2D = tf.zeros([B, c.hidden]);
    let cell: tf.Tensor2D = tf.zeros([B, c.hidden]);
    const hs = drive.map((d) => {
      const [i, f, g, o] = tf.split(tf.add(matMul(h, p.wRec!), d), 4, 1) as tf.Tensor2D[];
      cell = tf.add(tf.mul(tf.sigmoid(f!), cell), tf.mul(tf.sigmoid(i!), tf.tanh(g!)));
      h = tf.mul(tf.sigmoid(o!), tf.tanh(cell));
      return h;
    });
    return readout(tf.stack(hs) as tf.Tensor3D, p.wOut!, p.bOut!);
  },
};

/**
 * GRU (the cuDNN/PyTorch form), gate blocks reset, update, candidate:
 *   n = tanh(x W_in,n + b_n + r ⊙ (h W_rec,n + b_rec,n)),  h' = (1 − z) ⊙ n + z ⊙ h;
 * readout from h, which starts at 0.
 */
export const gru: Architecture = {
  init(c, rng) {
    const n = c.hidden;
    return {
      ...gatedInit(c.nIn, n, c.nOut, 3, rng, new Float32Array(3 * n)),
      bRec: { shape: [n], values: new Float32Array(n) },
    };
  },
  forward(c, p, x) {
    const [, B] = x.shape;
    const n = c.hidden;
    const drive = inputDrive(x, p.wIn!, p.b!);
    let h: tf.Tensor2D = tf.zeros([B, n]);
    const hs = drive.map((d) => {
      const [dr, dz, dn] = tf.split(d, 3, 1) as tf.Tensor2D[];
      const [rr, rz, rn] = tf.split(matMul(h, p.wRec!), 3, 1) as tf.Tensor2D[];
      const r = tf.sigmoid(tf.add(dr!, rr!));
      const z = tf.sigmoid(tf.add(dz!, rz!));
      const cand = tf.tanh(tf.add(dn!, tf.mul(r, tf.add(rn!, p.bRec!))));
      h = tf.add(cand, tf.mul(z, tf.sub(h, cand)));
      return h;
    });
    return readout(tf.stack(hs) as tf.Tensor3D, p.wOut!, p.bOut!);
  },
};

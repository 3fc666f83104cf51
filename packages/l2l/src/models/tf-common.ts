import * as tf from '@tensorflow/tfjs-core';
// The umbrella package's Node bundle registers every op's gradient with tfjs-core.
import '@tensorflow/tfjs';
import { matMulT as matMul, Rng, type TrialBatch } from '@ip2/snn';

export { matMul };

/**
 * Pieces shared by the TensorFlow.js baselines (SCIENCE.md §7): a wasm-friendly matMul, the task
 * loss of the spiking engines, Adam with global-norm clipping over named variables, seeded
 * initialisers and a byte format for named float32 arrays.
 */

/** x W + b for every step at once, split by step: [T, B, nIn] → T × [B, k]. */
export function inputDrive(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D[] {
  const [T, B, nIn] = x.shape;
  const k = w.shape[1]!;
  return tf.unstack(
    tf.reshape(tf.add(matMul(tf.reshape(x, [T * B, nIn]) as tf.Tensor2D, w), b), [T, B, k]),
  ) as tf.Tensor2D[];
}

/** y = h W_out + b_out for every step at once: [T, B, n] → [T, B, nOut]. */
export function readout(h: tf.Tensor3D, wOut: tf.Tensor, bOut: tf.Tensor): tf.Tensor3D {
  const [T, B, n] = h.shape;
  const nOut = wOut.shape[1]!;
  return tf.reshape(tf.add(matMul(tf.reshape(h, [T * B, n]) as tf.Tensor2D, wOut), bOut), [T, B, nOut]);
}

/** Checks a batch against the model's input and output sizes. */
export function checkBatch(nIn: number, nOut: number, b: TrialBatch): void {
  const { steps: T, batch: B } = b;
  if (b.nIn !== nIn) throw new RangeError(`batch has ${b.nIn} inputs, the model ${nIn}`);
  if (b.nOut !== nOut) throw new RangeError(`batch has ${b.nOut} outputs, the model ${nOut}`);
  if (!(T > 0 && B > 0)) throw new RangeError(`batch needs steps and trials, got ${T}×${B}`);
  if (b.inputs.length !== T * B * nIn) throw new RangeError('batch inputs do not match steps × batch × nIn');
  if (b.targets.length !== T * B * nOut) throw new RangeError('batch targets do not match steps × batch × nOut');
  if (b.mask.length !== T * B) throw new RangeError('batch mask does not match steps × batch');
}

/**
 * The spiking engines' task loss, on outputs [T, B, nOut]: 'mse' = Σ mask·(y − target)² / (nOut·Σ mask);
 * 'xent' = −Σ mask·Σ target·log softmax(y) / Σ mask. Zero when nothing is scored.
 */
export function taskLoss(kind: 'mse' | 'xent', batch: TrialBatch, outputs: tf.Tensor3D): tf.Scalar {
  const { steps: T, batch: B, nOut } = batch;
  let total = 0;
  for (let i = 0; i < batch.mask.length; i++) total += batch.mask[i]!;
  if (total === 0) return tf.scalar(0);
  const targets = tf.tensor3d(batch.targets, [T, B, nOut]);
  const mask = tf.tensor3d(batch.mask, [T, B, 1]);
  if (kind === 'mse') return tf.div(tf.sum(tf.mul(mask, tf.square(tf.sub(outputs, targets)))), total * nOut);
  return tf.div(tf.neg(tf.sum(tf.mul(mask, tf.mul(targets, tf.logSoftmax(outputs))))), total);
}

/** ε of the layer normalisation: (x − mean) / √(variance + ε). */
export const LAYER_NORM_EPS = 1e-5;

/** Layer normalisation over the last axis, with gain and bias. */
export function layerNorm(x: tf.Tensor, gain: tf.Tensor, bias: tf.Tensor, eps = LAYER_NORM_EPS): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gain), bias);
}

/** n values drawn from N(0, std²). */
export function gaussian(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}

export interface AdamSettings {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Global gradient-norm clip; 0 disables. */
  readonly clipNorm: number;
}

/** Adam's moments and step count, as plain arrays. */
export interface AdamSnapshot {
  readonly step: number;
  readonly m: Readonly<Record<string, Float32Array>>;
  readonly v: Readonly<Record<string, Float32Array>>;
}

/**
 * Adam over a dictionary of variables, its moments held as variables so an update never leaves the
 * backend. `decay` gives variables a decoupled weight-decay rate λ: w ← w − lr·λ·w before the step.
 */
export class Adam {
  private step: number;
  private readonly m: Record<string, tf.Variable> = {};
  private readonly v: Record<string, tf.Variable> = {};

  constructor(
    private readonly vars: Readonly<Record<string, tf.Variable>>,
    private readonly settings: AdamSettings,
    saved?: AdamSnapshot,
    private readonly decay: Readonly<Record<string, number>> = {},
  ) {
    this.step = saved?.step ?? 0;
    for (const [k, x] of Object.entries(vars)) {
      const moment = (a: Float32Array | undefined) => {
        if (a && a.length !== x.size)
          throw new RangeError(`Adam moment of ${k} has ${a.length} values, expected ${x.size}`);
        return tf.tidy(() => tf.variable(a ? tf.tensor(a, x.shape) : tf.zeros(x.shape), false));
      };
      this.m[k] = moment(saved?.m[k]);
      this.v[k] = moment(saved?.v[k]);
    }
  }

  /**
   * One update with learning rate `lr` from gradients keyed like the variables, clipped to the
   * global norm first. Returns the norm before clipping; call inside tf.tidy.
   */
  apply(grads: Readonly<Record<string, tf.Tensor>>, lr: number): tf.Scalar {
    const { beta1: b1, beta2: b2, eps, clipNorm } = this.settings;
    const keys = Object.keys(this.vars);
    const norm = tf.sqrt(tf.addN(keys.map((k) => tf.sum(tf.square(grads[k]!))))) as tf.Scalar;
    const scale = clipNorm > 0 ? tf.minimum(1, tf.div(clipNorm, tf.maximum(norm, 1e-30))) : tf.scalar(1);
    this.step += 1;
    const bc1 = 1 - Math.pow(b1, this.step);
    const bc2 = 1 - Math.pow(b2, this.step);
    for (const k of keys) {
      const g = tf.mul(grads[k]!, scale);
      const m = this.m[k]!;
      const v = this.v[k]!;
      m.assign(tf.add(tf.mul(b1, m), tf.mul(1 - b1, g)));
      v.assign(tf.add(tf.mul(b2, v), tf.mul(1 - b2, tf.square(g))));
      const x = this.vars[k]!;
      const lambda = this.decay[k] ?? 0;
      const w = lambda === 0 ? x : tf.add(x, tf.mul(-lr * lambda, x));
      x.assign(tf.sub(w, tf.mul(lr, tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps)))));
    }
    return norm;
  }

  /** Zero the moments and the step count (each new task). */
  reset(): void {
    this.step = 0;
    tf.tidy(() => {
      for (const x of [...Object.values(this.m), ...Object.values(this.v)]) x.assign(tf.zerosLike(x));
    });
  }

  snapshot(): AdamSnapshot {
    return { step: this.step, m: readAll(this.m), v: readAll(this.v) };
  }

  dispose(): void {
    for (const x of [...Object.values(this.m), ...Object.values(this.v)]) x.dispose();
  }
}

/** Copies of every tensor's values. */
export function readAll(ts: Readonly<Record<string, tf.Tensor>>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(ts).map(([k, t]) => [k, new Float32Array(t.dataSync() as Float32Array)]));
}

const MAGIC = 0x42325049; // 'IP2B' little-endian
const VERSION = 1;

/**
 * Named float32 arrays and a JSON header as bytes: magic, version, header length, the header
 * (with each array's name, offset and length), then the raw floats, so every value (NaN and ±∞
 * included) survives bit for bit.
 */
export function packArrays(meta: unknown, arrays: Readonly<Record<string, Float32Array>>): Uint8Array {
  let offset = 0;
  const index = Object.entries(arrays).map(([name, a]) => {
    const entry = [name, offset, a.length] as const;
    offset += a.length;
    return entry;
  });
  const json = new TextEncoder().encode(JSON.stringify({ meta, arrays: index }));
  const headerBytes = Math.ceil(json.length / 4) * 4;
  const out = new Uint8Array(12 + headerBytes + offset * 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  const floats = new Float32Array(out.buffer, 12 + headerBytes, offset);
  for (const [name, off] of index) floats.set(arrays[name]!, off);
  return out;
}

export function unpackArrays(bytes: Uint8Array): { meta: unknown; arrays: Record<string, Float32Array> } {
  if (bytes.length < 12) throw new RangeError('model bytes too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new RangeError('not an ip2 baseline model state (bad magic)');
  const version = view.getUint32(4, true);
  if (version !== VERSION) throw new RangeError(`unsupported baseline model state version ${version}`);
  const jsonLength = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLength))) as {
    meta: unknown;
    arrays: [string, number, number][];
  };
  const start = 12 + Math.ceil(jsonLength / 4) * 4;
  const total = header.arrays.reduce((n, a) => n + a[2], 0);
  if (bytes.length < start + total * 4) throw new RangeError('model bytes truncated');
  // Copy into an aligned buffer: the input may sit at any byte offset.
  const floats = new Float32Array(bytes.slice(start, start + total * 4).buffer);
  const arrays = Object.fromEntries(header.arrays.map(([name, off, len]) => [name, floats.slice(off, off + len)]));
  return { meta: header.meta, arrays };
}

import { batchAccuracy, Rng, type EngineInfo, type TrialBatch } from '@ip2/snn';
import type { Learner, LearnerEvaluation, LearnerSpec, LearnerStep } from '../learner.js';
import { rnn, rnnAlpha } from './rnn.js';
import { checkBatch, packArrays } from './tf-common.js';
import {
  baselineConfig,
  readSavedBaseline,
  type BaselineConfig,
  type BaselineOptionsInput,
  type L2Group,
} from './tf-learner.js';

/** The parameters of the leaky RNN, in the order of its initialiser and its saved state. */
const KEYS = ['wIn', 'wRec', 'b', 'wOut', 'bOut'] as const;
type Key = (typeof KEYS)[number];
const L2: Partial<Record<Key, L2Group>> = { wIn: 'in', wRec: 'rec', wOut: 'out' };

interface SavedMeta {
  readonly config: BaselineConfig;
  readonly adamStep: number;
}

const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** Buffers of one batch shape, reused while the shape stays. */
interface Workspace {
  readonly T: number;
  readonly B: number;
  /** Hidden states h[t] for t = −1 … T−1: [(T+1), B, n] (h[−1] = 0). */
  readonly h: Float64Array;
  /** softplus'(z[t]) = sigmoid(z[t]): [T, B, n]. */
  readonly slope: Float64Array;
  /** Readout [T, B, nOut] and its loss gradient. */
  readonly y: Float64Array;
  readonly dy: Float64Array;
  /** Gradient reaching h[t−1] from step t, per trial: [B, n]. */
  readonly carry: Float64Array;
  readonly dh: Float64Array;
  readonly dz: Float64Array;
}

/**
 * The `rnn` baseline (Goudar et al. 2023's leaky softplus RNN, the model of rnn.ts) as plain
 * loops over typed arrays: forward, hand-derived backpropagation through time, the L2 terms,
 * global-norm clipping and Adam, with the TensorFlow.js learner's initialisation, update rule and
 * byte format (either engine restores the other's state). Parameters and Adam moments are held in
 * float32, as saved; activations, gradients and each update are computed in float64.
 *
 * Backward, with a[t] = (1 − α) h[t−1] + α softplus(z[t]), h[t] = keep ⊙ a[t],
 * z[t] = h[t−1] W_rec + x[t] W_in + b:
 *   ∂h[t] = ∂y[t] W_outᵀ + ∂h[t] from step t+1;  ∂a = keep ⊙ ∂h[t];  ∂z = α ∂a ⊙ sigmoid(z[t]);
 *   ∂h[t−1] = (1 − α) ∂a + ∂z W_recᵀ;  ∂W_rec += h[t−1]ᵀ ∂z;  ∂W_in += x[t]ᵀ ∂z;  ∂b += ∂z.
 */
export class FusedRnnLearner implements Learner {
  readonly info: EngineInfo = { engine: 'fused', backend: 'js' };
  private readonly p: Record<Key, Float32Array>;
  private readonly m: Record<Key, Float32Array>;
  private readonly v: Record<Key, Float32Array>;
  private readonly g: Record<Key, Float64Array>;
  private adamStep: number;
  private ws: Workspace | null = null;
  private readonly keepAll: Float64Array;
  private disposed = false;

  private constructor(
    readonly config: BaselineConfig,
    params: Record<Key, Float32Array>,
    adam?: { step: number; m: Record<Key, Float32Array>; v: Record<Key, Float32Array> },
  ) {
    this.p = params;
    const zeros = () => byKey((k) => new Float32Array(params[k].length));
    this.m = adam?.m ?? zeros();
    this.v = adam?.v ?? zeros();
    this.g = byKey((k) => new Float64Array(params[k].length));
    this.adamStep = adam?.step ?? 0;
    this.keepAll = new Float64Array(config.hidden).fill(1);
  }

  /**
   * A fresh learner, initialised exactly as the TensorFlow.js one (same seed path, same draws), or
   * the one saved in `saved` (by either engine), whose own config then wins.
   */
  static create(spec: LearnerSpec, options: BaselineOptionsInput = {}, saved?: Uint8Array): FusedRnnLearner {
    if (spec.model !== 'rnn') throw new RangeError(`the fused baseline engine runs 'rnn' only, not '${spec.model}'`);
    if (!saved) {
      const config = baselineConfig(spec, options);
      const layout = rnn.init(config, Rng.seeded(config.seed, config.model, 'init'));
      return new FusedRnnLearner(
        config,
        byKey((k) => layout[k]!.values.slice()),
      );
    }
    const { config, adamStep, arrays } = readSavedBaseline(spec, saved);
    const { nIn, nOut, hidden } = config;
    const sizes: Record<Key, number> = {
      wIn: nIn * hidden,
      wRec: hidden * hidden,
      b: hidden,
      wOut: hidden * nOut,
      bOut: nOut,
    };
    const group = (g: string) =>
      byKey((k) => {
        const a = arrays[`${g}/${k}`];
        if (!a) throw new RangeError(`saved state lacks ${g}/${k}`);
        if (a.length !== sizes[k]) throw new RangeError(`saved ${g}/${k} has ${a.length} values, expected ${sizes[k]}`);
        return a;
      });
    return new FusedRnnLearner(config, group('p'), { step: adamStep, m: group('m'), v: group('v') });
  }

  get model(): string {
    return this.config.model;
  }

  private workspace(T: number, B: number): Workspace {
    const ws = this.ws;
    if (ws && ws.T === T && ws.B === B) return ws;
    const { hidden: n, nOut } = this.config;
    this.ws = {
      T,
      B,
      h: new Float64Array((T + 1) * B * n),
      slope: new Float64Array(T * B * n),
      y: new Float64Array(T * B * nOut),
      dy: new Float64Array(T * B * nOut),
      carry: new Float64Array(B * n),
      dh: new Float64Array(n),
      dz: new Float64Array(n),
    };
    return this.ws;
  }

  /** Runs the network over the batch, filling ws.h, ws.slope and ws.y. */
  private forward(batch: TrialBatch, keep: Float64Array): Workspace {
    this.assertLive();
    const { nIn, nOut, hidden: n, dt, tau } = this.config;
    checkBatch(nIn, nOut, batch);
    const { steps: T, batch: B, inputs: x } = batch;
    const ws = this.workspace(T, B);
    const { h, slope, y } = ws;
    const { wIn, wRec, b, wOut, bOut } = this.p;
    const alpha = rnnAlpha(dt, tau);
    const leak = 1 - alpha;
    const z = ws.dz; // scratch: the pre-activation of one trial at one step
    h.fill(0, 0, B * n);
    for (let t = 0; t < T; t++) {
      for (let bi = 0; bi < B; bi++) {
        const prev = (t * B + bi) * n;
        const cur = prev + B * n;
        const s = t * B + bi;
        for (let j = 0; j < n; j++) z[j] = b[j]!;
        for (let i = 0; i < nIn; i++) {
          const xi = x[s * nIn + i]!;
          if (xi === 0) continue;
          const row = i * n;
          for (let j = 0; j < n; j++) z[j] = z[j]! + xi * wIn[row + j]!;
        }
        for (let i = 0; i < n; i++) {
          const hi = h[prev + i]!;
          if (hi === 0) continue;
          const row = i * n;
          for (let j = 0; j < n; j++) z[j] = z[j]! + hi * wRec[row + j]!;
        }
        for (let j = 0; j < n; j++) {
          const zj = z[j]!;
          slope[s * n + j] = sigmoid(zj);
          h[cur + j] = keep[j]! * (leak * h[prev + j]! + alpha * softplus(zj));
        }
        for (let o = 0; o < nOut; o++) {
          let acc = bOut[o]!;
          for (let j = 0; j < n; j++) acc += h[cur + j]! * wOut[j * nOut + o]!;
          y[s * nOut + o] = acc;
        }
      }
    }
    return ws;
  }

  /** Task loss of ws.y; with `grad`, also fills ws.dy with its gradient. */
  private taskLoss(batch: TrialBatch, ws: Workspace, grad: boolean): number {
    const { nOut, loss } = this.config;
    const { targets, mask } = batch;
    const { y, dy } = ws;
    let total = 0;
    for (let s = 0; s < mask.length; s++) total += mask[s]!;
    if (grad) dy.fill(0);
    if (total === 0) return 0;
    let value = 0;
    for (let s = 0; s < mask.length; s++) {
      const w = mask[s]!;
      if (w === 0) continue;
      const base = s * nOut;
      if (loss === 'mse') {
        for (let o = 0; o < nOut; o++) {
          const e = y[base + o]! - targets[base + o]!;
          value += w * e * e;
          if (grad) dy[base + o] = (2 * w * e) / (total * nOut);
        }
      } else {
        let max = -Infinity;
        for (let o = 0; o < nOut; o++) max = Math.max(max, y[base + o]!);
        let sum = 0;
        for (let o = 0; o < nOut; o++) sum += Math.exp(y[base + o]! - max);
        const lse = max + Math.log(sum);
        let mass = 0;
        for (let o = 0; o < nOut; o++) {
          const t = targets[base + o]!;
          value -= w * t * (y[base + o]! - lse);
          mass += t;
        }
        if (grad) {
          for (let o = 0; o < nOut; o++) {
            dy[base + o] = (w * (mass * Math.exp(y[base + o]! - lse) - targets[base + o]!)) / total;
          }
        }
      }
    }
    return value / (loss === 'mse' ? total * nOut : total);
  }

  /** Fills this.g with the gradient of the total loss; returns [total loss, task loss]. */
  private backward(batch: TrialBatch): [number, number] {
    const c = this.config;
    const ws = this.forward(batch, this.keepAll);
    const task = this.taskLoss(batch, ws, true);
    const { nIn, nOut, hidden: n } = c;
    const { steps: T, batch: B, inputs: x } = batch;
    const { h, slope, dy, carry, dh, dz } = ws;
    const { wRec, wOut } = this.p;
    const g = this.g;
    for (const k of KEYS) g[k].fill(0);
    carry.fill(0);
    const alpha = rnnAlpha(c.dt, c.tau);
    const leak = 1 - alpha;
    for (let t = T - 1; t >= 0; t--) {
      for (let bi = 0; bi < B; bi++) {
        const s = t * B + bi;
        const prev = s * n;
        const cur = prev + B * n;
        const cb = bi * n;
        for (let o = 0; o < nOut; o++) g.bOut[o] = g.bOut[o]! + dy[s * nOut + o]!;
        for (let j = 0; j < n; j++) {
          let acc = carry[cb + j]!;
          const hj = h[cur + j]!;
          const row = j * nOut;
          for (let o = 0; o < nOut; o++) {
            const d = dy[s * nOut + o]!;
            acc += d * wOut[row + o]!;
            g.wOut[row + o] = g.wOut[row + o]! + hj * d;
          }
          // keep is all ones in training (lesions act in evaluation only).
          dh[j] = acc;
          dz[j] = alpha * acc * slope[prev + j]!;
        }
        for (let j = 0; j < n; j++) g.b[j] = g.b[j]! + dz[j]!;
        for (let i = 0; i < nIn; i++) {
          const xi = x[s * nIn + i]!;
          if (xi === 0) continue;
          const row = i * n;
          for (let j = 0; j < n; j++) g.wIn[row + j] = g.wIn[row + j]! + xi * dz[j]!;
        }
        for (let i = 0; i < n; i++) {
          const hi = h[prev + i]!;
          const row = i * n;
          let acc = leak * dh[i]!;
          if (hi === 0) {
            for (let j = 0; j < n; j++) acc += wRec[row + j]! * dz[j]!;
          } else {
            for (let j = 0; j < n; j++) {
              const d = dz[j]!;
              acc += wRec[row + j]! * d;
              g.wRec[row + j] = g.wRec[row + j]! + hi * d;
            }
          }
          carry[cb + i] = acc;
        }
      }
    }
    let loss = task;
    const lambda: Record<L2Group, number> = { in: c.lambdaIn, rec: c.lambdaRec, out: c.lambdaOut };
    for (const k of KEYS) {
      const group = L2[k];
      if (!group || lambda[group] === 0) continue;
      const w = this.p[k];
      const gk = g[k];
      const scale = lambda[group] / w.length;
      let sq = 0;
      for (let i = 0; i < w.length; i++) {
        const wi = w[i]!;
        sq += wi * wi;
        gk[i] = gk[i]! + 2 * scale * wi;
      }
      loss += scale * sq;
    }
    return [loss, task];
  }

  /** Loss and gradient of every parameter, no update (for checks and analyses). */
  gradients(batch: TrialBatch): { loss: number; taskLoss: number; grads: Record<string, Float32Array> } {
    const [loss, taskLoss] = this.backward(batch);
    return { loss, taskLoss, grads: byKey((k) => Float32Array.from(this.g[k])) };
  }

  trainStep(batch: TrialBatch): LearnerStep {
    const [loss, taskLoss] = this.backward(batch);
    const { beta1: b1, beta2: b2, eps, clipNorm, lr } = this.config;
    let sq = 0;
    for (const k of KEYS) for (const gi of this.g[k]) sq += gi * gi;
    const norm = Math.sqrt(sq);
    const scale = clipNorm > 0 ? Math.min(1, clipNorm / Math.max(norm, 1e-30)) : 1;
    this.adamStep += 1;
    const bc1 = 1 - Math.pow(b1, this.adamStep);
    const bc2 = 1 - Math.pow(b2, this.adamStep);
    for (const k of KEYS) {
      const gk = this.g[k];
      const m = this.m[k];
      const v = this.v[k];
      const p = this.p[k];
      for (let i = 0; i < p.length; i++) {
        const gi = gk[i]! * scale;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i]! - (lr * (m[i]! / bc1)) / (Math.sqrt(v[i]! / bc2) + eps);
      }
    }
    return { loss, taskLoss, meanU2: Number.NaN };
  }

  evaluate(batch: TrialBatch, lesion?: Uint8Array): LearnerEvaluation {
    let keep = this.keepAll;
    if (lesion) {
      if (lesion.length !== this.config.hidden) {
        throw new RangeError(`lesion has ${lesion.length} entries, the model ${this.config.hidden} units`);
      }
      keep = Float64Array.from(lesion, (s) => (s ? 0 : 1));
    }
    const ws = this.forward(batch, keep);
    const taskLoss = this.taskLoss(batch, ws, false);
    const outputs = Float32Array.from(ws.y);
    return {
      taskLoss,
      accuracy: batchAccuracy(batch, outputs),
      firingRate: Number.NaN,
      activeNeurons: Number.NaN,
      neurons: this.config.hidden,
      outputs,
    };
  }

  startTask(): void {
    this.assertLive();
    this.adamStep = 0;
    for (const k of KEYS) {
      this.m[k].fill(0);
      this.v[k].fill(0);
    }
  }

  firstConvergence(): void {}

  /** Copies of the parameters, by name. */
  parameters(): Record<string, Float32Array> {
    this.assertLive();
    return byKey((k) => this.p[k].slice());
  }

  /** Overwrites one parameter (for checks and analyses). */
  setParameter(name: string, values: Float32Array): void {
    this.assertLive();
    const p = (this.p as Record<string, Float32Array>)[name];
    if (!p) throw new RangeError(`no parameter '${name}'; valid: ${KEYS.join(', ')}`);
    if (values.length !== p.length)
      throw new RangeError(`parameter ${name} has ${p.length} values, got ${values.length}`);
    p.set(values);
  }

  recurrentWeights(): { readonly n: number; readonly w: Float32Array } {
    this.assertLive();
    return { n: this.config.hidden, w: this.p.wRec.slice() };
  }

  save(): Uint8Array {
    this.assertLive();
    const arrays: Record<string, Float32Array> = {};
    for (const k of KEYS) arrays[`p/${k}`] = this.p[k];
    for (const k of KEYS) arrays[`m/${k}`] = this.m[k];
    for (const k of KEYS) arrays[`v/${k}`] = this.v[k];
    const meta: SavedMeta = { config: this.config, adamStep: this.adamStep };
    return packArrays(meta, arrays);
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('learner was disposed');
  }

  dispose(): void {
    this.disposed = true;
    this.ws = null;
  }
}

/** One value per parameter, by name. */
function byKey<U>(f: (k: Key) => U): Record<Key, U> {
  return Object.fromEntries(KEYS.map((k) => [k, f(k)])) as Record<Key, U>;
}

import * as tf from '@tensorflow/tfjs-core';
// The umbrella package's Node bundle registers every op's gradient with tfjs-core.
import '@tensorflow/tfjs';
import { hasAdaptation, type NetworkConfig } from '../model/config.js';
import type {
  Engine,
  EngineInfo,
  EvalOptions,
  Evaluation,
  Gradients,
  LossTerms,
  NetworkState,
  ParamKey,
  Params,
  StepStats,
  TrialBatch,
} from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { checkBatch, decayRate, learningRate, paramSizes, tauRange, trainableKeys, noisyInputs } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { Rng } from '../rng.js';
import { resolveBackend, type BackendOptions } from './backend.js';
import { MG_H, MG_S, type SurrogateParams } from '../model/surrogates.js';
import { batchAccuracy } from '../metrics.js';
import { matMulT as matMul } from './tf-ops.js';

const ALL_KEYS: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

/** ψ(v; θ) as tensor ops (see surrogates.ts for the closed forms). */
function surrogateTensor(p: SurrogateParams, v: tf.Tensor, theta: tf.Tensor): tf.Tensor {
  const x = tf.div(v, theta);
  switch (p.name) {
    case 'fast-sigmoid': {
      const d = tf.add(1, tf.mul(p.kappa, tf.abs(x)));
      return tf.div(p.gamma, tf.square(d));
    }
    case 'arctan': {
      const z = tf.mul((Math.PI * p.kappa) / 2, x);
      return tf.div(p.gamma, tf.add(1, tf.square(z)));
    }
    case 'multi-gaussian': {
      const s = 1 / p.kappa;
      const w2 = 2 * MG_S * MG_S * s * s;
      const c = 1 + MG_H - 2 * MG_H * Math.exp(-(s * s) / w2);
      const centre = tf.mul(1 + MG_H, tf.exp(tf.div(tf.neg(tf.square(x)), 2 * s * s)));
      const right = tf.mul(MG_H, tf.exp(tf.div(tf.neg(tf.square(tf.sub(x, s))), w2)));
      const left = tf.mul(MG_H, tf.exp(tf.div(tf.neg(tf.square(tf.add(x, s))), w2)));
      return tf.mul(p.gamma / c, tf.sub(tf.sub(centre, right), left));
    }
  }
}

/** Heaviside forward, surrogate backward; θ in the surrogate's scaling is treated as a constant. */
export function makeSpike(p: SurrogateParams): (v: tf.Tensor, theta: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((v: tf.Tensor, theta: tf.Tensor, save: tf.GradSaveFunc) => {
    save([v, theta]);
    return {
      value: tf.cast(tf.greater(v, 0), 'float32'),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sv, st] = saved as [tf.Tensor, tf.Tensor];
        return [tf.mul(dy as tf.Tensor, surrogateTensor(p, sv, st)), tf.zerosLike(st)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (v: tf.Tensor, theta: tf.Tensor) => tf.Tensor;
}

interface Forward {
  readonly loss: tf.Scalar;
  /** [loss, task, homeo, l2, meanU2, rate] */
  readonly terms: tf.Tensor1D;
  readonly outputs: tf.Tensor3D;
  /** Spikes per neuron over the batch, [N]. */
  readonly counts: tf.Tensor1D;
}

/**
 * The reference engine: the model of SCIENCE.md §2–4 written as TensorFlow.js ops, differentiated
 * by autodiff through the unrolled trial (BPTT).
 */
export class TfjsEngine implements Engine {
  readonly info: EngineInfo;
  readonly config: NetworkConfig;
  private readonly vars: Record<ParamKey, tf.Variable>;
  private readonly trainable: ParamKey[];
  private m: Partial<Record<ParamKey, tf.Variable>> = {};
  private v: Partial<Record<ParamKey, tf.Variable>> = {};
  private step: number;
  private homeostaticTarget: number | null;
  private readonly rng: Rng;
  private readonly spike: (v: tf.Tensor, theta: tf.Tensor) => tf.Tensor;
  private disposed = false;

  private constructor(state: NetworkState, backend: string) {
    this.config = state.config;
    this.info = { engine: 'tfjs', backend };
    const sizes = paramSizes(state.config);
    this.vars = Object.fromEntries(
      ALL_KEYS.map((k) => {
        const a = state.params[k];
        if (a.length !== sizes[k]) throw new RangeError(`parameter ${k} has ${a.length} values, expected ${sizes[k]}`);
        return [k, tf.tidy(() => tf.variable(tf.tensor1d(a), true, undefined, 'float32'))];
      }),
    ) as Record<ParamKey, tf.Variable>;
    this.trainable = trainableKeys(state.config);
    this.step = state.adam.step;
    for (const k of this.trainable) {
      const m = state.adam.m[k];
      const v = state.adam.v[k];
      this.m[k] = tf.tidy(() => tf.variable(m ? tf.tensor1d(m) : tf.zeros([sizes[k]]), false));
      this.v[k] = tf.tidy(() => tf.variable(v ? tf.tensor1d(v) : tf.zeros([sizes[k]]), false));
    }
    this.homeostaticTarget = state.homeostaticTarget;
    this.rng = Rng.fromState(state.rng);
    this.spike = makeSpike(state.config.surrogate);
  }

  /** An engine on the process's TensorFlow.js backend (resolveBackend, with `backend`'s options). */
  static async create(state: NetworkState, backend: BackendOptions = {}): Promise<TfjsEngine> {
    const choice = await resolveBackend(backend);
    return new TfjsEngine(state, choice.backend);
  }

  private forward(batch: TrialBatch, inputs: Float32Array, lesion?: Uint8Array): Forward {
    const c = this.config;
    const { steps: T, batch: B } = batch;
    const N = c.nRec;
    const { dt } = c;
    const V = this.vars;
    const W = {
      wIn: tf.reshape(V.wIn, [c.nIn, N]),
      wRec: tf.reshape(V.wRec, [N, N]),
      wOut: tf.reshape(V.wOut, [N, c.nOut]),
    };
    // Inside the pass the clamp is applied only in 'forward' mode; in 'step' mode the raw values are
    // clamped after each optimiser step, so they are already in range here.
    const alpha = (raw: tf.Tensor) =>
      tf.exp(
        tf.div(
          -dt,
          c.tauClamp.mode === 'forward' ? tf.clipByValue(tf.exp(raw), c.tauClamp.min, c.tauClamp.max) : tf.exp(raw),
        ),
      );
    const spikeReadout = c.readout === 'spikes';
    const kappa = Math.exp(-dt / c.tauOut);
    const aD = alpha(V.tauD);
    const aS = alpha(V.tauS);
    const theta = tf.softplus(V.theta);
    const adapt = hasAdaptation(c);
    const beta = adapt ? tf.softplus(V.beta) : null;
    const rho = adapt ? alpha(V.tauA) : null;
    const keep = lesion ? tf.tensor1d(Float32Array.from(lesion, (x) => (x ? 0 : 1))) : null;

    let d: tf.Tensor = tf.zeros([B, N]);
    let u: tf.Tensor = tf.zeros([B, N]);
    let a: tf.Tensor = tf.zeros([B, N]);
    let s: tf.Tensor = tf.zeros([B, N]);
    let thr: tf.Tensor = theta;
    let z: tf.Tensor = tf.zeros([B, N]);
    let counts: tf.Tensor = tf.zeros([N]);
    let sumU2: tf.Tensor = tf.scalar(0);
    let sumS: tf.Tensor = tf.scalar(0);
    const ys: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const x = tf.tensor2d(inputs.subarray(t * B * c.nIn, (t + 1) * B * c.nIn), [B, c.nIn]);
      const I = tf.add(tf.add(matMul(x, W.wIn), matMul(s as tf.Tensor2D, W.wRec)), V.b);
      d = tf.add(tf.mul(aD, d), tf.mul(tf.sub(1, aD), I));
      const uNew = tf.sub(tf.add(tf.mul(aS, u), tf.mul(tf.sub(1, aS), d)), tf.mul(thr, s));
      if (adapt) {
        a = tf.add(tf.mul(rho!, a), tf.mul(tf.sub(1, rho!), s));
        thr = tf.add(theta, tf.mul(beta!, a));
      }
      u = uNew;
      if (c.spike === 'soft') {
        s = tf.sigmoid(tf.mul(c.surrogate.kappa, tf.div(tf.sub(u, thr), theta)));
      } else {
        s = this.spike(tf.sub(u, thr), tf.broadcastTo(theta, [B, N]));
      }
      const uOut = keep ? tf.mul(u, keep) : u;
      if (keep) s = tf.mul(s, keep);
      sumU2 = tf.add(sumU2, tf.sum(tf.square(u)));
      sumS = tf.add(sumS, tf.sum(s));
      counts = tf.add(counts, tf.sum(s, 0));
      if (spikeReadout) z = tf.add(tf.mul(kappa, z), tf.mul(1 - kappa, s));
      ys.push(tf.add(matMul((spikeReadout ? z : uOut) as tf.Tensor2D, W.wOut), V.bOut));
    }
    const outputs = tf.stack(ys) as tf.Tensor3D; // [T, B, nOut]
    const taskLoss = this.taskLoss(batch, outputs);
    const meanU2 = tf.div(sumU2, T * B * N);
    const homeo =
      this.homeostaticTarget === null || c.loss.lambdaH === 0
        ? tf.scalar(0)
        : tf.mul(c.loss.lambdaH, tf.abs(tf.sub(meanU2, this.homeostaticTarget)));
    const l2 =
      c.weightDecay.mode !== 'loss'
        ? tf.scalar(0)
        : tf.addN([
            tf.mul(c.loss.lambdaIn, tf.mean(tf.square(V.wIn))),
            tf.mul(c.loss.lambdaRec, tf.mean(tf.square(V.wRec))),
            tf.mul(c.loss.lambdaOut, tf.mean(tf.square(V.wOut))),
          ]);
    const loss = tf.addN([taskLoss, homeo, l2]) as tf.Scalar;
    const terms = tf.stack([loss, taskLoss, homeo, l2, meanU2, tf.div(sumS, T * B * N)]) as tf.Tensor1D;
    return { loss, terms, outputs, counts: counts as tf.Tensor1D };
  }

  private taskLoss(batch: TrialBatch, outputs: tf.Tensor3D): tf.Scalar {
    const c = this.config;
    const { steps: T, batch: B } = batch;
    let total = 0;
    for (let i = 0; i < batch.mask.length; i++) total += batch.mask[i] as number;
    if (total === 0) return tf.scalar(0);
    const targets = tf.tensor3d(batch.targets, [T, B, c.nOut]);
    const mask = tf.tensor3d(batch.mask, [T, B, 1]);
    if (c.loss.kind === 'mse') {
      return tf.div(tf.sum(tf.mul(mask, tf.square(tf.sub(outputs, targets)))), total * c.nOut) as tf.Scalar;
    }
    const logp = tf.logSoftmax(outputs);
    return tf.div(tf.neg(tf.sum(tf.mul(mask, tf.mul(targets, logp)))), total) as tf.Scalar;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('engine was disposed');
  }

  trainStep(batch: TrialBatch): StepStats {
    this.assertLive();
    const c = this.config;
    checkBatch(c, batch);
    const inputs = noisyInputs(batch, c.inputNoise, this.rng);
    this.step += 1;
    const stepNo = this.step;
    const bc1 = 1 - Math.pow(c.optimizer.beta1, stepNo);
    const bc2 = 1 - Math.pow(c.optimizer.beta2, stepNo);
    const data = tf.tidy(() => {
      let terms: tf.Tensor1D | null = null;
      const varList = this.trainable.map((k) => this.vars[k]);
      if (varList.length === 0) {
        terms = this.forward(batch, inputs).terms;
        return tf.concat([terms, tf.zeros([1])]);
      }
      const { grads } = tf.variableGrads(() => {
        const f = this.forward(batch, inputs);
        terms = tf.keep(f.terms);
        return f.loss;
      }, varList);
      // A learnable property may not enter the model (τ_a without β): its gradient is zero.
      const gs = this.trainable.map(
        (k) => (grads[this.vars[k].name] as tf.Tensor | undefined) ?? tf.zerosLike(this.vars[k]),
      );
      const norm = tf.sqrt(tf.addN(gs.map((g) => tf.sum(tf.square(g)))));
      const scale =
        c.optimizer.clipNorm > 0 ? tf.minimum(1, tf.div(c.optimizer.clipNorm, tf.maximum(norm, 1e-30))) : tf.scalar(1);
      const { beta1: b1, beta2: b2, eps } = c.optimizer;
      const sgd = c.optimizer.properties === 'sgd';
      this.trainable.forEach((k, i) => {
        const g = tf.mul(gs[i]!, scale);
        const lr = learningRate(c, k);
        const isProperty = (PROPERTY_KEYS as readonly string[]).includes(k);
        // Decoupled weight decay first (w ← w − lr·λ·w), then the optimiser's step.
        const lambda = decayRate(c, k);
        const w = lambda === 0 ? this.vars[k] : tf.add(this.vars[k], tf.mul(-lr * lambda, this.vars[k]));
        let next: tf.Tensor;
        if (isProperty && sgd) {
          next = tf.sub(w, tf.mul(lr, g));
        } else {
          const m = this.m[k]!;
          const v = this.v[k]!;
          m.assign(tf.add(tf.mul(b1, m), tf.mul(1 - b1, g)));
          v.assign(tf.add(tf.mul(b2, v), tf.mul(1 - b2, tf.square(g))));
          const upd = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
          next = tf.sub(w, tf.mul(lr, upd));
        }
        const range = tauRange(c, k);
        this.vars[k].assign(range ? tf.clipByValue(next, range[0], range[1]) : next);
      });
      const out = tf.concat([terms!, tf.reshape(norm, [1])]);
      (terms as tf.Tensor | null)?.dispose();
      return out;
    });
    const out = data.dataSync();
    data.dispose();
    return { ...termsFrom(out), gradNorm: out[6] as number };
  }

  evaluate(batch: TrialBatch, options: EvalOptions = {}): Evaluation {
    this.assertLive();
    checkBatch(this.config, batch);
    const [terms, outputs, counts] = tf.tidy(() => {
      const f = this.forward(batch, batch.inputs, options.lesion);
      return [f.terms, f.outputs, f.counts] as const;
    });
    const t = terms.dataSync();
    const y = outputs.dataSync() as Float32Array;
    const n = counts.dataSync();
    terms.dispose();
    outputs.dispose();
    counts.dispose();
    let active = 0;
    for (const x of n) if (x > 0) active++;
    return {
      ...termsFrom(t),
      outputs: new Float32Array(y),
      accuracy: batchAccuracy(batch, y),
      activeNeurons: active,
    };
  }

  gradients(batch: TrialBatch): Gradients {
    this.assertLive();
    checkBatch(this.config, batch);
    const adapt = hasAdaptation(this.config);
    // β and τ_a do not enter the model without adaptation; β's raw value is −∞ there.
    const keys = ALL_KEYS.filter((k) => adapt || (k !== 'beta' && k !== 'tauA'));
    const { grads, terms } = tf.tidy(() => {
      let kept: tf.Tensor1D | null = null;
      const r = tf.variableGrads(
        () => {
          const f = this.forward(batch, batch.inputs);
          kept = tf.keep(f.terms);
          return f.loss;
        },
        keys.map((k) => this.vars[k]),
      );
      return { grads: r.grads, terms: kept! };
    });
    const out = {} as Params;
    const sizes = paramSizes(this.config);
    for (const k of ALL_KEYS) {
      const g = grads[this.vars[k].name];
      out[k] = g ? new Float32Array(g.dataSync()) : new Float32Array(sizes[k]);
      g?.dispose();
    }
    const t = terms.dataSync();
    terms.dispose();
    return { ...termsFrom(t), grads: out };
  }

  resetOptimizer(): void {
    this.assertLive();
    this.step = 0;
    tf.tidy(() => {
      for (const k of this.trainable) {
        this.m[k]!.assign(tf.zerosLike(this.m[k]!));
        this.v[k]!.assign(tf.zerosLike(this.v[k]!));
      }
    });
  }

  setHomeostaticTarget(value: number | null): void {
    this.homeostaticTarget = value;
  }

  snapshot(): NetworkState {
    this.assertLive();
    const params = Object.fromEntries(
      ALL_KEYS.map((k) => [k, new Float32Array(this.vars[k].dataSync() as Float32Array)]),
    ) as Params;
    const m: Partial<Params> = {};
    const v: Partial<Params> = {};
    for (const k of this.trainable) {
      m[k] = new Float32Array(this.m[k]!.dataSync() as Float32Array);
      v[k] = new Float32Array(this.v[k]!.dataSync() as Float32Array);
    }
    return {
      config: this.config,
      params,
      adam: { step: this.step, m, v },
      homeostaticTarget: this.homeostaticTarget,
      rng: this.rng.state(),
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const x of [...Object.values(this.vars), ...Object.values(this.m), ...Object.values(this.v)]) x?.dispose();
  }
}

function termsFrom(a: ArrayLike<number>): LossTerms {
  return {
    loss: a[0]!,
    taskLoss: a[1]!,
    homeoLoss: a[2]!,
    l2Loss: a[3]!,
    meanU2: a[4]!,
    firingRate: a[5]!,
  };
}

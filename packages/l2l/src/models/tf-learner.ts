import * as tf from '@tensorflow/tfjs-core';
import { batchAccuracy, resolveBackend, Rng, type BackendOptions, type EngineInfo, type TrialBatch } from '@ip2/snn';
import { z } from 'zod';
import type { Learner, LearnerEvaluation, LearnerSpec, LearnerStep } from '../learner.js';
import { Adam, checkBatch, packArrays, readAll, taskLoss, unpackArrays, type AdamSnapshot } from './tf-common.js';

/**
 * Settings of the non-spiking baselines beyond LearnerSpec. Defaults: the λs and Adam of
 * SCIENCE.md §4 (Goudar's code); each model reads only the fields it needs.
 */
export const baselineOptionsSchema = z
  .object({
    /** λ of mean(W²) for the input weights. */
    lambdaIn: z.number().finite().min(0).default(1e-4),
    /** λ of mean(W²) for the recurrent / mixing weights. */
    lambdaRec: z.number().finite().min(0).default(1e-3),
    /** λ of mean(W²) for the readout weights. */
    lambdaOut: z.number().finite().min(0).default(0.1),
    beta1: z.number().min(0).lt(1).default(0.3),
    beta2: z.number().min(0).lt(1).default(0.999),
    eps: z.number().finite().positive().default(1e-8),
    /** Global gradient-norm clip; 0 disables. */
    clipNorm: z.number().finite().min(0).default(1),
    /** rnn: unit time constant τ in ms (α = min(1, dt/τ)). */
    tau: z.number().finite().positive().default(100),
    /** rnn: W_rec ~ N(0, gain²/hidden). */
    gain: z.number().finite().min(0).default(1.5),
    /** attn-*: MLP width as a multiple of the model width. */
    mlpRatio: z.number().int().min(1).max(16).default(4),
    /**
     * The weight penalty, as the spiking network's (SCIENCE.md §4): 'decoupled' (AdamW-style,
     * w ← w − lr·λ·w before the optimiser's step, outside Adam's normalisation, with the rates
     * `in`, `rec`, `out` per L2 group) or 'loss' (λ_in, λ_rec, λ_out · mean(W²) inside the loss
     * and so inside the gradient Adam normalises; the only form before decoupled decay existed).
     */
    weightDecay: z
      .object({
        mode: z.enum(['decoupled', 'loss']).default('decoupled'),
        in: z.number().finite().min(0).default(1e-2),
        rec: z.number().finite().min(0).default(1e-2),
        out: z.number().finite().min(0).default(1e-2),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type BaselineOptionsInput = z.input<typeof baselineOptionsSchema>;
export type BaselineOptions = z.output<typeof baselineOptionsSchema>;

/** Everything a baseline is built from; saved with its state. */
export interface BaselineConfig extends LearnerSpec, BaselineOptions {}

/** Which L2 term a weight matrix falls under (λ_in, λ_rec or λ_out · mean(W²)); none for biases and gains. */
export type L2Group = 'in' | 'rec' | 'out';

export interface ParamInit {
  readonly shape: readonly number[];
  readonly values: Float32Array;
  readonly l2?: L2Group;
}

/** λ of each L2 group inside the loss (0 everywhere under decoupled decay). */
export function lossPenalty(c: BaselineConfig): Record<L2Group, number> {
  if (c.weightDecay.mode !== 'loss') return { in: 0, rec: 0, out: 0 };
  return { in: c.lambdaIn, rec: c.lambdaRec, out: c.lambdaOut };
}

/** Decoupled decay rate λ of each L2 group (0 everywhere when the penalty is in the loss). */
export function decayRates(c: BaselineConfig): Record<L2Group, number> {
  if (c.weightDecay.mode !== 'decoupled') return { in: 0, rec: 0, out: 0 };
  return { in: c.weightDecay.in, rec: c.weightDecay.rec, out: c.weightDecay.out };
}

/** A baseline's architecture: its parameters and its forward pass; the learner does the rest. */
export interface Architecture {
  /** Throws a RangeError naming the field when the config does not fit the model. */
  check?(c: BaselineConfig): void;
  /** Parameters with their seeded initial values. */
  init(c: BaselineConfig, rng: Rng): Record<string, ParamInit>;
  /**
   * Readout [T, B, nOut] from inputs [T, B, nIn]. `keep` [hidden] (1 = kept, 0 = silenced) is
   * passed only to architectures with `lesion`.
   */
  forward(c: BaselineConfig, p: Readonly<Record<string, tf.Tensor>>, x: tf.Tensor3D, keep?: tf.Tensor1D): tf.Tensor3D;
  /** Parameter holding the recurrent matrix [pre][post], for network analyses. */
  readonly recurrent?: string;
  /** Whether `evaluate(batch, lesion)` silences hidden units. */
  readonly lesion?: boolean;
}

interface Objective {
  readonly loss: tf.Scalar;
  readonly task: tf.Scalar;
  readonly outputs: tf.Tensor3D;
}

/** Validates spec and options; RangeError naming the field on failure. */
export function baselineConfig(spec: LearnerSpec, options: BaselineOptionsInput = {}): BaselineConfig {
  const count = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  };
  count('nIn', spec.nIn);
  count('nOut', spec.nOut);
  count('hidden', spec.hidden);
  if (!(spec.dt > 0 && Number.isFinite(spec.dt))) throw new RangeError(`dt must be positive, got ${spec.dt}`);
  if (!(spec.lr >= 0 && Number.isFinite(spec.lr))) throw new RangeError(`lr must be non-negative, got ${spec.lr}`);
  if (spec.loss !== 'mse' && spec.loss !== 'xent')
    throw new RangeError(`loss must be 'mse' or 'xent', got '${spec.loss}'`);
  const r = baselineOptionsSchema.safeParse(options);
  if (!r.success) {
    throw new RangeError(r.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '));
  }
  const { model, nIn, nOut, hidden, dt, seed, loss, lr } = spec;
  return { model, nIn, nOut, hidden, dt, seed, loss, lr, ...r.data };
}

interface SavedMeta {
  readonly config: BaselineConfig;
  readonly adamStep: number;
}

/**
 * A baseline's saved bytes (either engine's): its config, validated again (options added since the
 * save take their defaults), Adam's step count and the named arrays. RangeError when the bytes are
 * not a state of `spec.model`.
 */
export function readSavedBaseline(
  spec: LearnerSpec,
  saved: Uint8Array,
): { config: BaselineConfig; adamStep: number; arrays: Record<string, Float32Array> } {
  const { meta, arrays } = unpackArrays(saved);
  const { config: stored, adamStep } = meta as SavedMeta;
  if (stored?.model !== spec.model) {
    throw new RangeError(`saved state is of model '${String(stored?.model)}', not '${spec.model}'`);
  }
  const { model, nIn, nOut, hidden, dt, seed, loss, lr, ...rest } = stored;
  // A state saved before decoupled decay existed was trained with the penalty in the loss.
  const options: BaselineOptionsInput = { weightDecay: { mode: 'loss' }, ...(rest as BaselineOptionsInput) };
  return { config: baselineConfig({ model, nIn, nOut, hidden, dt, seed, loss, lr }, options), adamStep, arrays };
}

/**
 * A baseline trained like the spiking models: loss = task loss (+ Σ_g λ_g Σ_{W ∈ g} mean(W²) when
 * the penalty is in the loss), Adam with global-norm clipping after decoupled weight decay (when
 * decoupled), one update per `trainStep`. Non-spiking: `meanU2`, `firingRate` and `activeNeurons`
 * are NaN and `firstConvergence` does nothing.
 */
export class BaselineLearner implements Learner {
  readonly info: EngineInfo;
  private readonly vars: Record<string, tf.Variable>;
  /** The L2 group of each regularised weight. */
  private readonly l2: readonly (readonly [string, L2Group])[];
  private readonly adam: Adam;
  private disposed = false;

  /** The recurrent matrix [pre][post], for architectures that have one. */
  readonly recurrentWeights?: () => { readonly n: number; readonly w: Float32Array };

  private constructor(
    readonly config: BaselineConfig,
    private readonly arch: Architecture,
    layout: Readonly<Record<string, ParamInit>>,
    backend: string,
    adam?: AdamSnapshot,
  ) {
    this.info = { engine: 'tfjs', backend };
    this.vars = Object.fromEntries(
      Object.entries(layout).map(([k, p]) => [k, tf.tidy(() => tf.variable(tf.tensor(p.values, [...p.shape]), true))]),
    );
    this.l2 = Object.entries(layout).flatMap(([k, p]) => (p.l2 ? [[k, p.l2] as const] : []));
    const rates = decayRates(config);
    const decay = Object.fromEntries(this.l2.map(([k, g]) => [k, rates[g]]));
    this.adam = new Adam(this.vars, config, adam, decay);
    const rec = arch.recurrent;
    if (rec) {
      this.recurrentWeights = () => {
        this.assertLive();
        return { n: config.hidden, w: new Float32Array(this.vars[rec]!.dataSync() as Float32Array) };
      };
    }
  }

  /**
   * A fresh learner (parameters drawn from `Rng.seeded(seed, model, 'init')`), or the one saved in
   * `saved`, whose own config then wins over `spec` and `options`. On the process's TensorFlow.js
   * backend (resolveBackend, with `tf`'s options).
   */
  static async create(
    arch: Architecture,
    spec: LearnerSpec,
    options: BaselineOptionsInput = {},
    saved?: Uint8Array,
    tf: BackendOptions = {},
  ): Promise<BaselineLearner> {
    const { backend } = await resolveBackend(tf);
    if (!saved) {
      const config = baselineConfig(spec, options);
      arch.check?.(config);
      return new BaselineLearner(
        config,
        arch,
        arch.init(config, Rng.seeded(config.seed, config.model, 'init')),
        backend,
      );
    }
    const { config, adamStep, arrays } = readSavedBaseline(spec, saved);
    arch.check?.(config);
    const layout = arch.init(config, Rng.seeded(config.seed, config.model, 'init'));
    const group = (g: string) => {
      const out: Record<string, Float32Array> = {};
      for (const [k, p] of Object.entries(layout)) {
        const a = arrays[`${g}/${k}`];
        if (!a) throw new RangeError(`saved state lacks ${g}/${k}`);
        if (a.length !== p.values.length) {
          throw new RangeError(`saved ${g}/${k} has ${a.length} values, expected ${p.values.length}`);
        }
        out[k] = a;
      }
      return out;
    };
    const params = group('p');
    const restored = Object.fromEntries(Object.entries(layout).map(([k, p]) => [k, { ...p, values: params[k]! }]));
    return new BaselineLearner(config, arch, restored, backend, { step: adamStep, m: group('m'), v: group('v') });
  }

  get model(): string {
    return this.config.model;
  }

  private objective(batch: TrialBatch, x: tf.Tensor3D, keep?: tf.Tensor1D): Objective {
    const c = this.config;
    const outputs = this.arch.forward(c, this.vars, x, keep);
    const task = taskLoss(c.loss, batch, outputs);
    const lambda = lossPenalty(c);
    const terms: tf.Tensor[] = [task];
    for (const [k, g] of this.l2) {
      if (lambda[g] > 0) terms.push(tf.mul(lambda[g], tf.mean(tf.square(this.vars[k]!))));
    }
    return { loss: (terms.length === 1 ? task : tf.addN(terms)) as tf.Scalar, task, outputs };
  }

  private inputs(batch: TrialBatch): tf.Tensor3D {
    this.assertLive();
    checkBatch(this.config.nIn, this.config.nOut, batch);
    return tf.tensor3d(batch.inputs, [batch.steps, batch.batch, batch.nIn]);
  }

  /** Loss and gradient of every parameter, no update (for checks and analyses). */
  gradients(batch: TrialBatch): { loss: number; taskLoss: number; grads: Record<string, Float32Array> } {
    const { grads, terms } = tf.tidy(() => {
      const x = this.inputs(batch);
      let task: tf.Scalar | null = null;
      const r = tf.variableGrads(() => {
        const f = this.objective(batch, x);
        task = tf.keep(f.task);
        return f.loss;
      }, Object.values(this.vars));
      const terms = tf.stack([r.value, task!]);
      (task as tf.Scalar | null)?.dispose();
      return { grads: r.grads, terms };
    });
    const t = terms.dataSync();
    const out = Object.fromEntries(
      Object.entries(this.vars).map(([k, v]) => [k, new Float32Array(grads[v.name]!.dataSync() as Float32Array)]),
    );
    tf.dispose([terms, ...Object.values(grads)]);
    return { loss: t[0]!, taskLoss: t[1]!, grads: out };
  }

  trainStep(batch: TrialBatch): LearnerStep {
    const data = tf.tidy(() => {
      const x = this.inputs(batch);
      let task: tf.Scalar | null = null;
      const { value, grads } = tf.variableGrads(() => {
        const f = this.objective(batch, x);
        task = tf.keep(f.task);
        return f.loss;
      }, Object.values(this.vars));
      this.adam.apply(
        Object.fromEntries(Object.entries(this.vars).map(([k, v]) => [k, grads[v.name]!])),
        this.config.lr,
      );
      const out = tf.stack([value, task!]);
      (task as tf.Scalar | null)?.dispose();
      return out;
    });
    const t = data.dataSync();
    data.dispose();
    return { loss: t[0]!, taskLoss: t[1]!, meanU2: Number.NaN };
  }

  evaluate(batch: TrialBatch, lesion?: Uint8Array): LearnerEvaluation {
    const [task, outputs] = tf.tidy(() => {
      const x = this.inputs(batch);
      let keep: tf.Tensor1D | undefined;
      if (lesion && this.arch.lesion) {
        if (lesion.length !== this.config.hidden) {
          throw new RangeError(`lesion has ${lesion.length} entries, the model ${this.config.hidden} units`);
        }
        keep = tf.tensor1d(Float32Array.from(lesion, (s) => (s ? 0 : 1)));
      }
      const f = this.objective(batch, x, keep);
      return [f.task, f.outputs] as const;
    });
    const y = new Float32Array(outputs.dataSync() as Float32Array);
    const taskLossValue = task.dataSync()[0]!;
    tf.dispose([task, outputs]);
    return {
      taskLoss: taskLossValue,
      accuracy: batchAccuracy(batch, y),
      firingRate: Number.NaN,
      activeNeurons: Number.NaN,
      neurons: this.config.hidden,
      outputs: y,
    };
  }

  startTask(): void {
    this.assertLive();
    this.adam.reset();
  }

  firstConvergence(): void {}

  /** Copies of the parameters, by name. */
  parameters(): Record<string, Float32Array> {
    this.assertLive();
    return readAll(this.vars);
  }

  parameterCount(): number {
    return Object.values(this.vars).reduce((n, v) => n + v.size, 0);
  }

  /** Overwrites one parameter (for checks and analyses). */
  setParameter(name: string, values: Float32Array): void {
    this.assertLive();
    const v = this.vars[name];
    if (!v) throw new RangeError(`no parameter '${name}'; valid: ${Object.keys(this.vars).join(', ')}`);
    if (values.length !== v.size) throw new RangeError(`parameter ${name} has ${v.size} values, got ${values.length}`);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }

  save(): Uint8Array {
    this.assertLive();
    const adam = this.adam.snapshot();
    const arrays: Record<string, Float32Array> = {};
    for (const [k, a] of Object.entries(this.parameters())) arrays[`p/${k}`] = a;
    for (const [k, a] of Object.entries(adam.m)) arrays[`m/${k}`] = a;
    for (const [k, a] of Object.entries(adam.v)) arrays[`v/${k}`] = a;
    const meta: SavedMeta = { config: this.config, adamStep: adam.step };
    return packArrays(meta, arrays);
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('learner was disposed');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of Object.values(this.vars)) v.dispose();
    this.adam.dispose();
  }
}

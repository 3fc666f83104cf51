import {
  batchAccuracy,
  instantiateKernels,
  maskedTaskLoss,
  Rng,
  wasm,
  type EngineInfo,
  type KernelExports,
  type TrialBatch,
  type WasmMemory,
} from '@ip2/snn';
import type { Learner, LearnerEvaluation, LearnerSpec, LearnerStep } from '../learner.js';
import { checkBatch, packArrays } from './tf-common.js';
import {
  baselineConfig,
  decayRates,
  lossPenalty,
  readSavedBaseline,
  type Architecture,
  type BaselineConfig,
  type BaselineOptionsInput,
  type L2Group,
} from './tf-learner.js';

/**
 * What the fused (typed-array, hand-derived) engines of the baselines share: the masked task loss,
 * the WebAssembly memory their kernels work in, the L2 terms, global-norm clipping, decoupled weight
 * decay and Adam, the readout layer, and the state format of the TensorFlow.js engine (either engine
 * restores the other's bytes). Each model adds its forward pass and its backward pass.
 */

/** 1 / (1 + e^−z): one exp, exact at both ends (e^−z = ∞ gives 0). */
export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** tanh through one exp (faster than Math.tanh here; exact ±1 at the ends, absolute error ≈ 1e-16). */
export const tanh = (z: number): number => 1 - 2 / (Math.exp(2 * z) + 1);

/** A baseline's parameters (in its initialiser's order) and, when restored, Adam's state. */
export interface FusedState {
  readonly config: BaselineConfig;
  readonly params: Readonly<Record<string, Float32Array>>;
  readonly l2: Readonly<Record<string, L2Group | undefined>>;
  readonly adam?: {
    readonly step: number;
    readonly m: Readonly<Record<string, Float32Array>>;
    readonly v: Readonly<Record<string, Float32Array>>;
  };
}

/**
 * The state a fused engine starts from: the TensorFlow.js engine's initialisation (same seed path,
 * same draws), or the state saved in `saved` by either engine, whose own config then wins.
 */
export function fusedState(
  arch: Architecture,
  models: readonly string[],
  spec: LearnerSpec,
  options: BaselineOptionsInput = {},
  saved?: Uint8Array,
): FusedState {
  if (!models.includes(spec.model)) {
    throw new RangeError(`this fused engine runs ${models.map((m) => `'${m}'`).join(', ')}, not '${spec.model}'`);
  }
  const restored = saved ? readSavedBaseline(spec, saved) : null;
  const config = restored?.config ?? baselineConfig(spec, options);
  arch.check?.(config);
  const layout = arch.init(config, Rng.seeded(config.seed, config.model, 'init'));
  const l2 = Object.fromEntries(Object.entries(layout).map(([k, p]) => [k, p.l2]));
  if (!restored) {
    return { config, l2, params: Object.fromEntries(Object.entries(layout).map(([k, p]) => [k, p.values])) };
  }
  const group = (g: string) =>
    Object.fromEntries(
      Object.entries(layout).map(([k, p]) => {
        const a = restored.arrays[`${g}/${k}`];
        if (!a) throw new RangeError(`saved state lacks ${g}/${k}`);
        if (a.length !== p.values.length) {
          throw new RangeError(`saved ${g}/${k} has ${a.length} values, expected ${p.values.length}`);
        }
        return [k, a];
      }),
    );
  return { config, l2, params: group('p'), adam: { step: restored.adamStep, m: group('m'), v: group('v') } };
}

interface GrowableMemory extends WasmMemory {
  grow(pages: number): number;
}

const PAGE = 65536;
/** Byte size of a region of n floats, rounded up to whole cache lines. */
const regionBytes = (n: number) => Math.ceil((n * 4) / 64) * 64;

interface SavedMeta {
  readonly config: BaselineConfig;
  readonly adamStep: number;
}

/**
 * A baseline on the fused engine. Parameters, gradients and Adam moments (float32, as saved) and
 * the workspace of the current batch shape live in one WebAssembly memory, which grows when a batch
 * needs more and never moves the parameters. The matrix work runs in the spiking engine's
 * WebAssembly SIMD kernels (float32, each output summed in one fixed order); the element-wise
 * nonlinearities, the loss and the bias gradients in float64 TypeScript, stored as float32.
 *
 * The workspace always holds the inputs `x` [T][B][nIn], the readout `y` and its gradient `dy`
 * [T][B][nOut] and W_outᵀ; a model adds its own regions (`regions`).
 */
export abstract class FusedBaselineLearner implements Learner {
  readonly info: EngineInfo = { engine: 'fused', backend: 'wasm-simd' };
  readonly config: BaselineConfig;
  protected readonly K: KernelExports;
  /** Parameter names, in the initialiser's (and the saved state's) order. */
  protected readonly keys: readonly string[];
  private readonly sizes: Readonly<Record<string, number>>;
  private readonly l2: Readonly<Record<string, L2Group | undefined>>;
  /** Byte offsets of each parameter, its gradient and its Adam moments. */
  protected readonly pa: Readonly<Record<string, number>>;
  protected readonly ga: Readonly<Record<string, number>>;
  private readonly ma: Readonly<Record<string, number>>;
  private readonly va: Readonly<Record<string, number>>;
  private readonly fixedBytes: number;
  private readonly gradFloats: number;
  private memory: GrowableMemory;
  /** Views of the parameters, gradients, moments and workspace (renewed when the memory grows). */
  protected P: Record<string, Float32Array> = {};
  protected G: Record<string, Float32Array> = {};
  private M: Record<string, Float32Array> = {};
  private V: Record<string, Float32Array> = {};
  private gAll = new Float32Array(0);
  protected w: Record<string, Float32Array> = {};
  /** Byte offsets of the workspace regions. */
  protected at: Record<string, number> = {};
  private shape: { T: number; B: number } | null = null;
  private adamStep: number;
  private disposed = false;

  protected constructor(state: FusedState) {
    const { config, params, l2 } = state;
    this.config = config;
    this.keys = Object.keys(params);
    this.l2 = l2;
    this.sizes = Object.fromEntries(this.keys.map((k) => [k, params[k]!.length]));
    const offsets = (start: number) => {
      const out: Record<string, number> = {};
      let at = start;
      for (const k of this.keys) {
        out[k] = at;
        at += regionBytes(this.sizes[k]!);
      }
      return [out, at] as const;
    };
    const [pa, gStart] = offsets(0);
    const [ga, mStart] = offsets(gStart);
    const [ma, vStart] = offsets(mStart);
    const [va, end] = offsets(vStart);
    this.pa = pa;
    this.ga = ga;
    this.ma = ma;
    this.va = va;
    this.fixedBytes = end;
    this.gradFloats = (mStart - gStart) / 4;
    this.memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(end / PAGE)) }) as GrowableMemory;
    this.K = instantiateKernels(this.memory);
    this.views();
    for (const k of this.keys) {
      this.P[k]!.set(params[k]!);
      if (state.adam) {
        this.M[k]!.set(state.adam.m[k]!);
        this.V[k]!.set(state.adam.v[k]!);
      }
    }
    this.adamStep = state.adam?.step ?? 0;
  }

  get model(): string {
    return this.config.model;
  }

  /** Sizes (floats) of the model's own workspace regions for a batch of T steps and B trials. */
  protected abstract regions(T: number, B: number): Record<string, number>;

  /** Fills `w.y` from `w.x`; `keep` [hidden] (1 kept, 0 silenced) only where `lesion` is set. */
  protected abstract forward(T: number, B: number, keep: Float32Array | null): void;

  /** Adds ∂(task loss)/∂p to every gradient (zeroed before) from `w.dy` and the forward pass's workspace. */
  protected abstract backward(T: number, B: number): void;

  /** Whether `evaluate(batch, lesion)` silences hidden units (others ignore a lesion, as their TensorFlow.js engines do). */
  protected readonly lesion: boolean = false;

  private views(): void {
    const buf = this.memory.buffer;
    const view = (addr: Readonly<Record<string, number>>) =>
      Object.fromEntries(this.keys.map((k) => [k, new Float32Array(buf, addr[k]!, this.sizes[k]!)]));
    this.P = view(this.pa);
    this.G = view(this.ga);
    this.M = view(this.ma);
    this.V = view(this.va);
    this.gAll = new Float32Array(buf, this.ga[this.keys[0]!]!, this.gradFloats);
    const s = this.shape;
    if (!s) return;
    const sizes = this.workspaceSizes(s.T, s.B);
    this.w = Object.fromEntries(Object.entries(sizes).map(([r, n]) => [r, new Float32Array(buf, this.at[r]!, n)]));
  }

  private workspaceSizes(T: number, B: number): Record<string, number> {
    const { nIn, nOut, hidden } = this.config;
    return { x: T * B * nIn, y: T * B * nOut, dy: T * B * nOut, wOutT: nOut * hidden, ...this.regions(T, B) };
  }

  /** Lays the workspace out for T × B, growing the memory if needed. */
  private workspace(T: number, B: number): void {
    if (this.shape && this.shape.T === T && this.shape.B === B) return;
    const at: Record<string, number> = {};
    let top = this.fixedBytes;
    for (const [r, n] of Object.entries(this.workspaceSizes(T, B))) {
      at[r] = top;
      top += regionBytes(n);
    }
    const pages = Math.ceil(top / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (pages > 0) this.memory.grow(pages);
    this.at = at;
    this.shape = { T, B };
    this.views();
  }

  private run(batch: TrialBatch, keep: Float32Array | null): void {
    this.assertLive();
    checkBatch(this.config.nIn, this.config.nOut, batch);
    this.workspace(batch.steps, batch.batch);
    this.w.x!.set(batch.inputs);
    this.forward(batch.steps, batch.batch, keep);
  }

  /** y = h W_out + b_out for the T·B rows of h starting at byte `h` (rows of `hidden` floats). */
  protected readout(h: number, rows: number): void {
    const { hidden: n, nOut } = this.config;
    this.K.proj(h, n * 4, 0, this.pa.wOut!, this.at.y!, 0, 1, rows, n, nOut);
    const y = this.w.y!;
    const bOut = this.P.bOut!;
    for (let r = 0; r < rows; r++) for (let o = 0; o < nOut; o++) y[r * nOut + o] = y[r * nOut + o]! + bOut[o]!;
  }

  /**
   * The readout's backward pass: ∂W_out += hᵀ ∂y, ∂b_out += Σ ∂y, and ∂h = ∂y W_outᵀ into the rows
   * at byte `dh` (written, not added).
   */
  protected readoutBackward(h: number, rows: number, dh: number): void {
    const { hidden: n, nOut } = this.config;
    const wOut = this.P.wOut!;
    const wOutT = this.w.wOutT!;
    for (let i = 0; i < n; i++) for (let o = 0; o < nOut; o++) wOutT[o * n + i] = wOut[i * nOut + o]!;
    this.K.proj(this.at.dy!, nOut * 4, 0, this.at.wOutT!, dh, 0, 1, rows, nOut, n);
    this.K.gemm_tn(h, n * 4, 0, this.at.dy!, 0, 1, rows, n, nOut, this.ga.wOut!);
    sumRows(this.w.dy!, rows, nOut, this.G.bOut!);
  }

  /** Fills the gradients of the total loss; returns [total loss, task loss]. */
  private lossAndGradients(batch: TrialBatch): [number, number] {
    this.run(batch, null);
    const c = this.config;
    const task = maskedTaskLoss(c.loss, batch, this.w.y!, this.w.dy!);
    this.gAll.fill(0);
    this.backward(batch.steps, batch.batch);
    let loss = task;
    const lambda = lossPenalty(c);
    for (const k of this.keys) {
      const g = this.l2[k];
      if (!g || lambda[g] === 0) continue;
      const size = this.sizes[k]!;
      const scale = lambda[g] / size;
      loss += scale * this.K.sum_squares(this.pa[k]!, size);
      this.K.axpy(this.ga[k]!, this.pa[k]!, size, 2 * scale);
    }
    return [loss, task];
  }

  /** Loss and gradient of every parameter, no update (for checks and analyses). */
  gradients(batch: TrialBatch): { loss: number; taskLoss: number; grads: Record<string, Float32Array> } {
    const [loss, taskLoss] = this.lossAndGradients(batch);
    return { loss, taskLoss, grads: Object.fromEntries(this.keys.map((k) => [k, this.G[k]!.slice()])) };
  }

  /**
   * One step: gradients, the global norm over every group, clipping, decoupled decay of the
   * weights (w ← w − lr·λ·w) and Adam with bias correction, in the TensorFlow.js engine's order.
   */
  trainStep(batch: TrialBatch): LearnerStep {
    const [loss, taskLoss] = this.lossAndGradients(batch);
    const c = this.config;
    const K = this.K;
    let sq = 0;
    for (const k of this.keys) sq += K.sum_squares(this.ga[k]!, this.sizes[k]!);
    const norm = Math.sqrt(sq);
    const scale = c.clipNorm > 0 ? Math.min(1, c.clipNorm / Math.max(norm, 1e-30)) : 1;
    this.adamStep += 1;
    const bc1 = 1 - Math.pow(c.beta1, this.adamStep);
    const bc2 = 1 - Math.pow(c.beta2, this.adamStep);
    const rates = decayRates(c);
    for (const k of this.keys) {
      const size = this.sizes[k]!;
      const g = this.l2[k];
      const lambda = g ? rates[g] : 0;
      if (lambda !== 0) K.axpy(this.pa[k]!, this.pa[k]!, size, -c.lr * lambda);
      K.adam(
        this.pa[k]!,
        this.ga[k]!,
        this.ma[k]!,
        this.va[k]!,
        size,
        scale,
        c.lr,
        c.beta1,
        1 - c.beta1,
        c.beta2,
        1 - c.beta2,
        bc1,
        bc2,
        c.eps,
      );
    }
    return { loss, taskLoss, meanU2: Number.NaN };
  }

  evaluate(batch: TrialBatch, lesion?: Uint8Array): LearnerEvaluation {
    let keep: Float32Array | null = null;
    if (lesion && this.lesion) {
      if (lesion.length !== this.config.hidden) {
        throw new RangeError(`lesion has ${lesion.length} entries, the model ${this.config.hidden} units`);
      }
      keep = Float32Array.from(lesion, (s) => (s ? 0 : 1));
    }
    this.run(batch, keep);
    const outputs = this.w.y!.slice();
    return {
      taskLoss: maskedTaskLoss(this.config.loss, batch, outputs, null),
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
    for (const k of this.keys) {
      this.M[k]!.fill(0);
      this.V[k]!.fill(0);
    }
  }

  firstConvergence(): void {}

  /** Copies of the parameters, by name. */
  parameters(): Record<string, Float32Array> {
    this.assertLive();
    return Object.fromEntries(this.keys.map((k) => [k, this.P[k]!.slice()]));
  }

  parameterCount(): number {
    return this.keys.reduce((n, k) => n + this.sizes[k]!, 0);
  }

  /** Overwrites one parameter (for checks and analyses). */
  setParameter(name: string, values: Float32Array): void {
    this.assertLive();
    const p = this.P[name];
    if (!p) throw new RangeError(`no parameter '${name}'; valid: ${this.keys.join(', ')}`);
    if (values.length !== p.length)
      throw new RangeError(`parameter ${name} has ${p.length} values, got ${values.length}`);
    p.set(values);
  }

  /** The TensorFlow.js engine's byte format: config and Adam's step, then p/, m/ and v/ of every parameter. */
  save(): Uint8Array {
    this.assertLive();
    const arrays: Record<string, Float32Array> = {};
    for (const k of this.keys) arrays[`p/${k}`] = this.P[k]!;
    for (const k of this.keys) arrays[`m/${k}`] = this.M[k]!;
    for (const k of this.keys) arrays[`v/${k}`] = this.V[k]!;
    const meta: SavedMeta = { config: this.config, adamStep: this.adamStep };
    return packArrays(meta, arrays);
  }

  protected assertLive(): void {
    if (this.disposed) throw new Error('learner was disposed');
  }

  dispose(): void {
    this.disposed = true;
    this.w = {};
  }
}

/** into[j] += Σ_r src[r·stride + from + j] (float64 sums) for r < rows, j < into.length. */
export function sumRows(src: Float32Array, rows: number, stride: number, into: Float32Array, from = 0): void {
  for (let j = 0; j < into.length; j++) {
    let acc = 0;
    for (let r = 0; r < rows; r++) acc += src[r * stride + from + j]!;
    into[j] = into[j]! + acc;
  }
}

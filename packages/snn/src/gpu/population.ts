import type {
  EngineInfo,
  EvalOptions,
  Evaluation,
  Gradients,
  LossTerms,
  NetworkState,
  Params,
  StepStats,
  TrialBatch,
} from '../engine.js';
import { Member } from '../fused/members.js';
import { batchAccuracy } from '../metrics.js';
import { checkBatch } from '../network.js';
import type { PassBatches, Population } from '../population.js';
import { gpuContext, type GpuContext } from './device.js';
import {
  ACC_PLANES,
  ADJOINTS,
  GpuLayout,
  lossNorm,
  NATURAL_PLANES,
  META_STRIDE,
  STATS,
  STATS_STRIDE,
  type MemberPass,
} from './layout.js';
import {
  BufferUsage,
  MapMode,
  ShaderStage,
  type GpuBindGroup,
  type GpuBindGroupLayout,
  type GpuBuffer,
  type GpuCommandEncoder,
  type GpuComputePass,
  type GpuComputePipeline,
  type GpuDevice,
} from './webgpu-api.js';
import { kernels, STEP_RECORD, WORKGROUP, type BufferName, type KernelSource } from './wgsl.js';

type PassKind = 'eval' | 'grad' | 'train';

interface Kernel {
  readonly source: KernelSource;
  readonly layout: GpuBindGroupLayout;
  readonly pipeline: GpuComputePipeline;
  group: GpuBindGroup | null;
}

type KernelName = 'prepare' | 'init' | 'forward' | 'readout' | 'loss' | 'backward' | 'grads' | 'norm' | 'adam';

export interface GpuPopulationOptions {
  /** A context from gpuContext() (default: the process-wide one). */
  readonly context?: GpuContext;
  /** The Dawn backend of the process-wide context, when it is created here (gpuContext's option). */
  readonly backend?: string;
}

/**
 * P independent networks of the same sizes trained in lock-step on a GPU through WebGPU compute
 * shaders: the same model, loss, hand-derived BPTT (docs/fused-engine.md) and masked Adam as
 * FusedPopulation, in float32, for both model versions (either readout, either weight penalty, either
 * τ clamp, Adam or SGD for the properties). Parameters, Adam moments, the trajectory and the adjoints
 * stay on the GPU; a training step uploads the batches and the per-network settings and reads back
 * only the loss terms. Every method that returns results is asynchronous (a GPU read-back is), and
 * calls are executed one after the other in the order they were made. Soft spikes are not supported:
 * create() refuses them. A member left out of a pass (a null batch)
 * is computed on a stand-in batch, without update, and its result dropped.
 */
export class GpuPopulation implements Population {
  readonly info: EngineInfo;
  readonly layout: GpuLayout;
  /** The adapter, as Dawn describes it, and the backend that produced it. */
  readonly adapterName: string;
  readonly backend: string;
  private readonly device: GpuDevice;
  private readonly members: Member[];
  private readonly kernels: Record<KernelName, Kernel>;
  private readonly fixed: Record<'params' | 'grads' | 'moments' | 'settings' | 'stats', GpuBuffer>;
  private step: Partial<Record<'uniform' | 'traj' | 'io' | 'out' | 'work', GpuBuffer>> = {};
  private readonly statsRead: GpuBuffer;
  private capT = 0;
  private capB = 0;
  private T = 0;
  private B = 0;
  private keepDirty = false;
  private chain: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private readonly shared: TrialBatch[];

  private constructor(
    ctx: GpuContext,
    layout: GpuLayout,
    members: Member[],
    kernelsByName: Record<KernelName, Kernel>,
    states: readonly NetworkState[],
  ) {
    this.device = ctx.device;
    this.adapterName = ctx.name;
    this.backend = ctx.backend;
    this.info = { engine: 'gpu', backend: `webgpu-${ctx.backend}` };
    this.layout = layout;
    this.members = members;
    this.kernels = kernelsByName;
    this.shared = states.map(() => undefined as unknown as TrialBatch);
    const { P, total } = layout;
    const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
    const buf = (floats: number, label: string) =>
      this.device.createBuffer({ size: Math.max(16, floats * 4), usage: storage, label });
    this.fixed = {
      params: buf(P * total, 'params'),
      grads: buf(P * total, 'grads'),
      moments: buf(2 * P * total, 'moments'),
      settings: buf(P * META_STRIDE, 'settings'),
      stats: buf(P * STATS_STRIDE, 'stats'),
    };
    const q = this.device.queue;
    q.writeBuffer(this.fixed.params, 0, layout.pack(states.map((s) => s.params)));
    const moments = new Float32Array(2 * P * total);
    moments.set(layout.pack(states.map((s, p) => pick(s.adam.m, members[p]!))), 0);
    moments.set(layout.pack(states.map((s, p) => pick(s.adam.v, members[p]!))), P * total);
    q.writeBuffer(this.fixed.moments, 0, moments);
    this.statsRead = this.device.createBuffer({
      size: P * STATS_STRIDE * 4,
      usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST,
      label: 'stats-read',
    });
  }

  /**
   * Builds a population on the GPU. Rejects with GpuUnavailableError when no WebGPU adapter is
   * available (or the optional 'webgpu' package is missing), so that callers can fall back to
   * FusedPopulation; rejects with a RangeError for configurations the GPU path does not cover.
   */
  static async create(states: readonly NetworkState[], options: GpuPopulationOptions = {}): Promise<GpuPopulation> {
    const layout = GpuLayout.of(states);
    for (const [p, s] of states.entries()) {
      if (s.config.spike === 'soft') {
        throw new RangeError(`member ${p}: spike mode 'soft' is not supported by GpuPopulation (use FusedPopulation)`);
      }
    }
    const members = states.map((s) => new Member(s));
    const ctx = options.context ?? (await gpuContext(options.backend ? { backend: options.backend } : {}));
    const device = ctx.device;
    const built = {} as Record<KernelName, Kernel>;
    device.pushErrorScope('validation');
    // One kernel after the other, with synchronous pipeline creation (Dawn's asynchronous creation
    // compiles on background threads, which proved fragile on the OpenGL ES software path).
    for (const source of kernels(layout)) {
      {
        const module = device.createShaderModule({ code: source.code, label: source.name });
        const info = await module.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length > 0) {
          throw new Error(
            `WGSL kernel '${source.name}' failed to compile: ${errors.map((m) => `line ${m.lineNum}: ${m.message}`).join('; ')}`,
          );
        }
        const layoutBg = device.createBindGroupLayout({
          label: source.name,
          entries: [
            {
              binding: 0,
              visibility: ShaderStage.COMPUTE,
              buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: 16 },
            },
            ...source.bindings.map(([, access], i) => ({
              binding: i + 1,
              visibility: ShaderStage.COMPUTE,
              buffer: { type: access === 'read' ? 'read-only-storage' : 'storage' },
            })),
          ],
        });
        const pipeline = device.createComputePipeline({
          label: source.name,
          layout: device.createPipelineLayout({ bindGroupLayouts: [layoutBg] }),
          compute: { module, entryPoint: 'main' },
        });
        built[source.name as KernelName] = { source, layout: layoutBg, pipeline, group: null };
      }
    }
    const err = await device.popErrorScope();
    if (err !== null) throw new Error(`WebGPU validation error while building the kernels: ${err.message}`);
    return new GpuPopulation(ctx, layout, members, built, states);
  }

  get size(): number {
    return this.layout.P;
  }

  /**
   * One optimiser step of every network; a single batch is shared by all. With one entry per
   * network, a null entry leaves that network out of the step and its result is null.
   */
  trainStep(batch: TrialBatch | readonly TrialBatch[]): Promise<StepStats[]>;
  trainStep(batches: PassBatches): Promise<(StepStats | null)[]>;
  async trainStep(batch: PassBatches): Promise<(StepStats | null)[]> {
    const { bs, present } = this.batches(batch);
    return this.exclusive(async () => {
      await this.pass(bs, present, 'train', null);
      const stats = await this.readStats();
      return stats.map((t, p) => (present[p] ? { ...t.terms, gradNorm: t.gradNorm } : null));
    });
  }

  /** Forward only; `lesion` (1 = silenced) applies to every network; null entries as in trainStep. */
  evaluate(batch: TrialBatch | readonly TrialBatch[], options?: EvalOptions): Promise<Evaluation[]>;
  evaluate(batches: PassBatches, options?: EvalOptions): Promise<(Evaluation | null)[]>;
  async evaluate(batch: PassBatches, options: EvalOptions = {}): Promise<(Evaluation | null)[]> {
    const { bs, present } = this.batches(batch);
    const lesion = options.lesion ?? null;
    if (lesion !== null && lesion.length !== this.layout.N) {
      throw new RangeError(`lesion has ${lesion.length} entries, network has nRec=${this.layout.N}`);
    }
    return this.exclusive(async () => {
      await this.pass(bs, present, 'eval', lesion);
      const stats = await this.readStats();
      const { P, nOut } = this.layout;
      const { T, B } = this;
      const y = await this.read(this.step.out!, 0, T * P * B * nOut);
      return stats.map((s, p) => {
        if (!present[p]) return null;
        const outputs = new Float32Array(T * B * nOut);
        for (let t = 0; t < T; t++) {
          outputs.set(y.subarray((t * P + p) * B * nOut, (t * P + p + 1) * B * nOut), t * B * nOut);
        }
        return { ...s.terms, outputs, accuracy: batchAccuracy(bs[p]!, outputs), activeNeurons: s.activeNeurons };
      });
    });
  }

  /** Loss and the gradients of every group of every network, no update. */
  async gradients(batch: TrialBatch | readonly TrialBatch[]): Promise<Gradients[]> {
    const { bs, present } = this.batches(batch);
    if (present.some((x) => !x)) throw new RangeError('gradients take a batch for every member');
    return this.exclusive(async () => {
      await this.pass(bs, present, 'grad', null);
      const stats = await this.readStats();
      const g = await this.read(this.fixed.grads, 0, this.layout.P * this.layout.total);
      return stats.map((s, p) => ({ ...s.terms, grads: this.layout.unpack(g, p) as Params }));
    });
  }

  /** Zeroes Adam's moments and step count of network p (of every network without p). */
  async resetOptimizer(p?: number): Promise<void> {
    this.live();
    const { P, total } = this.layout;
    const which = p === undefined ? [...this.members.keys()] : [this.member(p)];
    const zeros = new Float32Array(total);
    return this.exclusive(async () => {
      for (const i of which) {
        this.members[i]!.step = 0;
        this.device.queue.writeBuffer(this.fixed.moments, i * total * 4, zeros);
        this.device.queue.writeBuffer(this.fixed.moments, (P + i) * total * 4, zeros);
      }
    });
  }

  async setHomeostaticTarget(p: number, value: number | null): Promise<void> {
    this.live();
    const i = this.member(p);
    return this.exclusive(async () => {
      this.members[i]!.homeostaticTarget = value;
    });
  }

  /** The whole state of network p, loadable by any engine. */
  async snapshot(p: number): Promise<NetworkState> {
    this.live();
    const i = this.member(p);
    return this.exclusive(async () => (await this.snapshotAll([i]))[0]!);
  }

  async snapshots(): Promise<NetworkState[]> {
    this.live();
    return this.exclusive(() => this.snapshotAll([...this.members.keys()]));
  }

  /** Frees the GPU buffers once every earlier call has finished (the shared device stays). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const all = [...Object.values(this.fixed), ...Object.values(this.step), this.statsRead];
    await this.chain.finally(() => {
      for (const b of all) b?.destroy();
    });
  }

  // ---------------------------------------------------------------------------------------------

  private live(): void {
    if (this.disposed) throw new Error('population was disposed');
  }

  private member(p: number): number {
    if (!Number.isInteger(p) || p < 0 || p >= this.layout.P) {
      throw new RangeError(`member ${p} out of range [0, ${this.layout.P})`);
    }
    return p;
  }

  /**
   * The batch of every member (a member left out gets the first present batch as a stand-in) and
   * which members are in the pass.
   */
  private batches(batch: PassBatches): { bs: readonly TrialBatch[]; present: readonly boolean[] } {
    this.live();
    const given = Array.isArray(batch)
      ? [...(batch as readonly (TrialBatch | null)[])]
      : this.shared.map(() => batch as TrialBatch);
    if (given.length !== this.layout.P) {
      throw new RangeError(`expected ${this.layout.P} batches, got ${given.length}`);
    }
    const first = given.find((b) => b !== null);
    if (!first) throw new RangeError('a pass needs a batch for at least one network');
    const T = first.steps;
    const B = first.batch;
    for (const [p, b] of given.entries()) {
      if (b === null) continue;
      checkBatch(this.members[p]!.config, b);
      if (b.steps !== T || b.batch !== B) {
        throw new RangeError(`all batches of a pass must have the same steps and trials (${T}×${B})`);
      }
    }
    return { bs: given.map((b) => b ?? first), present: given.map((b) => b !== null) };
  }

  /** Runs `fn` after every earlier call has finished. */
  private exclusive<R>(fn: () => Promise<R>): Promise<R> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async snapshotAll(which: readonly number[]): Promise<NetworkState[]> {
    const { P, total } = this.layout;
    const params = await this.read(this.fixed.params, 0, P * total);
    const moments = await this.read(this.fixed.moments, 0, 2 * P * total);
    const mAll = moments.subarray(0, P * total);
    const vAll = moments.subarray(P * total);
    return which.map((p) => {
      const m = this.members[p]!;
      return {
        config: m.config,
        params: this.layout.unpack(params, p) as Params,
        adam: {
          step: m.step,
          m: this.layout.unpack(mAll, p, m.trainable),
          v: this.layout.unpack(vAll, p, m.trainable),
        },
        homeostaticTarget: m.homeostaticTarget,
        rng: m.rng.state(),
      };
    });
  }

  /** (Re)creates the buffers that depend on the steps and trials, and the bind groups. */
  private ensureCapacity(T: number, B: number): void {
    if (T > this.capT || B > this.capB) {
      const capT = Math.max(T, this.capT);
      const capB = Math.max(B, this.capB);
      for (const b of Object.values(this.step)) b?.destroy();
      const sizes = this.layout.stepSizes(capT, capB);
      const storage = BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC;
      const buf = (floats: number, label: string) =>
        this.device.createBuffer({ size: Math.max(16, floats * 4), usage: storage, label });
      this.step = {
        uniform: this.device.createBuffer({
          size: capT * STEP_RECORD,
          usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
          label: 'steps',
        }),
        traj: buf(sizes.traj, 'traj'),
        io: buf(sizes.io, 'io'),
        out: buf(sizes.out, 'out'),
        work: buf(sizes.work, 'work'),
      };
      this.capT = capT;
      this.capB = capB;
      this.keepDirty = true;
      this.T = 0;
      const bufferOf = (n: BufferName): GpuBuffer =>
        (n in this.fixed ? this.fixed[n as keyof typeof this.fixed] : this.step[n as keyof typeof this.step])!;
      for (const k of Object.values(this.kernels)) {
        k.group = this.device.createBindGroup({
          layout: k.layout,
          entries: [
            { binding: 0, resource: { buffer: this.step.uniform!, offset: 0, size: 16 } },
            ...k.source.bindings.map(([n], i) => ({ binding: i + 1, resource: { buffer: bufferOf(n) } })),
          ],
        });
      }
    }
    if (T !== this.T || B !== this.B) {
      const rec = new Uint32Array((T * STEP_RECORD) / 4);
      for (let t = 0; t < T; t++) rec.set([t, T, B, 0], (t * STEP_RECORD) / 4);
      this.device.queue.writeBuffer(this.step.uniform!, 0, rec);
      this.T = T;
      this.B = B;
    }
  }

  private async pass(
    bs: readonly TrialBatch[],
    present: readonly boolean[],
    kind: PassKind,
    lesion: Uint8Array | null,
  ): Promise<void> {
    this.live();
    const { P, N, nOut, total } = this.layout;
    const T = bs[0]!.steps;
    const B = bs[0]!.batch;
    this.ensureCapacity(T, B);
    const train = kind === 'train';
    if (train) for (const [p, m] of this.members.entries()) if (present[p]) m.step += 1;
    // Inputs, with each network's noise drawn from its own stream in the order of noisyInputs.
    const inputs = bs.map((b, p) => {
      const m = this.members[p]!;
      const std = m.config.inputNoise;
      if (!train || std === 0 || !present[p]) return b.inputs;
      const x = new Float32Array(b.inputs.length);
      for (let i = 0; i < x.length; i++) x[i] = b.inputs[i]! + std * m.rng.normal();
      return x;
    });
    const q = this.device.queue;
    q.writeBuffer(
      this.step.io!,
      0,
      this.layout.packIo(
        inputs,
        bs.map((b) => b.targets),
        bs.map((b) => b.mask),
        T,
        B,
      ),
    );
    const memberPasses: MemberPass[] = this.members.map((m, p) => ({
      norm: lossNorm(bs[p]!.mask, m.xent, nOut),
      update: train && present[p]! && m.trainable.length > 0,
    }));
    q.writeBuffer(this.fixed.settings, 0, this.layout.packMeta(this.members, memberPasses));
    if (lesion !== null || this.keepDirty) {
      const keep = new Float32Array(P * N).fill(1);
      if (lesion !== null)
        for (let p = 0; p < P; p++) for (let i = 0; i < N; i++) if (lesion[i] !== 0) keep[p * N + i] = 0;
      q.writeBuffer(this.step.work!, 0, keep);
      this.keepDirty = lesion !== null;
    }
    const enc = this.device.createCommandEncoder();
    let cp = enc.beginComputePass();
    this.dispatch(cp, 'prepare', P * N);
    this.dispatch(cp, 'init', P * B * N);
    for (let t = 0; t < T; t++) this.dispatch(cp, 'forward', P * B * N, t);
    this.dispatch(cp, 'readout', T * P * B);
    this.dispatchGroups(cp, 'loss', P);
    cp.end();
    const backward = kind === 'grad' || memberPasses.some((r) => r.update);
    if (backward) {
      // Zero the adjoints of both steps and the accumulators (everything after keep and the natural values).
      const from = P * N * (1 + NATURAL_PLANES.length) * 4;
      this.clear(enc, this.step.work!, from, (2 * ADJOINTS + ACC_PLANES.length) * P * B * N * 4);
      cp = enc.beginComputePass();
      for (let t = T - 1; t >= 0; t--) this.dispatch(cp, 'backward', P * B * N, t);
      this.dispatch(cp, 'grads', P * total);
      if (train) {
        this.dispatchGroups(cp, 'norm', P);
        this.dispatch(cp, 'adam', P * total);
      }
      cp.end();
    }
    enc.copyBufferToBuffer(this.fixed.stats, 0, this.statsRead, 0, P * STATS_STRIDE * 4);
    q.submit([enc.finish()]);
  }

  private clear(enc: GpuCommandEncoder, b: GpuBuffer, offset: number, size: number): void {
    enc.clearBuffer(b, offset, size);
  }

  private dispatch(cp: GpuComputePass, name: KernelName, count: number, t = 0): void {
    const groups = Math.ceil(count / WORKGROUP);
    const gx = Math.min(groups, 32768);
    this.dispatchGroups(cp, name, gx, Math.ceil(groups / gx), t);
  }

  private dispatchGroups(cp: GpuComputePass, name: KernelName, gx: number, gy = 1, t = 0): void {
    const k = this.kernels[name];
    cp.setPipeline(k.pipeline);
    cp.setBindGroup(0, k.group!, [t * STEP_RECORD]);
    cp.dispatchWorkgroups(gx, gy);
  }

  private async readStats(): Promise<{ terms: LossTerms; gradNorm: number; activeNeurons: number }[]> {
    const { P } = this.layout;
    await this.statsRead.mapAsync(MapMode.READ);
    const s = new Float32Array(this.statsRead.getMappedRange().slice(0));
    this.statsRead.unmap();
    const out: { terms: LossTerms; gradNorm: number; activeNeurons: number }[] = [];
    for (let p = 0; p < P; p++) {
      const o = p * STATS_STRIDE;
      const terms = {
        loss: s[o + STATS.loss]!,
        taskLoss: s[o + STATS.taskLoss]!,
        homeoLoss: s[o + STATS.homeoLoss]!,
        l2Loss: s[o + STATS.l2Loss]!,
        meanU2: s[o + STATS.meanU2]!,
        firingRate: s[o + STATS.firingRate]!,
      };
      out.push({ terms, gradNorm: s[o + STATS.gradNorm]!, activeNeurons: s[o + STATS.activeNeurons]! });
    }
    return out;
  }

  /** Reads `floats` floats of a buffer from `offset` floats (through a temporary mappable buffer). */
  private async read(src: GpuBuffer, offset: number, floats: number): Promise<Float32Array> {
    const size = Math.max(4, floats * 4);
    const dst = this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST, label: 'read' });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(src, offset * 4, dst, 0, size);
    this.device.queue.submit([enc.finish()]);
    await dst.mapAsync(MapMode.READ);
    const out = new Float32Array(dst.getMappedRange().slice(0));
    dst.unmap();
    dst.destroy();
    return out;
  }
}

/** The Adam moments of a state restricted to the member's trainable groups. */
function pick(from: Partial<Params>, m: Member): Partial<Params> {
  const out: Partial<Params> = {};
  for (const k of m.trainable) if (from[k] !== undefined) out[k] = from[k];
  return out;
}

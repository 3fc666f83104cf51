import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type {
  EngineInfo,
  EvalOptions,
  Evaluation,
  Gradients,
  LossTerms,
  NetworkState,
  StepStats,
  TrialBatch,
} from '../engine.js';
import { checkBatch, sharedSizes } from '../network.js';
import type { PassBatches, Population } from '../population.js';
import { FusedPopulation } from './population.js';

export interface ThreadedPopulationOptions {
  /** How many shards the members are spread over (default: os.availableParallelism(), at most P). */
  readonly threads?: number;
  /**
   * Whether the calling thread runs the first shard itself while worker threads run the others,
   * or every shard runs in a worker thread (default; on the 2-core machine of docs/benchmarks.md it
   * was the faster of the two). With the calling thread, a call returns its promise only after that
   * shard's work is done.
   */
  readonly callingThread?: boolean;
}

/** A request to one shard; `member` is the index within the shard. */
export type ShardRequest =
  | { readonly op: 'train'; readonly batch: PassBatches }
  | { readonly op: 'grad'; readonly batch: TrialBatch | readonly TrialBatch[] }
  | { readonly op: 'eval'; readonly batch: PassBatches; readonly lesion?: Uint8Array }
  | { readonly op: 'reset'; readonly member?: number }
  | { readonly op: 'homeostatic'; readonly member: number; readonly value: number | null }
  | { readonly op: 'snapshot'; readonly member?: number };

export type ShardReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly name: string; readonly message: string };

const TERM_KEYS = [
  'loss',
  'taskLoss',
  'homeoLoss',
  'l2Loss',
  'meanU2',
  'firingRate',
] as const satisfies readonly (keyof LossTerms)[];
const STATS_STRIDE = TERM_KEYS.length + 1;

/**
 * Step statistics of a shard as one Float64Array (the six loss terms and the gradient norm each); a
 * member left out of the pass (null) is left as zeros, and the caller, who knows, reads it as null.
 */
export function packStats(stats: readonly (StepStats | null)[]): Float64Array {
  const out = new Float64Array(stats.length * STATS_STRIDE);
  for (const [i, s] of stats.entries()) {
    if (s === null) continue;
    for (const [j, k] of TERM_KEYS.entries()) out[i * STATS_STRIDE + j] = s[k];
    out[i * STATS_STRIDE + TERM_KEYS.length] = s.gradNorm;
  }
  return out;
}

function unpackStats(packed: Float64Array, into: (StepStats | null)[], at: number): void {
  for (let i = 0; i < packed.length / STATS_STRIDE; i++) {
    const o = i * STATS_STRIDE;
    if (into[at + i] === null) continue;
    into[at + i] = {
      loss: packed[o]!,
      taskLoss: packed[o + 1]!,
      homeoLoss: packed[o + 2]!,
      l2Loss: packed[o + 3]!,
      meanU2: packed[o + 4]!,
      firingRate: packed[o + 5]!,
      gradNorm: packed[o + 6]!,
    };
  }
}

/**
 * The worker module and how to start it: the TypeScript source under tsx or vitest (the worker
 * registers tsx's loader before it imports the source), else the compiled file beside this one.
 */
function startWorker(states: readonly NetworkState[]): Worker {
  const here = new URL(import.meta.url);
  const options = { workerData: { states } };
  if (!here.pathname.endsWith('.ts')) return new Worker(new URL('./population-worker.js', here), options);
  // tsx's ESM API, found from this file (an eval'd worker resolves bare names from the cwd).
  const pkgFile = createRequire(here).resolve('tsx/package.json');
  const pkg = createRequire(here)('tsx/package.json') as { exports: Record<string, { import: { default: string } }> };
  const tsx = new URL(pkg.exports['./esm/api']!.import.default, pathToFileURL(pkgFile)).href;
  const entry = new URL('./population-worker.ts', here).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { ...options, eval: true });
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** One worker thread holding the members [from, to) of the population. */
class RemoteShard {
  private readonly pending: Pending[] = [];
  /** Set once the thread failed or exited; every later request is rejected with it. */
  private failure: Error | null = null;

  private constructor(
    readonly from: number,
    readonly to: number,
    private readonly worker: Worker,
  ) {
    worker.on('message', (reply: ShardReply) => {
      const p = this.pending.shift();
      if (this.pending.length === 0) worker.unref();
      if (!p) return;
      if (reply.ok) p.resolve(reply.value);
      else p.reject(rebuild(reply.name, `${this.label}: ${reply.message}`));
    });
    worker.on('error', (e) => this.fail(new Error(`${this.label} failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => this.fail(new Error(`${this.label} exited (code ${code})`)));
  }

  get label(): string {
    return `population worker for members ${this.from}–${this.to - 1}`;
  }

  /** Starts the thread and waits until its shard is built. */
  static async start(from: number, to: number, states: readonly NetworkState[]): Promise<RemoteShard> {
    const shard = new RemoteShard(from, to, startWorker(states.slice(from, to)));
    await shard.request(null);
    return shard;
  }

  /** Sends one request (null: none, only wait for the next reply) and resolves with its reply. */
  request(req: ShardRequest | null): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) this.worker.ref();
      this.pending.push({ resolve, reject });
      if (req !== null) this.worker.postMessage(req);
    });
  }

  async terminate(): Promise<void> {
    this.fail(new Error('population was disposed'));
    await this.worker.terminate();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const p of this.pending.splice(0)) p.reject(this.failure);
  }
}

function rebuild(name: string, message: string): Error {
  const Ctor = name === 'RangeError' ? RangeError : name === 'TypeError' ? TypeError : Error;
  return new Ctor(message);
}

/** The shard run by the calling thread: members [from, to). */
interface LocalShard {
  readonly from: number;
  readonly to: number;
  readonly pop: FusedPopulation;
}

/**
 * P independent networks of the same sizes, as FusedPopulation, spread over threads: the members
 * are split into `threads` contiguous shards, each a FusedPopulation in its own worker thread
 * (node:worker_threads), one of them optionally on the calling thread. A call sends one message
 * per shard and the shards run at the same time; member p computes exactly what a FusedEngine (or
 * a FusedPopulation) built from the same state computes. Every operation returns a promise;
 * operations take effect in the order they were called. The batches passed to a call must not be
 * changed until its promise settles. dispose() ends the threads.
 */
export class ThreadedPopulation implements Population {
  readonly info: EngineInfo = { engine: 'fused', backend: 'wasm-simd' };
  private readonly P: number;
  private readonly remote: RemoteShard[];
  private readonly local: LocalShard | null;
  private readonly shardOf: Int32Array;
  private readonly configs: NetworkState['config'][];
  private disposed = false;

  private constructor(states: readonly NetworkState[], local: LocalShard | null, remote: RemoteShard[]) {
    this.P = states.length;
    this.local = local;
    this.remote = remote;
    this.configs = states.map((s) => s.config);
    this.shardOf = new Int32Array(this.P);
    for (const [i, s] of remote.entries()) this.shardOf.fill(i, s.from, s.to);
    if (local) this.shardOf.fill(-1, local.from, local.to);
  }

  static async create(
    states: readonly NetworkState[],
    options: ThreadedPopulationOptions = {},
  ): Promise<ThreadedPopulation> {
    const P = states.length;
    sharedSizes(states, 'a population needs at least one network');
    const threads = options.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1)
      throw new RangeError(`threads must be a positive integer, got ${threads}`);
    const S = Math.min(threads, P);
    const bounds = Array.from({ length: S + 1 }, (_, s) => Math.floor((s * P) / S));
    const onCaller = options.callingThread ?? false;
    const local = onCaller
      ? { from: 0, to: bounds[1]!, pop: FusedPopulation.create(states.slice(0, bounds[1]!)) }
      : null;
    const first = onCaller ? 1 : 0;
    const started = await Promise.allSettled(
      Array.from({ length: S - first }, (_, i) =>
        RemoteShard.start(bounds[first + i]!, bounds[first + i + 1]!, states),
      ),
    );
    const remote = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(remote.map((r) => r.terminate()));
      throw new Error(`could not start the population's worker threads: ${(failed.reason as Error).message}`, {
        cause: failed.reason,
      });
    }
    return new ThreadedPopulation(states, local, remote);
  }

  get size(): number {
    return this.P;
  }

  /** How many shards run at the same time (worker threads, plus the calling thread if it runs one). */
  get threads(): number {
    return this.remote.length + (this.local ? 1 : 0);
  }

  /**
   * One optimiser step of every network; a single batch is shared by all. With one entry per
   * network, a null entry leaves that network out of the step and its result is null.
   */
  trainStep(batch: TrialBatch | readonly TrialBatch[]): Promise<StepStats[]>;
  trainStep(batches: PassBatches): Promise<(StepStats | null)[]>;
  trainStep(batch: PassBatches): Promise<(StepStats | null)[]> {
    return this.pass(batch, 'train', (out: (StepStats | null)[], from, value: unknown) => {
      if (ArrayBuffer.isView(value)) unpackStats(value as Float64Array, out, from);
      else for (const [i, s] of (value as (StepStats | null)[]).entries()) out[from + i] = s;
    });
  }

  /** Forward only; `lesion` (1 = silenced) applies to every network; null entries as in trainStep. */
  evaluate(batch: TrialBatch | readonly TrialBatch[], options?: EvalOptions): Promise<Evaluation[]>;
  evaluate(batches: PassBatches, options?: EvalOptions): Promise<(Evaluation | null)[]>;
  evaluate(batch: PassBatches, options: EvalOptions = {}): Promise<(Evaluation | null)[]> {
    return this.pass(
      batch,
      'eval',
      (out: (Evaluation | null)[], from, value: unknown) => {
        for (const [i, e] of (value as (Evaluation | null)[]).entries()) out[from + i] = e;
      },
      options.lesion,
    );
  }

  /** Loss and the gradients of every group of every network, no update. */
  async gradients(batch: TrialBatch | readonly TrialBatch[]): Promise<Gradients[]> {
    if (Array.isArray(batch) && batch.some((b) => b === null)) {
      throw new RangeError('gradients take a batch for every member');
    }
    const out = await this.pass(batch, 'grad', (out: (Gradients | null)[], from, value: unknown) => {
      for (const [i, g] of (value as Gradients[]).entries()) out[from + i] = g;
    });
    return out as Gradients[];
  }

  /** Zeroes Adam's moments and step count of network p (of every network without p). */
  resetOptimizer(p?: number): Promise<void> {
    if (p === undefined) return this.all({ op: 'reset' }, (pop) => pop.resetOptimizer()).then(() => undefined);
    return this.one(
      p,
      (member) => ({ op: 'reset', member }),
      (pop, member) => pop.resetOptimizer(member),
    ).then(() => undefined);
  }

  setHomeostaticTarget(p: number, value: number | null): Promise<void> {
    return this.one(
      p,
      (member) => ({ op: 'homeostatic', member, value }),
      (pop, member) => pop.setHomeostaticTarget(member, value),
    ).then(() => undefined);
  }

  /** The whole state of network p, loadable by any engine. */
  snapshot(p: number): Promise<NetworkState> {
    return this.one(
      p,
      (member) => ({ op: 'snapshot', member }),
      async (pop, member) => [await pop.snapshot(member)],
    ).then((v) => (v as NetworkState[])[0]!);
  }

  async snapshots(): Promise<NetworkState[]> {
    const parts = await this.all({ op: 'snapshot' }, (pop) => pop.snapshots());
    return parts.flatMap((v) => v as NetworkState[]);
  }

  /** Ends the worker threads; every later call (and any call still running in them) rejects. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.local?.pop.dispose();
    await Promise.all(this.remote.map((r) => r.terminate()));
  }

  // ---------------------------------------------------------------------------------------------

  private live(): void {
    if (this.disposed) throw new Error('population was disposed');
  }

  /**
   * Checks the batches of a pass here, so that a pass either runs on every shard or on none, then
   * sends each worker its part (none to a shard whose members all sit the pass out), runs the
   * calling thread's part, and gathers the results.
   */
  private async pass<R>(
    batch: PassBatches,
    op: 'train' | 'grad' | 'eval',
    gather: (out: (R | null)[], from: number, value: unknown) => void,
    lesion?: Uint8Array,
  ): Promise<(R | null)[]> {
    this.live();
    if (lesion !== undefined && lesion.length !== this.configs[0]!.nRec) {
      throw new RangeError(`lesion has ${lesion.length} entries, network has nRec=${this.configs[0]!.nRec}`);
    }
    const perMember = Array.isArray(batch);
    const bs = batch as readonly (TrialBatch | null)[];
    if (perMember && bs.length !== this.P) throw new RangeError(`expected ${this.P} batches, got ${bs.length}`);
    const b0 = perMember ? bs.find((b) => b !== null) : (batch as TrialBatch);
    if (!b0) throw new RangeError('a pass needs a batch for at least one network');
    const out = new Array<R | null>(this.P);
    for (let p = 0; p < this.P; p++) {
      const b = perMember ? bs[p]! : b0;
      if (b === null) {
        out[p] = null;
        continue;
      }
      checkBatch(this.configs[p]!, b);
      if (b.steps !== b0.steps || b.batch !== b0.batch) {
        throw new RangeError(`all batches of a pass must have the same steps and trials (${b0.steps}×${b0.batch})`);
      }
    }
    const part = (from: number, to: number) => (perMember ? bs.slice(from, to) : (batch as TrialBatch));
    const sitsOut = (from: number, to: number) => perMember && bs.slice(from, to).every((b) => b === null);
    const busy = this.remote.filter((r) => !sitsOut(r.from, r.to));
    const waits = busy.map((r) =>
      r.request(
        op === 'eval'
          ? { op, batch: part(r.from, r.to), lesion }
          : op === 'grad'
            ? { op, batch: part(r.from, r.to) as TrialBatch | readonly TrialBatch[] }
            : { op, batch: part(r.from, r.to) },
      ),
    );
    if (this.local && !sitsOut(this.local.from, this.local.to)) {
      const { pop, from, to } = this.local;
      const b = part(from, to);
      try {
        const value =
          op === 'train'
            ? await pop.trainStep(b)
            : op === 'grad'
              ? await pop.gradients(b as TrialBatch | readonly TrialBatch[])
              : await pop.evaluate(b, lesion ? { lesion } : {});
        gather(out, from, value);
      } catch (e) {
        await Promise.allSettled(waits);
        throw e;
      }
    }
    const values = await Promise.all(waits);
    for (const [i, r] of busy.entries()) gather(out, r.from, values[i]);
    return out;
  }

  /** Runs a request for member p on the shard that holds it. */
  private async one(
    p: number,
    req: (member: number) => ShardRequest,
    here: (pop: FusedPopulation, member: number) => unknown,
  ): Promise<unknown> {
    this.live();
    if (!Number.isInteger(p) || p < 0 || p >= this.P) throw new RangeError(`member ${p} out of range [0, ${this.P})`);
    const s = this.shardOf[p]!;
    if (s < 0) return await here(this.local!.pop, p - this.local!.from);
    const r = this.remote[s]!;
    return r.request(req(p - r.from));
  }

  /** Runs a request on every shard; the results in shard order (the calling thread's first). */
  private async all(req: ShardRequest, here: (pop: FusedPopulation) => unknown): Promise<unknown[]> {
    this.live();
    const waits = this.remote.map((r) => r.request(req));
    let mine: unknown[] = [];
    try {
      if (this.local) mine = [await here(this.local.pop)];
    } catch (e) {
      await Promise.allSettled(waits);
      throw e;
    }
    return [...mine, ...(await Promise.all(waits))];
  }
}

import { createInstance, heldOutBatch } from '@ip2/tasks';
import {
  createPopulation,
  PROPERTY_KEYS,
  resolveEngineName,
  type BackendOptions,
  type EngineName,
  type PopulationOptions,
  type ModelVersion,
  type NetworkConfigInput,
  type PropertyKey,
} from '@ip2/snn';
import { sequenceLearner, type Learner, type LearnerSpec, type SequenceLearner } from './learner.js';
import { LockstepGroup } from './lockstep.js';
import { createLearner, type ModelOptions } from './models/registry.js';
import { SPIKING_MODELS, spikingNetworkState } from './models/spiking.js';
import { batchSizeFor, runSeeds, runSequence, type Protocol, type RunCheckpoint, type TaskResult } from './protocol.js';

/**
 * The model settings of a run beyond its sizes (SCIENCE.md §2–§4). Each one absent takes the model
 * version's default; without modelVersion, the current version.
 */
export interface RunNetworkSettings {
  /** Which version of the model's defaults the network takes (@ip2/snn modelDefaults). */
  readonly modelVersion?: ModelVersion;
  /** What the outputs read; absent: the version's default (2: 'spikes', 1: 'membrane'). */
  readonly readout?: 'spikes' | 'membrane';
  /** How the learnable properties step; absent: 'adam'. */
  readonly propertyOptimizer?: 'adam' | 'sgd';
  /** η of every learnable property; absent: the version's default (2: the weights' lr, 1: 1e-2). */
  readonly propertyLr?: number;
}

/** The network configuration (of @ip2/snn) that a run's settings stand for; empty when none is given. */
export function networkSettingsConfig(s: RunNetworkSettings = {}): NetworkConfigInput {
  const optimizer = {
    ...(s.propertyOptimizer === undefined ? {} : { properties: s.propertyOptimizer }),
    ...(s.propertyLr === undefined
      ? {}
      : { lr: Object.fromEntries(PROPERTY_KEYS.map((k) => [k, s.propertyLr])) as Record<PropertyKey, number> }),
  };
  return {
    ...(s.modelVersion === undefined ? {} : { modelVersion: s.modelVersion }),
    ...(s.readout === undefined ? {} : { readout: s.readout }),
    ...(Object.keys(optimizer).length === 0 ? {} : { optimizer }),
  };
}

/**
 * A chunk of one run: train tasks [fromTask, toTask) of a (model, mask, seed) sequence, continuing
 * from the run's last checkpoint. This is the unit of work of the local worker pool and of the
 * queue workers alike.
 */
export interface ChunkJob {
  readonly family: string;
  /** Run seed: the task instances and the initialisation derive from it. */
  readonly seed: number;
  readonly model: string;
  readonly space: readonly PropertyKey[];
  readonly mask: readonly PropertyKey[];
  readonly hidden: number;
  readonly lr: number;
  readonly loss: 'mse' | 'xent';
  /** Model version, readout and property optimiser of the spiking models (absent: the current defaults). */
  readonly network?: RunNetworkSettings;
  readonly protocol: Protocol;
  readonly fromTask: number;
  readonly toTask: number;
  /** The engine its app chose (absent: `fused`). */
  readonly engine?: EngineName;
}

/** What a run's network is built from. */
export type RunLearnerSpec = Pick<
  ChunkJob,
  'family' | 'seed' | 'model' | 'space' | 'mask' | 'hidden' | 'lr' | 'loss' | 'network' | 'engine'
> & {
  readonly dt: number;
  /** How a `tfjs` engine picks its TensorFlow.js backend (the process's choice, as its app passes it). */
  readonly tf?: BackendOptions;
};

/**
 * The learner of one run: its sizes from the family, its initialisation from the run seed (see
 * runSeeds), or its exact state from saved bytes.
 */
export async function createRunLearner(spec: RunLearnerSpec, saved?: Uint8Array): Promise<Learner> {
  return createLearner(learnerSpec(spec), learnerOptions(spec), saved);
}

function learnerSpec(spec: RunLearnerSpec): LearnerSpec {
  const instance = createInstance(spec.family, 0, 0);
  return {
    model: spec.model,
    nIn: instance.nIn,
    nOut: instance.nOut,
    hidden: spec.hidden,
    dt: spec.dt,
    seed: runSeeds(spec.seed).network,
    loss: spec.loss,
    lr: spec.lr,
  };
}

function learnerOptions(
  spec: Pick<RunLearnerSpec, 'family' | 'space' | 'mask' | 'network' | 'engine' | 'tf'>,
): ModelOptions {
  return {
    family: spec.family,
    space: spec.space,
    mask: spec.mask,
    ...(spec.network === undefined ? {} : { network: networkSettingsConfig(spec.network) }),
    ...(spec.engine ? { engine: spec.engine } : {}),
    ...(spec.tf ? { tf: spec.tf } : {}),
  };
}

export interface ChunkStep {
  readonly result: TaskResult;
  readonly checkpoint: RunCheckpoint;
  readonly engine: { readonly engine: string; readonly backend: string };
}

/** Where a chunk starts: the checkpoint's next task, which must not lie after the chunk's first task. */
function chunkStart(job: ChunkJob, checkpoint: RunCheckpoint | null): number {
  const start = checkpoint?.nextTask ?? 0;
  if (start > job.fromTask) {
    throw new RangeError(`checkpoint is at task ${start}, after the chunk's first task ${job.fromTask}`);
  }
  return start;
}

/**
 * The chunk's tasks from `startTask` (chunkStart) on a given learner, which is disposed at the end,
 * whatever the end.
 */
async function* trainWith(
  job: ChunkJob,
  checkpoint: RunCheckpoint | null,
  startTask: number,
  learner: SequenceLearner,
  signal?: AbortSignal,
): AsyncGenerator<ChunkStep> {
  try {
    for await (const step of runSequence({
      family: job.family,
      seed: job.seed,
      protocol: job.protocol,
      learner,
      startTask,
      endTask: job.toTask,
      converged: checkpoint?.converged ?? false,
      ...(signal ? { signal } : {}),
    })) {
      yield { result: step.result, checkpoint: await step.checkpoint(), engine: learner.info };
    }
  } finally {
    await learner.dispose();
  }
}

/**
 * Trains the chunk, yielding each task's result with the checkpoint after it. Without a
 * checkpoint the run starts from a fresh network at task 0; with one, it resumes at the
 * checkpoint's next task — which may lie before `fromTask` when a previous attempt stopped between
 * storing a result and its checkpoint: those tasks are trained again and, training being
 * deterministic, reproduce the stored results exactly. `tf`: how a `tfjs` engine picks its backend.
 */
export async function* trainChunk(
  job: ChunkJob,
  checkpoint: RunCheckpoint | null,
  signal?: AbortSignal,
  tf?: BackendOptions,
): AsyncGenerator<ChunkStep> {
  const start = chunkStart(job, checkpoint);
  const learner = sequenceLearner(
    await createRunLearner({ ...job, dt: job.protocol.dt, ...(tf ? { tf } : {}) }, checkpoint?.learner),
  );
  yield* trainWith(job, checkpoint, start, learner, signal);
}

/** A chunk and the checkpoint it starts from. */
export interface ChunkItem {
  readonly job: ChunkJob;
  readonly checkpoint: RunCheckpoint | null;
}

/** Whether a chunk's run can join a lock-step population: a spiking model on the fused engine. */
function lockstepEligible(job: ChunkJob): boolean {
  return (
    (SPIKING_MODELS as readonly string[]).includes(job.model) &&
    resolveEngineName(job.engine ? { engine: job.engine } : {}) === 'fused'
  );
}

export interface TrainChunksOptions {
  readonly signal?: AbortSignal;
  /**
   * The population that a lock-step group trains on (createPopulation's options; default: a
   * FusedPopulation on this thread). `threaded` spreads each group over worker threads with the same
   * results; `gpu` is experimental (model version 1 only).
   */
  readonly population?: PopulationOptions;
  /** How a `tfjs` engine picks its TensorFlow.js backend (the process's choice, as its app passes it). */
  readonly tf?: BackendOptions;
}

/**
 * Several chunks at once, yielding each task's result (with its chunk's index) as soon as it is
 * known. Chunks whose runs are spiking networks of the same sizes on the fused engine train in
 * lock-step as one population (LockstepGroup); the others train beside them on learners of their
 * own. Every chunk gives exactly the results that trainChunk gives it alone (on a fused or threaded
 * population). When the caller stops early (or one chunk fails), the other chunks stop at their next
 * iteration.
 */
export async function* trainChunks(
  items: readonly ChunkItem[],
  options: TrainChunksOptions = {},
): AsyncGenerator<{ readonly index: number; readonly step: ChunkStep }> {
  const { signal } = options;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) stop.abort();
  const learners: SequenceLearner[] = [];
  const slot = new Map<number, SequenceLearner>();
  let starts: number[];
  try {
    starts = items.map((it) => chunkStart(it.job, it.checkpoint));
    const states = items.map((it) =>
      lockstepEligible(it.job)
        ? spikingNetworkState(
            learnerSpec({ ...it.job, dt: it.job.protocol.dt }),
            learnerOptions(it.job),
            it.checkpoint?.learner,
          )
        : null,
    );
    const groups = lockstepGroups(
      states.map((st, i) =>
        st ? { key: `${st.config.nIn}|${st.config.nRec}|${st.config.nOut}`, job: items[i]!.job } : null,
      ),
    );
    for (const members of groups) {
      const memberStates = members.map((i) => states[i]!);
      const group = new LockstepGroup(
        await createPopulation(memberStates, options.population),
        memberStates,
        members.map((i) => items[i]!.job.model),
      );
      for (const [p, i] of members.entries()) slot.set(i, group.member(p));
    }
    for (const [i, it] of items.entries()) {
      learners.push(
        slot.get(i) ??
          sequenceLearner(
            await createRunLearner(
              { ...it.job, dt: it.job.protocol.dt, ...(options.tf ? { tf: options.tf } : {}) },
              it.checkpoint?.learner,
            ),
          ),
      );
    }
  } catch (e) {
    await Promise.allSettled([...learners, ...slot.values()].map((l) => l.dispose()));
    signal?.removeEventListener('abort', onAbort);
    throw e;
  }
  const runs = items.map((it, i) => trainWith(it.job, it.checkpoint, starts[i]!, learners[i]!, stop.signal));
  try {
    yield* merge(runs);
  } finally {
    stop.abort();
    signal?.removeEventListener('abort', onAbort);
    // Each run ends at its next iteration (aborted) and disposes its learner.
    await Promise.allSettled(runs.map((r) => r.return(undefined)));
  }
}

/** The memory a lock-step group may take for its trajectories: larger groups are split (see lockstepGroups). */
export const LOCKSTEP_BYTES = 1024 * 1024 * 1024;

/**
 * Bytes of one member's trajectories in its group's arena at the largest pass of its chunk (the
 * held-out evaluation, or training when its batch is larger): about ten float32 planes of
 * [steps + 1][trials][neurons].
 */
export function lockstepMemberBytes(job: ChunkJob): number {
  const T = heldOutBatch(createInstance(job.family, 0, 0), 0, 1, job.protocol.dt).steps;
  return 10 * (T + 1) * Math.max(batchSizeFor(job.protocol, job.family), job.protocol.evalBatch) * job.hidden * 4;
}

/**
 * Which chunks train together: those of the same size `key` (null: not eligible), in groups of two
 * or more whose trajectories fit within `budgetBytes`. Indices into the list, in order.
 */
export function lockstepGroups(
  members: readonly ({ readonly key: string; readonly job: ChunkJob } | null)[],
  budgetBytes: number = LOCKSTEP_BYTES,
): number[][] {
  const bySize = new Map<string, number[]>();
  for (const [i, m] of members.entries()) {
    if (m) bySize.set(m.key, [...(bySize.get(m.key) ?? []), i]);
  }
  const groups: number[][] = [];
  for (const same of bySize.values()) {
    const per = Math.max(...same.map((i) => lockstepMemberBytes(members[i]!.job)));
    const most = Math.max(1, Math.floor(budgetBytes / per));
    for (let g = 0; g < same.length; g += most) {
      const group = same.slice(g, g + most);
      if (group.length >= 2) groups.push(group);
    }
  }
  return groups;
}

/**
 * The items of several async generators as they come, each with its generator's index. A
 * generator's error is thrown when its turn comes; a step fetched but no longer wanted (the caller
 * stopped) is dropped without an unhandled rejection.
 */
async function* merge<T>(sources: readonly AsyncGenerator<T>[]): AsyncGenerator<{ index: number; step: T }> {
  type Next = { index: number; r: IteratorResult<T> } | { index: number; error: unknown };
  const next = (index: number): Promise<Next> =>
    sources[index]!.next().then(
      (r) => ({ index, r }),
      (error: unknown) => ({ index, error }),
    );
  const pending = new Map<number, Promise<Next>>(sources.map((_, i) => [i, next(i)]));
  while (pending.size > 0) {
    const n = await Promise.race(pending.values());
    if ('error' in n) throw n.error;
    if (n.r.done) {
      pending.delete(n.index);
      continue;
    }
    pending.set(n.index, next(n.index));
    yield { index: n.index, step: n.r.value };
  }
}

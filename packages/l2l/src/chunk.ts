import { createInstance } from '@ip2/tasks';
import type { EngineName, PropertyKey } from '@ip2/snn';
import type { Learner } from './learner.js';
import { createLearner } from './models/registry.js';
import { runSeeds, runSequence, type Protocol, type RunCheckpoint, type TaskResult } from './protocol.js';

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
  readonly protocol: Protocol;
  readonly fromTask: number;
  readonly toTask: number;
  readonly engine?: EngineName;
}

/** What a run's network is built from. */
export type RunLearnerSpec = Pick<
  ChunkJob,
  'family' | 'seed' | 'model' | 'space' | 'mask' | 'hidden' | 'lr' | 'loss' | 'engine'
> & {
  readonly dt: number;
};

/**
 * The learner of one run: its sizes from the family, its initialisation from the run seed (see
 * runSeeds), or its exact state from saved bytes.
 */
export async function createRunLearner(spec: RunLearnerSpec, saved?: Uint8Array): Promise<Learner> {
  const instance = createInstance(spec.family, 0, 0);
  return createLearner(
    {
      model: spec.model,
      nIn: instance.nIn,
      nOut: instance.nOut,
      hidden: spec.hidden,
      dt: spec.dt,
      seed: runSeeds(spec.seed).network,
      loss: spec.loss,
      lr: spec.lr,
    },
    { space: spec.space, mask: spec.mask, ...(spec.engine ? { engine: spec.engine } : {}) },
    saved,
  );
}

export interface ChunkStep {
  readonly result: TaskResult;
  readonly checkpoint: RunCheckpoint;
  readonly engine: { readonly engine: string; readonly backend: string };
}

/**
 * Trains the chunk, yielding each task's result with the checkpoint after it. Without a
 * checkpoint the run starts from a fresh network at task 0; with one, it resumes at the
 * checkpoint's next task — which may lie before `fromTask` when a previous attempt stopped between
 * storing a result and its checkpoint: those tasks are trained again and, training being
 * deterministic, reproduce the stored results exactly.
 */
export async function* trainChunk(
  job: ChunkJob,
  checkpoint: RunCheckpoint | null,
  signal?: AbortSignal,
): AsyncGenerator<ChunkStep> {
  const start = checkpoint?.nextTask ?? 0;
  if (start > job.fromTask) {
    throw new RangeError(`checkpoint is at task ${start}, after the chunk's first task ${job.fromTask}`);
  }
  const learner = await createRunLearner({ ...job, dt: job.protocol.dt }, checkpoint?.learner);
  try {
    for await (const step of runSequence({
      family: job.family,
      seed: job.seed,
      protocol: job.protocol,
      learner,
      startTask: start,
      endTask: job.toTask,
      converged: checkpoint?.converged ?? false,
      ...(signal ? { signal } : {}),
    })) {
      yield { result: step.result, checkpoint: step.checkpoint(), engine: learner.info };
    }
  } finally {
    learner.dispose();
  }
}

import { createInstance } from '@ip2/tasks';
import type { EngineName, PropertyKey } from '@ip2/snn';
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
  const instance = createInstance(job.family, 0, 0);
  const learner = await createLearner(
    {
      model: job.model,
      nIn: instance.nIn,
      nOut: instance.nOut,
      hidden: job.hidden,
      dt: job.protocol.dt,
      seed: runSeeds(job.seed).network,
      loss: job.loss,
      lr: job.lr,
    },
    { space: job.space, mask: job.mask, ...(job.engine ? { engine: job.engine } : {}) },
    checkpoint?.learner,
  );
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

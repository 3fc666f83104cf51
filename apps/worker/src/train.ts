import { InvalidJobError, parsePayload, parseResult, type JobPayload, type JobResult } from '@ip2/contracts';
import { ClaimLostError, type Store, type WorkerInfo } from '@ip2/db';
import { trainChunk, type RunCheckpoint } from '@ip2/l2l';
import { chunkJob, parseSearchDefinition } from '@ip2/search';
import { UnrecoverableError } from 'bullmq';

/** What the processor needs of a BullMQ job (a sandboxed job is a plain object with these). */
export interface TrainJob {
  readonly id?: string | undefined;
  readonly data: unknown;
  readonly attemptsMade: number;
  readonly opts: { readonly attempts?: number | undefined };
  updateProgress(progress: object): Promise<void>;
}

export interface TrainDeps {
  readonly store: Store;
  readonly worker: WorkerInfo;
  readonly heartbeatMs: number;
  readonly staleMs: number;
  /** True once the process was asked to stop: the chunk ends at the next task boundary. */
  readonly stopping?: () => boolean;
  readonly log?: (message: string) => void;
}

export type TrainProgress = {
  readonly runId: string;
  /** Tasks of this chunk done so far, of `of`. */
  readonly task: number;
  readonly of: number;
  readonly taskIndex: number;
};

/**
 * One run.train job: validate, claim the run, train the chunk from the run's checkpoint, record each
 * task's result with the checkpoint after it in one transaction, heartbeat, and release the run. A
 * chunk stops early (the run goes back to WAITING, the rest is queued again) when the search is
 * cancelled, the claim is lost, or the process is stopping. Only infrastructure errors fail the job.
 */
export async function processTrainJob(deps: TrainDeps, job: TrainJob): Promise<JobResult<'run.train'>> {
  let payload: JobPayload<'run.train'>;
  try {
    payload = parsePayload('run.train', job.data);
  } catch (e) {
    if (e instanceof InvalidJobError) throw new UnrecoverableError(e.message);
    throw e;
  }
  const { store } = deps;
  const log = deps.log ?? (() => undefined);
  const none = (nextTask: number) =>
    parseResult('run.train', { tasksWritten: 0, nextTask, engine: 'none', backend: 'none' });

  const claim = await store.runs.claim(payload.runId, deps.worker, { staleAfterMs: deps.staleMs });
  if (claim === null) {
    // Held by a live worker, finished, cancelled or unknown: nothing to do for this job.
    log(`run ${payload.runId}: not claimable, job ${job.id ?? '?'} skipped`);
    return none(payload.fromTask);
  }
  const token = claim.claimToken;
  let lost = false;
  const heartbeat = setInterval(() => {
    store.runs.heartbeat(claim.runId, token).catch((e: unknown) => {
      if (e instanceof ClaimLostError) lost = true;
    });
  }, deps.heartbeatMs);
  heartbeat.unref();
  try {
    if (
      claim.searchId !== payload.searchId ||
      claim.candidate !== payload.candidate ||
      claim.seedIndex !== payload.seedIndex ||
      claim.seed !== payload.seed
    ) {
      await store.runs.release(claim.runId, token, 'WAITING');
      throw new UnrecoverableError(`run ${payload.runId} does not belong to the payload's search/candidate/seed`);
    }
    const definition = parseSearchDefinition(claim.definition);
    const tasks = definition.protocol.tasks;
    const checkpoint: RunCheckpoint | null = claim.checkpoint?.checkpoint ?? null;
    const start = checkpoint?.nextTask ?? 0;
    // A previous attempt may have got further than this job's first task: go on from there.
    const fromTask = Math.max(payload.fromTask, start);
    const toTask = Math.min(payload.toTask, tasks);
    let nextTask = start;
    let written = 0;
    let engine = { engine: 'none', backend: 'none' };
    // A worker that is stopping releases a chunk it has just claimed without training it.
    if (fromTask < toTask && deps.stopping?.() === true) log(`run ${claim.runId}: stopping before task ${fromTask}`);
    else if (fromTask < toTask) {
      const chunk = chunkJob(definition, { seed: claim.seed, keys: claim.keys, fromTask, toTask });
      const of = toTask - fromTask;
      for await (const step of trainChunk(chunk, checkpoint)) {
        const out = await store.runs.recordTasks(claim.runId, token, [step.result], step.checkpoint);
        if (out.mismatched.length > 0) {
          log(`run ${claim.runId}: task ${step.result.taskIndex} differs from its stored result (non-determinism)`);
        }
        written += out.inserted.length;
        nextTask = step.checkpoint.nextTask;
        if (engine.engine !== step.engine.engine || engine.backend !== step.engine.backend) {
          engine = { engine: step.engine.engine, backend: step.engine.backend };
          await store.runs.setEngine(claim.runId, token, engine);
        }
        if (step.result.taskIndex >= fromTask) {
          await job.updateProgress({
            runId: claim.runId,
            task: step.result.taskIndex - fromTask + 1,
            of,
            taskIndex: step.result.taskIndex,
          } satisfies TrainProgress);
        }
        if (nextTask >= toTask) break;
        if (lost || deps.stopping?.() || (await searchCancelled(store, claim.searchId))) {
          log(`run ${claim.runId}: stopping after task ${nextTask - 1}`);
          break;
        }
      }
    }
    try {
      await store.runs.release(claim.runId, token, nextTask >= tasks ? 'COMPLETE' : 'WAITING');
    } catch (e) {
      // Cancelled or taken over meanwhile: what was written stays written.
      if (!(e instanceof ClaimLostError)) throw e;
    }
    return parseResult('run.train', { tasksWritten: written, nextTask, ...engine });
  } catch (e) {
    if (e instanceof ClaimLostError) {
      // Cancelled, or taken over after a missed heartbeat: whoever holds the run now goes on.
      log(`run ${claim.runId}: claim lost (${e.message})`);
      return none(payload.fromTask);
    }
    if (!(e instanceof UnrecoverableError)) {
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const message = e instanceof Error ? e.message : String(e);
      await store.runs.release(claim.runId, token, last ? 'FAILED' : 'WAITING', message).catch(() => undefined);
    }
    throw e;
  } finally {
    clearInterval(heartbeat);
  }
}

async function searchCancelled(store: Store, searchId: string): Promise<boolean> {
  const state = await store.controller.searchState(searchId);
  return state === null || state === 'CANCELLED' || state === 'FAILED';
}

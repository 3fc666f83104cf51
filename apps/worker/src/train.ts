import { InvalidJobError, JOBS, parsePayload, parseResult, type JobPayload, type JobResult } from '@ip2/contracts';
import { ClaimLostError, isRetryable, NETWORK_ERROR_CODES, type RunClaim, type Store, type WorkerInfo } from '@ip2/db';
import { trainChunks, type RunCheckpoint } from '@ip2/l2l';
import { chunkJob, parseStoredSearchDefinition, searchState, tableFromRows, type SearchDefinition } from '@ip2/search';
import type { ComputeOptions } from '@ip2/snn';
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
  /** Runs one job trains together in lock-step: its own and up to population − 1 queued ones (default 1). */
  readonly population?: number;
  /** Worker threads each lock-step population is spread over (0 or absent: the job's own thread). */
  readonly threads?: number;
  /** The engine and TensorFlow.js backend every run trains on (parsed from the worker's environment). */
  readonly compute?: ComputeOptions;
  /** True once the process was asked to stop: the chunk ends at the next task boundary. */
  readonly stopping?: () => boolean;
  /**
   * How long a job that met an outage of PostgreSQL or Redis waits before it ends (default the job's
   * back-off), so that a long outage does not turn into a busy loop of jobs queued again.
   */
  readonly outagePauseMs?: number;
  readonly log?: (message: string) => void;
}

export type TrainProgress = {
  readonly runId: string;
  /** Tasks of this chunk done so far, of `of`. */
  readonly task: number;
  readonly of: number;
  readonly taskIndex: number;
};

/** A run this job trains: its claim, its chunk, and how far it got. */
interface Held {
  readonly claim: RunClaim;
  readonly fromTask: number;
  readonly toTask: number;
  readonly checkpoint: RunCheckpoint | null;
  nextTask: number;
  written: number;
  lost: boolean;
  engine: { engine: string; backend: string };
}

/**
 * One run.train job: validate, claim the run, train the chunk from the run's checkpoint, record each
 * task's result with the checkpoint after it in one transaction, heartbeat, and release the run. A
 * chunk stops early (the run goes back to WAITING, the rest is queued again) when the search is
 * cancelled, the claim is lost, or the process is stopping.
 *
 * An outage of PostgreSQL or Redis (a connection refused, closed or timed out) is not the job's fault
 * and does not fail it: the chunk ends where it is, its runs go back to WAITING (or, when even that
 * cannot be written, the reaper takes them back once their heartbeat is stale), and the controller
 * queues the rest again. Failing the job instead would spend its attempts on outages, and a search
 * would fail after a few overlapping ones. Only other errors fail the job (and, on its last attempt,
 * the run).
 *
 * With `population` > 1, the job also claims up to population − 1 other runs of the same search that
 * are queued (at most half of them), and trains them with its own in lock-step (trainChunks: the
 * same results as one at a time); their own jobs, when they come, find them taken or done and have
 * nothing to do.
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

  const outage = async (e: unknown, where: string) => {
    log(
      `run ${payload.runId}: ${where} during an outage (${e instanceof Error ? e.message : String(e)}); scheduled again`,
    );
    await new Promise((resolve) => setTimeout(resolve, deps.outagePauseMs ?? JOBS['run.train'].backoffMs));
  };
  let claim: RunClaim | null;
  try {
    claim = await store.runs.claim(payload.runId, deps.worker, { staleAfterMs: deps.staleMs });
  } catch (e) {
    if (!isOutage(e)) throw e;
    await outage(e, 'not claimed');
    return none(payload.fromTask);
  }
  if (claim === null) {
    // Held by a live worker, finished, cancelled or unknown: nothing to do for this job.
    log(`run ${payload.runId}: not claimable, job ${job.id ?? '?'} skipped`);
    return none(payload.fromTask);
  }
  const held: Held[] = [];
  const heartbeat = setInterval(() => {
    for (const h of held) {
      store.runs.heartbeat(h.claim.runId, h.claim.claimToken).catch((e: unknown) => {
        if (e instanceof ClaimLostError) h.lost = true;
      });
    }
  }, deps.heartbeatMs);
  heartbeat.unref();
  let main: Held | null = null;
  try {
    if (
      claim.searchId !== payload.searchId ||
      claim.candidate !== payload.candidate ||
      claim.seedIndex !== payload.seedIndex ||
      claim.seed !== payload.seed
    ) {
      await store.runs.release(claim.runId, claim.claimToken, 'WAITING');
      throw new UnrecoverableError(`run ${payload.runId} does not belong to the payload's search/candidate/seed`);
    }
    const definition = parseStoredSearchDefinition(claim.definition);
    const tasks = definition.protocol.tasks;
    main = hold(claim, payload, tasks);
    held.push(main);
    // A worker that is stopping releases a chunk it has just claimed without training it.
    if (main.fromTask < main.toTask && deps.stopping?.() === true) {
      log(`run ${claim.runId}: stopping before task ${main.fromTask}`);
    } else if (main.fromTask < main.toTask) {
      if ((deps.population ?? 1) > 1) {
        await adopt(deps, definition, claim, (deps.population ?? 1) - 1, held);
        if (held.length > 1) log(`run ${claim.runId}: training with ${held.length - 1} more run(s) in lock-step`);
      }
      const items = held.map((h) => ({
        job: chunkJob(
          definition,
          { seed: h.claim.seed, keys: h.claim.keys, fromTask: h.fromTask, toTask: h.toTask },
          deps.compute?.engine,
        ),
        checkpoint: h.checkpoint,
      }));
      const of = main.toTask - main.fromTask;
      const threads = deps.threads ?? 0;
      const population = threads > 0 ? { kind: 'threaded' as const, threads } : { kind: 'fused' as const };
      const tf = deps.compute?.tf;
      for await (const { index, step } of trainChunks(items, { population, ...(tf ? { tf } : {}) })) {
        const h = held[index]!;
        let out;
        try {
          out = await store.runs.recordTasks(h.claim.runId, h.claim.claimToken, [step.result], step.checkpoint);
        } catch (e) {
          // A run taken on beside the job's own was taken over: the others stop here and are released.
          if (!(e instanceof ClaimLostError) || h === main) throw e;
          h.lost = true;
          log(`run ${h.claim.runId}: claim lost (${e.message})`);
          break;
        }
        if (out.mismatched.length > 0) {
          log(`run ${h.claim.runId}: task ${step.result.taskIndex} differs from its stored result (non-determinism)`);
        }
        h.written += out.inserted.length;
        h.nextTask = step.checkpoint.nextTask;
        if (h.engine.engine !== step.engine.engine || h.engine.backend !== step.engine.backend) {
          h.engine = { engine: step.engine.engine, backend: step.engine.backend };
          await store.runs.setEngine(h.claim.runId, h.claim.claimToken, h.engine);
        }
        if (h === main && step.result.taskIndex >= main.fromTask) {
          await job.updateProgress({
            runId: claim.runId,
            task: step.result.taskIndex - main.fromTask + 1,
            of,
            taskIndex: step.result.taskIndex,
          } satisfies TrainProgress);
        }
        if (held.every((x) => x.nextTask >= x.toTask)) break;
        if (held.some((x) => x.lost) || deps.stopping?.() || (await searchCancelled(store, claim.searchId))) {
          log(`run ${claim.runId}: stopping after task ${main.nextTask - 1}`);
          break;
        }
      }
    }
    for (const h of held) {
      try {
        await store.runs.release(h.claim.runId, h.claim.claimToken, h.nextTask >= tasks ? 'COMPLETE' : 'WAITING');
      } catch (e) {
        // Cancelled or taken over meanwhile: what was written stays written.
        if (!(e instanceof ClaimLostError)) throw e;
      }
    }
    return parseResult('run.train', { tasksWritten: main.written, nextTask: main.nextTask, ...main.engine });
  } catch (e) {
    const others = held.filter((h) => h !== main);
    // Runs taken on beside the job's own go back to waiting; the controller queues them again.
    for (const h of others) {
      await store.runs.release(h.claim.runId, h.claim.claimToken, 'WAITING').catch(() => undefined);
    }
    if (e instanceof ClaimLostError) {
      // Cancelled, or taken over after a missed heartbeat: whoever holds the run now goes on.
      log(`run ${claim.runId}: claim lost (${e.message})`);
      return none(payload.fromTask);
    }
    if (isOutage(e)) {
      await store.runs.release(claim.runId, claim.claimToken, 'WAITING').catch(() => undefined);
      const next = main?.nextTask ?? payload.fromTask;
      await outage(
        e,
        next > (main?.fromTask ?? payload.fromTask)
          ? `chunk ended after task ${next - 1}`
          : `chunk ended at task ${next}`,
      );
      return parseResult('run.train', {
        tasksWritten: main?.written ?? 0,
        nextTask: main?.nextTask ?? payload.fromTask,
        ...(main?.engine ?? { engine: 'none', backend: 'none' }),
      });
    }
    if (!(e instanceof UnrecoverableError)) {
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const message = e instanceof Error ? e.message : String(e);
      await store.runs
        .release(claim.runId, claim.claimToken, last ? 'FAILED' : 'WAITING', message)
        .catch(() => undefined);
    }
    throw e;
  } finally {
    clearInterval(heartbeat);
  }
}

/** The chunk of a claimed run: from its checkpoint (or a later fromTask) to toTask, within the search's tasks. */
function hold(claim: RunClaim, target: { readonly fromTask: number; readonly toTask: number }, tasks: number): Held {
  const checkpoint: RunCheckpoint | null = claim.checkpoint?.checkpoint ?? null;
  const start = checkpoint?.nextTask ?? 0;
  return {
    claim,
    // A previous attempt may have got further than the chunk's first task: go on from there.
    fromTask: Math.max(target.fromTask, start),
    toTask: Math.min(target.toTask, tasks),
    checkpoint,
    nextTask: start,
    written: 0,
    lost: false,
    engine: { engine: 'none', backend: 'none' },
  };
}

/**
 * Claims up to `count` other queued runs of the search, but never more than half of them, so that
 * other workers find work too; each run with the chunk the strategy asks of it now (what the
 * controller computed when it queued the run). A run that another worker claims first is passed over.
 */
async function adopt(
  deps: TrainDeps,
  definition: SearchDefinition,
  main: RunClaim,
  most: number,
  held: Held[],
): Promise<void> {
  const { store } = deps;
  const state = searchState(definition, tableFromRows(await store.runs.resultTable(main.searchId)));
  const queued = new Map(
    (await store.runs.list(main.searchId))
      .filter((r) => r.state === 'QUEUED' && r.id !== main.runId)
      .map((r) => [`${r.candidate}/${r.seedIndex}`, r.id]),
  );
  const count = Math.min(most, Math.floor(queued.size / 2));
  let taken = 0;
  for (const a of state.actions) {
    if (taken >= count) break;
    if (a.kind !== 'train') continue;
    const id = queued.get(`${a.candidate}/${a.seedIndex}`);
    if (id === undefined) continue;
    const claim = await store.runs.claim(id, deps.worker, { staleAfterMs: deps.staleMs });
    if (claim === null) continue;
    const h = hold(claim, a, definition.protocol.tasks);
    if (h.fromTask >= h.toTask) {
      // Nothing left of its chunk (an earlier attempt got there): released as it stands.
      await store.runs.release(
        claim.runId,
        claim.claimToken,
        h.nextTask >= definition.protocol.tasks ? 'COMPLETE' : 'WAITING',
      );
      continue;
    }
    // Held from the claim on, so that an error from here on releases it with the others.
    held.push(h);
    taken++;
  }
}

/**
 * An outage of PostgreSQL (a DbError that may go away if tried again: unreachable, connection closed,
 * too many connections, a write conflict) or of Redis (ioredis gave up on a command, or its connection
 * is closed), rather than an error of the job itself.
 */
export function isOutage(e: unknown): boolean {
  if (isRetryable(e)) return true;
  if (typeof e !== 'object' || e === null) return false;
  const { name, message, code } = e as { name?: unknown; message?: unknown; code?: unknown };
  if (name === 'MaxRetriesPerRequestError') return true;
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
  return typeof message === 'string' && /^Connection is closed\.?$/.test(message);
}

async function searchCancelled(store: Store, searchId: string): Promise<boolean> {
  const state = await store.controller.searchState(searchId);
  return state === null || state === 'CANCELLED' || state === 'FAILED';
}

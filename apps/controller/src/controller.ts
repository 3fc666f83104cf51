import {
  activeJobs,
  InvalidJobError,
  jobWorker,
  parsePayload,
  Queues,
  redisConnection,
  redisReady,
  type CloseStep,
  type JobWorker,
} from '@ip2/contracts';
import { closeLogged, openStore, type Store } from '@ip2/db';
import { UnrecoverableError, type Queue } from 'bullmq';
import { advanceSearch, type ControllerContext } from './advance.js';
import type { ControllerConfig } from './env.js';
import { tick } from './reaper.js';

/** The timer job on the control queue (a job scheduler: one per queue, whoever upserts it). */
export const TICK_JOB = 'controller.tick';
const TICK_SCHEDULER = 'controller-tick';
/** How long a stopping controller waits for an unreachable Redis to come back before it closes regardless. */
const REDIS_WAIT_MS = 30_000;

export interface RunningController {
  readonly worker: JobWorker<'search.advance'>;
  readonly store: Store;
  readonly queues: Queues;
  close(step?: CloseStep): Promise<void>;
}

/** Starts the controller: a worker on the control queue (search.advance and the timer). */
export async function startController(
  config: ControllerConfig,
  log: (m: string) => void = () => undefined,
): Promise<RunningController> {
  const store = openStore({ url: config.databaseUrl, poolSize: Math.max(2, config.concurrency + 1) });
  const queues = new Queues(config.redisUrl, config.queuePrefix);
  const ctx: ControllerContext = { store, queues, log, analysisSeeds: config.analysisSeeds };
  // The timer is the controller's own job on the control queue, outside the catalog (no payload).
  await (queues.control as unknown as Queue).upsertJobScheduler(
    TICK_SCHEDULER,
    { every: config.tickMs },
    { name: TICK_JOB, data: {}, opts: { removeOnComplete: true, removeOnFail: true } },
  );
  // The timer job shares the queue (its data is empty): it is told apart by its name first.
  const worker = jobWorker(
    'search.advance',
    async (job) => {
      if (job.name === TICK_JOB) {
        await tick(ctx, config.staleMs);
        return { enqueued: 0, done: false };
      }
      let payload;
      try {
        payload = parsePayload('search.advance', job.data);
      } catch (e) {
        if (e instanceof InvalidJobError) throw new UnrecoverableError(e.message);
        throw e;
      }
      return advanceSearch(ctx, payload.searchId);
    },
    {
      connection: redisConnection(config.redisUrl, 'worker'),
      prefix: config.queuePrefix,
      concurrency: config.concurrency,
      lockDuration: config.lockMs,
      stalledInterval: config.lockMs,
    },
  );
  const advances = activeJobs(worker);
  worker.on('failed', (job, err) => log(`${job?.name ?? 'job'} ${job?.id ?? '?'} failed: ${err.message}`));
  worker.on('error', (err) => log(`worker error: ${err.message}`));
  return {
    worker,
    store,
    queues,
    async close(step: CloseStep = () => undefined) {
      // BullMQ's close() would wait forever on a connection that is reconnecting: Redis first. Still
      // unreachable after REDIS_WAIT_MS, the worker closes without waiting for the job in progress (an
      // advance is repeated harmlessly by whoever takes it up after its lock).
      step('waiting for Redis to be reachable');
      if (await redisReady([worker], REDIS_WAIT_MS)) {
        step(`closing the queue worker (jobs in progress: ${advances.describe()})`);
        await worker.close();
      } else {
        log(
          `Redis unreachable for ${REDIS_WAIT_MS / 1000} s while stopping: closing without waiting for the job in progress`,
        );
        await worker.close(true);
      }
      step('closing the queues');
      await queues.close();
      step('closing the database pool');
      await store.close(closeLogged(log));
    },
  };
}

import { computeOptions } from '@ip2/contracts';
import { openStore, type Store } from '@ip2/db';
import type { SandboxedJob } from 'bullmq';
import { parseWorkerEnv } from './env.js';
import { processTrainJob } from './train.js';

/*
 * The sandboxed processor of run.train: BullMQ runs it in a child process, so that training (CPU-bound,
 * synchronous within a task) never blocks the parent's lock renewal. The child inherits the parent's
 * environment, WORKER_ID included.
 */

const config = parseWorkerEnv(process.env);
const log = (m: string) => process.stderr.write(`[worker ${config.workerId}] ${m}\n`);
const compute = computeOptions(config.compute, config.logBackend ? log : undefined);
let store: Store | null = null;
// Set when this process gets SIGTERM or SIGINT itself (a signal to the whole process group).
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
process.on('SIGINT', () => {
  stopping = true;
});

/**
 * `signal` is aborted when the parent process stops (it cancels its jobs on SIGTERM, also when this
 * child did not get the signal itself, as in a container where only the main process gets it).
 */
export default async function process_(job: SandboxedJob, _token?: string, signal?: AbortSignal) {
  store ??= openStore({ url: config.databaseUrl, poolSize: 2 });
  return processTrainJob(
    {
      store,
      worker: { workerId: config.workerId, host: config.host },
      heartbeatMs: config.heartbeatMs,
      population: config.population,
      threads: config.threads,
      compute,
      staleMs: config.staleMs,
      stopping: () => stopping || signal?.aborted === true,
      log,
    },
    {
      id: job.id,
      data: job.data,
      attemptsMade: job.attemptsMade,
      opts: { attempts: job.opts.attempts },
      updateProgress: (p) => job.updateProgress(p),
    },
  ).catch((e: unknown) => {
    log(`job ${job.id}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    throw e;
  });
}

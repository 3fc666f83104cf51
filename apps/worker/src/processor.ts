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
let store: Store | null = null;
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
process.on('SIGINT', () => {
  stopping = true;
});

export default async function process_(job: SandboxedJob) {
  store ??= openStore({ url: config.databaseUrl, poolSize: 2 });
  return processTrainJob(
    {
      store,
      worker: { workerId: config.workerId, host: config.host },
      heartbeatMs: config.heartbeatMs,
      staleMs: config.staleMs,
      stopping: () => stopping,
      log: (m) => process.stderr.write(`[worker ${config.workerId}] ${m}\n`),
    },
    {
      id: job.id,
      data: job.data,
      attemptsMade: job.attemptsMade,
      opts: { attempts: job.opts.attempts },
      updateProgress: (p) => job.updateProgress(p),
    },
  );
}

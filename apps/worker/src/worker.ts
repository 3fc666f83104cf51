import {
  activeJobs,
  JOBS,
  jobWorker,
  parsePayload,
  Queues,
  redisConnection,
  redisReady,
  type CloseStep,
  type JobPayload,
  type JobWorker,
} from '@ip2/contracts';
import type { Job } from 'bullmq';
import type { WorkerConfig } from './env.js';

/** How long a stopping worker waits for an unreachable Redis to come back before it closes regardless. */
const REDIS_WAIT_MS = 30_000;

export interface RunningWorker {
  readonly worker: JobWorker<'run.train'>;
  /** The worker of search.analyse jobs (one at a time). */
  readonly analysis: JobWorker<'search.analyse'>;
  /**
   * Finishes (or releases, at the next task boundary) the current chunks, drops the current analysis
   * (another worker makes it), then closes every connection.
   */
  close(step?: CloseStep): Promise<void>;
}

/** A module of this app: the TypeScript source under tsx (tests, development), else the built file. */
function processorFile(name: 'processor' | 'analysis-processor' | 'child-watchdog'): URL {
  const here = new URL(import.meta.url);
  return new URL(here.pathname.endsWith('.ts') ? `./${name}.ts` : `./${name}.js`, here);
}

/**
 * How the job processes are started: with this process's environment (WORKER_ID included) and Node
 * options (less any --inspect, whose port a child could not share), and the watchdog preloaded, so that
 * a child ends with its worker even when it is still starting.
 */
function forkOptions(config: WorkerConfig) {
  return {
    env: { ...process.env, WORKER_ID: config.workerId },
    execArgv: [
      ...process.execArgv.filter((a) => !a.startsWith('--inspect')),
      '--import',
      processorFile('child-watchdog').href,
    ],
  };
}

/** Times a train job may be taken back from a dead worker before BullMQ fails it. */
export const TRAIN_MAX_STALLS = 1_000;

/**
 * Starts a BullMQ worker on the run.train queue. Each job runs in a child process (one per unit of
 * concurrency); when a chunk ends, either way, the controller is asked to look at the search again.
 * A second worker takes search.analyse jobs, one at a time, also in a child process.
 */
export function startWorker(config: WorkerConfig, log: (m: string) => void = () => undefined): RunningWorker {
  const queues = new Queues(config.redisUrl, config.queuePrefix);
  const worker = jobWorker('run.train', processorFile('processor'), {
    connection: redisConnection(config.redisUrl, 'worker'),
    prefix: config.queuePrefix,
    concurrency: config.concurrency,
    lockDuration: config.lockMs,
    stalledInterval: config.lockMs,
    // A stalled train job is one whose worker process died holding it (a job's own crash fails it in
    // its child process instead): never the job's fault, and the job goes on from the run's
    // checkpoint. BullMQ's default (fail at the second stall) failed searches whose runs met two
    // worker deaths.
    maxStalledCount: TRAIN_MAX_STALLS,
    name: config.workerId,
    workerForkOptions: forkOptions(config),
  });

  const askController = async (job: Job | undefined, reason: string) => {
    if (!job) return;
    let payload: JobPayload<'run.train'>;
    try {
      payload = parsePayload('run.train', job.data);
    } catch {
      return;
    }
    await queues.addAdvance(payload.searchId, `${reason}: run ${payload.runId}`);
  };
  worker.on('completed', (job) => {
    askController(job, 'chunk done').catch((e: unknown) => log(`could not enqueue search.advance: ${String(e)}`));
  });
  worker.on('failed', (job, err) => {
    log(`job ${job?.id ?? '?'} failed: ${err.message}`);
    askController(job, 'chunk failed').catch((e: unknown) => log(`could not enqueue search.advance: ${String(e)}`));
  });
  worker.on('error', (err) => log(`worker error: ${err.message}`));
  const chunks = activeJobs(worker);
  const analysis = jobWorker('search.analyse', processorFile('analysis-processor'), {
    connection: redisConnection(config.redisUrl, 'worker'),
    prefix: config.queuePrefix,
    concurrency: 1,
    lockDuration: config.lockMs,
    stalledInterval: config.lockMs,
    // A worker that stops drops its analysis (it starts over elsewhere, see close()): not a failure.
    maxStalledCount: JOBS['search.analyse'].attempts,
    name: config.workerId,
    workerForkOptions: forkOptions(config),
  });
  analysis.on('failed', (job, err) => log(`analysis job ${job?.id ?? '?'} failed: ${err.message}`));
  analysis.on('error', (err) => log(`analysis worker error: ${err.message}`));

  return {
    worker,
    analysis,
    async close(step: CloseStep = () => undefined) {
      // An analysis can take as long as a few runs: it is not waited for, but taken up again by another
      // worker once its lock expires (it has no partial state; the analysis is made from the start).
      // Every chunk in progress is told (through its abort signal, sent on to its child process) to end
      // at its next task boundary; so is a chunk that becomes active meanwhile (fetched before the
      // worker stopped fetching), hence the repeat until the worker has closed.
      const cancel = () => worker.cancelAllJobs('the worker is stopping');
      cancel();
      const repeat = setInterval(cancel, 100);
      try {
        // BullMQ's close() would wait forever on a connection that is reconnecting: Redis first.
        step('waiting for Redis to be reachable');
        if (await redisReady([worker, analysis], REDIS_WAIT_MS)) {
          step(`closing the queue workers (jobs in progress: ${chunks.describe()})`);
          await Promise.all([worker.close(), analysis.close(true)]);
        } else {
          // Still unreachable: closed without waiting for the chunks; their processes end with this one
          // and the reaper gives their runs to other workers, from the last checkpoint.
          await Promise.all([worker.close(true), analysis.close(true)]);
          throw new Error(
            `Redis unreachable for ${REDIS_WAIT_MS / 1000} s while stopping: closed without waiting for the current chunks (their runs are taken over by the reaper)`,
          );
        }
      } finally {
        clearInterval(repeat);
      }
      step('closing the queues');
      await queues.close();
    },
  };
}

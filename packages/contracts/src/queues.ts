import { Queue, Worker, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { JOBS, jobId, parsePayload, type JobName, type JobPayload, type JobResult } from './jobs.js';

/**
 * The queue of one job of the catalog, typed by its payload and result. Job names stay strings: the
 * control queue also carries the controller's timer job beside search.advance.
 */
export type JobQueue<N extends JobName> = Queue<JobPayload<N>, JobResult<N>, string>;

/**
 * A Redis connection. Workers retry forever (maxRetriesPerRequest null, as BullMQ requires for
 * blocking commands); producers fail fast when Redis is down.
 */
export function redisConnection(url: string, role: 'worker' | 'producer'): Redis {
  return new Redis(url, role === 'worker' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1 });
}

/**
 * The worker of one job of the catalog, typed as its queue is. A processor still validates what it
 * dequeues (`parsePayload`): the types say what producers send, not what Redis holds.
 */
export type JobWorker<N extends JobName> = Worker<JobPayload<N>, JobResult<N>, string>;

/**
 * A worker on a catalog entry's queue: `processor` is a function or the file of a sandboxed processor
 * (run in child processes). Queue and prefix come from the catalog and `options`.
 */
export function jobWorker<N extends JobName>(
  name: N,
  processor: string | URL | Processor<JobPayload<N>, JobResult<N>, string>,
  options: WorkerOptions,
): JobWorker<N> {
  const worker = new Worker<JobPayload<N>, JobResult<N>, string>(JOBS[name].queue, processor, options);
  // BullMQ leaves a connection that it was given open at close (it may be shared): this one is the
  // worker's own, and would otherwise go on reconnecting, unwatched, after the worker closed.
  const own = options.connection;
  if (own instanceof Redis) worker.once('closed', () => own.disconnect());
  return worker;
}

/** The queue of a catalog entry, under `prefix`, over `connection`. */
export function jobQueue<N extends JobName>(name: N, connection: Redis, prefix: string): JobQueue<N> {
  return new Queue<JobPayload<N>, JobResult<N>, string>(JOBS[name].queue, { connection, prefix });
}

/** Adds a validated job with its contract's deterministic id and retry policy; its id. */
export async function addJob<N extends JobName>(
  queue: JobQueue<N>,
  name: N,
  data: JobPayload<N>,
  removal: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'>,
): Promise<string> {
  const c = JOBS[name];
  const payload = parsePayload(name, data);
  const id = jobId(name, payload);
  // BullMQ cannot resolve the job-name type of a queue whose payload type is still generic here.
  await (queue as unknown as Queue).add(c.name, payload, {
    jobId: id,
    attempts: c.attempts,
    backoff: { type: 'exponential', delay: c.backoffMs },
    ...removal,
  });
  return id;
}

/** The producer side of every job queue, over one fail-fast connection. */
export class Queues {
  readonly train: JobQueue<'run.train'>;
  readonly control: JobQueue<'search.advance'>;
  readonly analysis: JobQueue<'search.analyse'>;
  private readonly connection: Redis;

  constructor(redisUrl: string, prefix: string) {
    this.connection = redisConnection(redisUrl, 'producer');
    this.train = jobQueue('run.train', this.connection, prefix);
    this.control = jobQueue('search.advance', this.connection, prefix);
    this.analysis = jobQueue('search.analyse', this.connection, prefix);
  }

  /** Enqueues a chunk (validated; the deterministic id makes a repeat harmless). */
  async addTrain(data: JobPayload<'run.train'>): Promise<string> {
    // Removed when done, so that the same chunk can be queued again after a takeover.
    return addJob(this.train, 'run.train', data, { removeOnComplete: true, removeOnFail: { count: 10_000 } });
  }

  /** Asks for a look at the search; requests coalesce while one is waiting. */
  async addAdvance(searchId: string, reason: string): Promise<void> {
    await addJob(this.control, 'search.advance', { searchId, reason }, { removeOnComplete: true, removeOnFail: true });
  }

  /** Asks for the analyses of a completed search's chosen configuration (once per search: deterministic id). */
  async addAnalyse(data: JobPayload<'search.analyse'>): Promise<string> {
    return addJob(this.analysis, 'search.analyse', data, {
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 10_000 },
    });
  }

  /** Whether the analysis job of this payload is in the queue ('unknown': it is not, or no longer). */
  async analyseState(data: JobPayload<'search.analyse'>): Promise<string> {
    return this.analysis.getJobState(jobId('search.analyse', parsePayload('search.analyse', data)));
  }

  async close(): Promise<void> {
    await this.train.close();
    await this.control.close();
    await this.analysis.close();
    this.connection.disconnect();
  }
}

/**
 * Waits, at most `ms`, until every Redis connection of the BullMQ workers (the main one and the blocking
 * one) is ready; whether they all were. BullMQ's close() ends the blocking connection and waits for it
 * to end, which never happens while ioredis waits to reconnect (taskforcesh/bullmq#4656): a process
 * told to stop while Redis is unreachable would never exit, not even after Redis is back.
 */
export async function redisReady(workers: readonly Worker[], ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  const pause = (t: number) => new Promise<void>((r) => setTimeout(r, t));
  for (;;) {
    const clients = workers.flatMap((w) => [w.getBackend().client, w.getBackend().blockingClient]);
    const statuses = await Promise.all(
      clients.map((c) =>
        c === undefined
          ? 'ready'
          : Promise.race([
              c.then(
                (x) => x.status,
                () => 'error',
              ),
              pause(200).then(() => 'connecting'),
            ]),
      ),
    );
    // Ended (or never started) connections are no hindrance; the others must be connected.
    if (statuses.every((s) => s === 'ready' || s === 'end' || s === 'wait')) return true;
    if (Date.now() >= end) return false;
    await pause(100);
  }
}

/**
 * The jobs a BullMQ worker has in progress, followed from its events: `describe()` lists them
 * (`run.train 1f0c… (12 s)`), for a close that is slow to say what it waits for.
 */
export function activeJobs(worker: Worker): { describe(): string } {
  const active = new Map<string, { name: string; since: number }>();
  const done = (job: { id?: string | undefined } | undefined) => {
    if (job?.id !== undefined) active.delete(job.id);
  };
  worker.on('active', (job) => {
    if (job.id !== undefined) active.set(job.id, { name: job.name, since: Date.now() });
  });
  worker.on('completed', done);
  worker.on('failed', done);
  return {
    describe: () =>
      active.size === 0
        ? 'none'
        : [...active].map(([id, j]) => `${j.name} ${id} (${((Date.now() - j.since) / 1000).toFixed(0)} s)`).join(', '),
  };
}

import { JOBS, jobId, parsePayload, type JobName, type JobPayload } from '@ip2/contracts';
import { Queue, type JobsOptions, type Worker } from 'bullmq';
import { Redis } from 'ioredis';

/** The producer side of both job queues, over one fail-fast connection. */
export class Queues {
  readonly train: Queue;
  readonly control: Queue;
  readonly analysis: Queue;
  private readonly connection: Redis;

  constructor(redisUrl: string, prefix: string) {
    this.connection = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    this.train = new Queue(JOBS['run.train'].queue, { connection: this.connection, prefix });
    this.control = new Queue(JOBS['search.advance'].queue, { connection: this.connection, prefix });
    this.analysis = new Queue(JOBS['search.analyse'].queue, { connection: this.connection, prefix });
  }

  /** Enqueues a chunk (validated; the deterministic id makes a repeat harmless). */
  async addTrain(data: JobPayload<'run.train'>): Promise<string> {
    // Removed when done, so that the same chunk can be queued again after a takeover.
    return this.add(this.train, 'run.train', data, { removeOnComplete: true, removeOnFail: { count: 10_000 } });
  }

  /** Asks for a look at the search; requests coalesce while one is waiting. */
  async addAdvance(searchId: string, reason: string): Promise<void> {
    await this.add(
      this.control,
      'search.advance',
      { searchId, reason },
      { removeOnComplete: true, removeOnFail: true },
    );
  }

  /** Asks for the analyses of a completed search's chosen configuration (once per search: deterministic id). */
  async addAnalyse(data: JobPayload<'search.analyse'>): Promise<string> {
    return this.add(this.analysis, 'search.analyse', data, {
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 10_000 },
    });
  }

  /** Whether the analysis job of this payload is in the queue ('unknown': it is not, or no longer). */
  async analyseState(data: JobPayload<'search.analyse'>): Promise<string> {
    return this.analysis.getJobState(jobId('search.analyse', parsePayload('search.analyse', data)));
  }

  /** Adds a validated job with its contract's id and retry policy. */
  private async add<N extends JobName>(
    queue: Queue,
    name: N,
    data: JobPayload<N>,
    removal: Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'>,
  ): Promise<string> {
    const c = JOBS[name];
    const payload = parsePayload(name, data);
    const id = jobId(name, payload);
    await queue.add(c.name, payload, {
      jobId: id,
      attempts: c.attempts,
      backoff: { type: 'exponential', delay: c.backoffMs },
      ...removal,
    });
    return id;
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
 * to end, which never happens while ioredis waits to reconnect (taskforcesh/bullmq#4656): a controller
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

import { JOBS, jobId, parsePayload, type JobPayload } from '@ip2/contracts';
import { Queue } from 'bullmq';
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
    const c = JOBS['run.train'];
    const payload = parsePayload('run.train', data);
    const id = jobId('run.train', payload);
    await this.train.add(c.name, payload, {
      jobId: id,
      attempts: c.attempts,
      backoff: { type: 'exponential', delay: c.backoffMs },
      // Removed when done, so that the same chunk can be queued again after a takeover.
      removeOnComplete: true,
      removeOnFail: { count: 10_000 },
    });
    return id;
  }

  /** Asks for a look at the search; requests coalesce while one is waiting. */
  async addAdvance(searchId: string, reason: string): Promise<void> {
    const c = JOBS['search.advance'];
    const payload = parsePayload('search.advance', { searchId, reason });
    await this.control.add(c.name, payload, {
      jobId: jobId('search.advance', payload),
      attempts: c.attempts,
      backoff: { type: 'exponential', delay: c.backoffMs },
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  /** Asks for the analyses of a completed search's chosen configuration (once per search: deterministic id). */
  async addAnalyse(data: JobPayload<'search.analyse'>): Promise<string> {
    const c = JOBS['search.analyse'];
    const payload = parsePayload('search.analyse', data);
    const id = jobId('search.analyse', payload);
    await this.analysis.add(c.name, payload, {
      jobId: id,
      attempts: c.attempts,
      backoff: { type: 'exponential', delay: c.backoffMs },
      removeOnComplete: { count: 1_000 },
      removeOnFail: { count: 10_000 },
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

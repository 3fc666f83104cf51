import { jobWorker, redisConnection } from '@ip2/contracts';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';

/* A queue worker's own Redis connection ends with it (real Redis, own prefix). */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('jobWorker', () => {
  it('ends the connection it was given when the worker closes', async () => {
    const connection = redisConnection(REDIS_URL, 'worker');
    const worker = jobWorker('search.advance', async () => ({ enqueued: 0, done: true }), {
      connection,
      prefix: `ip2t-close-${randomUUID().slice(0, 8)}`,
    });
    await worker.waitUntilReady();
    expect(connection.status).toBe('ready');
    await worker.close();
    // BullMQ leaves a connection it was given open; left so, it would reconnect for ever after the close.
    await expect.poll(() => connection.status, { timeout: 5_000 }).toBe('end');
  });
});

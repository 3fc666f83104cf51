import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';

/**
 * A Redis connection. Workers retry forever (maxRetriesPerRequest null, as BullMQ requires for
 * blocking commands); producers fail fast when Redis is down.
 */
export function redisConnection(url: string, role: 'worker' | 'producer'): Redis {
  return new Redis(url, role === 'worker' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1 });
}

/**
 * Waits, at most `ms`, until every Redis connection of the BullMQ workers (the main one and the blocking
 * one) is ready; whether they all were. BullMQ's close() ends the blocking connection and waits for it
 * to end, which never happens while ioredis waits to reconnect (taskforcesh/bullmq#4656): a worker told
 * to stop while Redis is unreachable would never exit, not even after Redis is back.
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

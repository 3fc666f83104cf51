import { submitSearch } from '@ip2/controller';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnRedis, TcpProxy } from '../support/net.js';
import { localReference, sleep, Stack, tinyDefinition, type SearchOutcome } from '../support/stack.js';

/*
 * Faults of the infrastructure during a search: Redis (a server of this test's own, append-only) killed
 * and started again, and PostgreSQL unreachable for a few seconds (every process reaches it through a
 * TCP proxy that the test cuts and restores; the shared server itself is never touched). Each search
 * must end COMPLETE with the task results and decision of the fault-free local run of the same
 * definition: no task result missing, none twice.
 */

const input = tinyDefinition({ kind: 'successive-halving', eta: 2, minTasks: 1 }, 23);
let stack: Stack;
let redis: OwnRedis;
let pg: TcpProxy;
let reference: Promise<SearchOutcome>;

beforeAll(async () => {
  redis = await OwnRedis.start();
  stack = await Stack.create({ redisUrl: redis.url });
  const db = new URL(stack.db.url);
  pg = await TcpProxy.start('127.0.0.1', { host: db.hostname, port: Number(db.port || 5432) });
  reference = localReference(input);
  const env = { DATABASE_URL: pg.url(stack.db.url) };
  stack.start('controller', 'controller', { env });
  stack.start('w1', 'worker', { env: { ...env, WORKER_ID: 'w1' } });
  stack.start('w2', 'worker', { env: { ...env, WORKER_ID: 'w2' } });
});

afterAll(async () => {
  await stack?.close();
  await pg?.close();
  await redis?.stop();
});

/** Waits until the search has some task results and a run in flight. */
async function midSearch(searchId: string): Promise<void> {
  await stack.until('a task result and a run in flight', async () => {
    const runs = await stack.store.runs.list(searchId);
    return runs.some((r) => r.tasksDone > 0) && runs.some((r) => r.state === 'RUNNING');
  });
}

describe('faults of Redis and PostgreSQL', { timeout: 120_000 }, () => {
  it('Redis killed and restarted from its append-only file mid-search', async () => {
    const search = await submitSearch(stack, input, 'tester');
    await midSearch(search.id);
    const before = await stack.queues.train.getJobCounts();
    await redis.kill();
    await sleep(2000);
    await redis.restart();
    await stack.expectLikeReference(search.id, reference);
    expect(Object.values(before).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('PostgreSQL unreachable for 4 s mid-search: the processes retry, nothing is lost', async () => {
    const search = await submitSearch(stack, input, 'tester');
    await midSearch(search.id);
    await pg.cut();
    expect(pg.dropped).toBeGreaterThan(0);
    await sleep(4000);
    // Nothing got through meanwhile: the test's own connection (not proxied) sees the search unfinished.
    expect((await stack.store.controller.search(search.id)).state).toBe('RUNNING');
    await pg.restore();
    await stack.expectLikeReference(search.id, reference);
  });
});

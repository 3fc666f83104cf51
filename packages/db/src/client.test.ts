import { useTestStore } from '@ip2/testing/store';
import { describe, expect, it } from 'vitest';
import { TcpProxy } from '../../../test/support/net.js';
import { closeClient, createClient, type DbClient } from './client.js';

let client: DbClient;
const tdb = useTestStore((url) => (client = createClient({ url })), { close: (c) => c.$disconnect() });

describe('closeClient', () => {
  it('closes at once when no query is in progress', async () => {
    const c = createClient({ url: tdb.url });
    expect(await c.$queryRawUnsafe('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    const abandoned: number[] = [];
    const t0 = Date.now();
    await closeClient(c, { graceMs: 5_000, onAbandoned: (n) => abandoned.push(n) });
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(abandoned).toEqual([]);
  });

  it('stops waiting for a query in progress after the grace, and says how many connections it left', async () => {
    const c = createClient({ url: tdb.url });
    const slow = c.$queryRawUnsafe('SELECT pg_sleep(20)').catch(() => undefined);
    // The query holds its connection once the server runs it.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const rows = await client.$queryRawUnsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)' AND state = 'active'`,
      );
      if (rows[0]!.n > 0) break;
      if (Date.now() > deadline) throw new Error('the slow query never started');
      await new Promise((r) => setTimeout(r, 50));
    }
    const abandoned: number[] = [];
    const t0 = Date.now();
    await closeClient(c, { graceMs: 500, onAbandoned: (n) => abandoned.push(n) });
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(5_000);
    expect(abandoned).toEqual([1]);
    // The server's side of the left connection ends with the test database's clean-up.
    await client.$executeRawUnsafe(
      `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)'`,
    );
    await slow;
  });
});

describe('a connection that breaks inside a transaction', () => {
  it('goes back to the pool, so that the pool neither shrinks nor holds its close', async () => {
    const target = new URL(tdb.url);
    const proxy = await TcpProxy.start('127.0.0.1', { host: target.hostname, port: Number(target.port || 5432) });
    // Two connections; three breaks would leave none if broken connections stayed checked out.
    const c = createClient({ url: proxy.url(tdb.url), poolSize: 2, connectTimeoutMs: 3_000 });
    try {
      for (let round = 0; round < 3; round++) {
        const work = c.$transaction(async (tx) => {
          await tx.$queryRawUnsafe('SELECT 1');
          await new Promise((r) => setTimeout(r, 500));
          await tx.$queryRawUnsafe('SELECT 2');
        });
        setTimeout(() => void proxy.cut().then(() => setTimeout(() => void proxy.restore(), 300)), 150);
        await expect(work).rejects.toThrow();
      }
      // After the release delay, every broken connection has been dropped and replaced on demand.
      await new Promise((r) => setTimeout(r, 5_500));
      for (let i = 0; i < 3; i++)
        expect(await c.$transaction(async (tx) => tx.$queryRawUnsafe('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
      const abandoned: number[] = [];
      await closeClient(c, { graceMs: 2_000, onAbandoned: (n) => abandoned.push(n) });
      expect(abandoned).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 60_000);
});

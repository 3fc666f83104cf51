import { join } from 'node:path';
import { submitSearch } from '@ip2/controller';
import { createTestDatabase } from '@ip2/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnPostgres } from '../support/postgres.js';
import { localReference, sleep, Stack, tinyDefinition, type SearchOutcome } from '../support/stack.js';

/*
 * PostgreSQL itself fails during a search, on a cluster of this test's own (initdb in a temporary folder,
 * on a free port; the shared server is never touched): killed with SIGKILL (postmaster and every backend
 * at once) and started again, so that it recovers from its write-ahead log; restarted cleanly with
 * `pg_ctl restart -m fast`. And a backup: pg_dump taken mid-search, restored into a new database (on the
 * shared server: another machine's, as far as the service can tell), with a new controller and worker
 * on a new queue prefix pointed at it. Each search must end COMPLETE with the task results and decision
 * of the fault-free local run of the same definition: none missing, none twice.
 */

const input = tinyDefinition({ kind: 'successive-halving', eta: 2, minTasks: 1 }, 23);
let pg: OwnPostgres;
let stack: Stack;
let reference: Promise<SearchOutcome>;
/** The service on the restored database, started mid-way through the first test (see there). */
let restored: Promise<{ stack: Stack; searchId: string; before: number; inDump: number }> | undefined;

beforeAll(async () => {
  reference = localReference(input);
  pg = await OwnPostgres.create();
  stack = await Stack.create({ serverUrl: pg.serverUrl });
  stack.start('controller', 'controller');
  stack.start('w1', 'worker', { env: { WORKER_ID: 'w1' } });
  stack.start('w2', 'worker', { env: { WORKER_ID: 'w2' } });
}, 90_000);

afterAll(async () => {
  const r = await restored?.catch(() => undefined);
  await r?.stack.close().catch(() => undefined);
  await stack?.close().catch(() => undefined);
  await pg?.close();
});

/** Waits until the search has some task results and a run in flight; the number of results then. */
async function midSearch(s: Stack, searchId: string): Promise<number> {
  return s.until('a task result and a run in flight', async () => {
    const runs = await s.store.runs.list(searchId);
    const done = runs.reduce((n, r) => n + r.tasksDone, 0);
    return done > 0 && runs.some((r) => r.state === 'RUNNING') ? done : 0;
  });
}

/** Every process of the stack is still the one started (they reconnected rather than exited). */
function allRunning(s: Stack): void {
  for (const [name, p] of s.procs) {
    expect({ name, exit: p.exitCode, signal: p.signalCode }).toEqual({ name, exit: null, signal: null });
  }
}

/**
 * The backup of docs/operations.md (Backups), restored: `pg_restore` of the dump into a new, empty
 * database, and a controller and a worker pointed at it, on a new queue prefix (Redis is not backed
 * up: the controller rebuilds the queues from the database).
 */
async function restore(dump: string, searchId: string): Promise<{ stack: Stack; inDump: number }> {
  const db = await createTestDatabase({ migrate: false });
  pg.run('pg_restore', ['--no-owner', '--exit-on-error', '-d', db.url, dump]);
  const s = await Stack.create({ database: db });
  const inDump = (await s.store.runs.list(searchId)).reduce((n, r) => n + r.tasksDone, 0);
  s.start('controller', 'controller');
  s.start('w1', 'worker', { env: { WORKER_ID: 'r1' } });
  return { stack: s, inDump };
}

describe('PostgreSQL itself fails mid-search', { timeout: 150_000 }, () => {
  it('killed with SIGKILL and started again: WAL recovery, the processes reconnect, nothing lost or twice', async () => {
    const search = await submitSearch(stack, input, 'tester');
    const before = await midSearch(stack, search.id);
    // First a backup, mid-search (the last test restores it; it is set going here, to run beside this one).
    const dump = join(pg.dir, 'ip2.dump');
    pg.run('pg_dump', ['-Fc', '-f', dump, stack.db.url]);
    restored = restore(dump, search.id).then((r) => ({ ...r, searchId: search.id, before }));
    restored.catch(() => undefined);

    const logged = pg.log.length;
    await pg.kill();
    await sleep(500);
    await pg.start();
    expect(pg.log.slice(logged)).toMatch(/database system was not properly shut down; automatic recovery in progress/);
    expect(pg.log.slice(logged)).toMatch(/redo (starts at|is not required)/);
    await stack.expectLikeReference(search.id, reference);
    allRunning(stack);
  });

  it('pg_ctl restart -m fast: the processes reconnect, nothing lost or twice', async () => {
    const search = await submitSearch(stack, input, 'tester');
    await midSearch(stack, search.id);
    const logged = pg.log.length;
    await pg.restart('fast');
    expect(pg.log.slice(logged)).toMatch(/received fast shutdown request/);
    expect(pg.log.slice(logged)).toMatch(/database system was shut down at/);
    await stack.expectLikeReference(search.id, reference);
    allRunning(stack);
  });

  it('pg_dump mid-search, restored into a new database: a service pointed at it finishes the search identically', async () => {
    expect(restored, 'the first test takes the dump').toBeDefined();
    const { stack: again, searchId, before, inDump } = await restored!;
    // The dump holds the search part-way: what was done when it was taken, not all of it.
    const expected = await reference;
    expect(inDump).toBeGreaterThanOrEqual(before);
    expect(inDump).toBeLessThan(expected.results.length);
    await again.expectLikeReference(searchId, expected);
    allRunning(again);
  });
});

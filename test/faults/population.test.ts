import { submitSearch } from '@ip2/controller';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localReference, Stack, tinyDefinition, type SearchOutcome } from '../support/stack.js';

/*
 * Workers that train several runs per job in lock-step (WORKER_POPULATION), on real PostgreSQL and
 * Redis: a search ends with the task results and decision of the fault-free local run of the same
 * definition, also when a worker holding several runs is killed mid-task (every run it held is
 * taken over from its last checkpoint).
 */

const input = tinyDefinition({ kind: 'exhaustive' }, 31);
let stack: Stack;
let reference: Promise<SearchOutcome>;

beforeAll(async () => {
  stack = await Stack.create();
  reference = localReference(input);
  stack.start('controller', 'controller');
  stack.start('w1', 'worker', { env: { WORKER_ID: 'w1', WORKER_POPULATION: '4' } });
});

afterAll(async () => {
  await stack?.close();
});

describe('workers with a population', { timeout: 120_000 }, () => {
  it('one job trains its run and queued ones together; the search ends like the local run', async () => {
    const search = await submitSearch(stack, input, 'tester');
    await stack.expectLikeReference(search.id, reference);
    expect(stack.logs.get('w1')).toMatch(/training with [1-3] more run\(s\) in lock-step/);
  });

  it('a worker stopped with SIGTERM while it holds several runs: it releases them all at a task boundary and exits 0', async () => {
    const search = await submitSearch(stack, input, 'tester');
    const held = await stack.until('w1 holding two runs or more', async () => {
      const runs = (await stack.store.runs.list(search.id)).filter((r) => r.state === 'RUNNING' && r.workerId === 'w1');
      return runs.length >= 2 ? runs : null;
    });
    expect(await stack.stop('w1', 'SIGTERM')).toBe(0);
    const after = await stack.store.runs.list(search.id);
    for (const h of held) {
      const r = after.find((x) => x.id === h.id)!;
      // Released (or finished), not left RUNNING for the reaper.
      expect(r.state === 'RUNNING' && r.workerId === 'w1').toBe(false);
    }
    stack.start('w1', 'worker', { env: { WORKER_ID: 'w1b', WORKER_POPULATION: '4' } });
    await stack.expectLikeReference(search.id, reference);
    expect(stack.logs.get('controller')).not.toMatch(new RegExp(`reaper: [^\\n]*(${held.map((h) => h.id).join('|')})`));
  });

  it('a worker killed while it holds several runs: each is taken over from its last checkpoint', async () => {
    const search = await submitSearch(stack, input, 'tester');
    const holding = async () =>
      (await stack.store.runs.list(search.id)).filter((r) => r.state === 'RUNNING' && r.workerId === 'w1b');
    // Frozen while it holds two runs or more, so that none of them ends before the kill.
    const held = await stack.until('w1b frozen while holding two runs or more', async () => {
      if ((await holding()).length < 2) return null;
      stack.signal('w1', 'SIGSTOP');
      const still = await holding();
      if (still.length >= 2) return still;
      stack.signal('w1', 'SIGCONT');
      return null;
    });
    await stack.stop('w1', 'SIGKILL');
    stack.start('w2', 'worker', { env: { WORKER_ID: 'w2', WORKER_POPULATION: '3' } });
    await stack.expectLikeReference(search.id, reference);
    const after = await stack.store.runs.list(search.id);
    for (const h of held) {
      const r = after.find((x) => x.id === h.id)!;
      expect(r.state).toBe('COMPLETE');
      expect(r.workerId).toBe('w2');
    }
  });
});

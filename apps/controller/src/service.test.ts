import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localReference, Stack, tinyDefinition } from '../../../test/support/stack.js';
import { submitSearch } from './submit.js';

/*
 * The service across processes: a controller and two workers (real PostgreSQL, real Redis under a fresh
 * queue prefix), compared with the local mode on the same definition: the results must be identical.
 * Faults (workers killed or stopped, restarts, outages, bad jobs) are tested under test/faults/.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await Stack.create();
  stack.start('controller', 'controller');
  stack.start('w1', 'worker', { env: { WORKER_ID: 'w1' } });
  stack.start('w2', 'worker', { env: { WORKER_ID: 'w2' } });
});

afterAll(async () => {
  await stack?.close();
});

describe('service (controller + 2 workers)', () => {
  it('runs an exhaustive search to COMPLETE with results identical to the local mode', async () => {
    const input = { ...tinyDefinition({ kind: 'exhaustive' }, 11), validation: { seeds: 0 } };
    const search = await submitSearch(stack, input, 'tester');
    const got = await stack.expectLikeReference(search.id, localReference(input));
    expect(got.results).toHaveLength(4 * 2 * 3);
    const runs = await stack.store.runs.list(search.id);
    expect(runs.every((r) => r.state === 'COMPLETE' && r.tasksDone === 3)).toBe(true);
    expect(new Set(runs.map((r) => r.workerId)).size).toBeGreaterThan(0);
    expect(runs.every((r) => r.engine !== null && r.backend !== null && r.workerHost !== null)).toBe(true);
    expect(got.fixed!.validation).toMatchObject({ verdict: 'unvalidated', seeds: 0 });
  });

  it('validates the decision on fresh seeds with ordinary runs, fixing the same configuration as the local mode', async () => {
    const input = {
      ...tinyDefinition({ kind: 'successive-halving', eta: 2, minTasks: 2 }, 12),
      validation: { seeds: 2 },
    };
    const search = await submitSearch(stack, input, 'tester');
    const reference = await localReference(input);
    const got = await stack.expectLikeReference(search.id, reference);
    // The validation runs are runs of the search like any other: seed indices 2 and 3, on fresh seeds.
    const runs = await stack.store.runs.list(search.id);
    const validation = runs.filter((r) => r.seedIndex >= 2);
    const v = got.fixed!.validation!;
    expect(validation).toHaveLength(v.candidates.length * 2);
    expect(validation.every((r) => r.state === 'COMPLETE' && r.tasksDone === 3 && r.engine !== null)).toBe(true);
    expect(new Set(validation.map((r) => r.seed))).toEqual(new Set(v.runSeeds));
    expect(runs.filter((r) => r.seedIndex < 2).map((r) => r.seed)).not.toEqual(expect.arrayContaining([v.runSeeds[0]]));
    // The same fixed configuration, byte for byte but for the search id it names.
    const { createdFrom: a, hash: _h1, ...stored } = got.fixed!;
    const { createdFrom: b, hash: _h2, ...local } = reference.fixed!;
    expect(stored).toEqual(local);
    expect(a.searchHash).toBe(b.searchHash);
    expect(['confirmed', 'tie', 'overturned']).toContain(v.verdict);
  });
});

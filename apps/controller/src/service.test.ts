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
    const input = tinyDefinition({ kind: 'exhaustive' }, 11);
    const search = await submitSearch(stack, input, 'tester');
    const got = await stack.expectLikeReference(search.id, localReference(input));
    expect(got.results).toHaveLength(4 * 2 * 3);
    const runs = await stack.store.runs.list(search.id);
    expect(runs.every((r) => r.state === 'COMPLETE' && r.tasksDone === 3)).toBe(true);
    expect(new Set(runs.map((r) => r.workerId)).size).toBeGreaterThan(0);
    expect(runs.every((r) => r.engine !== null && r.backend !== null && r.workerHost !== null)).toBe(true);
  });
});

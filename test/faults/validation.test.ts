import { submitSearch } from '@ip2/controller';
import type { RunSummary } from '@ip2/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localReference, Stack, tinyDefinition, type SearchOutcome } from '../support/stack.js';

/*
 * A worker killed during the validation stage (a controller and two workers on real PostgreSQL and Redis):
 * the validation runs are ordinary runs, so the one the worker held is reaped and resumed from its last
 * checkpoint by the other worker, and the search ends COMPLETE with the task results, the verdict and the
 * fixed configuration of the fault-free local run of the same definition.
 */

const SEEDS = 2;
const tiny = tinyDefinition({ kind: 'successive-halving', eta: 2, minTasks: 1 }, 31, { hidden: 16 });
// Tasks that train to their cap (a few tenths of a second each), so that a validation run is still running when looked at.
const input = {
  ...tiny,
  protocol: { ...tiny.protocol, seeds: SEEDS, iterationCap: 800, criterion: { window: 10, epsilon: 1e-6 } },
  validation: { seeds: 2 },
};
let stack: Stack;
let reference: Promise<SearchOutcome>;

beforeAll(async () => {
  stack = await Stack.create();
  reference = localReference(input);
  stack.start('controller', 'controller');
  stack.start('w1', 'worker', { env: { WORKER_ID: 'w1' } });
  stack.start('w2', 'worker', { env: { WORKER_ID: 'w2' } });
});

afterAll(async () => {
  await stack?.close();
});

describe('a fault during the validation stage', { timeout: 180_000 }, () => {
  it('a worker killed with SIGKILL while it trains a validation run: the result is the fault-free one', async () => {
    const search = await submitSearch(stack, input, 'tester');
    // Frozen (SIGSTOP) while it holds a validation run (seed index ≥ protocol.seeds), then killed.
    const victim = await stack.until(
      'w1 frozen while holding a validation run',
      async (): Promise<RunSummary | null> => {
        const held = (await stack.store.runs.list(search.id)).find(
          (r) => r.state === 'RUNNING' && r.workerId === 'w1' && r.seedIndex >= SEEDS,
        );
        if (!held) return null;
        stack.signal('w1', 'SIGSTOP');
        const still = (await stack.store.runs.list(search.id)).find((r) => r.id === held.id);
        if (still?.state === 'RUNNING' && still.workerId === 'w1') return still;
        stack.signal('w1', 'SIGCONT');
        return null;
      },
      120_000,
    );
    await stack.stop('w1', 'SIGKILL');
    const got = await stack.expectLikeReference(search.id, reference);
    const expected = await reference;
    // The same validation, verdict and fixed mask as without the fault.
    expect(got.fixed.validation).toEqual(expected.fixed.validation);
    expect(got.fixed.mask).toEqual(expected.fixed.mask);
    expect(['confirmed', 'tie', 'overturned']).toContain(got.fixed.validation!.verdict);
    // The victim was reaped and finished elsewhere, from its checkpoint.
    expect(stack.logs.get('controller')).toMatch(
      new RegExp(`reaper: re-queued \\d+ stale run\\(s\\): [^\\n]*${victim.id}`),
    );
    const after = (await stack.store.runs.list(search.id)).find((r) => r.id === victim.id)!;
    expect(after).toMatchObject({ state: 'COMPLETE', tasksDone: input.protocol.tasks });
    expect(after.workerId).not.toBe('w1');
    expect(after.attempts).toBeGreaterThan(victim.attempts);
    expect(stack.logs.get('controller')).toMatch(
      new RegExp(`search ${search.id}: decided; validating on 2 fresh seeds`),
    );
  });
});

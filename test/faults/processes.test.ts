import { JOBS } from '@ip2/contracts';
import { submitSearch } from '@ip2/controller';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decision,
  duplicateKeys,
  localReference,
  sleep,
  Stack,
  tinyDefinition,
  type SearchOutcome,
} from '../support/stack.js';

/*
 * Faults of the service's own processes during a search (a controller and two workers on real PostgreSQL
 * and Redis): a worker killed, a worker stopped, the controller killed and restarted, a malformed job in
 * the queue. Each search must end COMPLETE with the task results and decision of the fault-free local
 * run of the same definition: no task result missing, none twice.
 */

const input = tinyDefinition({ kind: 'successive-halving', eta: 2, minTasks: 1 }, 23);
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

async function expectIdentical(searchId: string): Promise<SearchOutcome> {
  await stack.waitComplete(searchId);
  const [got, expected] = await Promise.all([stack.outcome(searchId), reference]);
  expect(duplicateKeys(got.results)).toEqual([]);
  expect(got.results.map((r) => r.key)).toEqual(expected.results.map((r) => r.key));
  expect(got.results).toEqual(expected.results);
  expect(decision(got.fixed)).toEqual(decision(expected.fixed));
  return got;
}

describe('faults of the service processes', { timeout: 120_000 }, () => {
  it('a worker killed with SIGKILL mid-task: its run is taken over from the last checkpoint', async () => {
    const search = await submitSearch(stack, input, 'tester');
    const victim = await stack.freezeWhileHolding(search.id, 'w1', 'w1');
    await stack.stop('w1', 'SIGKILL');
    await expectIdentical(search.id);
    const after = (await stack.store.runs.list(search.id)).find((r) => r.id === victim.id)!;
    expect(stack.logs.get('controller')).toMatch(
      new RegExp(`reaper: re-queued \\d+ stale run\\(s\\): [^\\n]*${victim.id}`),
    );
    expect(after.workerId).not.toBe('w1');
    expect(after.attempts).toBeGreaterThan(victim.attempts);
    expect(after.tasksDone).toBeGreaterThan(victim.tasksDone);
    stack.start('w1', 'worker', { env: { WORKER_ID: 'w1b' } });
  });

  it('a worker stopped with SIGTERM mid-task: it finishes the task, releases the run and exits 0', async () => {
    const search = await submitSearch(stack, input, 'tester');
    const held = await stack.until('w2 holding a run', async () =>
      (await stack.store.runs.list(search.id)).find((r) => r.state === 'RUNNING' && r.workerId === 'w2'),
    );
    expect(await stack.stop('w2', 'SIGTERM')).toBe(0);
    expect(stack.logs.get('w2')).toContain('SIGTERM: closing');
    const released = (await stack.store.runs.list(search.id)).find((r) => r.id === held.id)!;
    // Released (or finished) at a task boundary, not left RUNNING for the reaper.
    expect(released.state === 'RUNNING' && released.workerId === 'w2').toBe(false);
    await expectIdentical(search.id);
    expect(stack.logs.get('controller')).not.toMatch(new RegExp(`reaper: [^\\n]*${held.id}`));
    stack.start('w2', 'worker', { env: { WORKER_ID: 'w2b' } });
  });

  it('the controller killed and restarted mid-search', async () => {
    const search = await submitSearch(stack, input, 'tester');
    await stack.until('a first task result', async () =>
      (await stack.store.runs.list(search.id)).some((r) => r.tasksDone > 0),
    );
    await stack.stop('controller', 'SIGKILL');
    await sleep(1000);
    expect((await stack.store.controller.search(search.id)).state).toBe('RUNNING');
    stack.start('controller', 'controller');
    await expectIdentical(search.id);
  });

  it('a run.train job whose payload fails validation fails at once, and the search completes', async () => {
    const search = await submitSearch(stack, input, 'tester');
    const run = await stack.until('a run', async () => (await stack.store.runs.list(search.id))[0]);
    const job = await stack.queues.train.add(
      JOBS['run.train'].name,
      { searchId: search.id, runId: run.id, candidate: run.candidate, seedIndex: 0, fromTask: 2, toTask: 1 } as never,
      { jobId: `invalid-${search.id}`, attempts: 5, backoff: { type: 'fixed', delay: 100 } },
    );
    const failed = await stack.until('the invalid job to fail', async () =>
      (await stack.queues.train.getJobState(job.id!)) === 'failed' ? stack.queues.train.getJob(job.id!) : null,
    );
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toMatch(/^run\.train: /);
    await expectIdentical(search.id);
    expect([...stack.logs.values()].join('\n')).toContain(`job invalid-${search.id} failed: run.train: `);
  });
});

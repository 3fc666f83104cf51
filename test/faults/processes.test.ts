import { JOBS } from '@ip2/contracts';
import { trainChunk } from '@ip2/l2l';
import { chunkJob, parseSearchDefinition, searchState, tableFromRows, type TrainAction } from '@ip2/search';
import { submitSearch } from '@ip2/controller';
import { deserializeState, serializeState } from '@ip2/snn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateKeys, localReference, sleep, Stack, tinyDefinition, type SearchOutcome } from '../support/stack.js';

/*
 * Faults of the service's own processes during a search (a controller and two workers on real PostgreSQL
 * and Redis): a worker killed, a worker stopped, the controller killed and restarted, a malformed job in
 * the queue, a run whose network went NaN. Each search must end COMPLETE with the task results and
 * decision of the fault-free local run of the same definition (for the NaN run: all but its NaN tasks):
 * no task result missing, none twice.
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

describe('faults of the service processes', { timeout: 120_000 }, () => {
  it('a worker killed with SIGKILL mid-task: its run is taken over from the last checkpoint', async () => {
    const search = await submitSearch(stack, input, 'tester');
    const victim = await stack.freezeWhileHolding(search.id, 'w1', 'w1');
    await stack.stop('w1', 'SIGKILL');
    await stack.expectLikeReference(search.id, reference);
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
    await stack.expectLikeReference(search.id, reference);
    expect(stack.logs.get('controller')).not.toMatch(new RegExp(`reaper: [^\\n]*${held.id}`));
    stack.start('w2', 'worker', { env: { WORKER_ID: 'w2b' } });
  });

  it('a worker whose main process alone gets SIGTERM (a container stop): its chunks still end at a task boundary', async () => {
    // The worker id of process w2 (restarted by an earlier test), once it is ready for jobs.
    const id = await stack.until('w2 to be ready', async () => /ready: (\S+) on/.exec(stack.logs.get('w2') ?? '')?.[1]);
    const search = await submitSearch(stack, input, 'tester');
    const held = await stack.until(`${id} holding a run`, async () =>
      (await stack.store.runs.list(search.id)).find((r) => r.state === 'RUNNING' && r.workerId === id),
    );
    expect(await stack.stop('w2', 'SIGTERM', 30_000, 'main')).toBe(0);
    // Nothing of it is left running: its job processes end with it (tsx's esbuild helpers a moment later).
    await stack.until('the processes of w2 to end', async () => !stack.groupAlive('w2'), 10_000);
    const released = (await stack.store.runs.list(search.id)).find((r) => r.id === held.id)!;
    expect(released.state === 'RUNNING' && released.workerId === id).toBe(false);
    await stack.expectLikeReference(search.id, reference);
    expect(stack.logs.get('controller')).not.toMatch(new RegExp(`reaper: [^\\n]*${held.id}`));
    stack.start('w2', 'worker', { env: { WORKER_ID: 'w2c' } });
  });

  it('a worker stopped with SIGTERM during an analysis exits without waiting for it; another worker makes it', async () => {
    // Tasks that train to their cap, so that the analysis (both seeds' runs of the chosen mask trained
    // again, 3–4 s on a quiet machine) is still running when the signal comes.
    const tiny = tinyDefinition({ kind: 'exhaustive' }, 29, { hidden: 32 });
    const slow = {
      ...tiny,
      space: ['tauD' as const],
      // One trial per iteration (not the family's balanced two): the cost this test was sized for.
      protocol: {
        ...tiny.protocol,
        tasks: 12,
        iterationCap: 1000,
        batchSize: 1,
        criterion: { window: 10, epsilon: 1e-6 },
      },
    };
    const search = await submitSearch(stack, slow, 'tester');
    await stack.waitComplete(search.id);
    // The worker process whose analysis child has started computing.
    const name = await stack.until('a worker to start the analysis', async () =>
      ['w1', 'w2'].find((n) => stack.logs.get(n)?.includes(`search ${search.id}: analysing`)),
    );
    expect(await stack.stop(name, 'SIGTERM')).toBe(0);
    // It did not wait for the analysis to end...
    expect((await stack.store.analyses.get(search.id))?.state).toBe('PENDING');
    // ...and nothing of it is left running (an orphaned child would go on with the analysis).
    await stack.until(`the processes of ${name} to end`, async () => !stack.groupAlive(name), 10_000);
    // ...which another worker makes, from the start.
    const made = await stack.until('the analysis to be stored', async () => {
      const a = await stack.store.analyses.get(search.id);
      return a?.state === 'COMPLETE' ? a : null;
    });
    expect(made.state).toBe('COMPLETE');
    stack.start(name, 'worker', { env: { WORKER_ID: `${name}-after-analysis` } });
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
    await stack.expectLikeReference(search.id, reference);
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
    await stack.expectLikeReference(search.id, reference);
    expect([...stack.logs.values()].join('\n')).toContain(`job invalid-${search.id} failed: run.train: `);
  });

  it('a run whose network turned NaN: its tasks are recorded as failed once each, and the search completes', async () => {
    // Stand in for a worker whose network's weights blew up during task 0: train task 0 of a run of a
    // candidate that goes past the first rung as a worker does, claim that run and store the result with
    // the checkpoint after it, every parameter NaN. Whoever trains the run on from there gets NaN losses.
    const expected = await reference;
    const survivors = new Set(expected.results.filter((r) => r.key.endsWith('/1')).map((r) => r.key.split('/')[0]));
    const definition = parseSearchDefinition(input);
    const action = searchState(definition, tableFromRows([])).actions.find(
      (a): a is TrainAction => a.kind === 'train' && survivors.has(a.candidate) && a.seedIndex === 0,
    )!;
    const chunk = chunkJob(definition, { seed: action.seed, keys: action.keys, fromTask: 0, toTask: 1 });
    const steps = [];
    for await (const step of trainChunk(chunk, null)) {
      const state = deserializeState(step.checkpoint.learner);
      for (const a of Object.values(state.params)) a.fill(Number.NaN);
      steps.push({ result: step.result, checkpoint: { ...step.checkpoint, learner: serializeState(state) } });
    }
    // No worker takes a chunk until the run is poisoned (else one may claim the run first).
    await stack.queues.train.pause();
    const search = await submitSearch(stack, input, 'tester');
    const target = (await stack.store.runs.list(search.id)).find(
      (r) => r.candidate === action.candidate && r.seedIndex === 0,
    )!;
    const claim = (await stack.store.runs.claim(
      target.id,
      { workerId: 'test', host: 'test' },
      { staleAfterMs: 60_000 },
    ))!;
    expect(claim).not.toBeNull();
    for (const s of steps) await stack.store.runs.recordTasks(claim.runId, claim.claimToken, [s.result], s.checkpoint);
    await stack.store.runs.release(claim.runId, claim.claimToken, 'WAITING');
    await stack.queues.train.resume();
    await stack.waitComplete(search.id);

    const got = await stack.outcome(search.id);
    expect(duplicateKeys(got.results)).toEqual([]);
    const prefix = `${claim.candidate}/${claim.seedIndex}/`;
    const mine = (r: { key: string }) => r.key.startsWith(prefix);
    // Every other task result, and this run's task 0, as without the fault.
    expect(got.results.filter((r) => !mine(r) || r.key.endsWith('/0'))).toEqual(
      expected.results.filter((r) => !mine(r) || r.key.endsWith('/0')),
    );
    const failed = (await stack.store.runs.results(claim.runId)).filter((r) => r.taskIndex > 0);
    expect(failed.length).toBeGreaterThan(0);
    for (const r of failed) {
      expect(r).toMatchObject({ failure: 'nan', converged: false });
      expect(r.finalLoss).toBeNaN();
    }
    const run = (await stack.store.runs.list(search.id)).find((r) => r.id === claim.runId)!;
    // Finished, or cancelled with its candidate when a later rung pruned it.
    expect(['COMPLETE', 'CANCELLED']).toContain(run.state);
    // Not retried: no failed job of the run, no failure logged by any worker.
    const failedJobs = await stack.queues.train.getFailed(0, 1000);
    expect(failedJobs.filter((j) => (j.data as { runId?: string }).runId === claim.runId)).toEqual([]);
    expect([...stack.logs.values()].join('\n')).not.toMatch(new RegExp(`job run-${claim.runId}-from-\\d+ failed`));
    expect(got.fixed).toBeDefined();
  });
});

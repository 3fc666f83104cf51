import type { RunCheckpoint, TaskResult } from '@ip2/l2l';
import { useTestStore } from '@ip2/testing/store';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ClaimLostError, ConflictError, mapError, openStore, type RunSummary, type Store } from './index.js';

let store: Store;
const tdb = useTestStore((url) => (store = openStore({ url })));

const TASKS = 8;

/** A new search of 2 candidates × 2 seeds; returns its runs. */
async function newRuns(owner = 'alice'): Promise<{ searchId: string; runs: RunSummary[] }> {
  const { search } = await store.searches.create(owner, {
    definition: { family: 'dms', space: ['tauD'], protocol: { tasks: TASKS, seeds: 2 } },
  });
  return { searchId: search.id, runs: await store.runs.list(search.id) };
}

function task(taskIndex: number, over: Partial<TaskResult> = {}): TaskResult {
  return {
    taskIndex,
    iterations: 100 + taskIndex,
    trialsToCriterion: 2 * (100 + taskIndex),
    batchSize: 2,
    totalIterations: 150 + taskIndex,
    converged: true,
    failure: null,
    finalLoss: 0.004,
    accuracy: 0.9,
    heldOutLoss: 0.01,
    firingRate: 0.25,
    activeNeurons: 30,
    neurons: 40,
    fractionSilent: 0.25,
    wallMs: 31.25,
    ...over,
  };
}

function checkpoint(nextTask: number): RunCheckpoint {
  return { nextTask, learner: Uint8Array.from({ length: 64 }, (_, i) => (i * 7 + nextTask) & 255), converged: true };
}

const worker = (id: string) => ({ workerId: id, host: 'host-a', engine: 'fused', backend: 'wasm' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sets the runs' last heartbeat `ms` before the database's now, as if that much time had passed. */
async function heartbeatsAgo(runIds: readonly string[], ms: number): Promise<void> {
  const client = new pg.Client({ connectionString: tdb.url });
  await client.connect();
  try {
    await client.query(
      `UPDATE "Run" SET "heartbeatAt" = now() - $2::float8 * interval '1 millisecond' WHERE "id" = ANY($1::uuid[])`,
      [runIds, ms],
    );
  } finally {
    await client.end();
  }
}

describe('claim', () => {
  it('lets exactly one of 10 concurrent workers (10 connection pools) claim a run', async () => {
    const { searchId, runs } = await newRuns();
    const run = runs[0]!;
    const workers = Array.from({ length: 10 }, () => openStore({ url: tdb.url, poolSize: 1 }));
    try {
      const claims = await Promise.all(workers.map((w, i) => w.runs.claim(run.id, worker(`w${i}`))));
      const won = claims.filter((c) => c !== null);
      expect(won).toHaveLength(1);
      const after = (await store.runs.list(searchId)).find((r) => r.id === run.id)!;
      expect(after.state).toBe('RUNNING');
      expect(after.attempts).toBe(1);
      expect(after.workerId).toBe(`w${claims.findIndex((c) => c !== null)}`);
      expect(after).toMatchObject({ workerHost: 'host-a', engine: 'fused', backend: 'wasm' });
      expect(won[0]).toMatchObject({ runId: run.id, attempt: 1, tookOver: false, tasksDone: 0, checkpoint: null });
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
  });

  it('gives the worker the run, its search and seed, and marks candidate and search running', async () => {
    const { searchId, runs } = await newRuns();
    const run = runs.find((r) => r.seedIndex === 1)!;
    const c = (await store.runs.claim(run.id, worker('w')))!;
    expect(c).toMatchObject({
      searchId,
      family: 'dms',
      candidate: run.candidate,
      seedIndex: 1,
      seed: run.seed,
      tasksDone: 0,
    });
    expect(c.definition.protocol.tasks).toBe(TASKS);
    expect(c.claimToken).toMatch(/^[0-9a-f-]{36}$/);
    expect((await store.controller.search(searchId)).state).toBe('RUNNING');
    const cand = (await store.controller.candidates(searchId)).find((x) => x.bits === run.candidate)!;
    expect(cand.state).toBe('RUNNING');
  });

  it('does not take over a live claim, takes over a stale one, and refuses the old token', async () => {
    const { runs } = await newRuns();
    const run = runs[0]!;
    const a = (await store.runs.claim(run.id, worker('a')))!;
    expect(await store.runs.claim(run.id, worker('b'))).toBeNull();
    await store.runs.heartbeat(run.id, a.claimToken);
    await sleep(20);
    const b = (await store.runs.claim(run.id, worker('b'), { staleAfterMs: 10 }))!;
    expect(b).toMatchObject({ attempt: 2, tookOver: true });
    await expect(store.runs.heartbeat(run.id, a.claimToken)).rejects.toBeInstanceOf(ClaimLostError);
    await expect(store.runs.recordTasks(run.id, a.claimToken, [task(0)], checkpoint(1))).rejects.toBeInstanceOf(
      ClaimLostError,
    );
    await expect(store.runs.release(run.id, a.claimToken, 'WAITING')).rejects.toBeInstanceOf(ClaimLostError);
    expect(await store.runs.results(run.id)).toEqual([]);
    expect(await store.runs.checkpoint(run.id)).toBeNull();
    await store.runs.recordTasks(run.id, b.claimToken, [task(0)], checkpoint(1));
    expect(await store.runs.results(run.id)).toHaveLength(1);
  });

  it('returns null for finished, cancelled and unknown runs', async () => {
    const { runs } = await newRuns();
    const c = (await store.runs.claim(runs[0]!.id, worker('w')))!;
    await store.runs.release(runs[0]!.id, c.claimToken, 'COMPLETE');
    expect(await store.runs.claim(runs[0]!.id, worker('w'), { staleAfterMs: 0 })).toBeNull();
    expect(await store.runs.claim('00000000-0000-4000-8000-000000000000', worker('w'))).toBeNull();
    expect(await store.runs.claim('not-a-uuid', worker('w'))).toBeNull();
    await expect(store.runs.claim(runs[1]!.id, { workerId: '' })).rejects.toThrow(TypeError);
  });
});

describe('recordTasks', () => {
  it('writes task results and checkpoint; writing the same tasks again is a no-op', async () => {
    const { runs } = await newRuns();
    const run = runs[0]!;
    const c = (await store.runs.claim(run.id, worker('w')))!;
    const chunk = [task(0), task(1), task(2)];
    expect(await store.runs.recordTasks(run.id, c.claimToken, chunk, checkpoint(3))).toEqual({
      inserted: [0, 1, 2],
      duplicates: [],
      mismatched: [],
      tasksDone: 3,
    });
    expect(await store.runs.recordTasks(run.id, c.claimToken, chunk, checkpoint(3))).toEqual({
      inserted: [],
      duplicates: [0, 1, 2],
      mismatched: [],
      tasksDone: 3,
    });
    // A repeated task with another result: reported, the first result stays (never overwritten).
    const out = await store.runs.recordTasks(
      run.id,
      c.claimToken,
      [task(2, { finalLoss: 0.5, wallMs: 99 }), task(3), task(1, { wallMs: 1 })],
      checkpoint(4),
    );
    expect(out).toEqual({ inserted: [3], duplicates: [1, 2], mismatched: [2], tasksDone: 4 });
    const stored = await store.runs.results(run.id);
    expect(stored).toEqual([task(0), task(1), task(2), task(3)]);
    expect((await store.runs.checkpoint(run.id))!.nextTask).toBe(4);
    // Not even a direct update changes a recorded task result.
    await expect(
      store.client.taskResult
        .update({ where: { runId_taskIndex: { runId: run.id, taskIndex: 2 } }, data: { finalLoss: 0.5 } })
        .catch((e: unknown) => {
          throw mapError(e);
        }),
    ).rejects.toBeInstanceOf(ConflictError);
    const summary = (await store.runs.list(c.searchId)).find((r) => r.id === run.id)!;
    expect(summary.tasksDone).toBe(4);
  });

  it('stores a chunk and its checkpoint together or not at all', async () => {
    const { runs } = await newRuns();
    const run = runs[0]!;
    const c = (await store.runs.claim(run.id, worker('w')))!;
    await store.runs.recordTasks(run.id, c.claimToken, [task(0), task(1)], checkpoint(2));
    const before = await store.runs.checkpoint(run.id);

    // The checkpoint claims tasks 0..4 are recorded but task 3 is missing: the transaction fails after
    // inserting tasks 2 and 4, and neither those results nor the checkpoint remain.
    await expect(store.runs.recordTasks(run.id, c.claimToken, [task(2), task(4)], checkpoint(5))).rejects.toThrow(
      /needs tasks 0\.\.4 recorded/,
    );
    // A checkpoint past the end of the sequence fails the same way.
    await expect(store.runs.recordTasks(run.id, c.claimToken, [task(2)], checkpoint(TASKS + 1))).rejects.toThrow(
      /beyond/,
    );
    // So does a task index past the end.
    await expect(store.runs.recordTasks(run.id, c.claimToken, [task(2), task(TASKS)], null)).rejects.toThrow(/beyond/);
    expect((await store.runs.results(run.id)).map((r) => r.taskIndex)).toEqual([0, 1]);
    expect(await store.runs.checkpoint(run.id)).toEqual(before);
    expect((await store.runs.list(c.searchId)).find((r) => r.id === run.id)!.tasksDone).toBe(2);
  });

  it('never moves a checkpoint back', async () => {
    const { runs } = await newRuns();
    const run = runs[0]!;
    const c = (await store.runs.claim(run.id, worker('w')))!;
    await store.runs.recordTasks(
      run.id,
      c.claimToken,
      [0, 1, 2, 3].map((k) => task(k)),
      checkpoint(4),
    );
    await store.runs.recordTasks(run.id, c.claimToken, [task(0), task(1)], checkpoint(2));
    const cp = (await store.runs.checkpoint(run.id))!;
    expect(cp.nextTask).toBe(4);
    expect(cp.checkpoint).toEqual(checkpoint(4));
    expect(cp.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps NaN, ±Infinity, -0 and extreme doubles exactly', async () => {
    const { searchId, runs } = await newRuns();
    const run = runs[0]!;
    const c = (await store.runs.claim(run.id, worker('w')))!;
    const odd = [
      task(0, {
        iterations: Number.NaN,
        finalLoss: Number.NaN,
        converged: false,
        failure: 'nan',
        firingRate: Number.NaN,
      }),
      task(1, { finalLoss: Number.POSITIVE_INFINITY, heldOutLoss: Number.NEGATIVE_INFINITY, accuracy: -0 }),
      task(2, { finalLoss: Number.MIN_VALUE, heldOutLoss: Number.MAX_VALUE, wallMs: 0.1 + 0.2 }),
      task(3, { iterations: 20_000, converged: false, failure: 'cap', finalLoss: 1 / 3 }),
    ];
    await store.runs.recordTasks(run.id, c.claimToken, odd, checkpoint(4));
    const back = await store.runs.results(run.id);
    expect(back).toHaveLength(odd.length);
    for (const [i, r] of back.entries()) {
      for (const [k, v] of Object.entries(odd[i]!)) {
        expect(Object.is((r as unknown as Record<string, unknown>)[k], v), `task ${i} ${k}`).toBe(true);
      }
    }
    const rows = (await store.runs.resultTable(searchId)).filter((r) => r.candidate === run.candidate);
    expect(Object.is(rows[0]!.iterations, Number.NaN) && Object.is(rows[0]!.finalLoss, Number.NaN)).toBe(true);
    expect(rows[1]!.finalLoss).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps trials to criterion, batch size and firing statistics, NaN for a non-spiking model, in every read', async () => {
    const { searchId, runs } = await newRuns();
    const run = runs[0]!;
    const c = (await store.runs.claim(run.id, worker('w')))!;
    const written = [
      task(0, { iterations: 40, trialsToCriterion: 160, batchSize: 4, activeNeurons: 3, neurons: 64 }),
      task(1, { fractionSilent: 1 - 3 / 64, activeNeurons: 3, neurons: 64, batchSize: 4, trialsToCriterion: 404 }),
      task(2, { firingRate: Number.NaN, activeNeurons: Number.NaN, neurons: 64, fractionSilent: Number.NaN }),
    ];
    await store.runs.recordTasks(run.id, c.claimToken, written, checkpoint(3));
    const fields = ['trialsToCriterion', 'batchSize', 'activeNeurons', 'neurons', 'fractionSilent'] as const;
    const same = (got: Record<string, unknown>, want: TaskResult, at: string) => {
      for (const k of fields) expect(Object.is(got[k], want[k]), `${at} ${k}: ${String(got[k])}`).toBe(true);
    };
    const back = await store.runs.results(run.id);
    expect(back).toHaveLength(3);
    for (const [i, r] of back.entries()) same(r as unknown as Record<string, unknown>, written[i]!, `results ${i}`);
    const full = (await store.searches.taskResults('alice', searchId)).filter((r) => r.candidate === run.candidate);
    for (const r of full.filter((x) => x.seedIndex === run.seedIndex)) {
      same(
        r.result as unknown as Record<string, unknown>,
        written[r.result.taskIndex]!,
        `taskResults ${r.result.taskIndex}`,
      );
    }
    const streamed = (await store.monitor.resultsAfter(searchId, null, null, 100)).filter((r) => r.runId === run.id);
    expect(streamed).toHaveLength(3);
    for (const r of streamed)
      same(r as unknown as Record<string, unknown>, written[r.taskIndex]!, `stream ${r.taskIndex}`);
    // The same results again are duplicates, not mismatches; another active count is a mismatch.
    const again = await store.runs.recordTasks(
      run.id,
      c.claimToken,
      [written[0]!, task(1, { activeNeurons: 4 })],
      null,
    );
    expect(again).toMatchObject({ inserted: [], duplicates: [0, 1], mismatched: [1] });
    await expect(store.runs.recordTasks(run.id, c.claimToken, [task(3, { batchSize: 0 })], null)).rejects.toThrow(
      /batchSize must be a positive integer/,
    );
  });

  it('reads a result recorded before trials and firing statistics were kept: those fields are NaN', async () => {
    const { searchId, runs } = await newRuns();
    const run = runs[0]!;
    const c = (await store.runs.claim(run.id, worker('w')))!;
    // A row as the earlier schema wrote it: the new columns are left out (NULL).
    await store.client.$executeRaw`
      INSERT INTO "TaskResult" ("runId", "taskIndex", "iterations", "totalIterations", "converged", "failure",
        "finalLoss", "accuracy", "heldOutLoss", "firingRate", "wallMs")
      VALUES (${run.id}::uuid, 0, 400, 400, false, 'cap', 0.04, 0.5, 0.041, 0.0035, 12)`;
    const old = {
      taskIndex: 0,
      iterations: 400,
      totalIterations: 400,
      converged: false,
      failure: 'cap' as const,
      finalLoss: 0.04,
      accuracy: 0.5,
      heldOutLoss: 0.041,
      firingRate: 0.0035,
      wallMs: 12,
    };
    const nan = {
      trialsToCriterion: Number.NaN,
      batchSize: Number.NaN,
      activeNeurons: Number.NaN,
      neurons: Number.NaN,
      fractionSilent: Number.NaN,
    };
    expect(await store.runs.results(run.id)).toEqual([{ ...old, ...nan }]);
    const full = (await store.searches.taskResults('alice', searchId)).filter((r) => r.candidate === run.candidate);
    expect(full.find((r) => r.seedIndex === run.seedIndex)!.result).toEqual({ ...old, ...nan });
    const streamed = (await store.monitor.resultsAfter(searchId, null, null, 100)).find((r) => r.runId === run.id)!;
    expect(streamed).toMatchObject({ ...old, ...nan });
    // Recording the task again with the new fields: a duplicate, not a mismatch (the old row lacks them).
    const out = await store.runs.recordTasks(
      run.id,
      c.claimToken,
      [{ ...old, trialsToCriterion: 700, batchSize: 2, activeNeurons: 2, neurons: 64, fractionSilent: 62 / 64 }],
      null,
    );
    expect(out).toMatchObject({ inserted: [], duplicates: [0], mismatched: [] });
  });
});

describe('heartbeat, release, reaper, cancel', () => {
  it('resumes from the checkpoint after a release', async () => {
    const { runs } = await newRuns();
    const run = runs[0]!;
    const a = (await store.runs.claim(run.id, worker('a')))!;
    await store.runs.recordTasks(run.id, a.claimToken, [task(0), task(1), task(2)], checkpoint(3));
    await store.runs.release(run.id, a.claimToken, 'WAITING');
    await expect(store.runs.heartbeat(run.id, a.claimToken)).rejects.toBeInstanceOf(ClaimLostError);
    const b = (await store.runs.claim(run.id, worker('b')))!;
    expect(b.attempt).toBe(2);
    expect(b.tookOver).toBe(false);
    expect(b.tasksDone).toBe(3);
    expect(b.checkpoint!.checkpoint).toEqual(checkpoint(3));
    await store.runs.release(run.id, b.claimToken, 'FAILED', 'out of memory');
    const s = (await store.runs.list(b.searchId)).find((r) => r.id === run.id)!;
    expect(s).toMatchObject({ state: 'FAILED', error: 'out of memory', workerId: 'b' });
  });

  it('the reaper returns runs with a stopped heartbeat to WAITING and voids their tokens', async () => {
    const { runs } = await newRuns();
    const live = (await store.runs.claim(runs[0]!.id, worker('live')))!;
    const dead = (await store.runs.claim(runs[1]!.id, worker('dead')))!;
    // Both claimed an hour ago (moved back in the database rather than waited for); only one still beats.
    await heartbeatsAgo([runs[0]!.id, runs[1]!.id], 3_600_000);
    await store.runs.heartbeat(runs[0]!.id, live.claimToken);
    // A live heartbeat is seconds old at most, however loaded the machine: a minute separates the two.
    const reaped = await store.runs.reapStale(60_000);
    expect(reaped).toContain(runs[1]!.id);
    expect(reaped).not.toContain(runs[0]!.id);
    await expect(store.runs.heartbeat(runs[1]!.id, dead.claimToken)).rejects.toBeInstanceOf(ClaimLostError);
    expect(await store.runs.markQueued(runs[1]!.id)).toBe(true);
    expect(await store.runs.markQueued(runs[1]!.id)).toBe(false);
    expect((await store.runs.claim(runs[1]!.id, worker('next')))!.attempt).toBe(2);
  });

  it('cancelling the search stops its workers: their writes are refused, nothing is claimable', async () => {
    const { searchId, runs } = await newRuns('carol');
    const c = (await store.runs.claim(runs[0]!.id, worker('w')))!;
    await store.searches.cancel('carol', searchId);
    await expect(store.runs.recordTasks(runs[0]!.id, c.claimToken, [task(0)], null)).rejects.toBeInstanceOf(
      ClaimLostError,
    );
    for (const r of runs) expect(await store.runs.claim(r.id, worker('x'), { staleAfterMs: 0 })).toBeNull();
    expect((await store.runs.list(searchId)).every((r) => r.state === 'CANCELLED')).toBe(true);
  });
});

import { openStore, UnavailableError, type Store } from '@ip2/db';
import { deserializeState } from '@ip2/snn';
import { useTestStore } from '@ip2/testing/store';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { isOutage, processTrainJob, type TrainDeps, type TrainProgress } from './train.js';

/* The processor's logic in this process, against a real, migrated PostgreSQL database. */

let store: Store;
useTestStore((url) => (store = openStore({ url, poolSize: 2 })));

const definition = {
  family: 'sma',
  space: ['tauD'],
  strategy: { kind: 'exhaustive' },
  protocol: {
    tasks: 3,
    seeds: 1,
    baseSeed: 5,
    criterion: { window: 10, epsilon: 0.05 },
    iterationCap: 150,
    evalBatch: 8,
    network: { hidden: 8, lr: 3e-3 },
  },
};

function deps(): TrainDeps {
  return { store, worker: { workerId: 'test', host: 'here' }, heartbeatMs: 1000, staleMs: 60_000 };
}

async function newRun(d: typeof definition = definition) {
  const { search } = await store.searches.create('owner', { definition: d });
  const run = (await store.runs.list(search.id)).find((r) => r.candidate === '1')!;
  const payload = {
    searchId: search.id,
    runId: run.id,
    candidate: run.candidate,
    seedIndex: run.seedIndex,
    seed: run.seed,
    keys: ['tauD'],
    fromTask: 0,
    toTask: 3,
    rung: 0,
  };
  return { search, run, payload };
}

function job(data: unknown, onProgress: (p: TrainProgress) => Promise<void> | void = () => undefined) {
  return {
    id: 'job',
    data,
    attemptsMade: 0,
    opts: { attempts: 3 },
    updateProgress: async (p: object) => onProgress(p as TrainProgress),
  };
}

describe('processTrainJob', () => {
  it('trains the chunk, records every task with its checkpoint, reports progress and completes the run', async () => {
    const { run, payload } = await newRun();
    const progress: TrainProgress[] = [];
    const result = await processTrainJob(
      deps(),
      job(payload, (p) => {
        progress.push(p);
      }),
    );
    expect(result).toMatchObject({ tasksWritten: 3, nextTask: 3 });
    expect(result.engine).not.toBe('none');
    expect(progress.map((p) => `${p.task}/${p.of}`)).toEqual(['1/3', '2/3', '3/3']);
    const [after] = (await store.runs.list(payload.searchId)).filter((r) => r.id === run.id);
    expect(after).toMatchObject({ state: 'COMPLETE', tasksDone: 3, workerId: 'test', workerHost: 'here' });
    expect(after!.engine).toBe(result.engine);
    expect((await store.runs.checkpoint(run.id))?.nextTask).toBe(3);
    // Done already: a repeated job changes nothing.
    expect(await processTrainJob(deps(), job(payload))).toMatchObject({ tasksWritten: 0 });
    const stored = await store.runs.results(run.id);
    expect(stored).toHaveLength(3);
    // The definition gives no batch size: sma's two conditions; trials and firing statistics are stored.
    for (const r of stored) {
      expect(r).toMatchObject({ batchSize: 2, trialsToCriterion: 2 * r.iterations, neurons: 8 });
      expect(r.iterations).toBe(Math.max(0, r.totalIterations - 10));
      expect(Number.isInteger(r.activeNeurons) && r.activeNeurons >= 0 && r.activeNeurons <= 8).toBe(true);
      expect(r.fractionSilent).toBeCloseTo(1 - r.activeNeurons / 8, 12);
    }
  });

  it('trains on the engine and TensorFlow.js backend the worker parsed from its environment', async () => {
    // A short cap: the TensorFlow.js engine is slow on networks this small.
    const short = { ...definition, protocol: { ...definition.protocol, iterationCap: 20 } };
    const { search, run, payload } = await newRun(short);
    const lines: string[] = [];
    const result = await processTrainJob(
      { ...deps(), compute: { engine: 'tfjs', tf: { backend: 'wasm', log: (l) => lines.push(l) } } },
      job({ ...payload, toTask: 1 }),
    );
    expect(result).toMatchObject({ tasksWritten: 1, engine: 'tfjs', backend: 'wasm' });
    const [after] = (await store.runs.list(search.id)).filter((r) => r.id === run.id);
    expect(after).toMatchObject({ engine: 'tfjs', backend: 'wasm' });
    expect(lines).toEqual(['TensorFlow.js backend: wasm (forced by backend)']);
  });

  it('trains under the model settings of the definition; a search stored before model versions under version 1', async () => {
    const configOf = async (runId: string) =>
      deserializeState((await store.runs.checkpoint(runId))!.checkpoint.learner).config;
    const { run, payload } = await newRun();
    await processTrainJob(deps(), job({ ...payload, toTask: 1 }));
    expect(await configOf(run.id)).toMatchObject({
      modelVersion: 2,
      readout: 'spikes',
      optimizer: { properties: 'adam' },
    });

    const sgd = {
      ...definition,
      protocol: {
        ...definition.protocol,
        network: { ...definition.protocol.network, modelVersion: 1, propertyOptimizer: 'sgd' },
      },
    };
    const { search: s1 } = await store.searches.create('owner', { definition: sgd });
    const r1 = (await store.runs.list(s1.id)).find((r) => r.candidate === '1')!;
    await processTrainJob(deps(), job({ ...payload, searchId: s1.id, runId: r1.id, seed: r1.seed, toTask: 1 }));
    expect(await configOf(r1.id)).toMatchObject({
      modelVersion: 1,
      readout: 'membrane',
      optimizer: { properties: 'sgd' },
    });

    // The row as written before the definition had model versions: no modelVersion anywhere.
    const { search: old } = await store.searches.create('owner', { definition });
    const parsed = (await store.searches.get('owner', old.id)).definition;
    const { modelVersion: _v, propertyOptimizer: _o, ...network } = parsed.protocol.network;
    const unversioned = { ...parsed, protocol: { ...parsed.protocol, network } };
    await store.client.$executeRaw`UPDATE "Search" SET "definition" = ${JSON.stringify(unversioned)}::jsonb,
      "protocol" = ${JSON.stringify(unversioned.protocol)}::jsonb WHERE "id" = ${old.id}::uuid`;
    const r0 = (await store.runs.list(old.id)).find((r) => r.candidate === '1')!;
    await processTrainJob(deps(), job({ ...payload, searchId: old.id, runId: r0.id, seed: r0.seed, toTask: 1 }));
    expect(await configOf(r0.id)).toMatchObject({
      modelVersion: 1,
      readout: 'membrane',
      optimizer: { properties: 'adam' },
    });
  });

  it('goes on from the checkpoint when an earlier attempt got further than fromTask', async () => {
    const { run, payload } = await newRun();
    await processTrainJob(deps(), job({ ...payload, toTask: 2 }));
    const again = await processTrainJob(deps(), job({ ...payload, fromTask: 1 }));
    expect(again).toMatchObject({ tasksWritten: 1, nextTask: 3 });
    expect((await store.runs.results(run.id)).map((r) => r.taskIndex)).toEqual([0, 1, 2]);
  });

  it('stops at the next task boundary when the search is cancelled', async () => {
    const { search, run, payload } = await newRun();
    const result = await processTrainJob(
      deps(),
      job(payload, async (p) => {
        if (p.task === 1) await store.searches.cancel('owner', search.id);
      }),
    );
    expect(result).toMatchObject({ tasksWritten: 1, nextTask: 1 });
    expect(await store.runs.results(run.id)).toHaveLength(1);
  });

  it('a stopping worker ends the chunk at the next task boundary, or before the first task when already stopping', async () => {
    const first = await newRun();
    let stop = false;
    const result = await processTrainJob(
      { ...deps(), stopping: () => stop },
      job(first.payload, async (p) => {
        if (p.task === 1) stop = true;
      }),
    );
    expect(result).toMatchObject({ tasksWritten: 1, nextTask: 1 });
    expect(await store.runs.results(first.run.id)).toHaveLength(1);
    expect((await store.runs.list(first.search.id)).find((r) => r.id === first.run.id)).toMatchObject({
      state: 'WAITING',
      tasksDone: 1,
    });

    const second = await newRun();
    const untouched = await processTrainJob({ ...deps(), stopping: () => true }, job(second.payload));
    expect(untouched).toMatchObject({ tasksWritten: 0, nextTask: 0 });
    expect(await store.runs.results(second.run.id)).toHaveLength(0);
    // Released at once for another worker, not left RUNNING until its claim goes stale.
    expect((await store.runs.list(second.search.id)).find((r) => r.id === second.run.id)).toMatchObject({
      state: 'WAITING',
      tasksDone: 0,
    });
  });

  it('with a population, trains queued runs of the search beside its own, with the results each gives alone', async () => {
    const wide = { ...definition, space: ['tauD', 'theta'], protocol: { ...definition.protocol, seeds: 2 } };
    const make = async () => {
      const { search } = await store.searches.create('owner', { definition: wide });
      return { search, runs: await store.runs.list(search.id) };
    };
    const payloadOf = (searchId: string, r: { id: string; candidate: string; seedIndex: number; seed: number }) => ({
      searchId,
      runId: r.id,
      candidate: r.candidate,
      seedIndex: r.seedIndex,
      seed: r.seed,
      keys: (['tauD', 'theta'] as const).filter((_, i) => r.candidate[i] === '1'),
      fromTask: 0,
      toTask: 3,
      rung: 0,
    });
    const rows = async (runId: string) => (await store.runs.results(runId)).map(({ wallMs: _w, ...r }) => r);

    // Alone: every run by its own job.
    const alone = await make();
    for (const r of alone.runs) await processTrainJob(deps(), job(payloadOf(alone.search.id, r)));

    // Together: 8 runs, 6 others queued; one job with a population of 4 takes its own and 3 queued ones
    // (at most half of the others, so that other workers find work too).
    const together = await make();
    const [first, ...rest] = together.runs;
    for (const r of rest.slice(0, 6)) expect(await store.runs.markQueued(r.id)).toBe(true);
    const progress: TrainProgress[] = [];
    const result = await processTrainJob(
      { ...deps(), population: 4 },
      job(payloadOf(together.search.id, first!), (p) => {
        progress.push(p);
      }),
    );
    expect(result).toMatchObject({ tasksWritten: 3, nextTask: 3 });
    expect(progress.map((p) => p.runId)).toEqual([first!.id, first!.id, first!.id]);
    const after = await store.runs.list(together.search.id);
    const complete = after.filter((r) => r.state === 'COMPLETE');
    expect(complete).toHaveLength(4);
    const queued = after.filter((r) => r.state === 'QUEUED');
    expect(queued).toHaveLength(3);
    expect(after.filter((r) => r.state === 'WAITING')).toHaveLength(1);
    // The next job: two others queued, so it takes one of them.
    await processTrainJob({ ...deps(), population: 4 }, job(payloadOf(together.search.id, queued[0]!)));
    expect((await store.runs.list(together.search.id)).filter((r) => r.state === 'COMPLETE')).toHaveLength(6);
    // The adopted runs' own jobs find nothing to do.
    for (const r of complete.filter((x) => x.id !== first!.id)) {
      expect(await processTrainJob(deps(), job(payloadOf(together.search.id, r)))).toMatchObject({ tasksWritten: 0 });
    }
    // Every run, trained alone or together, has the same results.
    for (const r of await store.runs.list(together.search.id)) {
      const twin = alone.runs.find((x) => x.candidate === r.candidate && x.seedIndex === r.seedIndex)!;
      if (r.state !== 'COMPLETE') {
        await processTrainJob(deps(), job(payloadOf(together.search.id, r)));
      }
      expect(await rows(r.id), `${r.candidate}/${r.seedIndex}`).toEqual(await rows(twin.id));
      expect(await rows(r.id)).toHaveLength(3);
    }
  });

  /** The test database's store, whose connection is lost at the `nth` call of `method` of its runs. */
  function losing(method: 'recordTasks' | 'claim', nth: number): Store {
    let calls = 0;
    const runs = new Proxy(store.runs, {
      get(target, key) {
        const value: unknown = Reflect.get(target, key, target);
        if (key !== method || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (++calls === nth) return Promise.reject(new UnavailableError('database unavailable (P1017)'));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    return new Proxy(store, { get: (target, key) => (key === 'runs' ? runs : Reflect.get(target, key, target)) });
  }

  it('an outage of the database ends the chunk without failing the job; the next job goes on with the same results', async () => {
    const { run, payload } = await newRun();
    const cut = await processTrainJob({ ...deps(), store: losing('recordTasks', 2), outagePauseMs: 0 }, job(payload));
    expect(cut).toMatchObject({ tasksWritten: 1, nextTask: 1 });
    expect((await store.runs.list(payload.searchId)).find((r) => r.id === run.id)).toMatchObject({ state: 'WAITING' });
    const rest = await processTrainJob(deps(), job({ ...payload, fromTask: 1 }));
    expect(rest).toMatchObject({ tasksWritten: 2, nextTask: 3 });
    // The same as a run that met no outage.
    const clean = await newRun();
    await processTrainJob(deps(), job(clean.payload));
    const strip = (rows: Awaited<ReturnType<typeof store.runs.results>>) =>
      rows.map(({ taskIndex, iterations, finalLoss, accuracy }) => ({ taskIndex, iterations, finalLoss, accuracy }));
    expect(strip(await store.runs.results(run.id))).toEqual(strip(await store.runs.results(clean.run.id)));
  });

  it('heartbeats while a long task trains, so that a loaded worker is not taken for dead', async () => {
    // One task that runs to its cap (no loss reaches ε 1e-9): far longer than the heartbeat interval.
    const long = {
      ...definition,
      protocol: { ...definition.protocol, tasks: 1, iterationCap: 4000, criterion: { window: 10, epsilon: 1e-9 } },
    };
    const { run, payload } = await newRun(long);
    const seen = new Set<number>();
    let taskEnded = false;
    const sample = setInterval(() => {
      void store.runs.list(payload.searchId).then((rows) => {
        const at = rows.find((r) => r.id === run.id)?.heartbeatAt;
        if (!taskEnded && at) seen.add(at.getTime());
      });
    }, 10);
    const started = performance.now();
    let taskMs = 0;
    try {
      await processTrainJob(
        { ...deps(), heartbeatMs: 20 },
        job({ ...payload, toTask: 1 }, () => {
          taskEnded = true;
          taskMs = performance.now() - started;
        }),
      );
    } finally {
      clearInterval(sample);
    }
    expect(taskMs).toBeGreaterThan(200);
    // Heartbeats written and read while the task was training (without turns: the claim's and at most one).
    expect(seen.size, `${seen.size} heartbeats in ${taskMs.toFixed(0)} ms`).toBeGreaterThanOrEqual(5);
  });

  it('an outage when claiming ends the job with nothing done; other errors still fail it', async () => {
    const { run, payload } = await newRun();
    const outage = { ...deps(), store: losing('claim', 1), outagePauseMs: 0 };
    expect(await processTrainJob(outage, job(payload))).toMatchObject({ tasksWritten: 0, nextTask: 0 });
    expect(await store.runs.results(run.id)).toHaveLength(0);
    expect(isOutage(new UnavailableError('database unavailable (P1017)'))).toBe(true);
    expect(isOutage(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }))).toBe(
      true,
    );
    // A host cut off the network: a new connection fails at once.
    expect(isOutage(Object.assign(new Error('connect EHOSTUNREACH 10.0.0.1:5432'), { code: 'EHOSTUNREACH' }))).toBe(
      true,
    );
    expect(isOutage(Object.assign(new Error('connect ENETUNREACH 10.0.0.1:5432'), { code: 'ENETUNREACH' }))).toBe(true);
    expect(isOutage(new Error('Connection is closed.'))).toBe(true);
    expect(isOutage(new Error('the network turned NaN'))).toBe(false);
    expect(isOutage(new TypeError('x is undefined'))).toBe(false);
  });

  it('fails an invalid payload without retry', async () => {
    const { payload } = await newRun();
    await expect(processTrainJob(deps(), job({ ...payload, toTask: 0 }))).rejects.toThrow(UnrecoverableError);
    await expect(processTrainJob(deps(), job({ ...payload, extra: 1 }))).rejects.toThrow(/run\.train: /);
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decide, fixConfiguration, parseSearchDefinition, searchState } from '@ip2/search';
import { describe, expect, it } from 'vitest';
import { runLocalSearch, spread } from '../commands/search.js';
import { FileStore } from './store.js';

const definition = parseSearchDefinition({
  family: 'sma',
  space: ['tauD', 'theta'],
  strategy: { kind: 'successive-halving', eta: 2, minTasks: 2 },
  protocol: {
    tasks: 4,
    seeds: 2,
    baseSeed: 7,
    criterion: { window: 10, epsilon: 0.05 },
    iterationCap: 150,
    evalBatch: 8,
    network: { hidden: 10, lr: 3e-3 },
  },
  // One fresh seed: the validation stage runs (its runs are part of every comparison below) at little cost.
  validation: { seeds: 1 },
});

function store(): FileStore {
  const s = new FileStore(mkdtempSync(join(tmpdir(), 'ip2-local-')));
  s.writeDefinition(definition);
  return s;
}

/** Task results without wall time, sorted: what must be identical across runs. */
function canonical(s: FileStore): string {
  return JSON.stringify(
    [...s.results()]
      .map(({ candidate, seedIndex, result: { wallMs: _w, ...r } }) => ({ candidate, seedIndex, ...r }))
      .sort((a, b) =>
        a.candidate + a.seedIndex + String(a.taskIndex).padStart(4, '0') <
        b.candidate + b.seedIndex + String(b.taskIndex).padStart(4, '0')
          ? -1
          : 1,
      ),
  );
}

describe('local search', () => {
  it('gives identical task results and decision with 1 and 2 workers, one run at a time or in lock-step', async () => {
    const one = store();
    await runLocalSearch({ definition, store: one, workers: 1 });
    const two = store();
    await runLocalSearch({ definition, store: two, workers: 2 });
    const lockstep = store();
    await runLocalSearch({ definition, store: lockstep, workers: 1, population: 3 });
    const both = store();
    await runLocalSearch({ definition, store: both, workers: 2, population: 8 });
    const done = searchState(definition, one.table());
    expect(done.done).toBe(true);
    expect(one.results().length).toBe(done.planned);
    expect(one.results().filter((r) => r.seedIndex === 2)).toHaveLength(done.validation.targets.length * 4);
    const fixed = JSON.stringify(fixConfiguration(definition, one.table()));
    expect(JSON.parse(fixed).validation.verdict).toMatch(/^(confirmed|tie|overturned)$/);
    for (const s of [two, lockstep, both]) {
      expect(canonical(s)).toBe(canonical(one));
      expect(JSON.stringify(decide(definition, s.table()))).toBe(JSON.stringify(decide(definition, one.table())));
      expect(JSON.stringify(fixConfiguration(definition, s.table()))).toBe(fixed);
    }
  }, 180_000);

  it('trains on the engine of its jobs and the TensorFlow.js backend it hands its threads', async () => {
    const small = parseSearchDefinition({
      family: 'sma',
      space: ['tauD'],
      strategy: { kind: 'exhaustive' },
      // A short cap: the TensorFlow.js engine is slow on networks this small.
      protocol: {
        ...definition.protocol,
        tasks: 1,
        seeds: 1,
        iterationCap: 20,
        criterion: { window: 10, epsilon: 0.05 },
      },
      validation: { seeds: 0 },
    });
    const s = new FileStore(mkdtempSync(join(tmpdir(), 'ip2-local-')));
    s.writeDefinition(small);
    // cpu, not the wasm backend the threads would pick themselves: the choice came from the pool.
    await runLocalSearch({
      definition: small,
      store: s,
      workers: 1,
      compute: { engine: 'tfjs', tfBackend: 'cpu', logBackend: false },
    });
    expect(s.results().map((r) => r.engine)).toEqual([
      { engine: 'tfjs', backend: 'cpu' },
      { engine: 'tfjs', backend: 'cpu' },
    ]);
  }, 180_000);

  it('spreads the chunks to start over the free threads, at most `population` on each', () => {
    const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(spread(ids, 2, 4)).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
    ]);
    expect(spread(ids, 4, 4)).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]);
    expect(spread(ids.slice(0, 3), 2, 4)).toEqual([[1, 2], [3]]);
    expect(spread(ids.slice(0, 3), 8, 4)).toEqual([[1], [2], [3]]);
    expect(spread(ids, 1, 1)).toEqual([[1]]);
    expect(spread(ids, 0, 4)).toEqual([]);
    expect(spread([], 2, 4)).toEqual([]);
  });

  it('interrupted mid-search and resumed on the same folder, ends with the same results as uninterrupted', async () => {
    const straight = store();
    await runLocalSearch({ definition, store: straight, workers: 2 });

    const broken = store();
    const ac = new AbortController();
    let seen = 0;
    await expect(
      runLocalSearch({
        definition,
        store: broken,
        workers: 2,
        population: 4,
        signal: ac.signal,
        onResult: () => {
          if (++seen === 5) ac.abort();
        },
      }),
    ).rejects.toThrow(/interrupted/);
    const planned = searchState(definition, straight.table()).planned;
    expect(broken.results().length).toBeLessThan(planned);
    // A new process: reload everything from the folder.
    const resumed = new FileStore(broken.dir);
    resumed.load();
    expect(resumed.results().length).toBe(broken.results().length);
    await runLocalSearch({ definition, store: resumed, workers: 2 });
    expect(canonical(resumed)).toBe(canonical(straight));
    const lines = readFileSync(join(broken.dir, 'results.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(planned); // no duplicate line written
  }, 180_000);

  it('reads a results.jsonl written before trials and firing statistics were kept: those fields are NaN', () => {
    const s = store();
    const old = {
      candidate: '01',
      seedIndex: 0,
      result: {
        taskIndex: 0,
        iterations: 150,
        totalIterations: 150,
        converged: false,
        failure: 'cap',
        finalLoss: 0.04,
        accuracy: 0.5,
        heldOutLoss: 'NaN',
        firingRate: 0.003,
        wallMs: 9,
      },
      engine: { engine: 'fused', backend: 'js' },
    };
    writeFileSync(join(s.dir, 'results.jsonl'), JSON.stringify(old) + '\n');
    const back = new FileStore(s.dir);
    back.load();
    const [r] = back.results();
    expect(r!.result).toMatchObject({ taskIndex: 0, iterations: 150, failure: 'cap', firingRate: 0.003 });
    expect(r!.result.heldOutLoss).toBeNaN();
    for (const k of ['trialsToCriterion', 'batchSize', 'activeNeurons', 'neurons', 'fractionSilent'] as const) {
      expect(r!.result[k]).toBeNaN();
    }
  });
});

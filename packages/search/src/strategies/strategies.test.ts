import { deriveSeed, Rng } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import type { Action, TrainAction } from '../actions.js';
import { decide } from '../decision.js';
import { parseSearchDefinition, plannedTaskTrainings, type SearchDefinitionInput } from '../definition.js';
import { ResultsError, type ResultTable, type TaskResult } from '../results.js';
import { plan, searchState } from '../search-state.js';
import { powerLawTruth, simulateSearch, type SyntheticTruth } from '../testkit.js';
import { strategyFor } from './index.js';

// The rungs alone (validation.seeds 0): the validation stage has its own tests (validation.test.ts).
const def = (o: Partial<SearchDefinitionInput> = {}) =>
  parseSearchDefinition({
    family: 'dms',
    protocol: { tasks: 20, seeds: 3, iterationCap: 2000 },
    validation: { seeds: 0 },
    ...o,
  });
const trains = (as: readonly Action[]) => as.filter((a): a is TrainAction => a.kind === 'train');
const kinds = (as: readonly Action[]) => [...new Set(as.map((a) => a.kind))];

/** Every seed of the given candidates measured on tasks [0, n). */
function fill(ids: readonly string[], seeds: number, n: number, truth: SyntheticTruth, into: ResultTable = {}) {
  const out: Record<string, Record<number, TaskResult[]>> = JSON.parse(JSON.stringify(into));
  for (const id of ids) {
    for (let s = 0; s < seeds; s++) {
      const run = ((out[id] ??= {})[s] ??= []);
      const have = new Set(run.map((r) => r.taskIndex));
      for (let t = 0; t < n; t++) if (!have.has(t)) run.push(truth(id, s, t));
    }
  }
  return out;
}
const flat = powerLawTruth();
const ALL = ['000', '100', '010', '110', '001', '101', '011', '111'];

describe('exhaustive', () => {
  const d = def();

  it('an empty table: every mask, every seed, the full sequence, the same seeds for every candidate', () => {
    const a = plan(d, {});
    expect(a).toHaveLength(8 * 3);
    expect(kinds(a)).toEqual(['train']);
    expect(new Set(trains(a).map((x) => x.candidate))).toEqual(new Set(ALL));
    for (const x of trains(a)) {
      expect(x).toMatchObject({ fromTask: 0, toTask: 20, rung: 0, seed: deriveSeed(1, 'run', x.seedIndex) });
    }
    expect(trains(a).find((x) => x.candidate === '101')?.keys).toEqual(['tauD', 'theta']);
  });

  it('partial runs: asks only for the missing tasks, from the first gap', () => {
    let t = fill(ALL, 3, 20, flat);
    t = { ...t, '010': { ...t['010'], 1: t['010']![1]!.slice(0, 7) } };
    t = { ...t, '111': { ...t['111'], 2: t['111']![2]!.filter((r) => r.taskIndex !== 4) } };
    const a = plan(d, t);
    expect(a).toEqual([
      expect.objectContaining({ kind: 'train', candidate: '010', seedIndex: 1, fromTask: 7, toTask: 20 }),
      expect.objectContaining({ kind: 'train', candidate: '111', seedIndex: 2, fromTask: 4, toTask: 20 }),
    ]);
  });

  it('a full table: done, and decided by the best mean', () => {
    const truth = powerLawTruth({ first: { '011': 200 }, noise: 0.1 });
    const t = fill(ALL, 3, 20, truth);
    expect(plan(d, t)).toEqual([{ kind: 'done' }]);
    expect(decide(d, t).best.id).toBe('011');
  });
});

describe('successive halving', () => {
  const d = def({ strategy: { kind: 'successive-halving', eta: 3, minTasks: 2 } });
  // 8 candidates on ceil(20/9) = 3 tasks, 3 on 7, 2 on 20.
  const sched = strategyFor('successive-halving').schedule(d);

  it('follows its schedule', () => {
    expect(sched.map((r) => [r.candidates, r.tasks, r.keep])).toEqual([
      [8, 3, 3],
      [3, 7, 2],
      [2, 20, 2],
    ]);
  });

  it('an empty table: every mask on the first rung only', () => {
    const a = plan(d, {});
    expect(trains(a)).toHaveLength(24);
    expect(trains(a).every((x) => x.fromTask === 0 && x.toTask === 3 && x.rung === 0)).toBe(true);
  });

  it('ties: keeps the lowest ids, prunes the rest, extends survivors from where they stopped', () => {
    const t = fill(ALL, 3, 3, flat);
    const a = plan(d, t);
    const prunes = a.filter((x) => x.kind === 'prune');
    expect(prunes.map((p) => p.kind === 'prune' && p.candidate)).toEqual(['011', '100', '101', '110', '111']);
    expect(prunes.every((p) => p.kind === 'prune' && p.rung === 0 && p.tasks === 3)).toBe(true);
    expect(new Set(trains(a).map((x) => x.candidate))).toEqual(new Set(['000', '001', '010']));
    expect(trains(a).every((x) => x.fromTask === 3 && x.toTask === 7 && x.rung === 1)).toBe(true);
    // The controls are pruned like any other candidate.
    const st = searchState(d, fill(['000', '001', '010'], 3, 7, flat, t));
    expect(st.rungs[1]!.pruned).toEqual(['010']);
    expect(st.progress.find((p) => p.id === '111')).toMatchObject({ state: 'pruned', rung: 0, tasks: [3, 3, 3] });
    expect(st.progress.find((p) => p.id === '000')).toMatchObject({ state: 'active', rung: 2, tasks: [7, 7, 7] });
  });

  it('failures and NaN losses rank a fast candidate last (a score with a failure penalty)', () => {
    const d = def({
      strategy: { kind: 'successive-halving', eta: 3, minTasks: 2 },
      score: { metric: 'final-efficiency' },
    });
    const truth = powerLawTruth({
      first: { '111': 10, '110': 10 },
      fails: (c, s, t) => c === '111' && s === 0 && t === 1,
    });
    const t = fill(ALL, 3, 3, truth);
    // '110' converged on every task by its count, but one loss is NaN.
    t['110']![2]![0] = { ...t['110']![2]![0]!, finalLoss: Number.NaN };
    const st = searchState(d, t);
    const order = st.rungs[0]!.ranking.map((r) => r.id);
    expect(order.slice(-2)).toEqual(['110', '111']);
  });

  it('a run that went ahead of its rung is not asked for again', () => {
    let t = fill(ALL, 3, 3, flat);
    t = fill(['000'], 3, 12, flat, t);
    const a = trains(plan(d, t));
    expect(a.some((x) => x.candidate === '000')).toBe(false);
  });

  it('issues fewer task trainings than exhaustive and finds the same clear best', () => {
    const truth = powerLawTruth({ first: { '110': 250 }, noise: 0.15, seed: 3 });
    const dSh = def({ protocol: { tasks: 30, seeds: 4 }, strategy: { kind: 'successive-halving' } });
    const dEx = def({ protocol: { tasks: 30, seeds: 4 } });
    const sh = simulateSearch(dSh, truth);
    const ex = simulateSearch(dEx, truth);
    expect(ex.trained).toBe(8 * 4 * 30);
    expect(sh.trained).toBe(plannedTaskTrainings(dSh));
    expect(sh.trained).toBeLessThanOrEqual(ex.trained / 2);
    expect(decide(dSh, sh.table).best.id).toBe('110');
    expect(decide(dEx, ex.table).best.id).toBe('110');
  });
});

describe('random', () => {
  it('draws n distinct masks deterministically from the base seed and runs them fully', () => {
    const d = def({ strategy: { kind: 'random', n: 3 } });
    const ids = strategyFor('random')
      .candidates(d)
      .map((c) => c.id);
    expect(new Set(ids).size).toBe(3);
    expect(
      strategyFor('random')
        .candidates(def({ strategy: { kind: 'random', n: 3 } }))
        .map((c) => c.id),
    ).toEqual(ids);
    const seeds = new Set(
      [2, 3, 4, 5, 6, 7].map((b) =>
        strategyFor('random')
          .candidates(
            def({
              protocol: { baseSeed: b, tasks: 20, seeds: 3, iterationCap: 2000 },
              strategy: { kind: 'random', n: 3 },
            }),
          )
          .map((c) => c.id)
          .join(','),
      ),
    );
    expect(seeds.size).toBeGreaterThan(1);
    const a = trains(plan(d, {}));
    expect(new Set(a.map((x) => x.candidate))).toEqual(new Set(ids));
    expect(a.every((x) => x.fromTask === 0 && x.toTask === 20)).toBe(true);
    const all = strategyFor('random').candidates(def({ strategy: { kind: 'random', n: 8 } }));
    expect(all.map((c) => c.id)).toEqual(ALL);
  });

  it('rejects results of a mask it did not draw', () => {
    const d = def({ strategy: { kind: 'random', n: 1 } });
    const [only] = strategyFor('random').candidates(d);
    const other = ALL.find((id) => id !== only!.id)!;
    expect(() => plan(d, fill([other], 1, 1, flat))).toThrow(ResultsError);
  });
});

describe('stateless planning', () => {
  const truth = powerLawTruth({ first: { '101': 300, '001': 500 }, noise: 0.3, seed: 11 });
  const cases = [
    def({ strategy: { kind: 'successive-halving', minTasks: 2 } }),
    def({ strategy: { kind: 'exhaustive' } }),
    def({ strategy: { kind: 'random', n: 5 } }),
  ];
  for (const d of cases) {
    it(`${d.strategy.kind}: crashes at arbitrary points change nothing, and no task is trained twice`, () => {
      const clean = simulateSearch(d, truth);
      const reference = JSON.stringify(decide(d, clean.table));
      expect(clean.trained).toBe(plannedTaskTrainings(d));
      for (let k = 0; k < 4; k++) {
        const sim = simulateSearch(d, truth, { interrupt: 0.35, rng: Rng.seeded(k, 'crash') });
        expect(sim.plans).toBeGreaterThan(clean.plans);
        expect(sim.trained).toBe(plannedTaskTrainings(d));
        expect(JSON.stringify(decide(d, sim.table))).toBe(reference);
      }
      expect(plan(d, clean.table)).toEqual(plan(d, clean.table));
    });
  }

  it('the same results give the same actions, whatever their order', () => {
    const d = cases[0]!;
    const t = fill(ALL, 3, 3, truth);
    const reversed: Record<string, Record<number, TaskResult[]>> = {};
    for (const id of [...ALL].reverse()) {
      reversed[id] = {};
      for (const s of [2, 1, 0]) reversed[id][s] = [...t[id]![s]!].reverse();
    }
    expect(plan(d, reversed)).toEqual(plan(d, t));
  });
});

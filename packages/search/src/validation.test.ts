import { describe, expect, it } from 'vitest';
import type { TrainAction } from './actions.js';
import { chunkJob } from './chunk-job.js';
import { decide, SearchIncompleteError } from './decision.js';
import { parseSearchDefinition, plannedTaskTrainings, type SearchDefinitionInput } from './definition.js';
import { fixConfiguration, fixedConfigVerdict, verifyFixedConfig } from './fixed-config.js';
import { ResultsError } from './results.js';
import { plan, runSeed, searchState, validationSeeds } from './search-state.js';
import { powerLawTruth, shuffledTable, simulateSearch, type SyntheticTruth } from './testkit.js';
import { validationTargets, verdictOf } from './validation.js';

const SEEDS = 4;
const def = (o: Partial<SearchDefinitionInput> = {}) =>
  parseSearchDefinition({
    family: 'dms',
    protocol: { tasks: 12, seeds: SEEDS, iterationCap: 5000 },
    strategy: { kind: 'successive-halving', minTasks: 3 },
    validation: { seeds: 5 },
    ...o,
  });

/**
 * A result table built so that the search prefers '101' over '011' on its own seeds (0–3), and the
 * validation seeds (4 on) show `onFresh`: '101' still better, the two equal, or '011' better.
 */
function truthWith(onFresh: 'better' | 'equal' | 'worse'): SyntheticTruth {
  const base = powerLawTruth({ first: { '000': 3000, '111': 1500, '101': 300, '011': 400 }, noise: 0.05, seed: 3 });
  return (candidate, seedIndex, taskIndex) => {
    const r = base(candidate, seedIndex, taskIndex);
    if (seedIndex < SEEDS || (candidate !== '101' && candidate !== '011')) return r;
    const it = Math.round(400 * (taskIndex + 1) ** -0.5);
    const shift = onFresh === 'better' ? -150 : onFresh === 'worse' ? 150 : 0;
    // Equal: the same iterations for both masks on every fresh seed and task, so every paired difference is 0.
    return { ...r, iterations: candidate === '101' ? Math.max(1, it + shift) : it };
  };
}

describe('the validation stage', () => {
  it("seeds: disjoint from the search's, deterministic, each depending only on its own index", () => {
    const a = validationSeeds(1, 5, 6);
    expect(new Set(a).size).toBe(6);
    for (let s = 0; s < 5; s++) expect(a).not.toContain(runSeed(1, s));
    expect(validationSeeds(1, 5, 3)).toEqual(a.slice(0, 3));
    expect(validationSeeds(2, 5, 3)).not.toEqual(a.slice(0, 3));
    // Many search seeds: still never one of them.
    const search = new Set(Array.from({ length: 1000 }, (_, s) => runSeed(7, s)));
    for (const x of validationSeeds(7, 1000, 200)) expect(search.has(x)).toBe(false);
  });

  it('comes after the decision: the chosen mask, the runner-up and both controls, on fresh seeds, full protocol', () => {
    const d = def();
    const truth = truthWith('better');
    let table = {};
    // Run the rungs only (validation.seeds 0 makes the same rungs): the stage starts from there.
    table = simulateSearch({ ...d, validation: { seeds: 0 } }, truth).table;
    const st = searchState(d, table);
    expect(st.decided).toBe(true);
    expect(st.done).toBe(false);
    expect(st.stage).toBe('validation');
    const best = decide(d, table);
    expect(best.best.id).toBe('101');
    const trains = st.actions.filter((a): a is TrainAction => a.kind === 'train');
    expect(new Set(trains.map((a) => a.candidate))).toEqual(new Set(['101', best.runnerUp!.id, '000', '111']));
    const fresh = validationSeeds(1, SEEDS, 5);
    for (const a of trains) {
      expect(a).toMatchObject({ stage: 'validation', fromTask: 0, toTask: 12, rung: st.schedule.length });
      expect(a.seedIndex).toBeGreaterThanOrEqual(SEEDS);
      expect(a.seed).toBe(fresh[a.seedIndex - SEEDS]);
    }
    expect(trains).toHaveLength(4 * 5);
    expect(st.planned).toBe(
      st.schedule.reduce((n, r, i, all) => n + r.candidates * (r.tasks - (all[i - 1]?.tasks ?? 0)), 0) * SEEDS +
        4 * 5 * 12,
    );
    // The definition's plan is the same bound when four masks are validated.
    expect(plannedTaskTrainings(d)).toBe(st.planned);
    // The search protocol is the evaluation protocol: the last rung and the validation train the
    // definition's full sequence at its cap (the chunk jobs the local mode and the workers run).
    expect(st.schedule[st.schedule.length - 1]!.tasks).toBe(d.protocol.tasks);
    const lastRung = simulateSearch({ ...d, validation: { seeds: 0 } }, truth).issued.filter(
      (a) => a.rung === st.schedule.length - 1,
    );
    expect(lastRung.length).toBeGreaterThan(0);
    for (const a of [...lastRung, ...trains]) {
      expect(a.toTask).toBe(d.protocol.tasks);
      const job = chunkJob(d, a);
      expect(job.protocol).toMatchObject({ tasks: 12, cap: 5000 });
      expect(job.toTask).toBe(12);
    }
  });

  it('confirmed: the fresh seeds keep the choice ahead of the runner-up', () => {
    const d = def();
    const { table } = simulateSearch(d, truthWith('better'));
    const rec = fixConfiguration(d, table);
    expect(rec.evidence.best.id).toBe('101');
    expect(rec.evidence.runnerUp!.id).toBe('011');
    const v = rec.validation!;
    expect(v.verdict).toBe('confirmed');
    expect(fixedConfigVerdict(rec)).toBe('confirmed');
    expect(rec.mask.bits).toBe('101');
    expect(v.better.bits).toBe('101');
    expect(v.comparator).toMatchObject({ bits: '011', as: ['runner-up'] });
    const vsRunnerUp = v.versus.find((x) => x.candidate === '011')!;
    expect(vsRunnerUp.advantage.lo!).toBeGreaterThan(0);
    expect(vsRunnerUp.seeds).toBe(5);
    expect(v.versus.map((x) => x.candidate).sort()).toEqual(['000', '011', '111']);
    expect(v.candidates.map((c) => [c.id, c.as, c.seeds, c.tasks])).toEqual([
      ['101', ['chosen'], 5, 12],
      ['011', ['runner-up'], 5, 12],
      ['000', ['rsnn-noip'], 5, 12],
      ['111', ['ip-inner'], 5, 12],
    ]);
    expect(v.runSeeds).toEqual(validationSeeds(1, SEEDS, 5));
    expect(v.statement).toMatch(/^Confirmed on 5 fresh seeds × 12 tasks/);
    expect(verifyFixedConfig(rec)).toBe(true);
    expect(JSON.stringify(rec)).not.toMatch(/NaN|Infinity/);
  });

  it('tie: the interval against the runner-up contains 0; the choice is kept', () => {
    const d = def();
    const rec = fixConfiguration(d, simulateSearch(d, truthWith('equal')).table);
    const v = rec.validation!;
    expect(v.verdict).toBe('tie');
    expect(v.versus.find((x) => x.candidate === '011')!.advantage).toEqual({ mean: 0, lo: 0, hi: 0 });
    expect(rec.mask.bits).toBe('101');
    expect(v.statement).toMatch(/^Tie .* cannot be told apart/);
  });

  it('overturned: the runner-up is better on fresh seeds, and the configuration fixes it, saying so', () => {
    const d = def();
    const rec = fixConfiguration(d, simulateSearch(d, truthWith('worse')).table);
    const v = rec.validation!;
    expect(v.verdict).toBe('overturned');
    expect(v.versus.find((x) => x.candidate === '011')!.advantage.hi!).toBeLessThan(0);
    expect(rec.evidence.best.id).toBe('101');
    expect(v.searchChoice.bits).toBe('101');
    expect(v.better).toEqual({ bits: '011', keys: ['tauS', 'theta'] });
    expect(rec.mask).toEqual({ bits: '011', keys: ['tauS', 'theta'] });
    expect(v.statement).toMatch(/^Overturned .*this configuration fixes 011, the better choice on the evidence/);
  });

  it('the verdict rule on intervals: above 0, containing 0, below 0, undefined', () => {
    expect(verdictOf({ lo: 0.1, hi: 5 })).toBe('confirmed');
    expect(verdictOf({ lo: 0, hi: 5 })).toBe('tie');
    expect(verdictOf({ lo: -3, hi: 2 })).toBe('tie');
    expect(verdictOf({ lo: -3, hi: -0.5 })).toBe('overturned');
    expect(verdictOf({ lo: null, hi: null })).toBe('tie');
    expect(verdictOf({ lo: Number.NaN, hi: 1 })).toBe('tie');
  });

  it('validation.seeds 0: no validation runs, verdict unvalidated', () => {
    const d = def({ validation: { seeds: 0 } });
    const sim = simulateSearch(d, truthWith('worse'));
    expect(sim.issued.every((a) => a.stage === 'search' && a.seedIndex < SEEDS)).toBe(true);
    const rec = fixConfiguration(d, sim.table);
    expect(rec.validation).toMatchObject({ verdict: 'unvalidated', seeds: 0, candidates: [], versus: [] });
    expect(rec.mask.bits).toBe('101');
    expect(fixedConfigVerdict({})).toBe('unvalidated');
  });

  it('refuses to fix before the validation runs are in, and does not depend on the order of the results', () => {
    const d = def();
    const rungsOnly = simulateSearch({ ...d, validation: { seeds: 0 } }, truthWith('better')).table;
    expect(() => decide(d, rungsOnly)).not.toThrow();
    expect(() => fixConfiguration(d, rungsOnly)).toThrow(SearchIncompleteError);
    expect(() => fixConfiguration(d, rungsOnly)).toThrow(/240 task trainings/);
    const { table } = simulateSearch(d, truthWith('better'));
    const reference = JSON.stringify(fixConfiguration(d, table));
    for (const seed of [1, 2]) expect(JSON.stringify(fixConfiguration(d, shuffledTable(table, seed)))).toBe(reference);
    expect(plan(d, table)).toEqual([...plan(d, table).filter((a) => a.kind === 'prune'), { kind: 'done' }]);
  });

  it('a random search validates the controls even when it did not draw them; their search rows stay refused', () => {
    const d = def({ strategy: { kind: 'random', n: 2 }, protocol: { tasks: 6, seeds: 2, iterationCap: 5000 } });
    const drawn = searchState(d, {}).candidates.map((c) => c.id);
    const sim = simulateSearch(d, powerLawTruth({ noise: 0.2, seed: 4 }));
    const targets = searchState(d, sim.table).validation.targets.map((t) => t.id);
    expect(targets).toEqual(expect.arrayContaining(['000', '111', ...drawn]));
    const rec = fixConfiguration(d, sim.table);
    expect(['confirmed', 'tie', 'overturned']).toContain(rec.validation!.verdict);
    const other = ['000', '111'].find((id) => !drawn.includes(id));
    if (other !== undefined) {
      const bad = { ...sim.table, [other]: { 0: [{ taskIndex: 0, iterations: 1, converged: true, finalLoss: 0 }] } };
      expect(() => searchState(d, bad)).toThrow(ResultsError);
    }
  });

  it('targets: a control chosen or runner-up is validated once, under each of its names', () => {
    expect(validationTargets(['tauD', 'theta'], '11', '00').map((t) => [t.id, t.as])).toEqual([
      ['11', ['chosen', 'ip-inner']],
      ['00', ['runner-up', 'rsnn-noip']],
    ]);
    expect(validationTargets(['tauD', 'theta'], '01', null).map((t) => [t.id, t.as])).toEqual([
      ['01', ['chosen']],
      ['00', ['rsnn-noip']],
      ['11', ['ip-inner']],
    ]);
  });
});

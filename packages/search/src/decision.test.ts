import { describe, expect, it } from 'vitest';
import { aggregate, standings } from './aggregate.js';
import { decide, SearchIncompleteError } from './decision.js';
import { contentHash } from './canonical-json.js';
import { parseSearchDefinition, type SearchDefinitionInput } from './definition.js';
import { fixConfiguration, verifyFixedConfig } from './fixed-config.js';
import { powerLawTruth, shuffledTable as shuffled, simulateSearch } from './testkit.js';

const def = (o: Partial<SearchDefinitionInput> = {}) =>
  parseSearchDefinition({ family: 'dms', protocol: { tasks: 20, seeds: 6, iterationCap: 5000 }, ...o });

describe('the decision rule', () => {
  it('a clear best: separable, with its advantage over the runner-up and the controls', () => {
    const d = def();
    const truth = powerLawTruth({ first: { '000': 2000, '111': 900, '101': 200 }, noise: 0.1, seed: 5 });
    const { table } = simulateSearch(d, truth);
    const r = decide(d, table);
    expect(r.best).toMatchObject({ id: '101', keys: ['tauD', 'theta'], role: 'ip-masked', tasks: 20, seeds: 6 });
    expect(r.runnerUp?.id).not.toBe('101');
    expect(r.separable).toBe(true);
    expect(r.best.score.hi!).toBeLessThan(r.runnerUp!.score.lo!);
    expect(r.versusRunnerUp!.advantage.lo!).toBeGreaterThan(0);
    const noip = r.versus['rsnn-noip']!;
    expect(noip).toMatchObject({ candidate: '000', role: 'rsnn-noip', tasks: 20 });
    expect(noip.ratio!).toBeCloseTo(noip.other.mean! / noip.best.mean!, 12);
    expect(noip.ratio!).toBeGreaterThan(8);
    expect(r.versus['ip-inner']!.ratio!).toBeGreaterThan(3);
    expect(r.ranking).toHaveLength(8);
    expect(r.taskTrainings).toEqual({ measured: 8 * 6 * 20, planned: 8 * 6 * 20 });
  });

  it('overlapping intervals: not separable', () => {
    const d = def();
    const truth = powerLawTruth({ first: { '110': 950 }, noise: 0.6, seed: 9 });
    const r = decide(d, simulateSearch(d, truth).table);
    expect(r.separable).toBe(false);
  });

  it('exact ties: the lowest id wins, not separable', () => {
    const d = def();
    const r = decide(d, simulateSearch(d, powerLawTruth()).table);
    expect(r.best.id).toBe('000');
    expect(r.runnerUp!.id).toBe('001');
    expect(r.separable).toBe(false);
    expect(r.versus['rsnn-noip']!.ratio).toBe(1);
  });

  it('successive halving: controls pruned early are compared on the prefix they reached', () => {
    const d = def({ strategy: { kind: 'successive-halving', minTasks: 2 } });
    const truth = powerLawTruth({ first: { '000': 3000, '111': 3000, '011': 300 }, noise: 0.1 });
    const r = decide(d, simulateSearch(d, truth).table);
    expect(r.best.id).toBe('011');
    expect(r.versus['rsnn-noip']).toMatchObject({ candidate: '000', tasks: 3 });
    expect(r.versus['ip-inner']).toMatchObject({ candidate: '111', tasks: 3 });
    expect(r.rungs.map((x) => x.tasks)).toEqual([3, 7, 20]);
    expect(r.rungs[0]!.pruned).toContain('000');
  });

  it('random search: controls absent are null; a single candidate has no runner-up', () => {
    const d = def({ strategy: { kind: 'random', n: 1 } });
    const r = decide(d, simulateSearch(d, powerLawTruth()).table);
    expect(r.runnerUp).toBeNull();
    expect(r.separable).toBe(false);
    expect(r.versusRunnerUp).toBeNull();
    const measured = [r.best.role];
    if (!measured.includes('rsnn-noip')) expect(r.versus['rsnn-noip']).toBeNull();
    if (!measured.includes('ip-inner')) expect(r.versus['ip-inner']).toBeNull();
  });

  it('failures: counted, penalised and reported; non-finite numbers become null', () => {
    const d = def({ score: { metric: 'speed-up' } });
    const truth = powerLawTruth({ fails: (c, s, t) => c === '111' && t === 19 });
    const r = decide(d, simulateSearch(d, truth).table);
    expect(r.best.id).not.toBe('111');
    const all = aggregate(d, simulateSearch(d, truth).table);
    expect(all.find((a) => a.id === '111')!.failures.mean).toBe(1);
    expect(JSON.stringify(r)).not.toMatch(/NaN|Infinity/);
  });

  it('carries the converged share and the failure-free metrics beside the censored ones', () => {
    const d = def({ score: { metric: 'final-efficiency' } });
    // '111' fails its last task on every seed; no noise: task t takes round(1000 / √(t + 1)) iterations.
    const truth = powerLawTruth({ fails: (c, s, t) => c === '111' && t === 19 });
    const table = simulateSearch(d, truth).table;
    const a = aggregate(d, table).find((x) => x.id === '111')!;
    expect(a.convergedShare.mean).toBeCloseTo(19 / 20, 12);
    expect(a.convergedByTask).toEqual([...new Array(19).fill(1), 0]);
    // Censored: the last 3 tasks hold the failure at 10 × cap. Failure-free: the last 3 converged tasks (16–18).
    expect(a.finalEfficiency.mean).toBeCloseTo((236 + 229 + 50_000) / 3, 9);
    expect(a.failureFreeFinalEfficiency.mean).toBeCloseTo((243 + 236 + 229) / 3, 9);
    expect(a.failureFreeSeeds).toEqual({ finalEfficiency: 6, speedUp: 6, l2lSlope: 6 });
    expect(a.failureFreeL2lSlope.mean).toBeCloseTo(-0.5, 2);
    const r = decide(d, table);
    const ev = [r.best, ...(r.runnerUp ? [r.runnerUp] : [])];
    for (const e of ev) {
      expect(e.metrics.convergedShare?.mean).toBe(1);
      expect(e.metrics.failureFreeFinalEfficiency?.mean).toBeCloseTo(e.metrics.finalEfficiency.mean!, 9);
      expect(e.failureFreeSeeds).toEqual({ finalEfficiency: 6, speedUp: 6, l2lSlope: 6 });
    }
  });

  it('a fixed configuration recorded before the failure-free metrics still verifies', () => {
    const d = def({ strategy: { kind: 'successive-halving', minTasks: 2 } });
    const rec = fixConfiguration(d, simulateSearch(d, powerLawTruth({ noise: 0.3, seed: 1 })).table);
    expect(verifyFixedConfig(rec)).toBe(true);
    const { hash: _h, ...body } = JSON.parse(JSON.stringify(rec));
    for (const e of [body.evidence.best, body.evidence.runnerUp]) {
      delete e.failureFreeSeeds;
      for (const k of ['convergedShare', 'failureFreeFinalEfficiency', 'failureFreeSpeedUp', 'failureFreeL2lSlope'])
        delete e.metrics[k];
    }
    const old = { ...body, hash: contentHash(body) };
    expect(verifyFixedConfig(old)).toBe(true);
    expect(verifyFixedConfig({ ...old, hash: rec.hash })).toBe(false);
  });

  it('refuses to decide an unfinished search, saying how much is missing', () => {
    const d = def();
    expect(() => decide(d, {})).toThrow(SearchIncompleteError);
    expect(() => decide(d, {})).toThrow(/960 task trainings/);
  });

  it('does not depend on the order of the results', () => {
    for (const strategy of [{ kind: 'successive-halving' as const }, { kind: 'exhaustive' as const }]) {
      const d = def({ strategy });
      const { table } = simulateSearch(d, powerLawTruth({ noise: 0.5, seed: 2 }));
      const reference = JSON.stringify(decide(d, table));
      for (const seed of [1, 2, 3]) expect(JSON.stringify(decide(d, shuffled(table, seed)))).toBe(reference);
    }
  });
});

describe('candidates on a common footing', () => {
  it('every candidate on the prefix all reached, the finalists on the full sequence, each with where it stopped', () => {
    const d = def({ strategy: { kind: 'successive-halving', minTasks: 2 }, validation: { seeds: 0 } });
    const truth = powerLawTruth({ first: { '000': 3000, '111': 3000, '011': 300 }, noise: 0.1 });
    const { table } = simulateSearch(d, truth);
    const { all, finalists } = standings(d, table);
    expect(all.tasks).toBe(3);
    expect(all.candidates).toHaveLength(8);
    expect(all.candidates.every((c) => c.tasks === 3 && c.seeds.length === 6)).toBe(true);
    expect(all.candidates[0]!.id).toBe('011');
    expect(all.candidates.find((c) => c.id === '000')!.stop).toEqual({ state: 'pruned', rung: 0, tasks: 3 });
    expect(all.candidates.find((c) => c.id === '011')!.stop).toEqual({ state: 'finished', rung: 2, tasks: 20 });
    const pruned1 = all.candidates.filter((c) => c.stop.state === 'pruned' && c.stop.rung === 1);
    expect(pruned1.every((c) => c.stop.tasks === 7)).toBe(true);
    expect(finalists!.tasks).toBe(20);
    expect(finalists!.candidates.map((c) => c.id)).toEqual(decide(d, table).ranking.map((r) => r.id));
    expect(finalists!.candidates.every((c) => c.tasks === 20)).toBe(true);
    // aggregate() is on the same footing by default.
    expect(aggregate(d, table).every((c) => c.tasks === 3)).toBe(true);
    // One rung (exhaustive): the full sequence is the common footing; no separate finalists.
    const ex = def({ validation: { seeds: 0 } });
    const s = standings(ex, simulateSearch(ex, truth).table);
    expect(s.all.tasks).toBe(20);
    expect(s.finalists).toBeNull();
    // While running: the prefix every run has reached (none yet: 0).
    expect(standings(d, {}).all.tasks).toBe(0);
  });
});

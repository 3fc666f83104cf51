import { createRunLearner, nextTaskLesionStudy, trainChunk, type RunCheckpoint, type TaskResult } from '@ip2/l2l';
import {
  aggregate,
  chunkJob,
  fixConfiguration,
  modelDefaultsHash,
  parseSearchDefinition,
  propertyImportance,
  searchState,
  standings,
  type TrainAction,
} from '@ip2/search';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyseConfiguration, type ConfigurationAnalysis } from './configuration-analysis.js';
import { sig } from './format.js';
import { taskRecordTable } from './search-outputs.js';
import { searchReportHtml } from './search-report.js';

// A small real search: 4 candidates, 2 seeds, 3 tasks, successive halving 2 → 3 tasks.
const definition = parseSearchDefinition({
  family: 'sma',
  space: ['tauS', 'theta'],
  strategy: { kind: 'successive-halving', eta: 2, minTasks: 2 },
  protocol: {
    tasks: 3,
    seeds: 2,
    baseSeed: 3,
    criterion: { window: 10, epsilon: 0.05 },
    iterationCap: 150,
    batchSize: 1,
    evalBatch: 8,
    network: { hidden: 10, dt: 20, lr: 3e-3, loss: 'mse' },
  },
  score: { metric: 'final-efficiency' },
  validation: { seeds: 2 },
});

interface Rec {
  candidate: string;
  seedIndex: number;
  result: TaskResult;
  engine: { engine: string; backend: string };
}
const records: Rec[] = [];
const checkpoints = new Map<string, RunCheckpoint>();
const table = () => taskRecordTable(records);

let html: string;
let analysis: ConfigurationAnalysis;
let state: ReturnType<typeof searchState>;
let fixed: ReturnType<typeof fixConfiguration>;

beforeAll(async () => {
  for (;;) {
    state = searchState(definition, table());
    if (state.done) break;
    for (const a of state.actions.filter((x): x is TrainAction => x.kind === 'train')) {
      const key = `${a.candidate}/${a.seedIndex}`;
      for await (const step of trainChunk(chunkJob(definition, a), checkpoints.get(key) ?? null)) {
        records.push({ candidate: a.candidate, seedIndex: a.seedIndex, result: step.result, engine: step.engine });
        checkpoints.set(key, step.checkpoint);
      }
    }
  }
  fixed = fixConfiguration(definition, table());
  analysis = await analyseConfiguration(definition, fixed.mask.keys, { records, seeds: 2 });
  html = await searchReportHtml({
    definition,
    fixed,
    candidates: aggregate(definition, table()),
    standings: standings(definition, table()),
    importance: propertyImportance(definition, table()),
    state,
    results: records,
    analysis,
  });
}, 120_000);

/** The search's own runs (the validation's have seed indices from protocol.seeds on). */
const searchRecords = () => records.filter((r) => r.seedIndex < definition.protocol.seeds);

const text = (s: string) => s.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
/** The rows of the table with the given class, as lists of cell texts. */
function rowsOf(cls: string): string[][] {
  const t = html.match(new RegExp(`<table class="[^"]*\\b${cls}\\b[^"]*">([\\s\\S]*?)</table>`))![1]!;
  const body = t.split('<tbody>')[1]!;
  return [...body.matchAll(/<tr[^>]*>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...m[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((c) => text(c[1]!).trim()),
  );
}

describe('the HTML report of a small real search', () => {
  it('has every section, its figures inline, and nothing fetched from elsewhere', () => {
    for (const h of [
      'Decision',
      'Candidates',
      'Validation on fresh seeds',
      'Property importance',
      'Adaptation speed',
      'Successive-halving bracket',
      'Analyses of the chosen configuration',
      'Intrinsic values across tasks',
      'Lesion study',
      'Modularity and adaptation efficiency',
    ]) {
      expect(html).toMatch(new RegExp(`<h[23]>${h}</h[23]>`));
    }
    // Validation, importance, medians, panels, bracket, intrinsic bands, lesion bars, scatter.
    expect(html.match(/<svg[\s>]/g)!.length).toBeGreaterThanOrEqual(8);
    // Only in-document references (clip paths: url(#…)); nothing to load.
    expect(html.match(/<script|<link|<img|<iframe|@import|url\((?!#)/gi)).toBeNull();
    expect(html.match(/(src|href)="(https?:)?\/\//gi)).toBeNull();
  });

  it('the decision names the model version, its defaults and the property optimiser; an older record says version 1', async () => {
    const decision = text(html.split('<h2>Decision</h2>')[1]!.split('<h2>')[0]!);
    expect(fixed.model).toEqual({ version: 2, defaultsHash: modelDefaultsHash(2) });
    expect(decision).toContain(
      `Model version 2 (defaults ${modelDefaultsHash(2).slice(0, 12)} ): spikes readout; the intrinsic properties learn by adam, η = 0.003.`,
    );
    expect(html).toContain(`title="${modelDefaultsHash(2)}"`);
    // A record fixed before versioned defaults (no model), of a search stored then (read as version 1).
    const { model: _m, ...old } = fixed;
    const v1 = parseSearchDefinition({
      ...definition,
      protocol: { ...definition.protocol, network: { ...definition.protocol.network, modelVersion: 1 } },
    });
    const oldHtml = await searchReportHtml({
      definition: v1,
      fixed: old as typeof fixed,
      candidates: aggregate(v1, table()),
      standings: standings(v1, table()),
      importance: propertyImportance(v1, table()),
      state,
      results: records,
    });
    expect(text(oldHtml)).toContain(
      'Model version 1 (a record fixed before versioned defaults): membrane readout; the intrinsic properties learn by adam, η = 0.01.',
    );
  });

  it('shows the median and range across seeds of every task from the stored results', () => {
    const rows = rowsOf('curves');
    const candidates = [...new Set(searchRecords().map((r) => r.candidate))].sort();
    expect(rows.map((r) => r[0]!.split(' ')[0])).toEqual(candidates);
    for (const row of rows) {
      const id = row[0]!.split(' ')[0]!;
      for (let t = 0; t < definition.protocol.tasks; t++) {
        const xs = searchRecords()
          .filter((r) => r.candidate === id && r.result.taskIndex === t)
          .map((r) => (r.result.converged ? r.result.iterations : definition.protocol.iterationCap))
          .sort((a, b) => a - b);
        if (xs.length === 0) {
          expect(row[t + 1]).toBe('');
          continue;
        }
        const median = xs.length === 2 ? (xs[0]! + xs[1]!) / 2 : xs[(xs.length - 1) / 2]!;
        expect(row[t + 1]).toBe(`${median.toFixed(0)} [${xs[0]}, ${xs[xs.length - 1]}]`);
      }
    }
  });

  it('the candidate table: every candidate on the same tasks, with where it stopped', async () => {
    const { all, finalists } = standings(definition, table());
    const parameters = new Map<string, number>();
    for (const c of all.candidates) {
      const learner = await createRunLearner({
        family: definition.family,
        seed: 1,
        model: 'ip2',
        space: definition.space,
        mask: c.keys,
        hidden: definition.protocol.network.hidden,
        lr: 1e-3,
        loss: 'mse',
        dt: 1,
      });
      parameters.set(c.id, learner.parameterCount!());
      learner.dispose();
    }
    const rows = rowsOf('candidates');
    // Successive halving 4 → 2: every candidate on the first rung's 2 tasks, then the finalists on 3.
    expect(all.tasks).toBe(2);
    expect(finalists!.tasks).toBe(3);
    const tables = [...html.matchAll(/<table class="candidates">/g)];
    expect(tables).toHaveLength(2);
    expect(rows.map((r) => r[3])).toEqual(all.candidates.map(() => '2'));
    for (const c of all.candidates) {
      const row = rows.find((r) => r[0] === c.id)!;
      // The trainable parameters, as the candidate's own network counts them.
      expect(row[2]).toBe(parameters.get(c.id)!.toLocaleString('en-US'));
      if (c.stop.state === 'pruned') expect(row[14]).toBe('pruned after rung 1 (2 tasks)');
      else if (c.id === fixed.evidence.best.id) expect(row[14]).toBe('chosen at rung 2 (3 tasks)');
      else expect(row[14]).toBe('finished rung 2 (3 tasks)');
    }
    expect(text(html)).toContain('Finalists on the full protocol (3 tasks × 2 seeds)');
  });

  it('the validation section gives the verdict and its intervals; the importance section every effect', () => {
    const v = fixed.validation!;
    expect(['confirmed', 'tie', 'overturned']).toContain(v.verdict);
    expect(text(html)).toContain(`Verdict: ${v.verdict.toUpperCase()}`);
    expect(rowsOf('validation').map((r) => r[0])).toEqual(v.candidates.map((c) => c.id));
    expect(rowsOf('validation-versus')).toHaveLength(v.versus.length);
    const imp = propertyImportance(definition, table());
    if ('unavailable' in imp) throw new Error(imp.unavailable);
    expect(rowsOf('importance').map((r) => r[0])).toEqual(['tauS', 'theta', 'tauS × theta']);
    expect(rowsOf('importance')[0]![2]).toBe(imp.main[0]!.reading);
  });

  it('the candidate table shows the failure-free metrics and the converged share beside the censored ones', () => {
    const rows = rowsOf('candidates');
    const all = aggregate(definition, table());
    expect(rows).toHaveLength(all.length);
    const f = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '—');
    for (const row of rows) {
      expect(row).toHaveLength(15);
      const a = all.find((c) => c.id === row[0])!;
      const pct = a.convergedShare;
      expect(row[13]).toBe(`${f(100 * pct.mean, 0)} [${f(100 * pct.lo, 0)}, ${f(100 * pct.hi, 0)}]`);
      const ff = a.failureFreeFinalEfficiency;
      if (a.failureFreeSeeds.finalEfficiency === 0) expect(row[6]).toBe('—');
      else expect(row[6]!.startsWith(`${f(ff.mean, 1)} [${f(ff.lo, 1)}, ${f(ff.hi, 1)}]`)).toBe(true);
    }
  });

  it('the survival table gives, per task, the share of the seeds that reached it and converged', () => {
    const rows = rowsOf('survival');
    for (const row of rows) {
      const id = row[0]!.split(' ')[0]!;
      for (let t = 0; t < definition.protocol.tasks; t++) {
        const at = searchRecords().filter((r) => r.candidate === id && r.result.taskIndex === t);
        if (at.length === 0) continue;
        const ok = at.filter((r) => r.result.converged && Number.isFinite(r.result.finalLoss)).length;
        expect(row[t + 1]).toBe(`${((100 * ok) / at.length).toFixed(0)}% of ${at.length}`);
      }
    }
    expect(html).toContain('<h3>Share of runs converged</h3>');
  });

  it('the bracket table says where each candidate stopped, as the search state does', () => {
    const rows = rowsOf('bracket');
    expect(rows).toHaveLength(4);
    for (const p of state.progress) {
      const row = rows.find((r) => r[0] === p.id)!;
      const last = row[row.length - 1]!;
      if (p.id === fixed.mask.bits) expect(last).toMatch(/^chosen at rung \d/);
      else if (p.state === 'pruned') {
        const r = state.rungs[p.rung]!;
        expect(last).toBe(`pruned at rung ${r.rung + 1} (${r.tasks} tasks)`);
        const score = r.ranking.find((x) => x.id === p.id)!.score;
        expect(row[2 + r.rung]).toMatch(new RegExp(`^${score.toFixed(1).replace('.', '\\.')} #\\d$`));
      } else expect(last).toMatch(/^finished rung \d/);
    }
  });

  it('the replay reproduces the stored results and the modularity table lists them', () => {
    const tasks = analysis.runs.flatMap((r) => r.tasks);
    expect(tasks).toHaveLength(2 * definition.protocol.tasks);
    expect(tasks.every((t) => t.reproduced === true)).toBe(true);
    expect(html).toContain(`reproduced the search's stored results exactly on all ${tasks.length} tasks`);
    const rows = rowsOf('modularity');
    expect(rows).toHaveLength(tasks.length);
    for (const row of rows) {
      const [seed, task, qStart] = row;
      const stored = records.find(
        (r) =>
          r.candidate === fixed.mask.bits && r.seedIndex === Number(seed) && r.result.taskIndex === Number(task) - 1,
      )!;
      expect(row[5]).toBe(String(stored.result.iterations));
      const t = analysis.runs[Number(seed)]!.tasks[Number(task) - 1]!;
      expect(qStart).toBe(sig(t.qStart));
      expect(t.qStart).toBeGreaterThan(-0.5);
      expect(t.qStart).toBeLessThan(1);
    }
  });

  it("the final intrinsic values and the lesion study are those of the search's own final networks", async () => {
    const finals: Record<string, number[]> = {};
    for (const run of analysis.runs) {
      const ck = checkpoints.get(`${fixed.mask.bits}/${run.seedIndex}`)!;
      expect(ck.nextTask).toBe(definition.protocol.tasks);
      const job = chunkJob(definition, { seed: run.seed, keys: fixed.mask.keys, fromTask: 0, toTask: 1 });
      const learner = await createRunLearner({ ...job, dt: job.protocol.dt }, ck.learner);
      try {
        for (const [k, v] of Object.entries(learner.intrinsic!())) (finals[k] ??= []).push(...v);
        for (const l of run.lesions) {
          const own = nextTaskLesionStudy({
            learner,
            family: definition.family,
            seed: run.seed,
            afterTask: definition.protocol.tasks - 1,
            property: l.property,
            protocol: job.protocol,
          });
          expect(l.rows.map((r) => r.relativeIncrease)).toEqual(own.rows.map((r) => r.relativeIncrease));
        }
      } finally {
        learner.dispose();
      }
    }
    const rows = rowsOf('intrinsic');
    for (const d of analysis.intrinsic) {
      const values = finals[d.property]!.sort((a, b) => a - b);
      const last = d.points[d.points.length - 1]!;
      expect(last.taskIndex).toBe(definition.protocol.tasks - 1);
      expect(last.summary.n).toBe(2 * definition.protocol.network.hidden);
      expect(last.summary.min).toBe(values[0]);
      expect(last.summary.max).toBe(values[values.length - 1]);
      const name = ({ tauD: 'τ_d', tauS: 'τ_s', theta: 'θ' } as Record<string, string>)[d.property]!;
      const i = rows.findIndex((r) => r[0]!.startsWith(name));
      expect(rows[i + 1]![3]).toBe(sig(last.summary.quantiles.find((q) => q.p === 0.5)!.value));
    }
    // Lesion means: one row per learned property (every property when none is learned), one cell per quartile.
    const lesion = rowsOf('lesion-means');
    expect(lesion).toHaveLength(analysis.keys.length || 3);
    const first = analysis.runs.map((r) => r.lesions[0]!.rows[0]!.relativeIncrease);
    expect(lesion[0]![1]).toBe(
      `${sig((100 * (first[0]! + first[1]!)) / 2)} % [${first.map((x) => sig(100 * x)).join(', ')}]`,
    );
  });
});

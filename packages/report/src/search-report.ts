import { convergedShareByTask, quantileSorted, spikingParameterCount, type TaskResult } from '@ip2/l2l';
import {
  fixedConfigModelVersion,
  fixedConfigVerdict,
  isFailure,
  modelSettings,
  type CandidateAggregate,
  type FixedConfig,
  type ImportanceUnavailable,
  type PropertyImportance,
  type SearchDefinition,
  type SearchState,
  type Standing,
} from '@ip2/search';
import type { TopLevelSpec } from 'vega-lite';
import { analysisSectionHtml } from './analysis-section.js';
import { importanceSectionHtml, validationSectionHtml } from './evidence.js';
import type { ConfigurationAnalysis } from './configuration-analysis.js';
import { firingSectionHtml } from './firing.js';
import { escapeHtml, num, sig } from './format.js';
import {
  adaptationCurveSpec,
  bandPanelsSpec,
  renderSvg,
  survivalCurveSpec,
  type BandSeries,
  type SurvivalSeries,
} from './plots.js';

export { escapeHtml } from './format.js';

export interface SearchReportInput {
  readonly definition: SearchDefinition;
  readonly fixed: FixedConfig;
  readonly candidates: readonly CandidateAggregate[];
  /** The candidates on common footings (standings of @ip2/search): the candidate tables are these. */
  readonly standings: { readonly all: Standing; readonly finalists: Standing | null };
  readonly importance: PropertyImportance | ImportanceUnavailable;
  readonly state: SearchState;
  readonly results: readonly { readonly candidate: string; readonly seedIndex: number; readonly result: TaskResult }[];
  readonly wallSeconds?: number;
  /** Analyses of the chosen configuration (see analyseConfiguration); without it the report says none were made. */
  readonly analysis?: ConfigurationAnalysis;
  /** Without an analysis: why there is none yet (e.g. pending), shown instead of the default note. */
  readonly analysisNote?: string;
}

const interval = (i: { mean: number | null; lo: number | null; hi: number | null }, d = 1) =>
  `${num(i.mean, d)} <span class="ci">[${num(i.lo, d)}, ${num(i.hi, d)}]</span>`;
/** The same on two lines (mean above its interval), for wide tables. */
const stacked = (i: { mean: number | null; lo: number | null; hi: number | null }, d = 1) =>
  `${num(i.mean, d)}<br><span class="ci">[${num(i.lo, d)}, ${num(i.hi, d)}]</span>`;

function label(id: string, keys: readonly string[]): string {
  return `${id} ${keys.length ? keys.join('+') : '∅'}`;
}

/** The chosen candidate first, then by tasks reached (further is better), then by score. */
export function rankForDisplay<T extends { id: string; tasks: number; score: { mean: number | null } }>(
  candidates: readonly T[],
  best: string,
  better: 'lower' | 'higher' = 'lower',
): T[] {
  const sign = better === 'lower' ? 1 : -1;
  const score = (c: T) => (c.score.mean === null || !Number.isFinite(c.score.mean) ? Infinity : sign * c.score.mean);
  return [...candidates].sort(
    (a, b) =>
      Number(b.id === best) - Number(a.id === best) ||
      b.tasks - a.tasks ||
      score(a) - score(b) ||
      (a.id < b.id ? -1 : 1),
  );
}

/**
 * Iterations to criterion across seeds, per task, per candidate (failures count at the cap): median,
 * quartiles (type 7) and range. Series are labelled '<mask> <keys>' and ordered by mask.
 */
export function curveBands(input: Pick<SearchReportInput, 'definition' | 'candidates' | 'results'>): BandSeries[] {
  const cap = input.definition.protocol.iterationCap;
  const byCandidate = new Map<string, Map<number, number[]>>();
  for (const r of input.results) {
    const m = byCandidate.get(r.candidate) ?? new Map<number, number[]>();
    byCandidate.set(r.candidate, m);
    const list = m.get(r.result.taskIndex) ?? [];
    list.push(r.result.converged ? r.result.iterations : cap);
    m.set(r.result.taskIndex, list);
  }
  const keysOf = new Map(input.candidates.map((c) => [c.id, c.keys]));
  return [...byCandidate.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, tasks]) => ({
      label: label(id, keysOf.get(id) ?? []),
      points: [...tasks.entries()]
        .sort(([a], [b]) => a - b)
        .map(([task, xs]) => {
          const s = Float64Array.from(xs).sort();
          return {
            task,
            median: quantileSorted(s, 0.5),
            lo: s[0]!,
            hi: s[s.length - 1]!,
            q1: quantileSorted(s, 0.25),
            q3: quantileSorted(s, 0.75),
          };
        }),
    }));
}

/**
 * Survival-style curves: per candidate, the share of its seeds that converged at each task index, over
 * the seeds that reached the task (a task whose loss or iterations are not finite counts as failed, as
 * in the score). Labelled and ordered as curveBands.
 */
export function convergedSeries(input: Pick<SearchReportInput, 'candidates' | 'results'>): SurvivalSeries[] {
  const runs = new Map<string, Map<number, Map<number, boolean>>>();
  for (const r of input.results) {
    const bySeed = runs.get(r.candidate) ?? new Map<number, Map<number, boolean>>();
    runs.set(r.candidate, bySeed);
    const run = bySeed.get(r.seedIndex) ?? new Map<number, boolean>();
    bySeed.set(r.seedIndex, run);
    run.set(r.result.taskIndex, !isFailure(r.result));
  }
  const keysOf = new Map(input.candidates.map((c) => [c.id, c.keys]));
  return [...runs.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, bySeed]) => ({
      label: label(id, keysOf.get(id) ?? []),
      // Each seed's contiguous prefix from task 0, as the search uses it.
      points: convergedShareByTask(
        [...bySeed.values()].map((run) => {
          const out: { iterations: number; converged: boolean }[] = [];
          for (let t = 0; run.has(t); t++) out.push({ iterations: Number.NaN, converged: run.get(t)! });
          return out;
        }),
      ).map((p) => ({ task: p.task, share: p.share, runs: p.runs })),
    }));
}

type Outcome = 'kept' | 'pruned here' | 'finished' | 'chosen';
const OUTCOMES: readonly Outcome[] = ['kept', 'pruned here', 'finished', 'chosen'];

interface BracketCell {
  readonly id: string;
  readonly rung: number;
  readonly tasks: number;
  readonly score: number;
  /** 1 = best of the rung. */
  readonly rank: number;
  readonly outcome: Outcome;
}

function bracketCells(state: SearchState, best: string): BracketCell[] {
  const last = state.rungs.length - 1;
  return state.rungs.flatMap((r, i) =>
    r.ranking.map((c, k) => ({
      id: c.id,
      rung: r.rung + 1,
      tasks: r.tasks,
      score: c.score,
      rank: k + 1,
      outcome: r.pruned.includes(c.id) ? 'pruned here' : i === last ? (c.id === best ? 'chosen' : 'finished') : 'kept',
    })),
  );
}

/**
 * The successive-halving bracket: one row per candidate (in `order`), a mark at every rung it was
 * compared on, its score written beside it, and how it left: pruned at that rung, finished, or chosen.
 */
export function bracketSpec(
  state: SearchState,
  keysOf: Map<string, readonly string[]>,
  best: string,
  order: readonly string[],
): TopLevelSpec {
  const cells = bracketCells(state, best).map((c) => ({
    ...c,
    candidate: label(c.id, keysOf.get(c.id) ?? []),
    text: `${num(c.score, c.score >= 100 ? 0 : 1)} (#${c.rank})`,
  }));
  const rungs = state.rungs.map((r) => ({ rung: r.rung + 1, tasks: r.tasks }));
  const labelExpr = rungs
    .map((r) => `datum.value === ${r.rung} ? 'rung ${r.rung} · ${r.tasks} tasks'`)
    .concat("''")
    .join(' : ');
  const x = {
    field: 'rung',
    type: 'quantitative',
    title: null,
    scale: { domain: [0.6, rungs.length + 0.9] },
    axis: { values: rungs.map((r) => r.rung), labelExpr, orient: 'top', grid: true },
  };
  const y = {
    field: 'candidate',
    type: 'nominal',
    title: null,
    sort: order.map((id) => label(id, keysOf.get(id) ?? [])),
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: Math.max(360, 180 * rungs.length),
    height: { step: 30 },
    data: { values: cells },
    encoding: { x, y },
    layer: [
      { mark: { type: 'line', color: '#9ab', strokeWidth: 2 }, encoding: { detail: { field: 'candidate' } } },
      {
        mark: { type: 'point', filled: true, size: 110, opacity: 1 },
        encoding: {
          color: {
            field: 'outcome',
            type: 'nominal',
            title: null,
            scale: { domain: OUTCOMES, range: ['#3b6ea8', '#c0392b', '#7f8c8d', '#d97706'] },
          },
          shape: {
            field: 'outcome',
            type: 'nominal',
            title: null,
            scale: { domain: OUTCOMES, range: ['circle', 'cross', 'square', 'diamond'] },
          },
        },
      },
      {
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -6, fontSize: 11, color: '#333' },
        encoding: { text: { field: 'text' } },
      },
    ],
  } as unknown as TopLevelSpec;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
h3{font-size:1.02rem;margin:1.6rem 0 .3rem}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;margin:.5rem 0} th,td{padding:.3rem .45rem;border-bottom:1px solid #eee;text-align:right;vertical-align:top}
th{font-weight:600;border-bottom:1px solid #ccc} td,th{white-space:nowrap} table.candidates td:last-child{white-space:normal}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left} .ci{color:#777;font-size:.85em}
table.compact{width:auto;font-size:.92em} table.compact td,table.compact th{padding:.2rem .6rem}
.decision{background:#f3f8ff;border:1px solid #bcd4f6;border-radius:6px;padding:1rem 1.2rem} .warn{color:#a64b00;font-weight:600} .ok{color:#2e6b30}
.chosen{background:#fff8e1} .pruned{color:#999} code{background:#f4f4f4;padding:0 .25rem;border-radius:3px} .muted{color:#666}
figure{margin:1rem 0;overflow-x:auto} svg{max-width:100%;height:auto} details{margin:.4rem 0} summary{cursor:pointer;color:#3b6ea8}
.scroll{overflow-x:auto} td.ff,th.ff{background:#f7f9fb}`;

function curveDataTable(series: readonly BandSeries[]): string {
  const tasks = [...new Set(series.flatMap((s) => s.points.map((p) => p.task)))].sort((a, b) => a - b);
  const head = tasks.map((t) => `<th>${t + 1}</th>`).join('');
  const rows = series
    .map((s) => {
      const at = new Map(s.points.map((p) => [p.task, p]));
      const cells = tasks
        .map((t) => {
          const p = at.get(t);
          return p
            ? `<td>${num(p.median, 0)} <span class="ci">[${num(p.lo, 0)}, ${num(p.hi, 0)}]</span></td>`
            : '<td></td>';
        })
        .join('');
      return `<tr><td><code>${escapeHtml(s.label)}</code></td>${cells}</tr>`;
    })
    .join('\n');
  return `<div class="scroll"><table class="compact curves"><thead><tr><th>candidate \\ task</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

function survivalDataTable(series: readonly SurvivalSeries[]): string {
  const tasks = [...new Set(series.flatMap((s) => s.points.map((p) => p.task)))].sort((a, b) => a - b);
  const head = tasks.map((t) => `<th>${t + 1}</th>`).join('');
  const rows = series
    .map((s) => {
      const at = new Map(s.points.map((p) => [p.task, p]));
      const cells = tasks
        .map((t) => {
          const p = at.get(t);
          return p ? `<td>${num(100 * p.share, 0)}% <span class="ci">of ${p.runs}</span></td>` : '<td></td>';
        })
        .join('');
      return `<tr><td><code>${escapeHtml(s.label)}</code></td>${cells}</tr>`;
    })
    .join('\n');
  return `<div class="scroll"><table class="compact survival"><thead><tr><th>candidate \\ task</th>${head}</tr></thead><tbody>${rows}</tbody></table></div>`;
}

function bracketTable(
  state: SearchState,
  best: string,
  order: readonly string[],
  keysOf: Map<string, readonly string[]>,
) {
  const cells = bracketCells(state, best);
  const head = state.rungs
    .map((r) => `<th>rung ${r.rung + 1}<br><span class="muted">${r.tasks} tasks</span></th>`)
    .join('');
  const rows = order
    .map((id) => {
      const mine = cells.filter((c) => c.id === id);
      const end = mine[mine.length - 1];
      const where = !end
        ? 'not compared'
        : end.outcome === 'pruned here'
          ? `pruned at rung ${end.rung} (${end.tasks} tasks)`
          : end.outcome === 'chosen'
            ? `chosen at rung ${end.rung}`
            : end.outcome === 'finished'
              ? `finished rung ${end.rung}`
              : `in rung ${end.rung}`;
      const byRung = new Map(mine.map((c) => [c.rung, c]));
      const scores = state.rungs
        .map((r) => {
          const c = byRung.get(r.rung + 1);
          return c ? `<td>${num(c.score, 1)} <span class="ci">#${c.rank}</span></td>` : '<td></td>';
        })
        .join('');
      const cls = end?.outcome === 'chosen' ? 'chosen' : end?.outcome === 'pruned here' ? 'pruned' : '';
      return `<tr class="${cls}"><td><code>${id}</code></td><td>${escapeHtml((keysOf.get(id) ?? []).join(', ') || '∅')}</td>${scores}<td>${where}</td></tr>`;
    })
    .join('\n');
  return `<table class="compact bracket"><thead><tr><th>mask</th><th>learnable</th>${head}<th>stopped</th></tr></thead><tbody>${rows}</tbody></table>`;
}

type IntervalLike = { mean: number | null; lo: number | null; hi: number | null };
const percent = (i: IntervalLike): IntervalLike => ({
  mean: i.mean === null ? null : 100 * i.mean,
  lo: i.lo === null ? null : 100 * i.lo,
  hi: i.hi === null ? null : 100 * i.hi,
});
/** A failure-free metric: its interval, and over how many of the seeds it is defined when not all. */
function freeCell(i: IntervalLike | undefined, defined: number | undefined, seeds: number, d = 1): string {
  if (i === undefined || i.mean === null || !Number.isFinite(i.mean)) return '<span class="muted">—</span>';
  const note =
    defined !== undefined && defined < seeds ? `<br><span class="ci">${defined} of ${seeds} seeds</span>` : '';
  return `${stacked(i, d)}${note}`;
}

/** The model a fixed configuration was measured under, for the decision section (after "Model version "). */
function modelLine(d: SearchDefinition, fixed: FixedConfig): string {
  const m = modelSettings(d.protocol.network);
  const defaults =
    fixed.model === undefined
      ? 'a record fixed before versioned defaults'
      : `defaults <code title="${fixed.model.defaultsHash}">${fixed.model.defaultsHash.slice(0, 12)}</code>`;
  return `${fixedConfigModelVersion(fixed)} (${defaults}): ${m.readout} readout; the intrinsic properties learn by ${m.propertyOptimizer}, η = ${sig(m.propertyLr)}.`;
}

/** Where a candidate's measurement stopped, for the candidate tables. */
function stopText(stop: Standing['candidates'][number]['stop'], chosen: boolean): string {
  const where = `rung ${stop.rung + 1} (${stop.tasks} tasks)`;
  if (stop.state === 'pruned') return `pruned after ${where}`;
  if (stop.state === 'finished') return chosen ? `chosen at ${where}` : `finished ${where}`;
  return `in ${where}`;
}

/** One candidate table: every row over the same prefix of tasks (a Standing); `parameters` of a learnable set. */
function candidateTable(standing: Standing, best: string, parameters: (keys: readonly string[]) => number): string {
  const rows = [...standing.candidates]
    .sort((a, b) => Number(b.id === best) - Number(a.id === best))
    .map((c) => {
      const cls = c.id === best ? 'chosen' : c.stop.state === 'pruned' ? 'pruned' : '';
      return (
        `<tr class="${cls}"><td><code>${c.id}</code></td><td>${escapeHtml(c.keys.join(', ') || '∅')} <span class="muted">${c.role === 'ip-masked' ? '' : `(${c.role})`}</span></td>` +
        `<td>${parameters(c.keys).toLocaleString('en-US')}</td><td>${c.tasks}</td><td>${stacked(c.score)}</td>` +
        `<td>${stacked(c.finalEfficiency)}</td><td class="ff">${freeCell(c.failureFreeFinalEfficiency, c.failureFreeSeeds.finalEfficiency, c.seeds.length)}</td>` +
        `<td>${stacked(c.speedUp, 2)}</td><td class="ff">${freeCell(c.failureFreeSpeedUp, c.failureFreeSeeds.speedUp, c.seeds.length, 2)}</td>` +
        `<td>${stacked(c.l2lSlope, 2)}</td><td class="ff">${freeCell(c.failureFreeL2lSlope, c.failureFreeSeeds.l2lSlope, c.seeds.length, 2)}</td>` +
        `<td>${stacked(c.auc, 0)}</td><td>${stacked(c.failures, 2)}</td><td>${stacked(percent(c.convergedShare), 0)}</td><td>${escapeHtml(stopText(c.stop, c.id === best))}</td></tr>`
      );
    })
    .join('\n');
  return `<div class="scroll"><table class="candidates"><thead><tr><th>mask</th><th>learnable</th><th>parameters</th><th>tasks</th><th>score</th><th>final efficiency</th><th class="ff">converged only</th><th>speed-up</th><th class="ff">converged only</th><th>L2L slope</th><th class="ff">converged only</th><th>AUC</th><th>failures</th><th>converged (%)</th><th>stopped</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

/** A self-contained HTML report of a finished search: no script, no network, opens from a file. */
export async function searchReportHtml(input: SearchReportInput): Promise<string> {
  const { definition: d, fixed, candidates, state, standings } = input;
  const ev = fixed.evidence;
  const better = ev.rule.metric === 'speed-up' ? 'higher' : 'lower';
  const keysOf = new Map(candidates.map((c) => [c.id, c.keys as readonly string[]]));
  const ranked = rankForDisplay(candidates, ev.best.id, better);
  const order = ranked.map((c) => c.id);
  // The search's own runs: the validation's (seed index ≥ protocol.seeds) have their own section.
  const search = { ...input, results: input.results.filter((r) => r.seedIndex < d.protocol.seeds) };
  const bands = curveBands(search);
  const chosenLabel = label(ev.best.id, keysOf.get(ev.best.id) ?? []);
  const medians = await renderSvg(
    adaptationCurveSpec(
      bands.map((s) => ({
        label: s.label,
        points: s.points.map((p) => ({
          task: p.task,
          iterations: p.median,
          converged: p.median < d.protocol.iterationCap,
        })),
      })),
      'Median across seeds, every candidate',
    ),
  );
  const panels = await renderSvg(
    bandPanelsSpec(
      order.map((id) => bands.find((b) => b.label === label(id, keysOf.get(id) ?? []))).filter((b) => b !== undefined),
      { highlight: chosenLabel, columns: 4 },
    ),
  );
  const survival = convergedSeries(search);
  const survivalSvg = await renderSvg(survivalCurveSpec(survival, { highlight: chosenLabel }));
  const halving = d.strategy.kind === 'successive-halving' && state.rungs.length > 0;
  const bracket = halving ? await renderSvg(bracketSpec(state, keysOf, ev.best.id, order)) : '';
  const level = Math.round(ev.bootstrap.level * 100);
  const parameters = (keys: readonly string[]) =>
    spikingParameterCount(d.family, d.protocol.network.hidden, keys as Parameters<typeof spikingParameterCount>[2]);
  const allTable = candidateTable(standings.all, ev.best.id, parameters);
  const finalistTable = standings.finalists === null ? '' : candidateTable(standings.finalists, ev.best.id, parameters);
  const validation = fixed.validation;
  const verdict = fixedConfigVerdict(fixed);
  const overturned = validation !== undefined && validation.better.bits !== ev.best.id;
  const validationSection = await validationSectionHtml(validation, ev.rule, ev.bootstrap.level);
  const importanceSection = await importanceSectionHtml(input.importance);
  const versus = (k: 'rsnn-noip' | 'ip-inner') => {
    const c = ev.versus[k];
    if (!c) return `<li>${k}: not measured to the end (pruned or not a candidate)</li>`;
    return `<li>vs <b>${k}</b> (on ${c.tasks} tasks): ${c.ratio === null ? '—' : `${c.ratio.toFixed(2)}×`} better; score ${interval(c.best)} against ${interval(c.other)}</li>`;
  };
  const rungList = state.rungs
    .map(
      (r) =>
        `<tr><td>${r.rung + 1}</td><td>${r.tasks}</td><td>${r.ranking.map((x) => `<code>${x.id}</code> ${num(x.score)}`).join(', ')}</td><td>${r.pruned.map((x) => `<code>${x}</code>`).join(' ') || '—'}</td></tr>`,
    )
    .join('\n');
  const engines = [
    ...new Set(
      input.results.map((r) => {
        const e = (r as { engine?: { engine: string; backend: string } }).engine;
        return e ? `${e.engine}/${e.backend}` : '';
      }),
    ),
  ].filter(Boolean);
  const analysis = input.analysis
    ? await analysisSectionHtml(input.analysis, d.protocol.iterationCap)
    : input.analysisNote !== undefined
      ? `<h2>Analyses of the chosen configuration</h2><p class="muted">${escapeHtml(input.analysisNote)}</p>`
      : `<h2>Analyses of the chosen configuration</h2><p class="muted">Not computed for this report (intrinsic distributions, lesion study, modularity): they train the chosen configuration again; <code>ip2 search</code> makes them (<code>--analysis-seeds</code>).</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ip2 search report: ${escapeHtml(d.family)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>Meta-IP search on <code>${escapeHtml(d.family)}</code></h1>
<p class="muted">Search space [${d.space.join(', ')}] · strategy ${d.strategy.kind} · ${d.protocol.seeds} seeds × ${d.protocol.tasks} tasks ·
${d.protocol.network.hidden} neurons (${spikingParameterCount(d.family, d.protocol.network.hidden, []).toLocaleString('en-US')} weights, + ${d.protocol.network.hidden} per learnable property) · criterion: mean task loss over ${d.protocol.criterion.window} iterations &lt; ${d.protocol.criterion.epsilon} · cap ${d.protocol.iterationCap}
${input.wallSeconds !== undefined ? ` · ${input.wallSeconds.toFixed(0)} s` : ''} · ${ev.taskTrainings.measured} task trainings${engines.length ? ` · engine ${escapeHtml(engines.join(' '))}` : ''}</p>

<h2>Decision</h2>
<div class="decision">
<p>Learnable intrinsic properties for <b>${escapeHtml(d.family)}</b>: <b>${escapeHtml(fixed.mask.keys.join(', ') || 'none')}</b> (mask <code>${fixed.mask.bits}</code>)${overturned ? ` — <span class="warn">the runner-up: the search chose <code>${ev.best.id}</code>, and the validation on fresh seeds overturned it</span>` : ''}, ranked by ${escapeHtml(ev.rule.metric)} (${better} is better; failures penalised by ${num(ev.rule.failurePenalty, 1)} each), decided on the full protocol (${ev.tasks} tasks at cap ${d.protocol.iterationCap}, ${ev.seeds} seeds).</p>
<p>Validation verdict: <b class="${verdict === 'confirmed' ? 'ok' : verdict === 'unvalidated' ? 'muted' : 'warn'}">${verdict}</b>${validation === undefined ? '' : ` — ${escapeHtml(validation.statement)}`}</p>
${ev.separable ? `<p>Its ${Math.round(ev.bootstrap.level * 100)}% interval does not overlap the runner-up's.</p>` : `<p class="warn">Not separable from the runner-up at ${Math.round(ev.bootstrap.level * 100)}% confidence: the choice is provisional; add seeds or tasks.</p>`}
<ul>${ev.runnerUp ? `<li>runner-up <code>${ev.runnerUp.id}</code> [${escapeHtml(ev.runnerUp.keys.join(', ') || '∅')}]: ${interval(ev.runnerUp.score)} against ${interval(ev.best.score)}</li>` : ''}
${versus('rsnn-noip')}${versus('ip-inner')}</ul>
<p class="muted">Model version ${modelLine(d, fixed)}</p>
<p class="muted">Fixed configuration <code>${fixed.hash}</code> — immutable; a new search makes a new version.</p>
</div>

<h2>Candidates</h2>
<p class="muted">Every candidate on the same tasks: the first ${standings.all.tasks} of every seed, which all of them were measured on${standings.finalists === null ? '' : ` (the first rung's prefix; the finalists on the full protocol below)`}; <i>stopped</i> says where each left the search. Mean across seeds with ${level}% bootstrap intervals (${ev.bootstrap.resamples} resamples).
Censored metrics count a failed task at the cap, so they cannot tell "learned without speeding up" from "never learned"; beside each, <i>converged only</i> is the same metric over the converged tasks alone (mean over the seeds where it is defined; — where none is), and <i>converged</i> is the share of tasks that met the criterion. Only the score ranks.</p>
${allTable}
${
  standings.finalists === null
    ? ''
    : `<h3>Finalists on the full protocol (${standings.finalists.tasks} tasks × ${ev.seeds} seeds)</h3>
${finalistTable}`
}
${validationSection}
${importanceSection}

<h2>Adaptation speed</h2>
<p class="muted">Iterations to criterion per task (log scale; failed tasks count at the cap ${d.protocol.iterationCap} and are drawn as crosses), the search's ${d.protocol.seeds} seeds: at each task index every curve is over the same task instances, and a curve ends where its candidate was pruned. Panels: median across the seeds with the quartile band (dark) and the range (light); the chosen candidate in orange.</p>
<figure>${medians}</figure>
<figure>${panels}</figure>
<details><summary>Data: median [min, max] across seeds</summary>${curveDataTable(bands)}</details>
<h3>Share of runs converged</h3>
<p class="muted">Per task index, the share of each candidate's seeds that reached the task and converged on it (survival-style; a curve ends where the candidate was pruned). The chosen candidate is drawn thicker.</p>
<figure>${survivalSvg}</figure>
<details><summary>Data: share converged (of the seeds that reached the task)</summary>${survivalDataTable(survival)}</details>
${firingSectionHtml(search.results, { dtMs: d.protocol.network.dt, order, keys: keysOf })}
${
  halving
    ? `<h2>Successive-halving bracket</h2>
<p class="muted">Each rung compares the surviving candidates on the first tasks of every seed and keeps the best; score by ${escapeHtml(ev.rule.metric)} (${better} is better), rank within the rung after #.</p>
<figure>${bracket}</figure>
${bracketTable(state, ev.best.id, order, keysOf)}`
    : `<h2>Rungs</h2>
<table><thead><tr><th>rung</th><th>tasks</th><th>ranking (score)</th><th>pruned</th></tr></thead><tbody>${rungList}</tbody></table>`
}
${analysis}
</body></html>
`;
}

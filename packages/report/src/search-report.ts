import type { TaskResult } from '@ip2/l2l';
import type { CandidateAggregate, FixedConfig, SearchDefinition, SearchState } from '@ip2/search';
import type { TopLevelSpec } from 'vega-lite';
import { bandCurveSpec, renderSvg, type BandSeries } from './plots.js';

export interface SearchReportInput {
  readonly definition: SearchDefinition;
  readonly fixed: FixedConfig;
  readonly candidates: readonly CandidateAggregate[];
  readonly state: SearchState;
  readonly results: readonly { readonly candidate: string; readonly seedIndex: number; readonly result: TaskResult }[];
  readonly wallSeconds?: number;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (x: number | null | undefined, d = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(d);
const interval = (i: { mean: number | null; lo: number | null; hi: number | null }, d = 1) =>
  `${num(i.mean, d)} <span class="ci">[${num(i.lo, d)}, ${num(i.hi, d)}]</span>`;

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

/** Median and range across seeds of iterations-to-criterion, per task, per candidate (failures at the cap). */
export function curveBands(input: SearchReportInput): BandSeries[] {
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
          const s = [...xs].sort((a, b) => a - b);
          const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
          return { task, median: mid, lo: s[0]!, hi: s[s.length - 1]! };
        }),
    }));
}

/** Score of every candidate at every rung it reached: the successive-halving bracket. */
export function bracketSpec(state: SearchState, keysOf: Map<string, readonly string[]>): TopLevelSpec {
  const values = state.rungs.flatMap((r) =>
    r.ranking.map((c) => ({
      candidate: label(c.id, keysOf.get(c.id) ?? []),
      tasks: r.tasks,
      score: c.score,
      outcome: r.pruned.includes(c.id) ? 'pruned here' : 'kept',
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Successive halving: score per rung (lower is better)',
    width: 560,
    height: 260,
    data: { values },
    encoding: {
      x: { field: 'tasks', type: 'quantitative', title: 'tasks compared on (rung length)' },
      y: { field: 'score', type: 'quantitative', title: 'score', scale: { type: 'log' } },
      color: { field: 'candidate', type: 'nominal', title: null },
    },
    layer: [
      { mark: { type: 'line', strokeWidth: 1.2 } },
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          shape: {
            field: 'outcome',
            type: 'nominal',
            scale: { domain: ['kept', 'pruned here'], range: ['circle', 'cross'] },
          },
        },
      },
    ],
  } as TopLevelSpec;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1000px;color:#222;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums} th,td{padding:.3rem .5rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child,th:nth-child(2),td:nth-child(2){text-align:left} .ci{color:#777;font-size:.85em}
.decision{background:#f3f8ff;border:1px solid #bcd4f6;border-radius:6px;padding:1rem 1.2rem} .warn{color:#a64b00;font-weight:600}
.chosen{background:#fff8e1} .pruned{color:#999} code{background:#f4f4f4;padding:0 .25rem;border-radius:3px} .muted{color:#666}
figure{margin:1rem 0} svg{max-width:100%;height:auto}`;

/** A self-contained HTML report of a finished search: no script, no network, opens from a file. */
export async function searchReportHtml(input: SearchReportInput): Promise<string> {
  const { definition: d, fixed, candidates, state } = input;
  const ev = fixed.evidence;
  const keysOf = new Map(candidates.map((c) => [c.id, c.keys as readonly string[]]));
  const curves = await renderSvg(
    bandCurveSpec(curveBands(input), 'Adaptation speed: median and range across seeds (failures at the cap)'),
  );
  const bracket =
    d.strategy.kind === 'successive-halving' && state.rungs.length > 1
      ? await renderSvg(bracketSpec(state, keysOf))
      : '';
  const prog = new Map(state.progress.map((p) => [p.id, p]));
  const rows = rankForDisplay(candidates, ev.best.id, ev.rule.metric === 'speed-up' ? 'higher' : 'lower')
    .map((c) => {
      const p = prog.get(c.id);
      const st =
        c.id === ev.best.id ? 'chosen' : p?.state === 'pruned' ? `pruned after rung ${p.rung + 1}` : (p?.state ?? '');
      return (
        `<tr class="${c.id === ev.best.id ? 'chosen' : p?.state === 'pruned' ? 'pruned' : ''}"><td><code>${c.id}</code></td><td>${escapeHtml(c.keys.join(', ') || '∅')} <span class="muted">${c.role === 'ip-masked' ? '' : `(${c.role})`}</span></td>` +
        `<td>${c.tasks}</td><td>${interval(c.score)}</td><td>${interval(c.finalEfficiency)}</td><td>${interval(c.speedUp, 2)}</td>` +
        `<td>${interval(c.l2lSlope, 2)}</td><td>${interval(c.auc, 0)}</td><td>${interval(c.failures, 2)}</td><td>${escapeHtml(st)}</td></tr>`
      );
    })
    .join('\n');
  const versus = (k: 'rsnn-noip' | 'ip-inner') => {
    const c = ev.versus[k];
    if (!c) return `<li>${k}: not measured to the end (pruned or not a candidate)</li>`;
    return `<li>vs <b>${k}</b> (on ${c.tasks} tasks): ${c.ratio === null ? '—' : `${c.ratio.toFixed(2)}×`} better; score ${interval(c.best)} against ${interval(c.other)}</li>`;
  };
  const rungTable = state.rungs
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
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ip2 search report: ${escapeHtml(d.family)}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>Meta-IP search on <code>${escapeHtml(d.family)}</code></h1>
<p class="muted">Search space [${d.space.join(', ')}] · strategy ${d.strategy.kind} · ${d.protocol.seeds} seeds × ${d.protocol.tasks} tasks ·
${d.protocol.network.hidden} neurons · criterion: mean task loss over ${d.protocol.criterion.window} iterations &lt; ${d.protocol.criterion.epsilon} · cap ${d.protocol.iterationCap}
${input.wallSeconds !== undefined ? ` · ${input.wallSeconds.toFixed(0)} s` : ''} · ${ev.taskTrainings.measured} task trainings${engines.length ? ` · engine ${escapeHtml(engines.join(' '))}` : ''}</p>

<h2>Decision</h2>
<div class="decision">
<p>Learnable intrinsic properties for <b>${escapeHtml(d.family)}</b>: <b>${escapeHtml(fixed.mask.keys.join(', ') || 'none')}</b> (mask <code>${fixed.mask.bits}</code>), ranked by ${escapeHtml(ev.rule.metric)} (lower is better${ev.rule.metric === 'speed-up' ? ' — here higher' : ''}; failures penalised by ${num(ev.rule.failurePenalty, 1)} each).</p>
${ev.separable ? `<p>Its ${Math.round(ev.bootstrap.level * 100)}% interval does not overlap the runner-up's.</p>` : `<p class="warn">Not separable from the runner-up at ${Math.round(ev.bootstrap.level * 100)}% confidence: the choice is provisional; add seeds or tasks.</p>`}
<ul>${ev.runnerUp ? `<li>runner-up <code>${ev.runnerUp.id}</code> [${escapeHtml(ev.runnerUp.keys.join(', ') || '∅')}]: ${interval(ev.runnerUp.score)} against ${interval(ev.best.score)}</li>` : ''}
${versus('rsnn-noip')}${versus('ip-inner')}</ul>
<p class="muted">Fixed configuration <code>${fixed.hash}</code> — immutable; a new search makes a new version.</p>
</div>

<h2>Candidates</h2>
<p class="muted">Mean across seeds with ${Math.round(ev.bootstrap.level * 100)}% bootstrap intervals (${ev.bootstrap.resamples} resamples), on the tasks each candidate reached.</p>
<table><thead><tr><th>mask</th><th>learnable</th><th>tasks</th><th>score</th><th>final efficiency</th><th>speed-up</th><th>L2L slope</th><th>AUC</th><th>failures</th><th>state</th></tr></thead>
<tbody>${rows}</tbody></table>

<h2>Learning curves</h2>
<figure>${curves}</figure>
${bracket ? `<h2>Successive-halving bracket</h2><figure>${bracket}</figure>` : ''}
<h2>Rungs</h2>
<table><thead><tr><th>rung</th><th>tasks</th><th>ranking (score)</th><th>pruned</th></tr></thead><tbody>${rungTable}</tbody></table>
</body></html>
`;
}

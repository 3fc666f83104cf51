import type {
  ImportanceUnavailable,
  IntervalRecord,
  PropertyImportance,
  ScoreRule,
  ValidationRecord,
} from '@ip2/search';
import type { TopLevelSpec } from 'vega-lite';
import { escapeHtml, num } from './format.js';
import { renderSvg } from './plots.js';

/*
 * The evidence beyond the ranking: the validation of the decision on fresh seeds (its verdict and the
 * paired intervals it rests on) and the importance of each property from the factorial design. The same
 * plots go into the HTML report, the dashboard (its own drawing of the same numbers) and docs/images.
 */

/** One interval of an interval plot: a label on the y axis, a group (colour) and the interval. */
export interface IntervalRow {
  readonly label: string;
  readonly group: string;
  readonly mean: number | null;
  readonly lo: number | null;
  readonly hi: number | null;
}

/**
 * Intervals as points with error bars, one row each, and a rule at 0: what property importance and the
 * validation's advantages are read against.
 */
export function intervalPlotSpec(
  rows: readonly IntervalRow[],
  options: {
    readonly title: string;
    readonly xTitle: string;
    readonly groups: readonly string[];
    readonly colours: readonly string[];
  },
): TopLevelSpec {
  const values = rows
    .filter((r) => r.mean !== null)
    .map((r) => ({ label: r.label, group: r.group, mean: r.mean, lo: r.lo ?? r.mean, hi: r.hi ?? r.mean }));
  const y = {
    field: 'label',
    type: 'nominal',
    title: null,
    sort: rows.map((r) => r.label),
    axis: { labelLimit: 320 },
  };
  const color = {
    field: 'group',
    type: 'nominal',
    title: null,
    scale: { domain: options.groups, range: options.colours },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title,
    width: 480,
    height: { step: 26 },
    layer: [
      {
        data: { values: [{ zero: 0 }] },
        mark: { type: 'rule', color: '#888', strokeDash: [4, 3] },
        encoding: { x: { field: 'zero', type: 'quantitative' } },
      },
      {
        data: { values },
        mark: { type: 'rule', strokeWidth: 2 },
        encoding: { y, x: { field: 'lo', type: 'quantitative', title: options.xTitle }, x2: { field: 'hi' }, color },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 70 },
        encoding: { y, x: { field: 'mean', type: 'quantitative' }, color },
      },
    ],
  } as unknown as TopLevelSpec;
}

const EFFECT_GROUPS = ['main effect', 'interaction'];
const EFFECT_COLOURS = ['#3b6ea8', '#d97706'];

function metricPhrase(imp: Pick<PropertyImportance, 'metric' | 'direction'>): string {
  return `${imp.metric}, ${imp.direction} is better`;
}

/** The importance plot: each property's main effect and each pair's interaction with its interval. */
export function importanceSpec(imp: PropertyImportance): TopLevelSpec {
  const rows: IntervalRow[] = [
    ...imp.main.map((e) => ({ label: e.keys[0]!, group: 'main effect', ...e.effect })),
    ...imp.interactions.map((e) => ({ label: e.keys.join(' × '), group: 'interaction', ...e.effect })),
  ];
  return intervalPlotSpec(rows, {
    title: `Property importance (${imp.tasks} tasks × ${imp.seeds} seeds, ${Math.round(imp.level * 100)}% intervals)`,
    xTitle: `effect on the score (${metricPhrase(imp)})`,
    groups: EFFECT_GROUPS,
    colours: EFFECT_COLOURS,
  });
}

export async function importanceSvg(imp: PropertyImportance): Promise<string> {
  return renderSvg(importanceSpec(imp));
}

const VALIDATION_GROUPS = ['runner-up', 'control'];
const VALIDATION_COLOURS = ['#c0392b', '#7f8c8d'];

/** The validation's intervals: the chosen mask's paired advantage over each validated mask (> 0: it is better). */
export function validationSpec(v: ValidationRecord): TopLevelSpec {
  const rows: IntervalRow[] = v.versus.map((c) => ({
    label: `vs ${c.candidate} (${c.as.join(', ')})`,
    group: c.as.includes('runner-up') ? 'runner-up' : 'control',
    ...c.advantage,
  }));
  return intervalPlotSpec(rows, {
    title: `Validation of ${v.searchChoice.bits} on ${v.seeds} fresh seeds: ${v.verdict}`,
    xTitle: `advantage of ${v.searchChoice.bits} (> 0: it is better)`,
    groups: VALIDATION_GROUPS,
    colours: VALIDATION_COLOURS,
  });
}

export async function validationSvg(v: ValidationRecord): Promise<string> {
  return renderSvg(validationSpec(v));
}

const ci = (i: IntervalRecord, d = 1) => `${num(i.mean, d)} <span class="ci">[${num(i.lo, d)}, ${num(i.hi, d)}]</span>`;

const VERDICT_CLASS: Record<ValidationRecord['verdict'], string> = {
  confirmed: 'ok',
  tie: 'warn',
  overturned: 'warn',
  unvalidated: 'muted',
};

/** The report's validation section: the verdict, its statement, the plot and the tables of intervals. */
export async function validationSectionHtml(
  v: ValidationRecord | undefined,
  rule: ScoreRule,
  level: number,
): Promise<string> {
  if (v === undefined) {
    return `<h2>Validation</h2><p class="muted">This configuration was fixed before the validation stage existed: unvalidated.</p>`;
  }
  if (v.verdict === 'unvalidated') {
    return `<h2>Validation</h2><p class="muted">${escapeHtml(v.statement)}</p>`;
  }
  const pct = Math.round(level * 100);
  const svg = await validationSvg(v);
  const rows = v.candidates
    .map(
      (c) =>
        `<tr class="${c.as.includes('chosen') ? 'chosen' : ''}"><td><code>${c.id}</code></td><td>${escapeHtml(c.keys.join(', ') || '∅')}</td><td>${escapeHtml(c.as.join(', '))}</td><td>${c.seeds}</td><td>${ci(c.score)}</td><td>${ci(c.metrics.failures, 2)}</td><td>${c.metrics.convergedShare ? ci({ mean: c.metrics.convergedShare.mean === null ? null : 100 * c.metrics.convergedShare.mean, lo: c.metrics.convergedShare.lo === null ? null : 100 * c.metrics.convergedShare.lo, hi: c.metrics.convergedShare.hi === null ? null : 100 * c.metrics.convergedShare.hi }, 0) : '—'}</td></tr>`,
    )
    .join('\n');
  const versus = v.versus
    .map(
      (c) =>
        `<tr><td><code>${c.candidate}</code> <span class="muted">(${escapeHtml(c.as.join(', '))})</span></td><td>${c.seeds}</td><td>${ci(c.chosen)}</td><td>${ci(c.other)}</td><td>${c.ratio === null ? '—' : `${c.ratio.toFixed(2)}×`}</td><td>${ci(c.advantage)}</td></tr>`,
    )
    .join('\n');
  return `<h2>Validation on fresh seeds</h2>
<div class="decision"><p class="${VERDICT_CLASS[v.verdict]}">Verdict: <b>${v.verdict.toUpperCase()}</b></p><p>${escapeHtml(v.statement)}</p></div>
<p class="muted">After the decision the chosen mask, the runner-up and both controls trained ${v.seeds} more runs each, on seeds the search never saw (${v.runSeeds.join(', ')}), for the full protocol: ${v.tasks} tasks at cap ${v.iterationCap}. Scores by ${escapeHtml(rule.metric)} (${rule.direction} is better) with ${pct}% bootstrap intervals over those seeds; the advantage is the paired interval of the chosen mask's score difference (&gt; 0: it is better). The verdict reads the interval against ${v.comparator === null ? 'the comparator' : `<code>${v.comparator.bits}</code> (${escapeHtml(v.comparator.as.join(', '))})`}: above 0 confirmed, containing 0 tie, below 0 overturned.</p>
<figure>${svg}</figure>
<table class="compact validation"><thead><tr><th>mask</th><th>learnable</th><th>validated as</th><th>seeds</th><th>score</th><th>failures</th><th>converged (%)</th></tr></thead><tbody>${rows}</tbody></table>
<table class="compact validation-versus"><thead><tr><th>${escapeHtml(v.searchChoice.bits)} against</th><th>pairs</th><th>${escapeHtml(v.searchChoice.bits)}</th><th>other</th><th>ratio</th><th>advantage</th></tr></thead><tbody>${versus}</tbody></table>`;
}

/** The report's importance section: the plot and the table, or why there is none. */
export async function importanceSectionHtml(imp: PropertyImportance | ImportanceUnavailable): Promise<string> {
  if ('unavailable' in imp) {
    return `<h2>Property importance</h2><p class="muted">None: ${escapeHtml(imp.unavailable)}.</p>`;
  }
  const svg = await importanceSvg(imp);
  const row = (label: string, e: PropertyImportance['main'][number]) =>
    `<tr><td>${escapeHtml(label)}</td><td>${ci(e.effect)}</td><td class="${e.reading === 'helps' ? 'ok' : e.reading === 'hurts' ? 'warn' : 'muted'}">${e.reading}</td></tr>`;
  const rows = [
    ...imp.main.map((e) => row(e.keys[0]!, e)),
    ...imp.interactions.map((e) => row(e.keys.join(' × '), e)),
  ].join('\n');
  return `<h2>Property importance</h2>
<p class="muted">From the factorial design over masks: every mask of the space on its first ${imp.tasks} tasks, ${imp.seeds} seeds. Main effect of a property: the mean score of the masks where it is learnable minus the mean where it is not (${escapeHtml(metricPhrase(imp))}: ${imp.direction === 'lower' ? 'negative' : 'positive'} helps). Interaction of a pair: the main effect of the first with the second learnable minus without. ${Math.round(imp.level * 100)}% bootstrap intervals over seeds.</p>
<figure>${svg}</figure>
<table class="compact importance"><thead><tr><th>property</th><th>effect</th><th>reading</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Plain-text lines of the importance table (the CLI's summary). */
export function importanceLines(imp: PropertyImportance | ImportanceUnavailable): string[] {
  if ('unavailable' in imp) return [`property importance: none (${imp.unavailable})`];
  const f = (x: number | null) => (x === null ? '—' : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1));
  const lines = [
    `property importance (every mask on its first ${imp.tasks} tasks × ${imp.seeds} seeds; effect on ${imp.metric}, ${imp.direction} is better; ${Math.round(imp.level * 100)}% intervals):`,
  ];
  const row = (label: string, e: PropertyImportance['main'][number]) =>
    `  ${label.padEnd(22)}${`${f(e.effect.mean)} [${f(e.effect.lo)}, ${f(e.effect.hi)}]`.padStart(28)}  ${e.reading}`;
  for (const e of imp.main) lines.push(row(e.keys[0]!, e));
  for (const e of imp.interactions) lines.push(row(`${e.keys.join(' × ')}`, e));
  return lines;
}

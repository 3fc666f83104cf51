import { fmt, h, interval, type Interval } from './dom.js';
import type { ImportanceView, ValidationRecord } from './types.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** One row of an interval plot. */
export interface PlotRow {
  readonly label: string;
  readonly colour: string;
  readonly value: Interval;
}

/**
 * Intervals as points with error bars, one row each, against a dashed line at 0 (the plot of the HTML
 * report, drawn here as SVG): what property importance and the validation's advantages are read against.
 */
export function intervalPlot(rows: readonly PlotRow[], xLabel: string): SVGSVGElement {
  const width = 620;
  const left = 150;
  const right = 20;
  const step = 26;
  const top = 10;
  const height = top + step * rows.length + 44;
  const xs = rows.flatMap((r) => [r.value.lo, r.value.hi, r.value.mean]).filter((x): x is number => x !== null);
  let lo = Math.min(0, ...xs);
  let hi = Math.max(0, ...xs);
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const x = (v: number) => left + ((v - lo) / (hi - lo)) * (width - left - right);
  const el = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'interval-plot', role: 'img' });
  el.append(
    svg('line', {
      x1: x(0),
      x2: x(0),
      y1: top,
      y2: top + step * rows.length,
      stroke: '#888',
      'stroke-dasharray': '4 3',
    }),
  );
  rows.forEach((r, i) => {
    const y = top + step * i + step / 2;
    el.append(svg('text', { x: left - 8, y: y + 4, 'text-anchor': 'end', 'font-size': 12 }, r.label));
    const { mean, lo: a, hi: b } = r.value;
    if (a !== null && b !== null) {
      el.append(svg('line', { x1: x(a), x2: x(b), y1: y, y2: y, stroke: r.colour, 'stroke-width': 2 }));
    }
    if (mean !== null) el.append(svg('circle', { cx: x(mean), cy: y, r: 4.5, fill: r.colour }));
  });
  const axisY = top + step * rows.length + 4;
  el.append(svg('line', { x1: left, x2: width - right, y1: axisY, y2: axisY, stroke: '#bbb' }));
  for (const v of [lo + pad, 0, hi - pad]) {
    el.append(svg('text', { x: x(v), y: axisY + 14, 'text-anchor': 'middle', 'font-size': 11 }, fmt(v)));
  }
  el.append(
    svg('text', { x: (left + width - right) / 2, y: axisY + 32, 'text-anchor': 'middle', 'font-size': 12 }, xLabel),
  );
  return el;
}

const VERDICT_TEXT: Record<ValidationRecord['verdict'], string> = {
  confirmed: 'confirmed',
  tie: 'tie',
  overturned: 'overturned',
  unvalidated: 'unvalidated',
};

/** The validation of the decision on fresh seeds: the verdict, its statement, the plot and the table. */
export function validationView(v: ValidationRecord | undefined): HTMLElement {
  if (v === undefined) {
    return h('p', { class: 'muted', id: 'validation' }, 'Unvalidated: fixed before the validation stage existed.');
  }
  if (v.verdict === 'unvalidated') return h('p', { class: 'muted', id: 'validation' }, v.statement);
  const rows: PlotRow[] = v.versus.map((c) => ({
    label: `vs ${c.candidate} (${c.as.join(', ')})`,
    colour: c.as.includes('runner-up') ? '#c0392b' : '#7f8c8d',
    value: c.advantage,
  }));
  return h(
    'div',
    { id: 'validation' },
    h(
      'p',
      {},
      'Validation verdict: ',
      h('span', { class: `badge badge-verdict-${v.verdict}` }, VERDICT_TEXT[v.verdict]),
      ' ',
      v.statement,
    ),
    intervalPlot(rows, `advantage of ${v.searchChoice.bits} (> 0: it is better)`),
    h(
      'table',
      { class: 'grid compact' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [`${v.searchChoice.bits} against`, 'Validated as', 'Pairs', 'Chosen', 'Other', 'Advantage [interval]'].map(
            (t) => h('th', {}, t),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        v.versus.map((c) =>
          h(
            'tr',
            {},
            h('td', { class: 'mono' }, c.candidate),
            h('td', { class: 'small' }, c.as.join(', ')),
            h('td', { class: 'num' }, c.seeds),
            h('td', { class: 'num' }, interval(c.chosen)),
            h('td', { class: 'num' }, interval(c.other)),
            h('td', { class: 'num' }, interval(c.advantage)),
          ),
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted small' },
      `${v.seeds} fresh seeds (${v.runSeeds.join(', ')}), never the search's, × ${v.tasks} tasks at cap ${v.iterationCap}; paired bootstrap intervals of the chosen mask's score advantage.`,
    ),
  );
}

/** Property importance: each property's main effect and each pair's interaction, plot and table. */
export function importanceView(view: ImportanceView): HTMLElement {
  const imp = view.importance;
  if (imp === null) return h('p', { class: 'muted', id: 'importance' }, `None yet: ${view.unavailable ?? ''}.`);
  const effects = [
    ...imp.main.map((e) => ({ label: e.keys[0]!, kind: 'main effect', e })),
    ...imp.interactions.map((e) => ({ label: e.keys.join(' × '), kind: 'interaction', e })),
  ];
  const better = imp.direction === 'lower' ? 'negative' : 'positive';
  return h(
    'div',
    { id: 'importance' },
    intervalPlot(
      effects.map((x) => ({
        label: x.label,
        colour: x.kind === 'main effect' ? '#3b6ea8' : '#d97706',
        value: x.e.effect,
      })),
      `effect on ${imp.metric} (${imp.direction} is better)`,
    ),
    h(
      'table',
      { class: 'grid compact' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Property', 'Kind', 'Effect [interval]', 'Reading'].map((t) => h('th', {}, t)),
        ),
      ),
      h(
        'tbody',
        {},
        effects.map((x) =>
          h(
            'tr',
            { 'data-effect': x.label },
            h('td', { class: 'mono' }, x.label),
            h('td', { class: 'small' }, x.kind),
            h('td', { class: 'num' }, interval(x.e.effect)),
            h('td', {}, x.e.reading),
          ),
        ),
      ),
    ),
    h(
      'p',
      { class: 'muted small' },
      `Every mask on its first ${imp.tasks} tasks × ${imp.seeds} seeds (the factorial design). Main effect: mean score with the property learnable minus without (${better} helps); interaction: the first's effect with the second learnable minus without. ${Math.round(imp.level * 100)}% bootstrap intervals over seeds.`,
    ),
  );
}

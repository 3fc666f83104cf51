import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface CurvePoint {
  /** Task index, from 0 (shown from 1). */
  readonly task: number;
  readonly iterations: number;
  readonly converged: boolean;
}

export interface CurveSeries {
  readonly label: string;
  readonly points: readonly CurvePoint[];
}

export interface BandPoint {
  readonly task: number;
  readonly median: number;
  /** Band: lowest and highest value. */
  readonly lo: number;
  readonly hi: number;
  /** Inner band (e.g. first and third quartile), drawn darker when given. */
  readonly q1?: number;
  readonly q3?: number;
}

export interface BandSeries {
  readonly label: string;
  readonly points: readonly BandPoint[];
}

/** Renders a Vega-Lite specification to a standalone SVG string (no browser, no network). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const axisTask = {
  field: 'task',
  type: 'quantitative',
  title: 'task index',
  axis: { tickMinStep: 1, format: 'd' },
} as const;
// Iterations of 0 (learned within the window) are drawn at 1 so the log axis can show them.
const logIterations = { type: 'quantitative', title: 'iterations to criterion', scale: { type: 'log' } } as const;

/**
 * The adaptation-speed curve: iterations to criterion against task index, log scale, one line per
 * series, failed tasks marked with crosses.
 */
export function adaptationCurveSpec(series: readonly CurveSeries[], title = 'Adaptation speed'): TopLevelSpec {
  const values = series.flatMap((s) =>
    s.points.map((p) => ({
      series: s.label,
      task: p.task + 1,
      iterations: Math.max(1, p.iterations),
      status: p.converged ? 'converged' : 'failed',
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 560,
    height: 300,
    data: { values },
    layer: [
      {
        mark: { type: 'line', point: false, strokeWidth: 1.5 },
        encoding: {
          x: axisTask,
          y: { field: 'iterations', ...logIterations },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
      {
        mark: { type: 'point', filled: true, size: 30 },
        encoding: {
          x: axisTask,
          y: { field: 'iterations', ...logIterations },
          color: { field: 'series', type: 'nominal', title: null },
          shape: {
            field: 'status',
            type: 'nominal',
            scale: { domain: ['converged', 'failed'], range: ['circle', 'cross'] },
          },
        },
      },
    ],
  } as TopLevelSpec;
}

const bandValues = (series: readonly BandSeries[]) =>
  series.flatMap((s) =>
    s.points.map((p) => ({
      series: s.label,
      task: p.task + 1,
      median: Math.max(1, p.median),
      lo: Math.max(1, p.lo),
      hi: Math.max(1, p.hi),
      q1: Math.max(1, p.q1 ?? p.lo),
      q3: Math.max(1, p.q3 ?? p.hi),
    })),
  );

const bandLayers = (color: Record<string, unknown>) => [
  {
    mark: { type: 'area', opacity: 0.12 },
    encoding: { y: { field: 'lo', ...logIterations }, y2: { field: 'hi' }, color },
  },
  {
    mark: { type: 'area', opacity: 0.25 },
    encoding: { y: { field: 'q1', ...logIterations }, y2: { field: 'q3' }, color },
  },
  {
    mark: { type: 'line', strokeWidth: 1.8, point: { filled: true, size: 18 } },
    encoding: { y: { field: 'median', ...logIterations }, color },
  },
];

export interface SurvivalPoint {
  /** Task index, from 0 (shown from 1). */
  readonly task: number;
  /** Share of the runs that reached this task which converged on it, in [0, 1]. */
  readonly share: number;
  /** Runs that reached this task. */
  readonly runs: number;
}

export interface SurvivalSeries {
  readonly label: string;
  readonly points: readonly SurvivalPoint[];
}

/**
 * Survival-style curve: the share of runs converged at each task index, one line per series, on a fixed
 * 0–100 % axis; `highlight` (e.g. the chosen candidate) is drawn thicker. A censored metric cannot
 * tell "learned without speeding up" from "never learned"; this curve can.
 */
export function survivalCurveSpec(
  series: readonly SurvivalSeries[],
  options: { readonly title?: string; readonly highlight?: string } = {},
): TopLevelSpec {
  const values = series.flatMap((s) =>
    s.points.map((p) => ({ series: s.label, task: p.task + 1, share: p.share, runs: p.runs })),
  );
  const color = { field: 'series', type: 'nominal', title: null, sort: series.map((s) => s.label) };
  const y = {
    field: 'share',
    type: 'quantitative',
    title: 'share of runs converged',
    scale: { domain: [0, 1] },
    axis: { format: '%' },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? 'Share of runs converged, by task',
    width: 560,
    height: 240,
    data: { values },
    encoding: { x: axisTask, y, color },
    layer: [
      {
        mark: { type: 'line', point: { filled: true, size: 24 }, interpolate: 'linear' },
        encoding: {
          strokeWidth: {
            condition: { test: `datum.series === ${JSON.stringify(options.highlight ?? '')}`, value: 3 },
            value: 1.4,
          },
        },
      },
    ],
  } as unknown as TopLevelSpec;
}

/** Median line with an inner (quartile) and outer (range) band per series, log scale, in one panel. */
export function bandCurveSpec(
  series: readonly BandSeries[],
  title = 'Adaptation speed (median and range across seeds)',
): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 560,
    height: 300,
    data: { values: bandValues(series) },
    encoding: { x: axisTask },
    layer: bandLayers({ field: 'series', type: 'nominal', title: null }),
  } as TopLevelSpec;
}

/**
 * The same curves as small multiples, one panel per series on shared axes, each with its median,
 * quartile band and range band; `highlight` (e.g. the chosen candidate) is drawn in its own colour.
 */
export function bandPanelsSpec(
  series: readonly BandSeries[],
  options: { readonly title?: string; readonly highlight?: string; readonly columns?: number } = {},
): TopLevelSpec {
  const color = {
    condition: { test: `datum.series === ${JSON.stringify(options.highlight ?? '')}`, value: '#d97706' },
    value: '#3b6ea8',
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title ? { title: options.title } : {}),
    data: { values: bandValues(series) },
    facet: {
      field: 'series',
      type: 'nominal',
      title: null,
      sort: series.map((s) => s.label),
      header: { labelFontSize: 12, labelFontWeight: 'bold' },
    },
    columns: options.columns ?? 4,
    spec: {
      width: 200,
      height: 130,
      encoding: { x: { ...axisTask, title: 'task' } },
      layer: bandLayers(color),
    },
  } as unknown as TopLevelSpec;
}

export interface QuantilePoint {
  /** Position on the x axis (e.g. 0 = initial, k = after task k). */
  readonly x: number;
  readonly p10: number;
  readonly p25: number;
  readonly p50: number;
  readonly p75: number;
  readonly p90: number;
}

export interface QuantilePanel {
  readonly title: string;
  readonly points: readonly QuantilePoint[];
  /** Log y axis (positive, skewed values such as time constants). */
  readonly log?: boolean;
}

/**
 * How a distribution evolves: per panel, the median with the 25–75 % and 10–90 % bands against x;
 * panels side by side, each with its own y scale (a time constant and a threshold differ in size).
 */
export function quantileBandsSpec(
  panels: readonly QuantilePanel[],
  options: { readonly title?: string; readonly xTitle?: string } = {},
): TopLevelSpec {
  const x = {
    field: 'x',
    type: 'quantitative',
    title: options.xTitle ?? 'task',
    axis: { tickMinStep: 1, format: 'd' },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title ? { title: options.title } : {}),
    hconcat: panels.map((p) => {
      const y = { type: 'quantitative', title: null, scale: p.log ? { type: 'log' } : { zero: false } };
      return {
        title: { text: p.title, fontSize: 12 },
        width: 250,
        height: 170,
        data: { values: p.points },
        encoding: { x },
        layer: [
          {
            mark: { type: 'area', opacity: 0.15, color: '#3b6ea8' },
            encoding: { y: { field: 'p10', ...y }, y2: { field: 'p90' } },
          },
          {
            mark: { type: 'area', opacity: 0.3, color: '#3b6ea8' },
            encoding: { y: { field: 'p25', ...y }, y2: { field: 'p75' } },
          },
          {
            mark: {
              type: 'line',
              color: '#1f3f66',
              strokeWidth: 1.8,
              point: { filled: true, size: 16, color: '#1f3f66' },
            },
            encoding: { y: { field: 'p50', ...y } },
          },
        ],
      };
    }),
    resolve: { scale: { y: 'independent' } },
  } as unknown as TopLevelSpec;
}

export interface GroupedValue {
  /** Position on the x axis (e.g. a quantile group). */
  readonly group: string;
  /** Bars side by side within a group (e.g. a property). */
  readonly series: string;
  /** Bar height (e.g. the mean over seeds). */
  readonly value: number;
  /** Individual measurements drawn as dots on the bar (e.g. one per seed). */
  readonly points: readonly number[];
}

/** Grouped bars with the individual measurements as dots. */
export function groupedBarsSpec(
  values: readonly GroupedValue[],
  options: {
    readonly title?: string;
    readonly xTitle?: string;
    readonly yTitle?: string;
    readonly format?: string;
  } = {},
): TopLevelSpec {
  const groups = [...new Set(values.map((v) => v.group))];
  const x = { field: 'group', type: 'nominal', title: options.xTitle ?? null, sort: groups, axis: { labelAngle: 0 } };
  const y = {
    type: 'quantitative',
    title: options.yTitle ?? null,
    ...(options.format ? { axis: { format: options.format } } : {}),
  };
  const color = { field: 'series', type: 'nominal', title: null, sort: [...new Set(values.map((v) => v.series))] };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title ? { title: options.title } : {}),
    width: 560,
    height: 240,
    layer: [
      {
        data: { values: values.map(({ points: _p, ...v }) => v) },
        mark: { type: 'bar', opacity: 0.75 },
        encoding: { x, xOffset: { field: 'series', sort: color.sort }, y: { field: 'value', ...y }, color },
      },
      {
        data: { values: values.flatMap((v) => v.points.map((p) => ({ group: v.group, series: v.series, point: p }))) },
        mark: { type: 'point', filled: true, size: 22, color: '#222', opacity: 0.8 },
        encoding: { x, xOffset: { field: 'series', sort: color.sort }, y: { field: 'point', ...y }, detail: color },
      },
      {
        data: { values: [{ zero: 0 }] },
        mark: { type: 'rule', color: '#888' },
        encoding: { y: { field: 'zero', type: 'quantitative' } },
      },
    ],
  } as unknown as TopLevelSpec;
}

export interface ScatterPoint {
  readonly x: number;
  readonly y: number;
  /** Colour group (e.g. the seed). */
  readonly series: string;
  /** Drawn as a cross when false (e.g. a failed task). */
  readonly ok: boolean;
}

/** A scatter plot with a log y axis (values below 1 drawn at 1) and a least-squares line of log y on x. */
export function logScatterSpec(
  points: readonly ScatterPoint[],
  options: { readonly title?: string | readonly string[]; readonly xTitle?: string; readonly yTitle?: string } = {},
): TopLevelSpec {
  const y = { field: 'y', type: 'quantitative', title: options.yTitle ?? null, scale: { type: 'log', domainMin: 1 } };
  const x = { field: 'x', type: 'quantitative', title: options.xTitle ?? null, scale: { zero: false } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(options.title ? { title: options.title } : {}),
    width: 460,
    height: 280,
    data: { values: points.map((p) => ({ ...p, y: Math.max(1, p.y), status: p.ok ? 'converged' : 'failed' })) },
    layer: [
      {
        transform: [
          { calculate: 'log(datum.y)', as: 'ly' },
          { regression: 'ly', on: 'x' },
          { calculate: 'exp(datum.ly)', as: 'y' },
        ],
        mark: { type: 'line', color: '#999', strokeDash: [4, 3], clip: true },
        encoding: { x, y },
      },
      {
        mark: { type: 'point', filled: true, size: 50, opacity: 0.85 },
        encoding: {
          x,
          y,
          color: { field: 'series', type: 'nominal', title: null },
          shape: {
            field: 'status',
            type: 'nominal',
            title: null,
            scale: { domain: ['converged', 'failed'], range: ['circle', 'cross'] },
          },
        },
      },
    ],
  } as unknown as TopLevelSpec;
}

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
  readonly lo: number;
  readonly hi: number;
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

const axisTask = { field: 'task', type: 'quantitative', title: 'task index' } as const;
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

/** Median line and band (e.g. across seeds) per series, log scale. */
export function bandCurveSpec(
  series: readonly BandSeries[],
  title = 'Adaptation speed (median and range across seeds)',
): TopLevelSpec {
  const values = series.flatMap((s) =>
    s.points.map((p) => ({
      series: s.label,
      task: p.task + 1,
      median: Math.max(1, p.median),
      lo: Math.max(1, p.lo),
      hi: Math.max(1, p.hi),
    })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 560,
    height: 300,
    data: { values },
    encoding: { x: axisTask, color: { field: 'series', type: 'nominal', title: null } },
    layer: [
      {
        mark: { type: 'area', opacity: 0.15 },
        encoding: { y: { field: 'lo', ...logIterations }, y2: { field: 'hi' } },
      },
      { mark: { type: 'line', strokeWidth: 1.5 }, encoding: { y: { field: 'median', ...logIterations } } },
    ],
  } as TopLevelSpec;
}

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface CurveSeries {
  readonly label: string;
  readonly color: string;
  readonly dash?: number[];
  readonly width?: number;
  /** Value per task index (null: not measured yet). */
  readonly values: readonly (number | null)[];
}

/** Distinct, readable colours: golden-angle hues. */
export function colour(i: number): string {
  return `hsl(${Math.round((i * 137.508 + 210) % 360)} 62% 44%)`;
}

/**
 * Adaptation-speed curves: iterations to criterion (log scale) against the task index, one line per
 * candidate. Rebuilt when the set of series changes, otherwise only its data is replaced.
 */
export class CurveChart {
  private plot: uPlot | null = null;
  private signature = '';
  private readonly observer: ResizeObserver;

  constructor(private readonly el: HTMLElement) {
    this.observer = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.observer.observe(el);
  }

  private size() {
    return { width: Math.max(320, this.el.clientWidth), height: 340 };
  }

  update(tasks: number, series: readonly CurveSeries[]): void {
    const x = Array.from({ length: tasks }, (_, i) => i);
    const data: uPlot.AlignedData = [
      x,
      ...series.map((s) =>
        x.map((i) => {
          const v = s.values[i];
          // A task learnt before its first check took 0 iterations: drawn at 1 on the log scale.
          return v === null || v === undefined ? null : Math.max(1, v);
        }),
      ),
    ];
    const signature = JSON.stringify([tasks, series.map((s) => [s.label, s.color, s.dash, s.width])]);
    if (this.plot !== null && signature === this.signature) {
      this.plot.setData(data);
      return;
    }
    this.signature = signature;
    this.plot?.destroy();
    const opts: uPlot.Options = {
      ...this.size(),
      scales: { x: { time: false }, y: { distr: 3, log: 10 } },
      axes: [
        { label: 'task index', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], grid: { stroke: '#e8e8ee' } },
        { label: 'iterations to criterion (log)', size: 64, grid: { stroke: '#e8e8ee' } },
      ],
      legend: { live: true },
      cursor: { points: { size: 7 } },
      series: [
        { label: 'task', value: (_u: uPlot, v: number | null) => (v === null ? '' : String(v)) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.75,
          ...(s.dash === undefined ? {} : { dash: s.dash }),
          spanGaps: true,
          points: { show: true, size: 5, fill: s.color },
          value: (_u: uPlot, v: number | null) => (v === null ? '' : String(Math.round(v))),
        })),
      ],
    };
    this.plot = new uPlot(opts, data, this.el);
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}

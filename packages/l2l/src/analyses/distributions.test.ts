import { describe, expect, it } from 'vitest';
import type { TaskResult } from '../protocol.js';
import { intrinsicEvolution, summarize, summarizeProperties } from './distributions.js';

describe('distribution summaries across neurons', () => {
  it('reports n, mean, sd, extremes, quantiles and the histogram on the given bins', () => {
    const s = summarize(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), {
      probabilities: [0.25, 0.5],
      edges: [0, 5, 10],
    });
    expect(s).toMatchObject({ n: 9, nonFinite: 0, mean: 5, min: 1, max: 9 });
    expect(s.sd).toBeCloseTo(Math.sqrt(60 / 8), 14);
    expect(s.quantiles).toEqual([
      { p: 0.25, value: 3 },
      { p: 0.5, value: 5 },
    ]);
    expect(s.histogram?.counts).toEqual([4, 5]);
  });

  it('leaves out non-finite values and says how many', () => {
    const s = summarize([1, Number.NaN, 3, Number.NEGATIVE_INFINITY]);
    expect(s).toMatchObject({ n: 2, nonFinite: 2, mean: 2, min: 1, max: 3 });
    expect(s.histogram).toBeUndefined();
    expect(summarize([])).toMatchObject({ n: 0, mean: Number.NaN, min: Number.NaN });
  });

  it('per-property bins override the shared options', () => {
    const all = summarizeProperties(
      { tauS: [20, 40, 80], theta: [0.9, 1.0, 1.1] },
      { edges: [0, 1, 2], byProperty: { tauS: { edges: [0, 50, 100] } } },
    );
    expect(all.tauS!.histogram?.counts).toEqual([2, 1]);
    expect(all.theta!.histogram?.counts).toEqual([1, 2]);
  });
});

describe('evolution over tasks', () => {
  it('follows each property through the snapshots, with the mean absolute change per task', () => {
    const results: Pick<TaskResult, 'taskIndex' | 'intrinsic'>[] = [
      { taskIndex: 0, intrinsic: { theta: [1, 1, 1, 1] } },
      { taskIndex: 1 },
      { taskIndex: 2, intrinsic: { theta: [1, 2, 1, 0], tauS: [30, 30, 30, 30] } },
      { taskIndex: 3, intrinsic: { theta: [1, 2, 1, 4] } },
    ];
    const ev = intrinsicEvolution(results, { probabilities: [0.5] });
    expect(ev.theta!.map((p) => p.taskIndex)).toEqual([0, 2, 3]);
    expect(ev.theta!.map((p) => p.summary.mean)).toEqual([1, 1, 2]);
    expect(ev.theta![0]!.meanAbsChange).toBeNaN();
    expect(ev.theta![1]!.meanAbsChange).toBe(0.5);
    expect(ev.theta![2]!.meanAbsChange).toBe(1);
    expect(ev.tauS!.map((p) => p.taskIndex)).toEqual([2]);
    expect(ev.tauS![0]!.summary.quantiles).toEqual([{ p: 0.5, value: 30 }]);
  });
});

/*
 * The studies' figures: adaptation-speed curves (median, quartiles and range across runs of the
 * iterations to criterion at each task) and the survival-style curve (share of runs converged by task),
 * from the task lists of finished runs. One copy for every study script.
 */
import { convergedShareByTask, type TaskOutcome } from '@ip2/l2l';
import type { BandSeries, SurvivalSeries } from '@ip2/report';
import { quantile } from './stats.js';

/**
 * Median, quartiles and range across runs of the iterations at each task, over the tasks every run
 * reached (a log axis: 0 iterations is drawn at 1).
 */
export function bandSeries(label: string, runs: readonly (readonly TaskOutcome[])[]): BandSeries {
  const n = runs.length === 0 ? 0 : Math.min(...runs.map((r) => r.length));
  return {
    label,
    points: Array.from({ length: n }, (_, task) => {
      const xs = runs.map((r) => Math.max(1, r[task]!.iterations));
      return {
        task,
        median: quantile(xs, 0.5),
        lo: quantile(xs, 0),
        hi: quantile(xs, 1),
        q1: quantile(xs, 0.25),
        q3: quantile(xs, 0.75),
      };
    }),
  };
}

/** The share of runs converged at each task (the survival-style curve of SCIENCE.md §6). */
export function survivalSeries(label: string, runs: readonly (readonly TaskOutcome[])[]): SurvivalSeries {
  return {
    label,
    points: convergedShareByTask(runs).map((p) => ({ task: p.task, share: p.share, runs: p.runs })),
  };
}

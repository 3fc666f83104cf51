import { Rng } from '@ip2/snn';

/**
 * Metrics of a learning-to-learn sequence (SCIENCE.md §6), as pure functions of the per-task
 * iterations-to-criterion.
 *
 * **Censored metrics** (`finalEfficiency`, `speedUp`, `l2lSlope`, `auc`): every task counts with the
 * iterations it records; a failed task counts where it stopped (the cap, or where it stopped on NaN),
 * so it is censored there and failures make every metric worse, never better. On their own they cannot
 * tell "learned without speeding up" from "never learned" (a run that fails every task has speed-up 1).
 *
 * **Failure-free metrics** (`failureFree*`): the same definitions applied to the converged tasks only,
 * in task order (the failed tasks are dropped, not replaced); the slope keeps each converged task's own
 * index on the x axis. NaN where too few tasks converged to define them. Report them beside the censored
 * ones, with `convergedShare` (converged tasks / tasks) and, across runs, `convergedShareByTask`.
 *
 * **Slices**: the first and last slice of n tasks hold `sliceSize(n)` = max(round(10% of n), 3) tasks
 * (all n when n < 3). Final efficiency is the mean over the last slice. For the speed-up the two slices
 * must not share a task (a task in both pulls the ratio towards 1), so below 6 tasks each holds
 * floor(n / 2) tasks: for 5 tasks the first 2 against the last 2 (the middle task is in neither), for
 * 4 tasks 2 against 2, for 2 or 3 tasks the first against the last; one task has no speed-up (NaN).
 */

export interface SequenceMetrics {
  readonly tasks: number;
  readonly failures: number;
  /** Mean iterations over the last sliceSize(tasks) tasks. Lower is better. */
  readonly finalEfficiency: number;
  /** Mean over the first slice / mean over the last slice (speedUpSlice: disjoint slices). */
  readonly speedUp: number;
  /** Least-squares slope of log(iterations) against log(task index), index from 1. Negative: learning-to-learn. */
  readonly l2lSlope: number;
  /** Percentile bootstrap interval of the slope over tasks (see l2lSlopeInterval), at level `l2lSlopeLevel`. */
  readonly l2lSlopeLo: number;
  readonly l2lSlopeHi: number;
  readonly l2lSlopeLevel: number;
  /** Total iterations over the sequence. */
  readonly auc: number;
  /** Converged tasks / tasks (NaN for an empty sequence). */
  readonly convergedShare: number;
  /** Final efficiency over the converged tasks only (NaN when none converged). */
  readonly failureFreeFinalEfficiency: number;
  /** Speed-up over the converged tasks only (NaN below two converged tasks). */
  readonly failureFreeSpeedUp: number;
  /** Slope over the converged tasks at their own task indices (NaN below two converged tasks). */
  readonly failureFreeL2lSlope: number;
}

export interface TaskOutcome {
  readonly iterations: number;
  readonly converged: boolean;
}

/** Tasks in the first or last slice of a sequence of n tasks: max(round(n / 10), 3), at most n. */
export function sliceSize(n: number): number {
  return Math.min(n, Math.max(3, Math.round(n / 10)));
}

/** Tasks in each of the two disjoint slices of the speed-up: sliceSize(n), at most floor(n / 2). */
export function speedUpSlice(n: number): number {
  return Math.min(sliceSize(n), Math.floor(n / 2));
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function adaptationCurve(results: readonly TaskOutcome[]): number[] {
  return results.map((r) => r.iterations);
}

export function failureCount(results: readonly TaskOutcome[]): number {
  return results.filter((r) => !r.converged).length;
}

export function finalEfficiency(iterations: readonly number[]): number {
  return mean(iterations.slice(iterations.length - sliceSize(iterations.length)));
}

export function speedUp(iterations: readonly number[]): number {
  const k = speedUpSlice(iterations.length);
  if (k === 0) return Number.NaN;
  const first = mean(iterations.slice(0, k));
  const last = mean(iterations.slice(iterations.length - k));
  // One iteration is the resolution of the measure: a task learned in 0 iterations counts as 1.
  return first / Math.max(last, 1);
}

/**
 * Least-squares slope of log(iterations) against log(x), with x the task index from 1 (or `indices`,
 * 0-based task indices, for a subsequence). Iterations below 1 are taken as 1 so that the logarithm is
 * defined. NaN below two points or when every point has the same index.
 */
export function l2lSlope(iterations: readonly number[], indices?: readonly number[]): number {
  const n = iterations.length;
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = Math.log((indices ? indices[i]! : i) + 1);
    const y = Math.log(Math.max(1, iterations[i]!));
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const den = n * sxx - sx * sx;
  // Equal indices (a resample that drew one task n times): no slope. Relative test, as den is a sum of squares.
  if (!(den > 1e-12 * n * sxx)) return Number.NaN;
  return (n * sxy - sx * sy) / den;
}

export interface SlopeInterval {
  /** The slope of the whole sequence. */
  readonly slope: number;
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  /** Resamples drawn, and how many of them had a slope (a resample of one repeated task has none). */
  readonly resamples: number;
  readonly defined: number;
}

export interface SlopeIntervalOptions {
  /** Resamples (default 2000). */
  readonly resamples?: number;
  /** Confidence level (default 0.95). */
  readonly level?: number;
  /** Seed of the resampling (default 0): the same inputs and seed give the same interval everywhere. */
  readonly seed?: number;
  /** 0-based task index of each value (default 0, 1, 2, …), as in l2lSlope. */
  readonly indices?: readonly number[];
}

/** Type-7 quantile of ascending values (linear interpolation between order statistics). */
function quantileOfSorted(sorted: Float64Array, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const i = Math.floor(h);
  const a = sorted[i]!;
  return i + 1 < n ? a + (h - i) * (sorted[i + 1]! - a) : a;
}

/**
 * The L2L slope with a percentile bootstrap interval: tasks (index, iterations) resampled with
 * replacement, `resamples` times, from the project's seeded generator (sub-stream 'l2l-slope'); the
 * bounds are the (1 − level)/2 and (1 + level)/2 quantiles of the resampled slopes that are defined.
 * NaN bounds below two tasks; the point interval when every value is equal.
 */
export function l2lSlopeInterval(iterations: readonly number[], options: SlopeIntervalOptions = {}): SlopeInterval {
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError('resamples must be a positive integer');
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be between 0 and 1, got ${level}`);
  const n = iterations.length;
  const idx = options.indices ?? iterations.map((_, i) => i);
  if (idx.length !== n) throw new RangeError('l2lSlopeInterval: one index per value');
  const slope = l2lSlope(iterations, idx);
  if (!Number.isFinite(slope)) return { slope, lo: Number.NaN, hi: Number.NaN, level, resamples, defined: 0 };
  const rng = Rng.seeded(options.seed ?? 0, 'l2l-slope');
  const ys = new Array<number>(n);
  const xs = new Array<number>(n);
  const slopes: number[] = [];
  for (let b = 0; b < resamples; b++) {
    for (let j = 0; j < n; j++) {
      const k = rng.int(n);
      ys[j] = iterations[k]!;
      xs[j] = idx[k]!;
    }
    const s = l2lSlope(ys, xs);
    if (Number.isFinite(s)) slopes.push(s);
  }
  const sorted = Float64Array.from(slopes).sort();
  return {
    slope,
    lo: quantileOfSorted(sorted, (1 - level) / 2),
    hi: quantileOfSorted(sorted, (1 + level) / 2),
    level,
    resamples,
    defined: sorted.length,
  };
}

export function auc(iterations: readonly number[]): number {
  return iterations.reduce((a, b) => a + b, 0);
}

/** The converged tasks of a sequence, in order, with their 0-based task indices. */
export function convergedTasks(results: readonly TaskOutcome[]): { iterations: number[]; indices: number[] } {
  const iterations: number[] = [];
  const indices: number[] = [];
  results.forEach((r, i) => {
    if (r.converged && Number.isFinite(r.iterations)) {
      iterations.push(r.iterations);
      indices.push(i);
    }
  });
  return { iterations, indices };
}

export interface FailureFreeMetrics {
  /** Converged tasks. */
  readonly converged: number;
  /** Converged tasks / tasks (NaN for an empty sequence). */
  readonly convergedShare: number;
  readonly finalEfficiency: number;
  readonly speedUp: number;
  readonly l2lSlope: number;
}

/** The failure-free metrics: the censored definitions over the converged tasks only (see the top of this file). */
export function failureFreeMetrics(results: readonly TaskOutcome[]): FailureFreeMetrics {
  const c = convergedTasks(results);
  const m = c.iterations.length;
  return {
    converged: m,
    convergedShare: results.length === 0 ? Number.NaN : m / results.length,
    finalEfficiency: finalEfficiency(c.iterations),
    speedUp: speedUp(c.iterations),
    l2lSlope: l2lSlope(c.iterations, c.indices),
  };
}

export interface SequenceMetricsOptions {
  /** Options of the slope's bootstrap interval (seed 0, 2000 resamples, 95% by default). */
  readonly slope?: Omit<SlopeIntervalOptions, 'indices'>;
}

export function sequenceMetrics(
  results: readonly TaskOutcome[],
  options: SequenceMetricsOptions = {},
): SequenceMetrics {
  const it = adaptationCurve(results);
  const ci = l2lSlopeInterval(it, options.slope);
  const ff = failureFreeMetrics(results);
  return {
    tasks: results.length,
    failures: failureCount(results),
    finalEfficiency: finalEfficiency(it),
    speedUp: speedUp(it),
    l2lSlope: ci.slope,
    l2lSlopeLo: ci.lo,
    l2lSlopeHi: ci.hi,
    l2lSlopeLevel: ci.level,
    auc: auc(it),
    convergedShare: ff.convergedShare,
    failureFreeFinalEfficiency: ff.finalEfficiency,
    failureFreeSpeedUp: ff.speedUp,
    failureFreeL2lSlope: ff.l2lSlope,
  };
}

/** One task index of a survival-style curve (convergedShareByTask). */
export interface ConvergedSharePoint {
  /** 0-based task index. */
  readonly task: number;
  /** Runs that reached this task. */
  readonly runs: number;
  /** Of those, runs that converged on it. */
  readonly converged: number;
  /** converged / runs. */
  readonly share: number;
}

/**
 * The survival-style curve of several runs (e.g. the seeds of one model): at each task index, the share
 * of the runs that reached it which converged on it. Runs may have different lengths; a task index only
 * counts the runs that reached it, and the curve ends at the longest run.
 */
export function convergedShareByTask(runs: readonly (readonly TaskOutcome[])[]): ConvergedSharePoint[] {
  const longest = runs.reduce((m, r) => Math.max(m, r.length), 0);
  const out: ConvergedSharePoint[] = [];
  for (let t = 0; t < longest; t++) {
    let reached = 0;
    let converged = 0;
    for (const r of runs) {
      if (t >= r.length) continue;
      reached++;
      if (r[t]!.converged) converged++;
    }
    out.push({ task: t, runs: reached, converged, share: converged / reached });
  }
  return out;
}

/**
 * Metrics of a learning-to-learn sequence (SCIENCE.md §6), as pure functions of the per-task
 * iterations-to-criterion. A failed task counts with the iterations it consumed (the cap, or where
 * it stopped on NaN), so failures make every metric worse, never better.
 */

export interface SequenceMetrics {
  readonly tasks: number;
  readonly failures: number;
  /** Mean iterations over the last 10% of tasks (at least one task). Lower is better. */
  readonly finalEfficiency: number;
  /** Mean over the first 10% / mean over the last 10%. */
  readonly speedUp: number;
  /** Least-squares slope of log(iterations) against log(task index), index from 1. Negative: learning-to-learn. */
  readonly l2lSlope: number;
  /** Total iterations over the sequence. */
  readonly auc: number;
}

export interface TaskOutcome {
  readonly iterations: number;
  readonly converged: boolean;
}

/** Number of tasks in a 10% slice of a sequence of n tasks (at least 1). */
export function tenPercent(n: number): number {
  return Math.max(1, Math.round(n / 10));
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
  return mean(iterations.slice(iterations.length - tenPercent(iterations.length)));
}

export function speedUp(iterations: readonly number[]): number {
  const k = tenPercent(iterations.length);
  const first = mean(iterations.slice(0, k));
  const last = mean(iterations.slice(iterations.length - k));
  // One iteration is the resolution of the measure: a task learned in 0 iterations counts as 1.
  return first / Math.max(last, 1);
}

/** Iterations below 1 are taken as 1 so that the logarithm is defined. */
export function l2lSlope(iterations: readonly number[]): number {
  const n = iterations.length;
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const x = Math.log(i + 1);
    const y = Math.log(Math.max(1, iterations[i]!));
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

export function auc(iterations: readonly number[]): number {
  return iterations.reduce((a, b) => a + b, 0);
}

export function sequenceMetrics(results: readonly TaskOutcome[]): SequenceMetrics {
  const it = adaptationCurve(results);
  return {
    tasks: results.length,
    failures: failureCount(results),
    finalEfficiency: finalEfficiency(it),
    speedUp: speedUp(it),
    l2lSlope: l2lSlope(it),
    auc: auc(it),
  };
}

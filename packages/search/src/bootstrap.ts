import { Rng } from '@ip2/snn';

/** A mean with a confidence interval [lo, hi]. */
export interface Interval {
  readonly mean: number;
  readonly lo: number;
  readonly hi: number;
}

export interface BootstrapOptions {
  /** Resamples drawn (default 2000). */
  readonly resamples?: number;
  /** Confidence level (default 0.95). */
  readonly level?: number;
}

/**
 * The resample plan of a percentile bootstrap: `resamples` rows of n indices drawn with replacement
 * from [0, n). Sharing one plan between candidates measured on the same seeds makes their intervals,
 * and the interval of their difference, come from the same resamples (a paired bootstrap).
 */
export function bootstrapPlan(rng: Rng, n: number, resamples: number): Uint32Array {
  const idx = new Uint32Array(n * resamples);
  if (n === 0) return idx;
  for (let i = 0; i < idx.length; i++) idx[i] = rng.int(n);
  return idx;
}

/** Quantile p of sorted values, linear interpolation between order statistics (Hyndman–Fan type 7). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const i = Math.floor(h);
  const lo = sorted[i]!;
  return i + 1 < n ? lo + (h - i) * (sorted[i + 1]! - lo) : lo;
}

/**
 * Percentile bootstrap interval of the mean of `values` with a given resample plan (from `bootstrapPlan`
 * with n = values.length): the (1 − level)/2 and (1 + level)/2 quantiles of the resampled means.
 * Empty or non-finite values give NaN bounds; a single value gives the point interval.
 */
export function bootstrapMeanWithPlan(values: readonly number[], plan: Uint32Array, level: number): Interval {
  const n = values.length;
  const mean = n === 0 ? Number.NaN : sum(values) / n;
  if (!Number.isFinite(mean)) return { mean, lo: Number.NaN, hi: Number.NaN };
  const resamples = plan.length / n;
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += values[plan[b * n + j]!]!;
    means[b] = s / n;
  }
  means.sort();
  return { mean, lo: quantileSorted(means, (1 - level) / 2), hi: quantileSorted(means, (1 + level) / 2) };
}

/** Percentile bootstrap interval of the mean, resamples drawn from `rng`. */
export function bootstrapMean(values: readonly number[], rng: Rng, options: BootstrapOptions = {}): Interval {
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`resamples must be a positive integer`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be between 0 and 1, got ${level}`);
  return bootstrapMeanWithPlan(values, bootstrapPlan(rng, values.length, resamples), level);
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

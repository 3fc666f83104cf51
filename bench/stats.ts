/*
 * Summary statistics of the benchmarks' timings, and their flags' parsing. Unlike @ip2/l2l's analyses (which drop NaN and ±∞ and
 * check their arguments), these take the values as they are: a benchmark's figures are all finite.
 */

const ascending = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);

/** Quantile `q` by linear interpolation between order statistics (type 7, as NumPy); NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  const s = ascending(xs);
  if (s.length === 0) return Number.NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (i - lo);
}

/** The median: the mean of the two middle values for an even count; NaN when empty. */
export const median = (xs: readonly number[]) => quantile(xs, 0.5);

/** The middle value, the upper of the two for an even count (a value that was measured). */
export const upperMedian = (xs: readonly number[]) => ascending(xs)[xs.length >> 1]!;

/** Arithmetic mean; NaN when empty. */
export const mean = (xs: readonly number[]) =>
  xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * A benchmark's flag as an integer from 1 to `max`; otherwise the benchmark says which flag is wrong
 * (`bench:<name>: --<flag> must be ...`) and exits 2.
 */
export function positiveFlag(bench: string, flag: string, raw: string, max: number): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > max) {
    process.stderr.write(`bench:${bench}: --${flag} must be an integer from 1 to ${max} (got '${raw}')\n`);
    process.exit(2);
  }
  return v;
}

/** Numbers as the analyses accept them: typed arrays and plain arrays alike. */
export type Numbers = ArrayLike<number>;

/** The finite values of `x`, sorted ascending, and how many were left out (NaN, ±∞). */
export function sortedFinite(x: Numbers): { readonly sorted: Float64Array; readonly nonFinite: number } {
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (Number.isFinite(v)) out.push(v);
  }
  const sorted = Float64Array.from(out).sort();
  return { sorted, nonFinite: x.length - sorted.length };
}

function checkProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a quantile probability must lie in [0, 1], got ${p}`);
}

/**
 * Quantile `p` of values already sorted ascending, by linear interpolation between order
 * statistics (Hyndman & Fan type 7, the default of R and NumPy). NaN for an empty input.
 */
export function quantileSorted(sorted: Numbers, p: number): number {
  checkProbability(p);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (h - lo) * (b - a);
}

/** Type-7 quantile of the finite values of `x`. */
export function quantile(x: Numbers, p: number): number {
  return quantileSorted(sortedFinite(x).sorted, p);
}

/** Arithmetic mean (NaN when empty). */
export function mean(x: Numbers): number {
  if (x.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s / x.length;
}

/** Sample standard deviation (divisor n − 1; NaN below two values). Two-pass, for accuracy. */
export function sd(x: Numbers): number {
  const n = x.length;
  if (n < 2) return Number.NaN;
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < n; i++) s += (x[i]! - m) ** 2;
  return Math.sqrt(s / (n - 1));
}

export interface Histogram {
  /** Bin edges, strictly increasing; bin k is [edges[k], edges[k+1]), the last bin closed on the right. */
  readonly edges: readonly number[];
  /** Values in each bin (edges.length − 1 of them). */
  readonly counts: readonly number[];
  /** Finite values below the first edge and above the last. */
  readonly below: number;
  readonly above: number;
}

function checkEdges(edges: Numbers): void {
  if (edges.length < 2) throw new RangeError(`a histogram needs at least two edges, got ${edges.length}`);
  for (let k = 0; k < edges.length; k++) {
    if (!Number.isFinite(edges[k]!)) throw new RangeError(`histogram edge ${k} is not finite: ${edges[k]}`);
    if (k > 0 && !(edges[k]! > edges[k - 1]!)) throw new RangeError('histogram edges must be strictly increasing');
  }
}

/** Counts of the finite values of `x` in the bins given by `edges` (NumPy's convention). */
export function histogram(x: Numbers, edges: Numbers): Histogram {
  checkEdges(edges);
  const e = Array.from(edges);
  const last = e.length - 1;
  const counts = new Array<number>(last).fill(0);
  let below = 0;
  let above = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < e[0]!) below++;
    else if (v > e[last]!) above++;
    else if (v === e[last]!) counts[last - 1]!++;
    else {
      // Largest k with e[k] <= v.
      let lo = 0;
      let hi = last;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (e[mid]! <= v) lo = mid;
        else hi = mid;
      }
      counts[lo]!++;
    }
  }
  return { edges: e, counts, below, above };
}

/** `bins` equal-width bins from `lo` to `hi` (bins + 1 edges). */
export function linearEdges(lo: number, hi: number, bins: number): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo))
    throw new RangeError(`need finite lo < hi, got ${lo}, ${hi}`);
  return Array.from({ length: bins + 1 }, (_, k) => (k === bins ? hi : lo + ((hi - lo) * k) / bins));
}

/** `bins` bins of equal width in log space from `lo` to `hi` (both positive), as suits time constants. */
export function logEdges(lo: number, hi: number, bins: number): number[] {
  if (!(lo > 0)) throw new RangeError(`log bins need a positive lower edge, got ${lo}`);
  const e = linearEdges(Math.log(lo), Math.log(hi), bins).map(Math.exp);
  e[0] = lo;
  e[bins] = hi;
  return e;
}

/**
 * Ranks from 1 to n, ties given the mean of the ranks they span (as Spearman's ρ needs).
 */
export function midranks(x: Numbers): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
  const r = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && x[order[j]!]! === x[order[i]!]!) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) r[order[k]!] = rank;
    i = j;
  }
  return r;
}

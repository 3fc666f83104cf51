import { midranks, type Numbers } from './stats.js';

/** Pearson's r and Spearman's ρ over the same pairs, with how many pairs they used. */
export interface Correlation {
  /** Pairs used: those where both values are finite. */
  readonly n: number;
  /** Pairs dropped because either value was NaN or infinite. */
  readonly dropped: number;
  /** NaN below two pairs or when either variable is constant. */
  readonly pearson: number;
  /** Pearson's r of the midranks (ties averaged). */
  readonly spearman: number;
}

function pearsonOf(x: Numbers, y: Numbers): number {
  const n = x.length;
  if (n < 2) return Number.NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return Number.NaN;
  // Rounding can push |r| a hair past 1.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Correlation of two paired samples, e.g. the modularity Q of the recurrent graph after each task
 * against that task's iterations to criterion. Fewer iterations is higher efficiency, so a negative
 * value means that more modular networks adapt faster.
 */
export function correlate(x: Numbers, y: Numbers): Correlation {
  if (x.length !== y.length) throw new RangeError(`paired samples differ in length: ${x.length} vs ${y.length}`);
  const fx: number[] = [];
  const fy: number[] = [];
  for (let i = 0; i < x.length; i++) {
    if (Number.isFinite(x[i]!) && Number.isFinite(y[i]!)) {
      fx.push(x[i]!);
      fy.push(y[i]!);
    }
  }
  return {
    n: fx.length,
    dropped: x.length - fx.length,
    pearson: pearsonOf(fx, fy),
    spearman: pearsonOf(midranks(fx), midranks(fy)),
  };
}

/** Pearson's r of the finite pairs. */
export function pearson(x: Numbers, y: Numbers): number {
  return correlate(x, y).pearson;
}

/** Spearman's ρ of the finite pairs. */
export function spearman(x: Numbers, y: Numbers): number {
  return correlate(x, y).spearman;
}

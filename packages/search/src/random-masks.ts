import type { PropertyKey } from '@ip2/snn';
import { quantileSorted } from './bootstrap.js';
import { allCandidates, randomCandidates, type Candidate } from './candidates.js';

/**
 * The `ip-random` control as a distribution (SCIENCE.md §7): the paper's random-mask control is a
 * distribution over the masks of the space, so it is measured on every mask (or on many seeded draws
 * when the space is large) and the chosen mask is placed within it, never compared with one draw per
 * seed. (The `ip-random` model of @ip2/l2l remains for single runs: one run is one draw.)
 */

/** Up to this many masks (2^5, the whole property set), every mask of the space is measured. */
export const RANDOM_MASK_EXHAUSTIVE_MAX = 32;

export interface RandomMaskSetOptions {
  /** Spaces with at most this many masks are measured exhaustively (default RANDOM_MASK_EXHAUSTIVE_MAX). */
  readonly maxExhaustive?: number;
  /** Distinct masks drawn from a larger space (default RANDOM_MASK_EXHAUSTIVE_MAX). */
  readonly draws?: number;
  /** Seed of the draws (default 0); the same seed gives the same masks everywhere. */
  readonly seed?: number;
}

export interface RandomMaskSet {
  /** True when `masks` is every mask of the space. */
  readonly exhaustive: boolean;
  /** Masks in the space (2^K). */
  readonly spaceSize: number;
  /** The masks to measure, in `allMasks` order. */
  readonly masks: readonly Candidate[];
}

/**
 * The masks the ip-random distribution is measured on: all 2^K when 2^K ≤ maxExhaustive, otherwise
 * `draws` distinct masks drawn uniformly without replacement (candidates.ts randomCandidates), which is
 * a sample of the same uniform distribution as one `ip-random` draw (each bit learnable with probability ½).
 */
export function randomMaskSet(space: readonly PropertyKey[], options: RandomMaskSetOptions = {}): RandomMaskSet {
  const spaceSize = 2 ** space.length;
  const maxExhaustive = options.maxExhaustive ?? RANDOM_MASK_EXHAUSTIVE_MAX;
  if (spaceSize <= maxExhaustive) return { exhaustive: true, spaceSize, masks: allCandidates(space) };
  const draws = Math.min(options.draws ?? RANDOM_MASK_EXHAUSTIVE_MAX, spaceSize);
  return { exhaustive: draws === spaceSize, spaceSize, masks: randomCandidates(space, draws, options.seed ?? 0) };
}

/** Where the chosen mask falls among the masks of an ip-random distribution. */
export interface ChosenPlacement {
  readonly id: string;
  readonly score: number;
  /** Whether the chosen mask is one of the distribution's masks (it is when every mask was measured). */
  readonly inDistribution: boolean;
  /** 1 + masks scoring strictly better: 1 = no mask is better (tied masks share a rank). */
  readonly rank: number;
  /** Other masks (the chosen one itself left out) scoring better, equal, and worse. */
  readonly better: number;
  readonly ties: number;
  readonly worse: number;
  /**
   * Percentile among the other masks, ties counted half: 100 × (worse + ties / 2) / (other masks).
   * 100: better than every other mask; 50: the middle of the distribution. NaN without other masks.
   */
  readonly percentile: number;
  /**
   * Chance that one ip-random draw (uniform over the measured masks, the chosen one included when it is
   * one of them) scores at least as well as the chosen mask: (better + ties + [in distribution]) / masks.
   */
  readonly atLeastAsGood: number;
}

export interface RandomMaskDistribution {
  readonly better: 'lower' | 'higher';
  /** Masks with a finite score, which make the distribution. */
  readonly masks: number;
  /** Masks whose score is not a finite number, left out (ascending ids). */
  readonly undefinedMasks: readonly string[];
  readonly mean: number;
  readonly min: number;
  readonly p10: number;
  readonly q1: number;
  readonly median: number;
  readonly q3: number;
  readonly p90: number;
  readonly max: number;
  /** The chosen mask; null when its score is not a finite number. */
  readonly chosen: ChosenPlacement | null;
}

export interface RandomMaskDistributionOptions {
  /** Which direction of the score is better (default 'lower', as for iterations). */
  readonly better?: 'lower' | 'higher';
}

/**
 * The ip-random distribution of a score over masks (e.g. the mean AUC over seeds of each mask), with
 * type-7 quantiles, and the placement of the chosen mask: `chosen` is a mask id of `scoresByMask`, or a
 * mask measured apart ({ id, score }) when the distribution is a sample that does not hold it.
 */
export function randomMaskDistribution(
  scoresByMask: Readonly<Record<string, number>> | ReadonlyMap<string, number>,
  chosen: string | { readonly id: string; readonly score: number },
  options: RandomMaskDistributionOptions = {},
): RandomMaskDistribution {
  const better = options.better ?? 'lower';
  const entries = scoresByMask instanceof Map ? [...scoresByMask.entries()] : Object.entries(scoresByMask);
  const finite = entries.filter(([, v]) => Number.isFinite(v));
  const undefinedMasks = entries
    .filter(([, v]) => !Number.isFinite(v))
    .map(([k]) => k)
    .sort();
  const sorted = Float64Array.from(finite.map(([, v]) => v)).sort();
  const q = (p: number) => quantileSorted(sorted, p);
  const n = sorted.length;
  const id = typeof chosen === 'string' ? chosen : chosen.id;
  const own = finite.find(([k]) => k === id);
  const score = typeof chosen === 'string' ? (own?.[1] ?? Number.NaN) : chosen.score;
  let placement: ChosenPlacement | null = null;
  if (Number.isFinite(score)) {
    const others = finite.filter(([k]) => k !== id).map(([, v]) => v);
    const isBetter = (v: number) => (better === 'lower' ? v < score : v > score);
    const nBetter = others.filter(isBetter).length;
    const ties = others.filter((v) => v === score).length;
    const worse = others.length - nBetter - ties;
    const inDistribution = own !== undefined;
    placement = {
      id,
      score,
      inDistribution,
      rank: 1 + nBetter,
      better: nBetter,
      ties,
      worse,
      percentile: others.length === 0 ? Number.NaN : (100 * (worse + ties / 2)) / others.length,
      atLeastAsGood: n === 0 ? Number.NaN : (nBetter + ties + (inDistribution ? 1 : 0)) / n,
    };
  }
  return {
    better,
    masks: n,
    undefinedMasks,
    mean: n === 0 ? Number.NaN : sorted.reduce((a, b) => a + b, 0) / n,
    min: n === 0 ? Number.NaN : sorted[0]!,
    p10: q(0.1),
    q1: q(0.25),
    median: q(0.5),
    q3: q(0.75),
    p90: q(0.9),
    max: n === 0 ? Number.NaN : sorted[n - 1]!,
    chosen: placement,
  };
}

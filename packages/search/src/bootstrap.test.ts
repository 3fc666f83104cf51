import { Rng } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import { bootstrapMean, bootstrapMeanWithPlan, bootstrapPlan, quantileSorted } from './bootstrap.js';

describe('percentile bootstrap of the mean', () => {
  it('covers the true mean at about its nominal rate (400 normal samples of 30)', () => {
    const rng = Rng.seeded(7, 'coverage');
    const mu = 3;
    const sigma = 2;
    let covered = 0;
    const reps = 400;
    for (let r = 0; r < reps; r++) {
      const xs = Array.from({ length: 30 }, () => mu + sigma * rng.normal());
      const i = bootstrapMean(xs, rng.fork('resample', r), { resamples: 1000, level: 0.95 });
      if (i.lo <= mu && mu <= i.hi) covered++;
    }
    const rate = covered / reps;
    expect(rate).toBeGreaterThanOrEqual(0.9);
    expect(rate).toBeLessThanOrEqual(0.98);
  });

  it('narrows with a lower level and is deterministic for a seeded generator', () => {
    const xs = [1, 4, 2, 8, 5, 7, 3, 3, 6, 9];
    const a = bootstrapMean(xs, Rng.seeded(1), { level: 0.95 });
    const b = bootstrapMean(xs, Rng.seeded(1), { level: 0.95 });
    const c = bootstrapMean(xs, Rng.seeded(1), { level: 0.5 });
    expect(a).toEqual(b);
    expect(a.mean).toBeCloseTo(4.8, 12);
    expect(a.lo).toBeLessThan(c.lo);
    expect(a.hi).toBeGreaterThan(c.hi);
    expect(a.lo).toBeLessThan(a.mean);
    expect(a.hi).toBeGreaterThan(a.mean);
  });

  it('gives a point for one value and NaN for none or for non-finite values', () => {
    expect(bootstrapMean([3], Rng.seeded(1))).toEqual({ mean: 3, lo: 3, hi: 3 });
    const none = bootstrapMean([], Rng.seeded(1));
    expect([none.mean, none.lo, none.hi].every(Number.isNaN)).toBe(true);
    expect(Number.isNaN(bootstrapMean([1, Number.NaN], Rng.seeded(1)).lo)).toBe(true);
  });

  it('shares one resample plan between paired samples', () => {
    const plan = bootstrapPlan(Rng.seeded(2), 4, 500);
    const a = [1, 2, 3, 4];
    const shifted = bootstrapMeanWithPlan(
      a.map((x) => x + 10),
      plan,
      0.9,
    );
    const base = bootstrapMeanWithPlan(a, plan, 0.9);
    expect(shifted.lo - base.lo).toBeCloseTo(10, 10);
    expect(shifted.hi - base.hi).toBeCloseTo(10, 10);
  });

  it('interpolates quantiles between order statistics', () => {
    expect(quantileSorted([0, 10], 0.25)).toBe(2.5);
    expect(quantileSorted([1, 2, 3], 1)).toBe(3);
    expect(quantileSorted([1, 2, 3], 0)).toBe(1);
  });
});

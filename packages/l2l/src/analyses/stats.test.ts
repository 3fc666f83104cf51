import { describe, expect, it } from 'vitest';
import { correlate, pearson, spearman } from './correlation.js';
import { histogram, linearEdges, logEdges, mean, midranks, quantile, sd } from './stats.js';

describe('descriptive statistics', () => {
  it('type-7 quantiles interpolate between order statistics', () => {
    const x = [4, 1, 3, 2];
    expect(quantile(x, 0)).toBe(1);
    expect(quantile(x, 1)).toBe(4);
    expect(quantile(x, 0.5)).toBe(2.5);
    expect(quantile(x, 0.25)).toBe(1.75);
    expect(quantile([7], 0.3)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
    expect(quantile([1, Number.NaN, 3], 0.5)).toBe(2);
    expect(() => quantile(x, 1.5)).toThrow(RangeError);
  });

  it('mean and sample standard deviation', () => {
    const x = Float32Array.from([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(mean(x)).toBe(5);
    expect(sd(x)).toBeCloseTo(Math.sqrt(32 / 7), 14);
    expect(sd([3])).toBeNaN();
  });

  it('histogram bins are half-open, the last one closed, out-of-range values counted apart', () => {
    const h = histogram([0, 0.5, 1, 1.5, 2, 2, -1, 3, Number.NaN], [0, 1, 2]);
    expect(h.counts).toEqual([2, 4]);
    expect(h.below).toBe(1);
    expect(h.above).toBe(1);
    expect(histogram([0.1, 0.2, 0.35, 0.9], linearEdges(0, 1, 4)).counts).toEqual([2, 1, 0, 1]);
    expect(() => histogram([1], [0, 0])).toThrow(/increasing/);
    expect(() => histogram([1], [0])).toThrow(RangeError);
  });

  it('log edges are equal ratios and hit the end points exactly', () => {
    const e = logEdges(20, 2000, 2);
    expect(e[0]).toBe(20);
    expect(e[1]).toBeCloseTo(200, 10);
    expect(e[2]).toBe(2000);
  });

  it('midranks average tied ranks', () => {
    expect(Array.from(midranks([10, 30, 20, 30, 5]))).toEqual([2, 4.5, 3, 4.5, 1]);
  });
});

describe('correlations against hand-computed values', () => {
  // x̄ = 3, ȳ = 4: Σdxdy = 6, Σdx² = 10, Σdy² = 6 → r = 6/√60.
  const x = [1, 2, 3, 4, 5];
  const y = [2, 4, 5, 4, 5];

  it('Pearson', () => {
    expect(pearson(x, y)).toBeCloseTo(6 / Math.sqrt(60), 14);
  });

  it('Spearman with ties: ranks of y are 1, 2.5, 4.5, 2.5, 4.5 → ρ = 7/√90', () => {
    expect(spearman(x, y)).toBeCloseTo(7 / Math.sqrt(90), 14);
  });

  it('a monotone but non-linear relation: ρ = 1, r < 1; a decreasing one: ρ = −1', () => {
    const u = [1, 2, 3, 4, 5, 6];
    const c = correlate(
      u,
      u.map((v) => v ** 3),
    );
    expect(c.spearman).toBeCloseTo(1, 14);
    expect(c.pearson).toBeLessThan(0.99);
    expect(
      spearman(
        u,
        u.map((v) => Math.exp(-v)),
      ),
    ).toBeCloseTo(-1, 14);
  });

  it('drops pairs with a non-finite member and reports the sample size', () => {
    const c = correlate([1, 2, Number.NaN, 3, 99, 4, 5], [2, 4, 1, 5, Number.POSITIVE_INFINITY, 4, 5]);
    expect(c).toMatchObject({ n: 5, dropped: 2 });
    expect(c.pearson).toBeCloseTo(6 / Math.sqrt(60), 14);
  });

  it('is undefined for a constant variable or fewer than two pairs', () => {
    expect(pearson([1, 2, 3], [4, 4, 4])).toBeNaN();
    expect(correlate([1], [2])).toMatchObject({ n: 1, pearson: Number.NaN, spearman: Number.NaN });
    expect(() => correlate([1, 2], [1])).toThrow(RangeError);
  });
});

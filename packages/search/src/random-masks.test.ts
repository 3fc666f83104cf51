import { describe, expect, it } from 'vitest';
import { randomMaskDistribution, randomMaskSet } from './random-masks.js';

// Sorted: 10 20 40 40 60 80 90 100.
const scores = { '000': 100, '001': 80, '010': 60, '011': 40, '100': 40, '101': 20, '110': 10, '111': 90 };

describe('ip-random as a distribution over masks', () => {
  it('quantiles (type 7) of every mask, and the chosen mask placed among the others (lower is better)', () => {
    const d = randomMaskDistribution(scores, '011');
    expect(d).toMatchObject({ better: 'lower', masks: 8, undefinedMasks: [], min: 10, max: 100, mean: 55 });
    expect(d.median).toBe(50); // h = 3.5: 40 + 0.5 · 20
    expect(d.q1).toBe(35); // h = 1.75: 20 + 0.75 · 20
    expect(d.q3).toBe(82.5); // h = 5.25: 80 + 0.25 · 10
    expect(d.p10).toBeCloseTo(17, 12); // h = 0.7: 10 + 0.7 · 10
    expect(d.p90).toBeCloseTo(93, 12); // h = 6.3: 90 + 0.3 · 10
    // 40: better 10, 20; tied with '100'; worse 60, 80, 90, 100.
    expect(d.chosen).toMatchObject({
      id: '011',
      score: 40,
      inDistribution: true,
      rank: 3,
      better: 2,
      ties: 1,
      worse: 4,
    });
    expect(d.chosen!.percentile).toBeCloseTo((100 * 4.5) / 7, 12);
    expect(d.chosen!.atLeastAsGood).toBe(4 / 8);
  });

  it('higher is better flips the placement, not the quantiles', () => {
    const d = randomMaskDistribution(new Map(Object.entries(scores)), '011', { better: 'higher' });
    expect(d.median).toBe(50);
    expect(d.chosen).toMatchObject({ rank: 5, better: 4, ties: 1, worse: 2 });
    expect(d.chosen!.percentile).toBeCloseTo((100 * 2.5) / 7, 12);
    expect(d.chosen!.atLeastAsGood).toBe(6 / 8);
  });

  it('the best mask is at the 100th percentile; a one-in-eight draw matches it', () => {
    const d = randomMaskDistribution(scores, '110');
    expect(d.chosen).toMatchObject({ rank: 1, percentile: 100, atLeastAsGood: 1 / 8 });
  });

  it('masks without a finite score are listed and left out; a chosen mask without one is not placed', () => {
    const d = randomMaskDistribution({ ...scores, '111': Number.NaN, '000': Number.POSITIVE_INFINITY }, '000');
    expect(d.masks).toBe(6);
    expect(d.undefinedMasks).toEqual(['000', '111']);
    expect(d.max).toBe(80);
    expect(d.chosen).toBeNull();
  });

  it('a chosen mask measured apart from a sampled distribution', () => {
    const d = randomMaskDistribution(scores, { id: '11111', score: 15 });
    expect(d.chosen).toMatchObject({ inDistribution: false, rank: 2, better: 1, ties: 0, worse: 7, percentile: 87.5 });
    expect(d.chosen!.atLeastAsGood).toBe(1 / 8);
  });

  it('an empty distribution has NaN statistics', () => {
    const d = randomMaskDistribution({}, { id: 'x', score: 1 });
    expect([d.masks, d.median, d.min, d.mean]).toEqual([0, NaN, NaN, NaN]);
    expect(d.chosen!.percentile).toBeNaN();
    expect(d.chosen!.atLeastAsGood).toBeNaN();
  });
});

describe('the masks ip-random is measured on', () => {
  it('every mask of a small space', () => {
    const s = randomMaskSet(['tauD', 'tauS', 'theta']);
    expect(s.exhaustive).toBe(true);
    expect(s.spaceSize).toBe(8);
    expect(s.masks.map((m) => m.id)).toEqual(['000', '100', '010', '110', '001', '101', '011', '111']);
    expect(randomMaskSet(['tauD', 'tauS', 'theta', 'beta', 'tauA']).masks).toHaveLength(32);
  });

  it('distinct seeded draws from a space larger than the limit', () => {
    const space = ['tauD', 'tauS', 'theta', 'beta', 'tauA'] as const;
    const a = randomMaskSet(space, { maxExhaustive: 16, draws: 10, seed: 4 });
    expect(a.exhaustive).toBe(false);
    expect(a.spaceSize).toBe(32);
    const ids = a.masks.map((m) => m.id);
    expect(new Set(ids).size).toBe(10);
    expect(randomMaskSet(space, { maxExhaustive: 16, draws: 10, seed: 4 }).masks.map((m) => m.id)).toEqual(ids);
    expect(randomMaskSet(space, { maxExhaustive: 16, draws: 10, seed: 5 }).masks.map((m) => m.id)).not.toEqual(ids);
    expect(randomMaskSet(space, { maxExhaustive: 16, draws: 99 }).exhaustive).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { lesionMask, quantileGroups } from './lesion.js';

const members = (values: readonly number[], g: number) => quantileGroups(values, g).map((q) => q.neurons);

describe('quantile groups', () => {
  it('quartiles of 8 distinct values: two neurons each, by value not by index', () => {
    const v = [0.8, 0.1, 0.5, 0.3, 0.7, 0.2, 0.6, 0.4];
    const q = quantileGroups(v, 4);
    expect(q.map((g) => g.neurons)).toEqual([
      [1, 5],
      [3, 7],
      [2, 6],
      [0, 4],
    ]);
    expect(q.map((g) => [g.lo, g.hi])).toEqual([
      [0.1, 0.2],
      [0.3, 0.4],
      [0.5, 0.6],
      [0.7, 0.8],
    ]);
  });

  it('n not divisible by the groups: sizes ⌊n/g⌋ or ⌈n/g⌉', () => {
    const q = quantileGroups(range(10), 4);
    expect(q.map((g) => g.neurons)).toEqual([
      [0, 1],
      [2, 3, 4],
      [5, 6],
      [7, 8, 9],
    ]);
    for (const n of [5, 7, 13, 31]) {
      for (const g of [2, 3, 4, 5]) {
        const sizes = quantileGroups(range(n).reverse(), g).map((x) => x.neurons.length);
        expect(sizes.reduce((s, x) => s + x, 0)).toBe(n);
        for (const s of sizes) expect([Math.floor(n / g), Math.ceil(n / g)]).toContain(s);
      }
    }
  });

  it('ties share a group, placed where the middle of their block falls', () => {
    // The four 1s span the bottom half of the ranks, their middle at the 25% point: group 1.
    expect(members([1, 1, 1, 1, 2, 3, 4, 5], 4)).toEqual([[], [0, 1, 2, 3], [4, 5], [6, 7]]);
    // Every value equal: one group holds all; the others are empty with NaN ranges.
    const q = quantileGroups([2, 2, 2, 2, 2], 4);
    expect(q.map((g) => g.neurons.length)).toEqual([0, 0, 5, 0]);
    expect(q[0]!.lo).toBeNaN();
    expect([q[2]!.lo, q[2]!.hi]).toEqual([2, 2]);
  });

  it('fewer neurons than groups, one group, no neurons', () => {
    expect(members([5, 3], 4)).toEqual([[], [1], [], [0]]);
    expect(members([3, 1, 2], 1)).toEqual([[0, 1, 2]]);
    expect(members([], 2)).toEqual([[], []]);
  });

  it('rejects non-finite values and bad group counts', () => {
    expect(() => quantileGroups([1, Number.NaN], 2)).toThrow(/neuron 1/);
    expect(() => quantileGroups([1, 2], 0)).toThrow(RangeError);
    expect(() => quantileGroups([1, 2], 1.5)).toThrow(RangeError);
  });
});

describe('lesion masks', () => {
  it('marks the silenced neurons with 1', () => {
    expect(Array.from(lesionMask(5, [0, 3]))).toEqual([1, 0, 0, 1, 0]);
    expect(() => lesionMask(3, [3])).toThrow(RangeError);
  });
});

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

import { describe, expect, it } from 'vitest';
import { halvingSchedule, scheduleCost, singleRung } from './schedule.js';

const shape = (c: number, m: number, eta: number, min: number) =>
  halvingSchedule(c, m, eta, min).map((r) => [r.candidates, r.tasks, r.keep]);

describe('rung schedules', () => {
  it('successive halving keeps ceil(c/η), at least two, and ends on the full sequence', () => {
    expect(shape(8, 100, 3, 10)).toEqual([
      [8, 12, 3],
      [3, 34, 2],
      [2, 100, 2],
    ]);
    expect(shape(32, 100, 3, 10)).toEqual([
      [32, 10, 11],
      [11, 12, 4],
      [4, 34, 2],
      [2, 100, 2],
    ]);
    expect(shape(8, 64, 2, 1)).toEqual([
      [8, 16, 4],
      [4, 32, 2],
      [2, 64, 2],
    ]);
  });

  it('merges rungs that would share a prefix, and degenerates to one full rung', () => {
    expect(shape(8, 30, 3, 10)).toEqual([
      [8, 10, 2],
      [2, 30, 2],
    ]);
    expect(shape(8, 30, 3, 30)).toEqual([[8, 30, 8]]);
    expect(shape(2, 50, 3, 5)).toEqual([[2, 50, 2]]);
    expect(shape(1, 50, 3, 5)).toEqual([[1, 50, 1]]);
  });

  it('costs Σ c_r (n_r − n_{r−1}) per seed', () => {
    expect(scheduleCost(halvingSchedule(8, 100, 3, 10), 5)).toBe(5 * (96 + 66 + 132));
    expect(scheduleCost(singleRung(8, 100), 5)).toBe(4000);
  });
});

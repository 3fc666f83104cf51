import { describe, expect, it } from 'vitest';
import {
  auc,
  convergedShareByTask,
  failureFreeMetrics,
  finalEfficiency,
  l2lSlope,
  l2lSlopeInterval,
  sequenceMetrics,
  sliceSize,
  speedUp,
  speedUpSlice,
  type TaskOutcome,
} from './metrics.js';

const C = (iterations: number): TaskOutcome => ({ iterations, converged: true });
const F = (iterations: number): TaskOutcome => ({ iterations, converged: false });

describe('sequence metrics on hand-made curves', () => {
  it('power law curve: slope equals the exponent', () => {
    const it = Array.from({ length: 50 }, (_, i) => 1000 * (i + 1) ** -0.8);
    expect(l2lSlope(it)).toBeCloseTo(-0.8, 10);
  });

  it('flat curve: slope 0, speed-up 1', () => {
    const it = new Array(20).fill(40);
    expect(l2lSlope(it)).toBeCloseTo(0, 12);
    expect(speedUp(it)).toBe(1);
  });

  it('first and last slices: 30 tasks → 3 each', () => {
    const it = [100, 200, 300, ...new Array(24).fill(50), 10, 20, 30];
    expect(sliceSize(30)).toBe(3);
    expect(finalEfficiency(it)).toBe(20);
    expect(speedUp(it)).toBe(10);
    expect(auc(it)).toBe(600 + 24 * 50 + 60);
  });

  it('slices hold max(10%, 3) tasks: 12 tasks use 3, not one', () => {
    expect([1, 2, 3, 4, 10, 12, 34, 35, 50, 100].map(sliceSize)).toEqual([1, 2, 3, 3, 3, 3, 3, 4, 5, 10]);
    const it = [900, 600, 300, ...new Array(6).fill(100), 40, 50, 60];
    expect(finalEfficiency(it)).toBe(50);
    expect(speedUp(it)).toBe(12); // 600 / 50
  });

  it('below 6 tasks the speed-up slices are disjoint halves; final efficiency keeps 3 tasks', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 100].map(speedUpSlice)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 10]);
    // 5 tasks: first 2 against last 2, the middle task in neither. Overlapping slices of 3 would give
    // (100 + 80 + 999) / (999 + 20 + 30) ≈ 1.12 instead.
    expect(speedUp([100, 80, 999, 20, 30])).toBeCloseTo(90 / 25, 12);
    expect(finalEfficiency([100, 80, 999, 20, 30])).toBeCloseTo((999 + 20 + 30) / 3, 12);
    expect(speedUp([100, 60, 30, 10])).toBe(4); // 80 / 20
    expect(finalEfficiency([100, 60, 30, 10])).toBeCloseTo(100 / 3, 12);
    expect(speedUp([90, 1000, 30])).toBe(3);
    expect(speedUp([50, 10])).toBe(5);
    expect(finalEfficiency([50, 10])).toBe(30);
    expect(speedUp([50])).toBeNaN();
    expect(finalEfficiency([50])).toBe(50);
  });

  it('zero iterations counts as 1 in ratios and logs', () => {
    expect(speedUp([80, 5, 0])).toBe(80);
    expect(Number.isFinite(l2lSlope([80, 5, 0]))).toBe(true);
  });

  it('failures are counted and keep their iterations', () => {
    const m = sequenceMetrics([F(500), C(100), C(20)]);
    expect(m).toMatchObject({ tasks: 3, failures: 1, auc: 620, speedUp: 25 });
    expect(m.finalEfficiency).toBeCloseTo(620 / 3, 12);
  });

  it('a single task has no slope', () => {
    expect(l2lSlope([10])).toBeNaN();
    expect(l2lSlope([10, 20], [3, 3])).toBeNaN();
  });
});

describe('failure-free metrics', () => {
  it('drop failed tasks and apply the same definitions to the converged ones', () => {
    // Converged: 100, 40, 10, 10 at task indices 1, 3, 4, 5.
    const r = [F(500), C(100), F(500), C(40), C(10), C(10)];
    const m = sequenceMetrics(r);
    expect(m.failures).toBe(2);
    expect(m.finalEfficiency).toBe(20); // (40 + 10 + 10) / 3
    expect(m.speedUp).toBeCloseTo(1100 / 3 / 20, 12);
    expect(m.convergedShare).toBeCloseTo(4 / 6, 12);
    expect(m.failureFreeFinalEfficiency).toBe(20); // last 3 of 4 converged
    expect(m.failureFreeSpeedUp).toBe(7); // 4 converged: (100 + 40) / 2 against (10 + 10) / 2
  });

  it('the failure-free slope keeps each converged task at its own index', () => {
    // Converged tasks follow 1000 · (index + 1)^-1 exactly; the failed ones sit at the cap.
    const r = [F(3000), C(500), F(3000), C(250), C(200)];
    expect(failureFreeMetrics(r).l2lSlope).toBeCloseTo(-1, 12);
    expect(sequenceMetrics(r).l2lSlope).not.toBeCloseTo(-1, 1);
  });

  it('a run that never converges has speed-up 1 censored, and no failure-free metrics', () => {
    const m = sequenceMetrics([F(6000), F(6000), F(6000), F(6000)]);
    expect(m.speedUp).toBe(1);
    expect(m.convergedShare).toBe(0);
    expect(m.failureFreeFinalEfficiency).toBeNaN();
    expect(m.failureFreeSpeedUp).toBeNaN();
    expect(m.failureFreeL2lSlope).toBeNaN();
  });

  it('one converged task: final efficiency defined, speed-up and slope not', () => {
    const ff = failureFreeMetrics([F(6000), C(300), F(6000)]);
    expect(ff).toMatchObject({ converged: 1, finalEfficiency: 300 });
    expect(ff.convergedShare).toBeCloseTo(1 / 3, 12);
    expect(ff.speedUp).toBeNaN();
    expect(ff.l2lSlope).toBeNaN();
    expect(failureFreeMetrics([]).convergedShare).toBeNaN();
  });
});

describe('slope bootstrap interval', () => {
  it('an exact power law gives the point interval', () => {
    const it = Array.from({ length: 12 }, (_, i) => 1000 * (i + 1) ** -0.8);
    const ci = l2lSlopeInterval(it, { resamples: 500 });
    expect(ci.slope).toBeCloseTo(-0.8, 10);
    expect(ci.lo).toBeCloseTo(-0.8, 10);
    expect(ci.hi).toBeCloseTo(-0.8, 10);
  });

  it('two tasks: every defined resample holds both, about half the resamples repeat one task', () => {
    const ci = l2lSlopeInterval([100, 25], { resamples: 2000, seed: 3 });
    expect(ci.slope).toBeCloseTo(Math.log(0.25) / Math.log(2), 12); // −2
    expect(ci.lo).toBeCloseTo(-2, 12);
    expect(ci.hi).toBeCloseTo(-2, 12);
    expect(ci.defined).toBeGreaterThan(900);
    expect(ci.defined).toBeLessThan(1100);
  });

  it('is seeded, contains the slope, and narrows with the level', () => {
    const it = [4000, 2500, 3100, 1200, 1800, 900, 1000, 400, 700, 350, 500, 300];
    const a = l2lSlopeInterval(it, { seed: 7 });
    expect(l2lSlopeInterval(it, { seed: 7 })).toEqual(a);
    expect(a.lo).toBeLessThan(a.slope);
    expect(a.hi).toBeGreaterThan(a.slope);
    const narrow = l2lSlopeInterval(it, { seed: 7, level: 0.5 });
    expect(narrow.lo).toBeGreaterThan(a.lo);
    expect(narrow.hi).toBeLessThan(a.hi);
    const m = sequenceMetrics(it.map(C), { slope: { seed: 7 } });
    expect([m.l2lSlopeLo, m.l2lSlopeHi, m.l2lSlopeLevel]).toEqual([a.lo, a.hi, 0.95]);
  });

  it('below two tasks the bounds are NaN', () => {
    const ci = l2lSlopeInterval([10]);
    expect([ci.slope, ci.lo, ci.hi]).toEqual([NaN, NaN, NaN]);
  });
});

describe('survival-style curve across runs', () => {
  it('share of the runs that reached a task which converged on it', () => {
    const curve = convergedShareByTask([
      [C(10), F(99), C(5)],
      [F(99), F(99), C(7)],
      [C(8), C(9)],
    ]);
    expect(curve.map((p) => [p.task, p.runs, p.converged])).toEqual([
      [0, 3, 2],
      [1, 3, 1],
      [2, 2, 2],
    ]);
    expect(curve.map((p) => p.share)).toEqual([2 / 3, 1 / 3, 1]);
    expect(convergedShareByTask([])).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { auc, finalEfficiency, l2lSlope, sequenceMetrics, speedUp, tenPercent } from './metrics.js';

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

  it('first and last 10%: 30 tasks → 3 each', () => {
    const it = [100, 200, 300, ...new Array(24).fill(50), 10, 20, 30];
    expect(tenPercent(30)).toBe(3);
    expect(finalEfficiency(it)).toBe(20);
    expect(speedUp(it)).toBe(10);
    expect(auc(it)).toBe(600 + 24 * 50 + 60);
  });

  it('short sequences use at least one task; zero iterations counts as 1 in ratios and logs', () => {
    expect(tenPercent(4)).toBe(1);
    expect(speedUp([80, 5, 0])).toBe(80);
    expect(Number.isFinite(l2lSlope([80, 5, 0]))).toBe(true);
  });

  it('failures are counted and keep their iterations', () => {
    const m = sequenceMetrics([
      { iterations: 500, converged: false },
      { iterations: 100, converged: true },
      { iterations: 20, converged: true },
    ]);
    expect(m).toMatchObject({ tasks: 3, failures: 1, auc: 620, finalEfficiency: 20, speedUp: 25 });
  });

  it('a single task has no slope', () => {
    expect(l2lSlope([10])).toBeNaN();
  });
});

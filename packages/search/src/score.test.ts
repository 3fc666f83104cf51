import { describe, expect, it } from 'vitest';
import { parseSearchDefinition } from './definition.js';
import type { TaskRecord } from './results.js';
import { advantage, compareScores, isFailure, ratio, runMetrics, scoreRule } from './score.js';

const ok = (taskIndex: number, iterations: number): TaskRecord => ({
  taskIndex,
  iterations,
  converged: true,
  finalLoss: 0.001,
});
const failed = (taskIndex: number, iterations = 300): TaskRecord => ({
  taskIndex,
  iterations,
  converged: false,
  finalLoss: 0.2,
});
const rule = (metric: string, extra: object = {}) =>
  scoreRule(parseSearchDefinition({ family: 'x', protocol: { iterationCap: 1000 }, score: { metric, ...extra } }));

describe('run scores', () => {
  const run = [ok(0, 500), failed(1), ...Array.from({ length: 8 }, (_, i) => ok(i + 2, 100 - 10 * i))];

  it('counts a failed task as the cap graded by its final loss, and adds the penalty per failure', () => {
    const m = runMetrics(rule('final-efficiency'), run);
    expect(m.failures).toBe(1);
    expect(m.finalEfficiency).toBe(40); // last 3 of 10 tasks: (50 + 40 + 30) / 3
    // final loss 0.2 = 40 ε: the grade is clamped at 10 × cap
    expect(m.auc).toBe(500 + 10 * 1000 + (100 + 90 + 80 + 70 + 60 + 50 + 40 + 30));
    expect(m.score).toBe(40 + 1000);
    expect(runMetrics(rule('auc'), run).score).toBe(m.auc + 1000);
    expect(runMetrics(rule('final-efficiency', { failurePenalty: 0 }), run).score).toBe(40);
  });

  it('restricted-mean (the default): the mean over tasks with a failed task at exactly the cap, no penalty', () => {
    const r = rule('restricted-mean');
    expect(r).toMatchObject({ metric: 'restricted-mean', direction: 'lower', failurePenalty: 0 });
    const m = runMetrics(r, run);
    expect(m.score).toBe((500 + 1000 + (100 + 90 + 80 + 70 + 60 + 50 + 40 + 30)) / 10);
    // A task that ran past the cap (a record of another cap) counts at the cap; NaN losses are failures.
    const nan = { taskIndex: 1, iterations: 20, converged: true, finalLoss: Number.NaN };
    expect(runMetrics(r, [ok(0, 5000), nan]).score).toBe(1000);
    expect(runMetrics(rule('restricted-mean', { failurePenalty: 7 }), run).score).toBe(m.score + 7);
  });

  it('failures-first: fewer failures first, then the failure-free final efficiency', () => {
    const r = rule('failures-first');
    // The default penalty: the cap times the most seeds a mean is over (protocol 5, validation 3).
    expect(r.failurePenalty).toBe(5000);
    const m = runMetrics(r, run);
    expect(m.failureFreeFinalEfficiency).toBe(40);
    expect(m.score).toBe(40 + 5000);
    // A run that fails everything counts the cap for its (undefined) failure-free efficiency.
    expect(runMetrics(r, [failed(0), failed(1)]).score).toBe(1000 + 2 * 5000);
    // Mean over 5 seeds: one failure more (on one seed) outweighs the largest efficiency gap.
    const fast = [ok(0, 1), ok(1, 1), ok(2, 1), failed(3)];
    const slow = [ok(0, 990), ok(1, 990), ok(2, 990), ok(3, 990)];
    const mean = (runs: TaskRecord[][]) => runs.reduce((x, run) => x + runMetrics(r, run).score, 0) / runs.length;
    const a = mean([fast, ...new Array(4).fill([ok(0, 1), ok(1, 1), ok(2, 1), ok(3, 1)])]);
    const b = mean(new Array(5).fill(slow));
    expect(compareScores(r, b, a)).toBe(-1);
  });

  it('divides the speed-up and adds to the slope', () => {
    const s = runMetrics(rule('speed-up'), run);
    // first 3 tasks (500, 10 × cap, 100) against the last 3 (50, 40, 30)
    expect(s.speedUp).toBe(10_600 / 3 / 40);
    expect(s.score).toBe(10_600 / 3 / 40 / 2);
    const l = runMetrics(rule('l2l-slope', { failurePenalty: 0.5 }), run);
    expect(l.score).toBeCloseTo(l.l2lSlope + 0.5, 12);
  });

  it('treats NaN or null losses and non-finite iterations as failures, even when marked converged', () => {
    expect(isFailure({ taskIndex: 0, iterations: 10, converged: true, finalLoss: Number.NaN })).toBe(true);
    expect(isFailure({ taskIndex: 0, iterations: Number.NaN, converged: true, finalLoss: 0 })).toBe(true);
    expect(isFailure({ taskIndex: 0, iterations: 10, converged: true, finalLoss: Number.POSITIVE_INFINITY })).toBe(
      true,
    );
    expect(isFailure(ok(0, 10))).toBe(false);
    const m = runMetrics(rule('final-efficiency'), [
      ok(0, 10),
      { taskIndex: 1, iterations: 3, converged: true, finalLoss: Number.NaN },
    ]);
    // Two tasks: the final slice is both of them.
    expect(m).toMatchObject({ failures: 1, finalEfficiency: 5005, score: 5005 + 1000 });
  });

  it('carries the failure-free metrics beside the censored ones, without touching the score', () => {
    const m = runMetrics(rule('final-efficiency'), run);
    // Converged: 500 at task 0, then 100, 90, …, 30 at tasks 2–9 (9 tasks).
    expect(m.convergedShare).toBe(0.9);
    expect(m.converged).toEqual([true, false, true, true, true, true, true, true, true, true]);
    expect(m.failureFreeFinalEfficiency).toBe(40);
    expect(m.failureFreeSpeedUp).toBe((500 + 100 + 90) / 3 / 40);
    expect(m.failureFreeL2lSlope).toBeLessThan(0);
    expect(m.score).toBe(m.finalEfficiency + 1000);
    const none = runMetrics(rule('auc'), [failed(0), failed(1)]);
    expect(none.convergedShare).toBe(0);
    expect(none.failureFreeFinalEfficiency).toBeNaN();
  });

  it('grades failures: a failed task that came closer to ε counts for fewer iterations', () => {
    const r = rule('auc');
    const at = (finalLoss: number) =>
      runMetrics(r, [{ taskIndex: 0, iterations: 1000, converged: false, finalLoss }]).auc;
    expect(at(0.004)).toBe(1000); // below ε (cap hit before the window filled): the cap itself
    expect(at(0.01)).toBe(2000); // 2 ε
    expect(at(0.025)).toBe(5000);
    expect(at(1)).toBe(10_000); // clamped
    expect(at(Number.NaN)).toBe(10_000);
  });

  it('orders by direction, NaN last, and measures the advantage and ratio', () => {
    const lower = rule('final-efficiency');
    const higher = rule('speed-up');
    expect(compareScores(lower, 1, 2)).toBeLessThan(0);
    expect(compareScores(higher, 1, 2)).toBeGreaterThan(0);
    expect(compareScores(lower, Number.NaN, 2)).toBeGreaterThan(0);
    expect(compareScores(higher, 2, Number.NaN)).toBeLessThan(0);
    expect(compareScores(lower, 3, 3)).toBe(0);
    expect(advantage(lower, 10, 40)).toBe(30);
    expect(advantage(higher, 8, 2)).toBe(6);
    expect(ratio(lower, 10, 40)).toBe(4);
    expect(ratio(lower, 0, 40)).toBe(40);
    expect(ratio(higher, 8, 2)).toBe(4);
    expect(Number.isNaN(ratio(rule('l2l-slope'), -0.5, 0.1))).toBe(true);
  });
});

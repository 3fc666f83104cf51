import { describe, expect, it } from 'vitest';
import { allCandidates } from './candidates.js';
import { ResultsError, RunTable, tableFromRows, type ResultTable, type TaskResult } from './results.js';

const space = ['tauD', 'theta'] as const;
const cands = allCandidates([...space]);
const t = (taskIndex: number, iterations = 10): TaskResult => ({
  taskIndex,
  iterations,
  converged: true,
  finalLoss: 0.001,
});

describe('results table', () => {
  it('sorts, deduplicates identical rows and finds the contiguous prefix', () => {
    const table = new RunTable(cands, 2, 10, {
      '01': { 0: [t(2), t(0), t(1), t(1)], 1: [t(0), t(1), t(3), t(4)] },
      '11': { 1: [] },
    });
    expect(table.prefix('01', 0)).toBe(3);
    expect(table.prefix('01', 1)).toBe(2);
    expect(table.prefix('00', 0)).toBe(0);
    expect(table.commonPrefix('01')).toBe(2);
    expect(table.measured).toBe(7);
    expect(table.head('01', 0, 2).map((r) => r.taskIndex)).toEqual([0, 1]);
    expect(() => table.head('01', 1, 3)).toThrow(/fewer than 3 contiguous tasks/);
  });

  it('reads null numbers as NaN', () => {
    const table = new RunTable(cands, 1, 5, {
      '10': { 0: [{ taskIndex: 0, iterations: null, converged: false, finalLoss: null }] },
    });
    expect(Number.isNaN(table.head('10', 0, 1)[0]!.finalLoss)).toBe(true);
  });

  const bad: [ResultTable, RegExp][] = [
    [{ '111': { 0: [t(0)] } }, /unknown candidate '111'; this search has 00, 10, 01, 11/],
    [{ '01': { 2: [t(0)] } }, /seed index '2' is not an integer from 0 to 1/],
    [{ '01': { 0: [t(10)] } }, /taskIndex must be an integer from 0 to 9, got 10/],
    [{ '01': { 0: [t(0), t(0, 11)] } }, /task 0 has two different results/],
    [{ '01': { 0: [t(0, -1)] } }, /iterations must not be negative/],
    [
      { '01': { 0: [{ taskIndex: 0, iterations: 1, converged: 'yes', finalLoss: 0 } as never] } },
      /converged must be a boolean/,
    ],
    [{ '01': { 0: 'x' as never } }, /must be a list of task results/],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      expect(() => new RunTable(cands, 2, 10, input)).toThrow(ResultsError);
      expect(() => new RunTable(cands, 2, 10, input)).toThrow(message);
    });
  }

  it('builds a table from flat rows', () => {
    expect(
      tableFromRows([
        { candidate: '01', seedIndex: 1, ...t(0) },
        { candidate: '01', seedIndex: 1, ...t(1) },
        { candidate: '00', seedIndex: 0, ...t(0) },
      ]),
    ).toEqual({ '01': { 1: [t(0), t(1)] }, '00': { 0: [t(0)] } });
  });
});

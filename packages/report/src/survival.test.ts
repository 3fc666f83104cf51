import type { TaskResult } from '@ip2/l2l';
import { describe, expect, it } from 'vitest';
import { renderSvg, survivalCurveSpec } from './plots.js';
import { convergedSeries } from './search-report.js';

const task = (taskIndex: number, converged: boolean, finalLoss = 0.001): TaskResult =>
  ({ taskIndex, iterations: converged ? 100 : 950, converged, finalLoss }) as unknown as TaskResult;

describe('share of runs converged by task (survival-style)', () => {
  const results = [
    // '01': seed 0 converges from task 1, seed 1 from task 2, seed 2 stopped after task 1.
    { candidate: '01', seedIndex: 0, result: task(0, false) },
    { candidate: '01', seedIndex: 0, result: task(1, true) },
    { candidate: '01', seedIndex: 0, result: task(2, true) },
    { candidate: '01', seedIndex: 1, result: task(2, true) },
    { candidate: '01', seedIndex: 1, result: task(0, false) },
    { candidate: '01', seedIndex: 1, result: task(1, false) },
    { candidate: '01', seedIndex: 2, result: task(0, true) },
    { candidate: '01', seedIndex: 2, result: task(1, true) },
    // '00': converged flag with a NaN loss is a failure; task 2 after a gap is not in the prefix.
    { candidate: '00', seedIndex: 0, result: task(0, true, Number.NaN) },
    { candidate: '00', seedIndex: 0, result: task(2, true) },
  ];
  const candidates = [
    { id: '00', keys: [] as string[] },
    { id: '01', keys: ['theta'] },
  ] as unknown as Parameters<typeof convergedSeries>[0]['candidates'];

  it('per candidate and task: converged seeds over the seeds that reached the task', () => {
    const s = convergedSeries({ candidates, results });
    expect(s.map((x) => x.label)).toEqual(['00 ∅', '01 theta']);
    expect(s[0]!.points).toEqual([{ task: 0, share: 0, runs: 1 }]);
    expect(s[1]!.points).toEqual([
      { task: 0, share: 1 / 3, runs: 3 },
      { task: 1, share: 2 / 3, runs: 3 },
      { task: 2, share: 1, runs: 2 },
    ]);
  });

  it('renders as an SVG with one line per candidate', async () => {
    const svg = await renderSvg(survivalCurveSpec(convergedSeries({ candidates, results }), { highlight: '01 theta' }));
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('share of runs converged');
    expect(svg).toContain('01 theta');
    expect(svg).toContain('00 ∅');
  });
});

import type { TaskResult } from '@ip2/l2l';
import { describe, expect, it } from 'vitest';
import { firingSectionHtml, isNearSilent, NEAR_SILENT_FRACTION, runFiring } from './firing.js';
import { TASK_COLUMNS, taskFiles } from './search-outputs.js';

function result(taskIndex: number, activeNeurons: number, over: Partial<TaskResult> = {}): TaskResult {
  return {
    taskIndex,
    iterations: 100,
    trialsToCriterion: 200,
    batchSize: 2,
    totalIterations: 150,
    converged: true,
    failure: null,
    finalLoss: 0.004,
    accuracy: 1,
    heldOutLoss: 0.003,
    firingRate: 0.004 * activeNeurons,
    activeNeurons,
    neurons: 40,
    fractionSilent: 1 - activeNeurons / 40,
    wallMs: 10,
    ...over,
  };
}

const rec = (candidate: string, seedIndex: number, r: TaskResult) => ({
  candidate,
  seedIndex,
  result: r,
  engine: { engine: 'fused', backend: 'js' },
});

describe('near-silent flag', () => {
  it('flags a task with fewer than 10% of its neurons active, never one without firing statistics', () => {
    expect(NEAR_SILENT_FRACTION).toBe(0.1);
    expect(isNearSilent({ activeNeurons: 3, neurons: 40 })).toBe(true);
    expect(isNearSilent({ activeNeurons: 4, neurons: 40 })).toBe(false);
    expect(isNearSilent({ activeNeurons: 0, neurons: 64 })).toBe(true);
    expect(isNearSilent({ activeNeurons: 6, neurons: 64 })).toBe(true);
    expect(isNearSilent({ activeNeurons: 7, neurons: 64 })).toBe(false);
    expect(isNearSilent({ activeNeurons: Number.NaN, neurons: 64 })).toBe(false);
    expect(isNearSilent({ activeNeurons: Number.NaN, neurons: Number.NaN })).toBe(false);
  });

  it('summarises every run and names the near-silent ones with their tasks in the report section', () => {
    const records = [
      rec('01', 0, result(0, 20)),
      rec('01', 0, result(1, 2)),
      rec('01', 0, result(2, 3)),
      rec('01', 0, result(3, 12)),
      rec('01', 1, result(0, 25)),
      rec('01', 1, result(1, 30)),
      rec('10', 0, result(1, 1)),
      rec('10', 0, result(0, 8)),
    ];
    const runs = runFiring(records);
    expect(runs.map((r) => `${r.candidate}/${r.seedIndex}`)).toEqual(['01/0', '01/1', '10/0']);
    expect(runs[0]).toMatchObject({ tasks: 4, nearSilentTasks: [1, 2], nearSilent: true, minActive: 2 });
    expect(runs[0]!.last).toEqual({ firingRate: 0.004 * 12, activeNeurons: 12, neurons: 40 });
    expect(runs[1]).toMatchObject({ nearSilent: false, nearSilentTasks: [] });
    // The last task is the highest index, whatever the order of the records.
    expect(runs[2]).toMatchObject({ nearSilentTasks: [1], last: { activeNeurons: 1 } });

    const html = firingSectionHtml(records, { dtMs: 20, order: ['10', '01'] });
    expect(html).toContain('<h2>Firing</h2>');
    expect(html).toContain('2 of 3 runs near-silent');
    expect(html).toContain('<code>01</code> seed 0: tasks 2–3 (fewest active 2 of 40)');
    expect(html).toContain('<code>10</code> seed 0: task 2 (fewest active 1 of 40)');
    expect(html.indexOf('<td><code>10</code>')).toBeLessThan(html.indexOf('<td><code>01</code>'));
    expect(html.match(/<tr class="silent"/g)).toHaveLength(2);
    // Rates in Hz with dt = 20 ms: 0.004 × 12 spikes/neuron/step = 2.4 Hz.
    expect(html).toContain('firing rate (Hz)');
  });

  it('says there is nothing to flag when every run fires, and when no statistics were recorded', () => {
    const ok = firingSectionHtml([rec('1', 0, result(0, 20))]);
    expect(ok).toContain('No run is near-silent');
    expect(ok).toContain('spikes/neuron/step');
    const nan = { firingRate: Number.NaN, activeNeurons: Number.NaN, neurons: Number.NaN, fractionSilent: Number.NaN };
    const none = firingSectionHtml([rec('1', 0, result(0, 0, nan))]);
    expect(none).toContain('No firing statistics recorded');
    expect(none).not.toContain('near-silent</b>');
  });
});

describe('task files', () => {
  it('have columns and fields for trials to criterion, batch size and firing statistics', () => {
    expect(TASK_COLUMNS).toEqual([
      'taskIndex',
      'iterations',
      'trialsToCriterion',
      'batchSize',
      'totalIterations',
      'converged',
      'failure',
      'finalLoss',
      'accuracy',
      'heldOutLoss',
      'firingRate',
      'activeNeurons',
      'neurons',
      'fractionSilent',
    ]);
    const nonSpiking = result(1, 0, { firingRate: Number.NaN, activeNeurons: Number.NaN, fractionSilent: Number.NaN });
    const files = taskFiles([rec('1', 0, result(0, 3)), rec('1', 0, nonSpiking)]);
    const lines = files.csv.trim().split('\n');
    expect(lines[1]).toBe('1,0,0,100,200,2,150,true,,0.004,1,0.003,0.012,3,40,0.925');
    expect(lines[2]).toBe('1,0,1,100,200,2,150,true,,0.004,1,0.003,NaN,NaN,40,NaN');
    const json = JSON.parse(files.json) as Record<string, unknown>[];
    expect(json[0]).toMatchObject({ trialsToCriterion: 200, batchSize: 2, activeNeurons: 3, neurons: 40 });
    expect(json[1]).toMatchObject({ activeNeurons: 'NaN', fractionSilent: 'NaN', neurons: 40 });
  });
});

import { describe, expect, it } from 'vitest';
import { trainingBatch, type TaskBatch } from '../batch.js';
import { CUE_INPUT, OUTPUT_FIXATION, STIMULUS_DIM, STIMULUS_INPUT } from '../channels.js';
import type { TaskInstance } from '../family.js';
import { createInstance } from '../instance.js';
import { getFamily } from '../registry.js';
import { trialTiming } from '../timing.js';

/**
 * Reads the trials back from the rendered inputs alone: which pattern (index into `patterns`, or -1
 * for none) each block shows during each epoch. A block must show one pattern, unchanged, over a
 * whole epoch; anything else fails the test.
 */
function decode(batch: TaskBatch, inst: TaskInstance, b: number, block: 'stimulus' | 'cue'): Map<string, number> {
  const patterns = block === 'stimulus' ? inst.stimuli : inst.cues;
  const offset = block === 'stimulus' ? STIMULUS_INPUT : CUE_INPUT;
  const out = new Map<string, number>();
  for (const epoch of trialTiming(getFamily(inst.family), batch.dt).epochs) {
    const seen = new Set<number>();
    for (let t = epoch.start; t < epoch.end; t++) {
      const x = batch.inputs.subarray((t * batch.batch + b) * batch.nIn + offset).subarray(0, STIMULUS_DIM);
      const energy = x.reduce((s, v) => s + v * v, 0);
      if (energy === 0) {
        seen.add(-1);
        continue;
      }
      // Orthonormal patterns: the shown one projects to 1, the others to 0, and nothing else is left.
      const hits = patterns.map((p) => p.reduce((s, v, i) => s + v * x[i]!, 0)).map((d) => Math.abs(d - 1) < 1e-5);
      if (hits.filter(Boolean).length !== 1 || Math.abs(energy - 1) > 1e-5)
        throw new Error(`trial ${b}, step ${t}: the ${block} input is not one of the instance's patterns`);
      seen.add(hits.indexOf(true));
    }
    if (seen.size !== 1) throw new Error(`trial ${b}: the ${block} input changes within epoch '${epoch.name}'`);
    out.set(epoch.name, [...seen][0]!);
  }
  return out;
}

/** The response the targets ask for after the go cue (read from the targets, not `labels`). */
function targetResponse(batch: TaskBatch, b: number): number {
  const t = batch.steps - 1;
  const y = Array.from(batch.targets.subarray((t * batch.batch + b) * batch.nOut).subarray(0, batch.nOut));
  const r = y.indexOf(1);
  if (y[OUTPUT_FIXATION] !== 0 || batch.labels[b] !== r) throw new Error(`trial ${b}: targets and label disagree`);
  return r;
}

/** Every trial of a few batches of a few instances, at both step sizes. */
function* trials(id: string): Generator<[TaskInstance, TaskBatch, number]> {
  for (const taskIndex of [0, 1, 2]) {
    const inst = createInstance(id, 21, taskIndex);
    for (const dt of [20, 10]) {
      const batch = trainingBatch(inst, 4, taskIndex, 16, dt);
      for (let b = 0; b < batch.batch; b++) yield [inst, batch, b];
    }
  }
}

describe('family rules, recovered from the inputs', () => {
  it('sma: the stimulus alone decides the response, by the instance mapping', () => {
    for (const [inst, batch, b] of trials('sma')) {
      const shown = decode(batch, inst, b, 'stimulus');
      const s = shown.get('stimulus')!;
      expect(s).toBeGreaterThanOrEqual(0);
      expect(shown.get('fixation')).toBe(-1);
      expect(shown.get('response')).toBe(-1);
      expect(targetResponse(batch, b)).toBe(inst.associations[s]);
    }
  });

  it('dms: R1 exactly when the test equals the sample', () => {
    let matches = 0;
    let n = 0;
    for (const [inst, batch, b] of trials('dms')) {
      const shown = decode(batch, inst, b, 'stimulus');
      const [sample, test] = [shown.get('sample')!, shown.get('test')!];
      expect(sample).toBeGreaterThanOrEqual(0);
      expect(test).toBeGreaterThanOrEqual(0);
      expect(shown.get('delay')).toBe(-1);
      expect(shown.get('response')).toBe(-1);
      expect(targetResponse(batch, b)).toBe(sample === test ? 0 : 1);
      matches += sample === test ? 1 : 0;
      n++;
    }
    expect(matches).toBe(n / 2);
  });

  it('cddms: context A keeps match → R1, context B swaps it', () => {
    const seen = new Set<string>();
    for (const [inst, batch, b] of trials('cddms')) {
      const shown = decode(batch, inst, b, 'stimulus');
      const cue = decode(batch, inst, b, 'cue');
      const context = cue.get('sample')!;
      expect(context).toBeGreaterThanOrEqual(0);
      for (const e of ['delay', 'test', 'response']) expect(cue.get(e)).toBe(-1);
      const match = shown.get('sample') === shown.get('test');
      const r = targetResponse(batch, b);
      expect(r).toBe(context === 0 ? (match ? 0 : 1) : match ? 1 : 0);
      seen.add(`${context}/${match}`);
    }
    expect(seen.size).toBe(4);
  });

  it.each([
    ['gng2', 2, 6],
    ['gng4', 4, 8],
  ] as const)('%s: go (R1) exactly when the probe was one of the items', (id, items, nStimuli) => {
    let go = 0;
    let n = 0;
    for (const [inst, batch, b] of trials(id)) {
      expect(inst.stimuli).toHaveLength(nStimuli);
      const shown = decode(batch, inst, b, 'stimulus');
      const seq = Array.from({ length: items }, (_, i) => shown.get(`item-${i + 1}`)!);
      expect(new Set(seq).size).toBe(items);
      for (const s of seq) expect(s).toBeGreaterThanOrEqual(0);
      const probe = shown.get('probe')!;
      expect(probe).toBeGreaterThanOrEqual(0);
      expect(shown.get('delay')).toBe(-1);
      const isGo = seq.includes(probe);
      expect(targetResponse(batch, b)).toBe(isGo ? 0 : 1);
      go += isGo ? 1 : 0;
      n++;
    }
    expect(go).toBe(n / 2);
  });
});

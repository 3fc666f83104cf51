import { createInstance, heldOutBatch } from '@ip2/tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Learner } from '../learner.js';
import { createLearner } from '../models/registry.js';
import { sequenceLearner } from '../learner.js';
import { parseProtocol, runSeeds, runSequence, type TaskResult } from '../protocol.js';
import { activityDimensionality, neuronFiringRates, spikingActivity } from './activity.js';
import { intrinsicEvolution } from './distributions.js';
import { lesionMask, lesionStudy, nextTaskLesionStudy } from './lesion.js';
import { modularity, recurrentModularity, undirectedGraph } from './modularity.js';
import { modularityEfficiency, sequenceWithModularity, type TaskModularity } from './sequence.js';

const FAMILY = 'sma';
const SEED = 7;
const HIDDEN = 12;
const tasks = runSeeds(SEED).tasks;
const instance = createInstance(FAMILY, tasks, 0);
const batch = heldOutBatch(instance, tasks, 8, 20);

let learner: Learner;

beforeAll(async () => {
  learner = await createLearner(
    { model: 'ip2', nIn: instance.nIn, nOut: instance.nOut, hidden: HIDDEN, dt: 20, seed: SEED, loss: 'mse', lr: 1e-3 },
    // Created for the family: its input scaling and firing calibration (10 Hz) make the small network spike.
    { family: FAMILY, mask: ['tauS', 'theta'], network: { weights: { inGain: 3 } } },
  );
});

afterAll(() => learner.dispose());

describe('lesion study on a small spiking network', () => {
  it('silencing no neuron changes nothing; silencing every neuron changes the loss', () => {
    const intact = learner.evaluate(batch);
    const none = learner.evaluate(batch, new Uint8Array(HIDDEN));
    expect(none.taskLoss).toBe(intact.taskLoss);
    expect(Array.from(none.outputs)).toEqual(Array.from(intact.outputs));
    const all = learner.evaluate(
      batch,
      lesionMask(
        HIDDEN,
        Array.from({ length: HIDDEN }, (_, i) => i),
      ),
    );
    expect(all.taskLoss).not.toBe(intact.taskLoss);

    // One group holding every neuron is the same full lesion.
    const study = lesionStudy(learner, batch, new Float64Array(HIDDEN).fill(1), { groups: 1, property: 'constant' });
    expect(study.baseline.loss).toBe(intact.taskLoss);
    expect(study.rows[0]).toMatchObject({ count: HIDDEN, loss: all.taskLoss });
    expect(study.rows[0]!.increase).toBe(all.taskLoss - intact.taskLoss);
  });

  it("quartiles of τ_s on the next task's held-out batch: one row per group, every neuron once", () => {
    const study = nextTaskLesionStudy({ learner, family: FAMILY, seed: SEED, afterTask: 0, property: 'tauS' });
    const p = parseProtocol();
    const next = heldOutBatch(createInstance(FAMILY, tasks, 1), tasks, p.evalBatch, p.dt);
    expect(study.property).toBe('tauS');
    expect(study.baseline.loss).toBe(learner.evaluate(next).taskLoss);
    expect(study.rows.map((r) => r.count)).toEqual([3, 3, 3, 3]);
    expect(study.rows.flatMap((r) => r.neurons).sort((a, b) => a - b)).toEqual(
      Array.from({ length: HIDDEN }, (_, i) => i),
    );
    const tauS = learner.intrinsic!().tauS!;
    for (const r of study.rows) {
      expect(r.loss).toBe(learner.evaluate(next, lesionMask(HIDDEN, r.neurons)).taskLoss);
      expect(r.increase).toBeCloseTo(r.loss - study.baseline.loss, 15);
      expect(r.relativeIncrease).toBeCloseTo(r.increase / study.baseline.loss, 12);
      for (const i of r.neurons) expect(tauS[i]).toBeGreaterThanOrEqual(r.lo);
    }
    for (let g = 1; g < 4; g++) expect(study.rows[g]!.lo).toBeGreaterThan(study.rows[g - 1]!.hi);
    expect(() => nextTaskLesionStudy({ learner, family: FAMILY, seed: SEED, afterTask: 0, property: 'beta' })).toThrow(
      /unknown property 'beta'; this model has: tauD, tauS, theta/,
    );
  });
});

describe('activity of a small spiking network', () => {
  it('per-neuron rates average to the rate the engine reports', () => {
    const ev = learner.evaluate(batch);
    const rates = neuronFiringRates(learner, batch);
    expect(rates.perStep).toHaveLength(HIDDEN);
    expect(ev.firingRate).toBeGreaterThan(0);
    const mean = rates.perStep.reduce((s, r) => s + r, 0) / HIDDEN;
    expect(mean).toBeCloseTo(rates.mean, 12);
    // float64 reference against the float32 engine: a threshold crossing may differ now and then.
    expect(Math.abs(mean - ev.firingRate)).toBeLessThan(0.02 * ev.firingRate + 1e-3);
    expect(rates.hz[0]).toBeCloseTo(rates.perStep[0]! * 50, 12);
    expect(spikingActivity(learner, batch).taskLoss).toBeCloseTo(ev.taskLoss, 3);
  });

  it('dimensionality lies between 1 and the number of neurons', () => {
    for (const source of ['spikes', 'membrane'] as const) {
      const pr = activityDimensionality(learner, batch, source);
      expect(pr).toBeGreaterThanOrEqual(1);
      expect(pr).toBeLessThanOrEqual(HIDDEN);
    }
  });

  it('modularity of the recurrent graph is that of the partition found, and reproducible', () => {
    const m = recurrentModularity(learner);
    const { n, w } = learner.recurrentWeights!();
    expect(m.n).toBe(HIDDEN);
    expect(m.q).toBeCloseTo(modularity(n, undirectedGraph(n, w), m.labels), 14);
    expect(Array.from(recurrentModularity(learner).labels)).toEqual(Array.from(m.labels));
  });
});

describe('over a short sequence', () => {
  it('records modularity around each task and the distribution of each property after it', async () => {
    const protocol = parseProtocol({ tasks: 3, window: 2, cap: 4, epsilon: 1e-9, evalBatch: 4, snapshots: true });
    const seqLearner = await createLearner(
      { model: 'ip2', nIn: instance.nIn, nOut: instance.nOut, hidden: HIDDEN, dt: 20, seed: 3, loss: 'mse', lr: 1e-2 },
      { mask: ['theta'] },
    );
    try {
      const q0 = recurrentModularity(seqLearner).q;
      const records: TaskModularity[] = [];
      const results: TaskResult[] = [];
      for await (const step of sequenceWithModularity({ family: FAMILY, seed: SEED, protocol, learner: seqLearner })) {
        records.push(step.modularity);
        results.push(step.result);
      }
      expect(records.map((r) => r.taskIndex)).toEqual([0, 1, 2]);
      expect(records[0]!.qStart).toBe(q0);
      expect(records[1]!.qStart).toBe(records[0]!.qEnd);
      expect(records[2]!.qEnd).toBe(recurrentModularity(seqLearner).q);
      const c = modularityEfficiency(records);
      expect(c.n).toBe(3);
      expect(modularityEfficiency(records, { convergedOnly: true }).n).toBe(0);

      const ev = intrinsicEvolution(results);
      expect(Object.keys(ev).sort()).toEqual(['tauD', 'tauS', 'theta']);
      expect(ev.theta!.map((p) => p.summary.n)).toEqual([HIDDEN, HIDDEN, HIDDEN]);
      // Fixed properties stay put; the learnable threshold moves.
      expect(ev.tauS![1]!.meanAbsChange).toBe(0);
      expect(ev.theta![1]!.meanAbsChange).toBeGreaterThan(0);
    } finally {
      seqLearner.dispose();
    }
  });
});

// A run with the same protocol and no analysis trains the same way.
describe('analyses leave training alone', () => {
  it('the same results with and without the modularity measurements', async () => {
    const protocol = parseProtocol({ tasks: 2, window: 2, cap: 3, epsilon: 1e-9, evalBatch: 4 });
    const spec = {
      model: 'ip2',
      nIn: instance.nIn,
      nOut: instance.nOut,
      hidden: HIDDEN,
      dt: 20,
      seed: 5,
      loss: 'mse',
      lr: 1e-2,
    } as const;
    const a = await createLearner(spec, { mask: ['theta'] });
    const b = await createLearner(spec, { mask: ['theta'] });
    try {
      const plain: number[] = [];
      for await (const s of runSequence({ family: FAMILY, seed: SEED, protocol, learner: sequenceLearner(a) }))
        plain.push(s.result.heldOutLoss);
      const analysed: number[] = [];
      for await (const s of sequenceWithModularity({ family: FAMILY, seed: SEED, protocol, learner: b }))
        analysed.push(s.result.heldOutLoss);
      expect(analysed).toEqual(plain);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FIXATION_INPUT, OUTPUT_FIXATION } from './channels.js';
import { drawTrials, heldOutBatch, renderBatch, trainingBatch, trialRng, type TaskBatch } from './batch.js';
import { createInstance } from './instance.js';
import { FAMILY_IDS, getFamily } from './registry.js';
import { trialTiming } from './timing.js';

/** SHA-256 of every array of the batch: equal digests mean equal batches, bit for bit. */
function bytes(batch: TaskBatch): string {
  const hash = createHash('sha256');
  for (const a of [batch.inputs, batch.targets, batch.mask, batch.responseMask, batch.labels])
    hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return `${batch.steps}x${batch.batch}x${batch.nIn}x${batch.nOut}:${hash.digest('hex')}`;
}

describe.each(FAMILY_IDS)('%s batches', (id) => {
  const inst = createInstance(id, 3, 2);

  it('have the shapes of nIn, nOut, steps and batch', () => {
    const batch = trainingBatch(inst, 9, 0, 5);
    const { steps: T } = trialTiming(getFamily(id), 20);
    expect(batch).toMatchObject({ steps: T, batch: 5, nIn: inst.nIn, nOut: 3, dt: 20 });
    expect(batch.inputs).toHaveLength(T * 5 * inst.nIn);
    expect(batch.targets).toHaveLength(T * 5 * 3);
    expect(batch.mask).toHaveLength(T * 5);
    expect(batch.responseMask).toHaveLength(T * 5);
    expect(batch.labels).toHaveLength(5);
    expect(batch.trials).toHaveLength(5);
  });

  it('are the same bit for bit for the same seed and index, and differ otherwise', () => {
    const a = trainingBatch(inst, 9, 4, 8);
    expect(bytes(trainingBatch(createInstance(id, 3, 2), 9, 4, 8))).toEqual(bytes(a));
    expect(bytes(trainingBatch(inst, 10, 4, 8))).not.toEqual(bytes(a));
    expect(bytes(trainingBatch(inst, 9, 5, 8))).not.toEqual(bytes(a));
    expect(bytes(heldOutBatch(inst, 9, 8))).not.toEqual(bytes(a));
    expect(bytes(heldOutBatch(inst, 9, 8))).toEqual(bytes(heldOutBatch(inst, 9, 8)));
  });

  it.each([20, 10])('put fixation, targets, mask and response window at the right steps (dt = %i)', (dt) => {
    const batch = trainingBatch(inst, 1, 0, 4, dt);
    const timing = trialTiming(getFamily(id), dt);
    const { steps: T, batch: B, nIn, nOut } = batch;
    const graceSteps = 100 / dt;
    expect(timing.scoredFrom - timing.goStep).toBe(graceSteps);
    for (let b = 0; b < B; b++) {
      const label = batch.labels[b]!;
      expect([0, 1]).toContain(label);
      for (let t = 0; t < T; t++) {
        const tb = t * B + b;
        const go = t >= timing.goStep;
        const grace = go && t < timing.goStep + graceSteps;
        expect(batch.inputs[tb * nIn + FIXATION_INPUT]).toBe(go ? 0 : 1);
        const target = Array.from(batch.targets.subarray(tb * nOut, tb * nOut + nOut));
        const expected = [0, 0, 0];
        expected[go ? label : OUTPUT_FIXATION] = 1;
        expect(target).toEqual(expected);
        expect(batch.mask[tb]).toBe(grace ? 0 : 1);
        expect(batch.responseMask[tb]).toBe(go && !grace ? 1 : 0);
      }
    }
  });

  it('balance conditions exactly within a batch and in expectation across single-trial batches', () => {
    const family = getFamily(id);
    const k = family.conditions.length;
    const counts = new Map<string, number>();
    for (const trial of trainingBatch(inst, 2, 0, 12 * k).trials)
      counts.set(trial.condition, (counts.get(trial.condition) ?? 0) + 1);
    expect([...counts.keys()].sort()).toEqual([...family.conditions].sort());
    for (const n of counts.values()) expect(n).toBe(12);

    let r1 = 0;
    for (let i = 0; i < 400; i++) r1 += trainingBatch(inst, 2, i, 1).labels[0] === 0 ? 1 : 0;
    expect(r1).toBeGreaterThan(150);
    expect(r1).toBeLessThan(250);
  });
});

describe('trial streams', () => {
  it('are derived from the trial seed, the instance and the stream', () => {
    const inst = createInstance('dms', 1, 0);
    expect(trialRng(inst, 4, 'train', 3).state()).toEqual(trialRng(inst, 4, 'train', 3).state());
    expect(trialRng(inst, 4, 'train', 3).state()).not.toEqual(trialRng(inst, 4, 'train', 4).state());
    expect(trialRng(inst, 4, 'heldout').state()).not.toEqual(trialRng(inst, 4, 'train', 0).state());
    expect(trialRng(inst, 4, 'train', 0).state()).not.toEqual(
      trialRng(createInstance('dms', 1, 1), 4, 'train', 0).state(),
    );
    expect(trialRng(inst, 4, 'train', 0).state()).not.toEqual(
      trialRng(createInstance('dms', 2, 0), 4, 'train', 0).state(),
    );
  });

  it('reject bad arguments', () => {
    const inst = createInstance('sma', 1, 0);
    expect(() => trainingBatch(inst, 1, -1, 1)).toThrow(/batch index/);
    expect(() => trainingBatch(inst, 1, 0, 0)).toThrow(/batch size/);
    expect(() => trainingBatch(inst, 1, 0, 1, -20)).toThrow(/dt/);
    expect(() => heldOutBatch(inst, 1.5, 1)).toThrow(/seed/);
    expect(() => renderBatch(inst, [])).toThrow(/at least one trial/);
    expect(() => renderBatch(inst, [{ condition: 'x', events: [], response: 2 }])).toThrow(/response channel/);
    expect(() =>
      renderBatch(inst, [{ condition: 'x', events: [{ epoch: 'test', block: 'stimulus', pattern: 0 }], response: 0 }]),
    ).toThrow(/no epoch 'test'/);
  });

  it('let drawTrials and renderBatch compose into the same batch as trainingBatch', () => {
    const inst = createInstance('gng4', 8, 1);
    const trials = drawTrials(inst, trialRng(inst, 5, 'train', 2), 6);
    expect(bytes(renderBatch(inst, trials, 10))).toEqual(bytes(trainingBatch(inst, 5, 2, 6, 10)));
  });
});

describe('pinned output', () => {
  // SHA-256 prefixes of (instance seed 1, task 0; trial seed 1; batch 4; dt 20): training batch 0 and
  // the held-out batch. A change here changes every experiment's tasks: make it only on purpose.
  it.each([
    ['sma', '3b96b17792ad0209', '5c8b1628bb803ce3'],
    ['dms', 'ed05fd0f70db348a', '3688cb80fd79fbca'],
    ['cddms', 'e3bd1cfc0c2cc928', '0a6cca90e4dc71ef'],
    ['gng2', '605f44aeff5e6419', 'c3c4031f8476415c'],
    ['gng4', '056df51ad12d6731', 'cdf34d3e0dd3f4e0'],
  ])('%s', (id, train, heldOut) => {
    const inst = createInstance(id, 1, 0);
    expect(bytes(trainingBatch(inst, 1, 0, 4)).slice(-64, -48)).toBe(train);
    expect(bytes(heldOutBatch(inst, 1, 4)).slice(-64, -48)).toBe(heldOut);
  });
});

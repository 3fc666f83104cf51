import { describe, expect, it } from 'vitest';
import { agreementCurve } from './engines-agree.fixtures.js';

/**
 * The fused engine and the TensorFlow.js reference train the same network on the same trials over a
 * learning-to-learn sequence. Under model version 1 (membrane readout) they need exactly the same
 * iterations per task (version 2: engines-agree-v2.test.ts).
 */
describe('fused and TensorFlow.js engines over a whole sequence, version 1', () => {
  it('version 1: the same iterations-to-criterion task by task', async () => {
    const fused = await agreementCurve('fused', { modelVersion: 1 });
    const tfjs = await agreementCurve('tfjs', { modelVersion: 1 });
    expect(fused.map((r) => r.iterations)).toEqual(tfjs.map((r) => r.iterations));
    expect(fused.map((r) => r.converged)).toEqual(tfjs.map((r) => r.converged));
    fused.forEach((r, i) => expect(Math.abs(r.finalLoss - tfjs[i]!.finalLoss)).toBeLessThan(1e-4));
    expect(fused.some((r) => r.converged)).toBe(true);
  }, 180_000); // TensorFlow.js at batch 1 is slow: a loaded 2-core machine needs more than a minute
});

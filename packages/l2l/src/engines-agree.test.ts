import { describe, expect, it } from 'vitest';
import { createRunLearner } from './chunk.js';
import { parseProtocol, runSequence } from './protocol.js';

/**
 * The fused engine and the TensorFlow.js reference train the same network on the same trials: over
 * a learning-to-learn sequence they must need the same number of iterations per task. Tolerance:
 * exact equality of iterations-to-criterion for the first tasks (float32 round-off differences could
 * in principle move a crossing of ε by an iteration; none does here), final losses within 1e-4.
 */
describe('fused and TensorFlow.js engines over a whole sequence', () => {
  it('give the same iterations-to-criterion task by task', async () => {
    const protocol = parseProtocol({ tasks: 3, window: 10, epsilon: 0.05, cap: 200, evalBatch: 8 });
    const curve = async (engine: 'fused' | 'tfjs') => {
      const learner = await createRunLearner({
        family: 'sma',
        seed: 4,
        model: 'ip2',
        space: ['tauD', 'tauS', 'theta'],
        mask: ['tauD', 'theta'],
        hidden: 12,
        lr: 3e-3,
        loss: 'mse',
        dt: 20,
        engine,
      });
      const out: { iterations: number; converged: boolean; finalLoss: number }[] = [];
      for await (const { result } of runSequence({ family: 'sma', seed: 4, protocol, learner })) out.push(result);
      expect(learner.info.engine).toBe(engine);
      learner.dispose();
      return out;
    };
    const fused = await curve('fused');
    const tfjs = await curve('tfjs');
    expect(fused.map((r) => r.iterations)).toEqual(tfjs.map((r) => r.iterations));
    expect(fused.map((r) => r.converged)).toEqual(tfjs.map((r) => r.converged));
    fused.forEach((r, i) => expect(Math.abs(r.finalLoss - tfjs[i]!.finalLoss)).toBeLessThan(1e-4));
    expect(fused.some((r) => r.converged)).toBe(true);
  }, 180_000); // TensorFlow.js at batch 1 is slow: a loaded 2-core machine needs more than a minute
});

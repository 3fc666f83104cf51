import { createInstance } from '@ip2/tasks';
import { describe, expect, it } from 'vitest';
import { createLearner } from './models/registry.js';
import { sequenceLearner } from './learner.js';
import { parseProtocol, runSeeds, runSequence } from './protocol.js';
import type { NetworkConfigInput } from '@ip2/snn';

/**
 * The fused engine and the TensorFlow.js reference train the same network on the same trials over a
 * learning-to-learn sequence. Under model version 1 (membrane readout) they need exactly the same
 * iterations per task. Under version 2 the readout integrates the spikes, so a spike that float32
 * round-off flips in one engine and not the other changes the loss directly and the two trajectories
 * drift apart (hard spikes make training chaotic at this resolution): there the test asks for the same
 * outcome per task and iterations within 10%.
 */
describe('fused and TensorFlow.js engines over a whole sequence', () => {
  const protocol = parseProtocol({ tasks: 3, window: 10, epsilon: 0.05, cap: 200, evalBatch: 8, batchSize: 1 });
  const instance = createInstance('sma', 0, 0);
  const curve = async (engine: 'fused' | 'tfjs', network: NetworkConfigInput) => {
    const learner = await createLearner(
      {
        model: 'ip2',
        nIn: instance.nIn,
        nOut: instance.nOut,
        hidden: 12,
        dt: 20,
        seed: runSeeds(4).network,
        loss: 'mse',
        lr: 3e-3,
      },
      { family: 'sma', space: ['tauD', 'tauS', 'theta'], mask: ['tauD', 'theta'], engine, network },
    );
    const out: { iterations: number; converged: boolean; finalLoss: number }[] = [];
    for await (const { result } of runSequence({ family: 'sma', seed: 4, protocol, learner: sequenceLearner(learner) }))
      out.push(result);
    expect(learner.info.engine).toBe(engine);
    learner.dispose();
    return out;
  };

  it('version 1: the same iterations-to-criterion task by task', async () => {
    const fused = await curve('fused', { modelVersion: 1 });
    const tfjs = await curve('tfjs', { modelVersion: 1 });
    expect(fused.map((r) => r.iterations)).toEqual(tfjs.map((r) => r.iterations));
    expect(fused.map((r) => r.converged)).toEqual(tfjs.map((r) => r.converged));
    fused.forEach((r, i) => expect(Math.abs(r.finalLoss - tfjs[i]!.finalLoss)).toBeLessThan(1e-4));
    expect(fused.some((r) => r.converged)).toBe(true);
  }, 180_000); // TensorFlow.js at batch 1 is slow: a loaded 2-core machine needs more than a minute

  it('version 2: the same outcome per task, iterations within 10%', async () => {
    const fused = await curve('fused', {});
    const tfjs = await curve('tfjs', {});
    expect(fused.map((r) => r.converged)).toEqual(tfjs.map((r) => r.converged));
    fused.forEach((r, i) => {
      const t = tfjs[i]!;
      expect(Math.abs(r.iterations - t.iterations), `task ${i}`).toBeLessThanOrEqual(
        0.1 * Math.max(r.iterations, t.iterations),
      );
    });
    expect(fused.some((r) => r.converged)).toBe(true);
  }, 180_000);
});

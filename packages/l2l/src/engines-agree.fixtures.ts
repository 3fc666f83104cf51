import { createInstance } from '@ip2/tasks';
import { expect } from 'vitest';
import type { NetworkConfigInput } from '@ip2/snn';
import { createLearner } from './models/registry.js';
import { sequenceLearner } from './learner.js';
import { parseProtocol, runSeeds, runSequence } from './protocol.js';

/**
 * The engines-agree tests' sequence (engines-agree-v1.test.ts, engines-agree-v2.test.ts, one file per
 * model version so that they run side by side): the fused engine or the TensorFlow.js reference trains
 * the same network on the same trials over three sma tasks.
 */
const protocol = parseProtocol({ tasks: 3, window: 10, epsilon: 0.05, cap: 200, evalBatch: 8, batchSize: 1 });
const instance = createInstance('sma', 0, 0);

export async function agreementCurve(engine: 'fused' | 'tfjs', network: NetworkConfigInput) {
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
}

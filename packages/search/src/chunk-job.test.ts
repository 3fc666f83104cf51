import { createRunLearner, trainChunks, type ChunkItem } from '@ip2/l2l';
import { deserializeState, PROPERTY_KEYS, type NetworkConfig } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import { chunkJob } from './chunk-job.js';
import { parseSearchDefinition, type SearchDefinitionInput } from './definition.js';

const target = { seed: 3, keys: ['tauS', 'theta'], fromTask: 0, toTask: 1 };
/** A one-task search of small networks on sma with these model settings. */
const definition = (network: NonNullable<NonNullable<SearchDefinitionInput['protocol']>['network']>) =>
  parseSearchDefinition({
    family: 'sma',
    protocol: {
      tasks: 1,
      seeds: 1,
      iterationCap: 12,
      criterion: { window: 10 },
      evalBatch: 4,
      network: { hidden: 8, lr: 3e-3, ...network },
    },
  });

/** The network configuration a run of the definition starts from (the learner's saved state). */
async function runConfig(network: Parameters<typeof definition>[0]): Promise<NetworkConfig> {
  const job = chunkJob(definition(network), target);
  const learner = await createRunLearner({ ...job, dt: job.protocol.dt });
  try {
    return deserializeState(learner.save()).config;
  } finally {
    learner.dispose();
  }
}

const each = (x: number) => Object.fromEntries(PROPERTY_KEYS.map((k) => [k, x]));

describe('the model settings of a definition reach the engine', () => {
  it('version 1 with sgd: the old defaults (membrane readout, η 1e-2, L2 in the loss) and sgd for the properties', async () => {
    const c = await runConfig({ modelVersion: 1, propertyOptimizer: 'sgd' });
    expect(c.modelVersion).toBe(1);
    expect(c.optimizer.properties).toBe('sgd');
    expect(c.optimizer.lr).toEqual(each(1e-2));
    expect(c.optimizer.lrWeights).toBe(3e-3);
    expect(c.readout).toBe('membrane');
    expect(c.weightDecay.mode).toBe('loss');
    expect(c.tauClamp.mode).toBe('forward');
    expect(c.firingTarget).toBeNull();
    expect(c.learnable).toEqual(['tauS', 'theta']);
  });

  it('version 2 by default: spike readout, adam, property η = the weights’ lr (none set per property)', async () => {
    const c = await runConfig({});
    expect(c.modelVersion).toBe(2);
    expect(c.optimizer.properties).toBe('adam');
    expect(c.optimizer.lr).toEqual({});
    expect(c.readout).toBe('spikes');
    expect(c.weightDecay.mode).toBe('decoupled');
  });

  it('propertyLr and readout override the version’s defaults', async () => {
    const v1 = await runConfig({ modelVersion: 1, propertyLr: 0.05, readout: 'spikes' });
    expect(v1.optimizer.lr).toEqual(each(0.05));
    expect(v1.readout).toBe('spikes');
    expect(v1.optimizer.properties).toBe('adam');
    const v2 = await runConfig({ propertyOptimizer: 'sgd', propertyLr: 2e-2, readout: 'membrane' });
    expect(v2).toMatchObject({
      modelVersion: 2,
      readout: 'membrane',
      optimizer: { properties: 'sgd', lr: each(2e-2) },
    });
  });

  it('also in lock-step populations: each chunk trains and checkpoints under its own settings', async () => {
    const items: ChunkItem[] = [
      { job: chunkJob(definition({ modelVersion: 1, propertyOptimizer: 'sgd' }), target), checkpoint: null },
      { job: chunkJob(definition({}), { ...target, seed: 4 }), checkpoint: null },
    ];
    const configs: NetworkConfig[] = [];
    for await (const { index, step } of trainChunks(items)) {
      configs[index] = deserializeState(step.checkpoint.learner).config;
    }
    expect(configs[0]).toMatchObject({ modelVersion: 1, readout: 'membrane', optimizer: { properties: 'sgd' } });
    expect(configs[1]).toMatchObject({ modelVersion: 2, readout: 'spikes', optimizer: { properties: 'adam' } });
  });
});

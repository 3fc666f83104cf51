import { describe, expect, it } from 'vitest';
import { initNetwork } from '../network.js';
import { GpuPopulation } from './population.js';

/** Runs without a GPU: the configuration is checked before any adapter is asked for. */
describe('GpuPopulation and model versions', () => {
  it('refuses a version-2 network, naming every field its kernels do not implement', async () => {
    await expect(GpuPopulation.create([initNetwork({ nRec: 8 })])).rejects.toThrow(
      /member 0: readout 'spikes', weightDecay\.mode 'decoupled', tauClamp\.mode 'step' not supported by GpuPopulation/,
    );
    await expect(
      GpuPopulation.create([initNetwork({ modelVersion: 1, nRec: 8, optimizer: { properties: 'sgd' } })]),
    ).rejects.toThrow(/member 0: optimizer\.properties 'sgd' not supported/);
  });
});

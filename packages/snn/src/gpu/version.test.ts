import { describe, expect, it } from 'vitest';
import { initNetwork } from '../network.js';
import { GpuPopulation } from './population.js';

/** Runs without a GPU: the configuration is checked before any adapter is asked for. */
describe('GpuPopulation configuration checks', () => {
  it('refuses soft spikes before asking for an adapter, for either model version', async () => {
    for (const modelVersion of [1, 2] as const) {
      await expect(GpuPopulation.create([initNetwork({ modelVersion, nRec: 8, spike: 'soft' })])).rejects.toThrow(
        /member 0: spike mode 'soft' is not supported by GpuPopulation/,
      );
    }
  });
});

import { afterAll, expect } from 'vitest';
import { createPopulation } from '../create-population.js';
import { populationContract } from '../population-contract.fixtures.js';
import { releaseGpu, WEBGPU_BACKEND_ENV } from './device.js';

/*
 * The Population contract on the GPU (needs a WebGPU adapter; vitest.gpu.config.ts): members at the
 * current model defaults with hard spikes, numbers within float32 agreement (as population.gpu-test.ts).
 */
populationContract('gpu', {
  create: (states) => createPopulation(states, { kind: 'gpu', backend: process.env[WEBGPU_BACKEND_ENV] ?? 'auto' }),
  softSpikes: false,
  close: (a, b, what) => {
    const err = Math.abs(a - b) / (Math.abs(b) + 0.1);
    if (!(a === b || err <= 1e-4 || (Number.isNaN(a) && Number.isNaN(b))))
      expect.fail(`${what}: gpu ${a} vs cpu ${b} (relative error ${err.toExponential(2)})`);
  },
});
afterAll(() => releaseGpu());

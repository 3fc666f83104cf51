import { defineConfig } from 'vitest/config';
import { shared } from './vitest.config.js';

/**
 * GPU agreement tests (GpuPopulation against FusedPopulation): `npm run test:gpu`, on a machine with
 * a WebGPU adapter. Not part of `npm test`: on machines without a GPU, Dawn's only adapter is Mesa's
 * software OpenGL ES path, which crashes in native code in about a third of runs (docs/gpu.md).
 */
export default defineConfig({
  ...shared,
  test: {
    ...shared.test,
    include: ['packages/snn/src/gpu/**/*.gpu-test.ts'],
    testTimeout: 300_000,
    // Headless Linux without Vulkan: Dawn's OpenGL ES path needs Mesa's surfaceless EGL platform,
    // which @ip2/snn leaves to the application.
    env: { ...shared.test.env, EGL_PLATFORM: process.env.EGL_PLATFORM ?? 'surfaceless' },
  },
});

/**
 * Network-iterations per second of GpuPopulation against FusedPopulation (not part of the tests):
 *   npx tsx --conditions @ip2/source bench/gpu-population.ts [--sizes 16,64,256] [--iters 10]
 *
 * Each population trains P networks (11 inputs, 100 neurons, 3 outputs; masks varied across
 * members) on one shared batch of 1 trial × 100 steps. The two engines run interleaved, round by
 * round (GPU, CPU, GPU, CPU …), after a warm-up; reported: median time per population step and
 * P / median as network-iterations per second, with the adapter's name.
 */
import { initNetwork, PROPERTY_KEYS, type NetworkState, type PropertyKey } from '../packages/snn/src/index.js';
import { FusedPopulation } from '../packages/snn/src/fused/index.js';
import { GpuPopulation, gpuContext, releaseGpu, WEBGPU_BACKEND_ENV } from '../packages/snn/src/gpu/index.js';
import { randomBatch } from '../packages/snn/src/testkit.js';
import { upperMedian as median } from './stats.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const sizes = arg('sizes', '16,64,256').split(',').map(Number);
const iters = Number(arg('iters', '10'));
const FIVE: PropertyKey[] = [...PROPERTY_KEYS];

function population(P: number): NetworkState[] {
  return Array.from({ length: P }, (_, p) =>
    initNetwork({
      nIn: 11,
      nRec: 100,
      nOut: 3,
      space: FIVE,
      learnable: FIVE.filter((_, k) => (p >> k) & 1),
      seed: p + 1,
    }),
  );
}

// Headless Linux without Vulkan: Dawn's OpenGL ES path needs Mesa's surfaceless EGL platform.
process.env.EGL_PLATFORM ??= 'surfaceless';
const ctx = await gpuContext({ backend: process.env[WEBGPU_BACKEND_ENV] ?? 'auto' });
console.log(`adapter: ${ctx.name} (backend ${ctx.backend})`);
const batch = randomBatch({ steps: 100, batch: 1, nIn: 11, nOut: 3, seed: 1 });
console.log('P\tgpu ms/step\tcpu ms/step\tgpu net-it/s\tcpu net-it/s\tgpu/cpu');
for (const P of sizes) {
  const states = population(P);
  const gpu = await GpuPopulation.create(states, { context: ctx });
  const cpu = FusedPopulation.create(states);
  for (let i = 0; i < 2; i++) {
    await gpu.trainStep(batch);
    await cpu.trainStep(batch);
  }
  const tg: number[] = [];
  const tc: number[] = [];
  for (let i = 0; i < iters; i++) {
    let t0 = performance.now();
    await gpu.trainStep(batch);
    tg.push(performance.now() - t0);
    t0 = performance.now();
    await cpu.trainStep(batch);
    tc.push(performance.now() - t0);
  }
  const g = median(tg);
  const c = median(tc);
  console.log(
    `${P}\t${g.toFixed(2)}\t${c.toFixed(2)}\t${((P * 1000) / g).toFixed(0)}\t${((P * 1000) / c).toFixed(0)}\t${(c / g).toFixed(2)}`,
  );
  await gpu.dispose();
}
await releaseGpu();
process.exit(0);

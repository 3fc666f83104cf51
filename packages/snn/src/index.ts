export * from './model/index.js';
export * from './tfjs/index.js';
export * from './calibrate.js';
export * from './engine.js';
export * from './metrics.js';
export * from './network.js';
export * from './rng.js';
export * from './state.js';
export { createEngine, ENGINE_ENV, ENGINE_NAMES, resolveEngineName, type EngineName } from './create-engine.js';
export { FusedEngine, FusedPopulation, ThreadedPopulation, type ThreadedPopulationOptions } from './fused/index.js';
export { instantiateKernels, matvec, type KernelExports } from './fused/kernels/index.js';
export { wasm, type WasmMemory } from './fused/kernels/index.js';
export { GpuPopulation, type GpuPopulationOptions } from './gpu/population.js';
export {
  gpuAvailable,
  gpuContext,
  releaseGpu,
  GpuUnavailableError,
  WEBGPU_BACKEND_ENV,
  type GpuContext,
} from './gpu/device.js';
export * from './testkit.js';

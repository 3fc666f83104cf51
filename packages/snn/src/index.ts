export * from './backend.js';
export * from './calibrate.js';
export * from './model/config.js';
export * from './engine.js';
export * from './metrics.js';
export * from './network.js';
export * from './model/properties.js';
export * from './model/reference.js';
export {
  step as neuronStep,
  initialState as initialNeuronState,
  synapticInput,
  type NeuronParams,
  type NeuronState,
} from './model/step.js';
export * from './rng.js';
export * from './state.js';
export * from './model/surrogates.js';
export { TfjsEngine, makeSpike } from './tfjs-engine.js';
export { matMulT } from './tf-ops.js';
export { createEngine, ENGINE_ENV, ENGINE_NAMES, resolveEngineName, type EngineName } from './create-engine.js';
export { FusedEngine, FusedPopulation, ThreadedPopulation, type ThreadedPopulationOptions } from './fused/index.js';
export { instantiateKernels, matvec, type KernelExports } from './fused/kernels.js';
export { wasm, type WasmMemory } from './fused/wasm-emit.js';
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

export * from './model/index.js';
export * from './tfjs/index.js';
export * from './calibrate.js';
export * from './engine.js';
export * from './metrics.js';
export * from './network.js';
export * from './rng.js';
export * from './state.js';
export {
  createEngine,
  ENGINE_ENV,
  ENGINE_NAMES,
  resolveEngineName,
  type ComputeOptions,
  type EngineName,
} from './create-engine.js';
export { FusedEngine, FusedPopulation, ThreadedPopulation, type ThreadedPopulationOptions } from './fused/index.js';
export { instantiateKernels, matvec, type KernelExports } from './fused/kernels/index.js';
export { wasm, type WasmMemory } from './fused/kernels/index.js';
export type { PassBatches, Population } from './population.js';
export {
  createPopulation,
  parsePopulationKind,
  POPULATION_KINDS,
  type PopulationKind,
  type PopulationOptions,
} from './create-population.js';
export * from './testkit.js';

// The experimental GPU population (`@ip2/snn/gpu`): WebGPU through the optional 'webgpu' package,
// model version 1 only. createPopulation({ kind: 'gpu' }) loads it on demand.
export { GpuPopulation, type GpuPopulationOptions } from './population.js';
export {
  gpuAvailable,
  gpuContext,
  releaseGpu,
  GpuUnavailableError,
  WEBGPU_BACKEND_ENV,
  type GpuContext,
  type GpuContextOptions,
} from './device.js';
export { GpuLayout } from './layout.js';

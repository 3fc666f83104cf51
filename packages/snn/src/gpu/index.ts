export { GpuPopulation, type GpuPopulationOptions } from './population.js';
export {
  gpuAvailable,
  gpuContext,
  releaseGpu,
  GpuUnavailableError,
  WEBGPU_BACKEND_ENV,
  type GpuContext,
} from './device.js';
export { GpuLayout } from './layout.js';

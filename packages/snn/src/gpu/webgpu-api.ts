/**
 * The part of the WebGPU API that the GPU population uses, declared here so that the package
 * type-checks without the optional `webgpu` package (or @webgpu/types) being installed.
 */
export interface GpuBuffer {
  readonly size: number;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

export type GpuBindGroupLayout = object;
export type GpuBindGroup = object;
export type GpuPipelineLayout = object;
export interface GpuComputePipeline {
  getBindGroupLayout(index: number): GpuBindGroupLayout;
}
export interface GpuShaderModule {
  getCompilationInfo(): Promise<{
    readonly messages: readonly { readonly type: string; readonly message: string; readonly lineNum: number }[];
  }>;
}

export interface GpuComputePass {
  setPipeline(p: GpuComputePipeline): void;
  setBindGroup(index: number, group: GpuBindGroup, dynamicOffsets?: readonly number[]): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

export interface GpuCommandEncoder {
  beginComputePass(): GpuComputePass;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  clearBuffer(buffer: GpuBuffer, offset?: number, size?: number): void;
  finish(): object;
}

export interface GpuQueue {
  writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView, dataOffset?: number, size?: number): void;
  submit(buffers: readonly object[]): void;
  onSubmittedWorkDone(): Promise<void>;
}

export interface GpuDevice {
  readonly queue: GpuQueue;
  readonly limits: Readonly<Record<string, number>>;
  readonly lost: Promise<{ readonly message: string }>;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean; label?: string }): GpuBuffer;
  createShaderModule(d: { code: string; label?: string }): GpuShaderModule;
  createBindGroupLayout(d: { entries: readonly object[]; label?: string }): GpuBindGroupLayout;
  createPipelineLayout(d: { bindGroupLayouts: readonly GpuBindGroupLayout[] }): GpuPipelineLayout;
  createComputePipeline(d: {
    layout: GpuPipelineLayout;
    compute: { module: GpuShaderModule; entryPoint: string };
    label?: string;
  }): GpuComputePipeline;
  createBindGroup(d: { layout: GpuBindGroupLayout; entries: readonly object[] }): GpuBindGroup;
  createCommandEncoder(): GpuCommandEncoder;
  pushErrorScope(filter: 'validation' | 'out-of-memory' | 'internal'): void;
  popErrorScope(): Promise<{ readonly message: string } | null>;
  destroy(): void;
}

export interface GpuAdapter {
  readonly info: {
    readonly vendor: string;
    readonly architecture: string;
    readonly device: string;
    readonly description: string;
  };
  readonly limits: Readonly<Record<string, number>>;
  requestDevice(d?: { requiredLimits?: Record<string, number> }): Promise<GpuDevice>;
}

export interface Gpu {
  requestAdapter(o?: { powerPreference?: string; featureLevel?: string }): Promise<GpuAdapter | null>;
}

/** Standard WebGPU flag values (GPUBufferUsage, GPUMapMode, GPUShaderStage). */
export const BufferUsage = {
  MAP_READ: 1,
  COPY_SRC: 4,
  COPY_DST: 8,
  UNIFORM: 64,
  STORAGE: 128,
} as const;
export const MapMode = { READ: 1 } as const;
export const ShaderStage = { COMPUTE: 4 } as const;

import type { Gpu, GpuAdapter, GpuDevice } from './webgpu-api.js';

/**
 * Environment variable in which applications take the Dawn backend (`gpuContext({ backend })`):
 * 'auto' (default), 'vulkan', 'opengles', 'd3d12', 'metal'. This module reads no environment.
 */
export const WEBGPU_BACKEND_ENV = 'IP2_WEBGPU_BACKEND';

export interface GpuContextOptions {
  /** The Dawn backend: 'auto' (default: the platform's default, then OpenGL ES on Linux), 'vulkan', 'opengles', ... */
  readonly backend?: string;
}

/** Thrown when no WebGPU device can be had; callers fall back to FusedPopulation. */
export class GpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuUnavailableError';
  }
}

export interface GpuContext {
  /**
   * The Dawn instance that the adapter came from. It must live as long as the device: Dawn's Node
   * binding keeps processing the instance's events from the event loop, and an instance that was
   * garbage-collected under a live device ends the process in native code (a freed mutex).
   */
  readonly instance: Gpu;
  readonly device: GpuDevice;
  readonly adapter: GpuAdapter;
  /** Adapter description and the Dawn backend that produced it. */
  readonly name: string;
  readonly backend: string;
}

interface DawnModule {
  create(flags: string[]): Gpu;
}

let shared: Promise<GpuContext> | null = null;

async function loadDawn(): Promise<DawnModule> {
  const specifier = 'webgpu';
  try {
    const mod = (await import(specifier)) as Partial<DawnModule> & { default?: Partial<DawnModule> };
    const create = mod.create ?? mod.default?.create;
    if (typeof create !== 'function') throw new Error("the module has no 'create' export");
    return { create };
  } catch (e) {
    throw new GpuUnavailableError(
      `the optional package 'webgpu' (Dawn for Node) could not be loaded: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

function describe(a: GpuAdapter): string {
  const i = a.info;
  return (
    [i.vendor, i.architecture, i.device, i.description].filter((s) => s && s.length > 0).join(' ') || 'unknown adapter'
  );
}

async function acquire(backend: string): Promise<GpuContext> {
  const dawn = await loadDawn();
  const wanted = backend.toLowerCase();
  const tries: { backend: string; flags: string[]; featureLevel?: string }[] = [];
  if (wanted === 'auto') {
    tries.push({ backend: 'default', flags: [] });
    // Without a Vulkan driver Dawn can still run on OpenGL ES (e.g. Mesa's llvmpipe), in WebGPU's
    // compatibility mode. Headless, Mesa needs EGL's surfaceless platform, which it reads from the
    // environment (EGL_PLATFORM=surfaceless) when Dawn opens the display: the application sets it.
    if (process.platform === 'linux')
      tries.push({ backend: 'opengles', flags: ['backend=opengles'], featureLevel: 'compatibility' });
  } else if (wanted === 'opengles' || wanted === 'opengl') {
    tries.push({ backend: wanted, flags: [`backend=${wanted}`], featureLevel: 'compatibility' });
  } else {
    tries.push({ backend: wanted, flags: [`backend=${wanted}`] });
  }
  const failures: string[] = [];
  for (const t of tries) {
    let adapter: GpuAdapter | null = null;
    let gpu: Gpu;
    try {
      gpu = dawn.create(t.flags);
      adapter = await gpu.requestAdapter(
        t.featureLevel ? { featureLevel: t.featureLevel } : { powerPreference: 'high-performance' },
      );
    } catch (e) {
      failures.push(`${t.backend}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    if (adapter === null) {
      failures.push(`${t.backend}: no adapter`);
      continue;
    }
    const lim = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize!,
        maxBufferSize: lim.maxBufferSize!,
        maxStorageBuffersPerShaderStage: Math.min(8, lim.maxStorageBuffersPerShaderStage!),
      },
    });
    return { instance: gpu, device, adapter, name: describe(adapter), backend: t.backend };
  }
  const hint =
    process.platform === 'linux' && tries.some((t) => t.backend.startsWith('opengl'))
      ? '; headless, OpenGL ES needs EGL_PLATFORM=surfaceless in the environment'
      : '';
  throw new GpuUnavailableError(`no WebGPU adapter is available (${failures.join('; ')}${hint})`);
}

/**
 * The process-wide WebGPU device (created on first use, on `options.backend`; later calls get the
 * same device whatever they ask for). Rejects with GpuUnavailableError.
 */
export function gpuContext(options: GpuContextOptions = {}): Promise<GpuContext> {
  if (shared === null) {
    shared = acquire(options.backend ?? 'auto');
    shared.catch(() => {
      shared = null;
    });
  }
  return shared;
}

/** Whether a WebGPU adapter can be had in this process (loads Dawn and requests a device once). */
export async function gpuAvailable(options: GpuContextOptions = {}): Promise<boolean> {
  try {
    await gpuContext(options);
    return true;
  } catch {
    return false;
  }
}

/** Destroys the process-wide device (a later call creates a new one). */
export async function releaseGpu(): Promise<void> {
  const s = shared;
  shared = null;
  if (s === null) return;
  try {
    (await s).device.destroy();
  } catch {
    // nothing to release
  }
}

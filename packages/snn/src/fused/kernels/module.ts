import { gemmTnKernel, matvecKernel, netRowsKernel, projKernel, rowsKernel } from './linear-algebra.js';
import { backwardKernel, forwardKernel, leakKernel, psiKernel } from './neuron.js';
import { adamKernel, axpyKernel, sumSquaresKernel } from './optimiser.js';
import { assemble, wasm, type WasmMemory, type WasmModule } from './wasm-emit.js';

/**
 * The fused engine's WebAssembly module: every kernel (linear-algebra.ts, neuron.ts, optimiser.ts)
 * assembled into one module in a fixed order, and the typed exports of an instance.
 */
export interface KernelExports {
  matvec_2x4(w: number, x: number, out: number, n: number, from: number, to: number, outStride: number): void;
  matvec_1x4(w: number, x: number, out: number, n: number, from: number, to: number, outStride: number): void;
  matvec_4x1(w: number, x: number, out: number, n: number, from: number, to: number, outStride: number): void;
  matvec_1x1(w: number, x: number, out: number, n: number, from: number, to: number, outStride: number): void;
  proj(...args: number[]): void;
  proj_add(...args: number[]): void;
  gather_rows(m: number, idx: number, q0: number, q1: number, v: number, n: number): void;
  scatter_rows(m: number, idx: number, q0: number, q1: number, v: number, n: number): void;
  gemm_tn(...args: number[]): void;
  forward_plain(...args: number[]): void;
  forward_adapt(...args: number[]): void;
  psi_fast_sigmoid(...args: number[]): void;
  psi_arctan(...args: number[]): void;
  backward_plain_hard(...args: number[]): void;
  backward_adapt_hard(...args: number[]): void;
  backward_plain_soft(...args: number[]): void;
  backward_adapt_soft(...args: number[]): void;
  adam(...args: number[]): void;
  gather_net(
    m: number,
    mStride: number,
    perNet: number,
    idx: number,
    off: number,
    v: number,
    rows: number,
    n: number,
  ): void;
  scatter_net(
    m: number,
    mStride: number,
    perNet: number,
    idx: number,
    off: number,
    v: number,
    rows: number,
    n: number,
  ): void;
  axpy(y: number, x: number, n: number, a: number): void;
  leak(dst: number, src: number, steps: number, n: number, stride: number, kappa: number, c: number): void;
  sum_squares(x: number, n: number): number;
}

let compiled: WasmModule | null = null;

/** The compiled kernel module (built once per process). */
export function kernelModule(): WasmModule {
  compiled ??= new wasm.Module(
    assemble([
      matvecKernel(2, 4),
      matvecKernel(1, 4),
      matvecKernel(4, 1),
      matvecKernel(1, 1),
      projKernel(false),
      projKernel(true),
      rowsKernel(false),
      rowsKernel(true),
      gemmTnKernel(),
      forwardKernel(false),
      forwardKernel(true),
      psiKernel('fast-sigmoid'),
      psiKernel('arctan'),
      backwardKernel(false, false),
      backwardKernel(true, false),
      backwardKernel(false, true),
      backwardKernel(true, true),
      adamKernel(),
      netRowsKernel(false),
      netRowsKernel(true),
      axpyKernel(),
      leakKernel(),
      sumSquaresKernel(),
    ]),
  );
  return compiled;
}

export function instantiateKernels(memory: WasmMemory): KernelExports {
  return new wasm.Instance(kernelModule(), { env: { memory } }).exports as unknown as KernelExports;
}

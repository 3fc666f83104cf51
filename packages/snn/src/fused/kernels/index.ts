export { instantiateKernels, kernelModule, type KernelExports } from './module.js';
export { matvec } from './linear-algebra.js';
export { wasm, type WasmMemory, type WasmModule } from './wasm-emit.js';

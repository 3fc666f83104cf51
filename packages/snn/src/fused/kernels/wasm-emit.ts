/**
 * A minimal WebAssembly emitter: just enough of the binary format to write a few numeric kernels
 * (i32/f32 scalars, f32x4 SIMD, loops) in TypeScript, without a toolchain. Pointers are byte
 * offsets into one imported memory (`env.memory`).
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

function uleb(n: number, out: number[]): void {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
}

function sleb(n: number, out: number[]): void {
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function utf8(s: string, out: number[]): void {
  const bytes = new TextEncoder().encode(s);
  uleb(bytes.length, out);
  for (const b of bytes) out.push(b);
}

/** A local variable (or parameter) of a function being built. */
export interface Local {
  readonly index: number;
  readonly type: ValType;
}

/** Builds one function body. Methods emit instructions in stack order and return `this`. */
export class Fn {
  readonly params: Local[] = [];
  readonly locals: Local[] = [];
  readonly code: number[] = [];

  constructor(
    readonly name: string,
    paramTypes: readonly ValType[],
    readonly result: ValType | null = null,
  ) {
    for (const t of paramTypes) this.params.push({ index: this.params.length, type: t });
  }

  /** Parameter i. */
  p(i: number): Local {
    return this.params[i]!;
  }

  local(type: ValType): Local {
    const l = { index: this.params.length + this.locals.length, type };
    this.locals.push(l);
    return l;
  }

  op(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  simd(opcode: number): this {
    this.code.push(0xfd);
    uleb(opcode, this.code);
    return this;
  }

  get(l: Local): this {
    this.code.push(0x20);
    uleb(l.index, this.code);
    return this;
  }

  set(l: Local): this {
    this.code.push(0x21);
    uleb(l.index, this.code);
    return this;
  }

  tee(l: Local): this {
    this.code.push(0x22);
    uleb(l.index, this.code);
    return this;
  }

  i32(n: number): this {
    this.code.push(0x41);
    sleb(n | 0, this.code);
    return this;
  }

  f32(x: number): this {
    this.code.push(0x43);
    const b = new Uint8Array(new Float32Array([x]).buffer);
    for (const v of b) this.code.push(v);
    return this;
  }

  // Scalar arithmetic and comparisons.
  add(): this {
    return this.op(0x6a);
  }
  sub(): this {
    return this.op(0x6b);
  }
  mul(): this {
    return this.op(0x6c);
  }
  and(): this {
    return this.op(0x71);
  }
  shl(): this {
    return this.op(0x74);
  }
  ltS(): this {
    return this.op(0x48);
  }
  geS(): this {
    return this.op(0x4e);
  }
  eqz(): this {
    return this.op(0x45);
  }
  fadd(): this {
    return this.op(0x92);
  }
  fsub(): this {
    return this.op(0x93);
  }
  fdiv(): this {
    return this.op(0x95);
  }
  fneg(): this {
    return this.op(0x8c);
  }
  fabs(): this {
    return this.op(0x8b);
  }
  fgt(): this {
    return this.op(0x5e);
  }
  /** f32 → f64, and f64 add. */
  promote(): this {
    return this.op(0xbb);
  }
  dadd(): this {
    return this.op(0xa0);
  }
  /** i32 (0 or 1) → f32. */
  fromI32(): this {
    return this.op(0xb3);
  }
  fmul(): this {
    return this.op(0x94);
  }
  feq(): this {
    return this.op(0x5b);
  }
  fne(): this {
    return this.op(0x5c);
  }
  drop(): this {
    return this.op(0x1a);
  }

  // Memory: alignment hint as log2 bytes, then a constant offset.
  loadI32(offset = 0): this {
    this.op(0x28, 2);
    uleb(offset, this.code);
    return this;
  }
  loadF32(offset = 0): this {
    this.op(0x2a, 2);
    uleb(offset, this.code);
    return this;
  }
  storeF32(offset = 0): this {
    this.op(0x38, 2);
    uleb(offset, this.code);
    return this;
  }
  storeI32(offset = 0): this {
    this.op(0x36, 2);
    uleb(offset, this.code);
    return this;
  }
  loadF64(offset = 0): this {
    this.op(0x2b, 3);
    uleb(offset, this.code);
    return this;
  }
  storeF64(offset = 0): this {
    this.op(0x39, 3);
    uleb(offset, this.code);
    return this;
  }
  loadV(offset = 0): this {
    this.simd(0x00);
    this.code.push(2);
    uleb(offset, this.code);
    return this;
  }
  storeV(offset = 0): this {
    this.simd(0x0b);
    this.code.push(2);
    uleb(offset, this.code);
    return this;
  }

  // f32x4.
  splat(): this {
    return this.simd(0x13);
  }
  lane(i: number): this {
    this.simd(0x1f);
    this.code.push(i);
    return this;
  }
  vadd(): this {
    return this.simd(0xe4);
  }
  vmul(): this {
    return this.simd(0xe6);
  }
  vsub(): this {
    return this.simd(0xe5);
  }
  vdiv(): this {
    return this.simd(0xe7);
  }
  vneg(): this {
    return this.simd(0xe1);
  }
  vabs(): this {
    return this.simd(0xe0);
  }
  /** f32x4.gt: lane masks. */
  vgt(): this {
    return this.simd(0x44);
  }
  vand(): this {
    return this.simd(0x4e);
  }
  anyTrue(): this {
    return this.simd(0x53);
  }
  /** i32x4.extract_lane. */
  ilane(i: number): this {
    this.simd(0x1b);
    this.code.push(i);
    return this;
  }
  vzero(): this {
    this.simd(0x0c);
    for (let i = 0; i < 16; i++) this.code.push(0);
    return this;
  }

  // Structured control.
  block(body: () => void): this {
    this.op(0x02, 0x40);
    body();
    return this.op(0x0b);
  }
  loop(body: () => void): this {
    this.op(0x03, 0x40);
    body();
    return this.op(0x0b);
  }
  /** Runs `body` if the i32 on the stack is non-zero. */
  if(body: () => void): this {
    this.op(0x04, 0x40);
    body();
    return this.op(0x0b);
  }
  br(depth: number): this {
    this.op(0x0c);
    uleb(depth, this.code);
    return this;
  }
  brIf(depth: number): this {
    this.op(0x0d);
    uleb(depth, this.code);
    return this;
  }

  /**
   * for (v = from; v + step <= to; v += step) body — `from`/`to` emit an i32 each. The loop is
   * skipped when empty; `body` may not branch out of it.
   */
  forStep(v: Local, from: () => void, to: Local, step: number, body: () => void): this {
    from();
    this.set(v);
    return this.block(() => {
      this.get(v).i32(step).add().get(to).op(0x4a).brIf(0); // v + step > to → exit
      this.loop(() => {
        body();
        this.get(v).i32(step).add().tee(v).i32(step).add().get(to).op(0x4c).brIf(0); // v + step <= to → again
      });
    });
  }

  /** Adds `by` (an i32 constant) to a local. */
  inc(v: Local, by: number): this {
    return this.get(v).i32(by).add().set(v);
  }
}

/** Assembles functions into a module that imports `env.memory` and exports every function. */
export function assemble(fns: readonly Fn[]): Uint8Array {
  const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const section = (id: number, body: number[]) => {
    out.push(id);
    uleb(body.length, out);
    for (const b of body) out.push(b);
  };
  const types: number[] = [];
  uleb(fns.length, types);
  for (const f of fns) {
    types.push(0x60);
    uleb(f.params.length, types);
    for (const p of f.params) types.push(p.type);
    if (f.result === null) types.push(0);
    else types.push(1, f.result);
  }
  section(1, types);
  const imports: number[] = [];
  uleb(1, imports);
  utf8('env', imports);
  utf8('memory', imports);
  imports.push(0x02, 0x00);
  uleb(1, imports);
  section(2, imports);
  const funcs: number[] = [];
  uleb(fns.length, funcs);
  fns.forEach((_, i) => uleb(i, funcs));
  section(3, funcs);
  const exports: number[] = [];
  uleb(fns.length, exports);
  fns.forEach((f, i) => {
    utf8(f.name, exports);
    exports.push(0x00);
    uleb(i, exports);
  });
  section(7, exports);
  const code: number[] = [];
  uleb(fns.length, code);
  for (const f of fns) {
    const body: number[] = [];
    uleb(f.locals.length, body);
    for (const l of f.locals) {
      uleb(1, body);
      body.push(l.type);
    }
    for (const b of f.code) body.push(b);
    body.push(0x0b);
    uleb(body.length, code);
    for (const b of body) code.push(b);
  }
  section(10, code);
  return Uint8Array.from(out);
}

/** The parts of the WebAssembly JS API used here (the project's lib settings do not declare them). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export type WasmModule = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: object };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  validate(bytes: Uint8Array): boolean;
}

export const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

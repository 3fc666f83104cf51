import { F32, Fn, V128, type Local } from './wasm-emit.js';

/**
 * The per-neuron updates of the fused engine as WebAssembly kernels. Each body is written once
 * against `Lanes` and emitted twice: on f32x4 for the whole vectors of a row, and on f32 for the
 * remaining neurons, so every neuron gets the same float32 arithmetic.
 */
export class Lanes {
  constructor(
    readonly f: Fn,
    readonly vec: boolean,
  ) {}

  get type(): typeof V128 | typeof F32 {
    return this.vec ? V128 : F32;
  }

  /** Pushes the value at ptr + off. */
  load(ptr: Local, off: Local): this {
    this.f.get(ptr).get(off).add();
    if (this.vec) this.f.loadV();
    else this.f.loadF32();
    return this;
  }

  /** Stores the value that `value` pushes at ptr + off. */
  store(ptr: Local, off: Local, value: () => void): this {
    this.f.get(ptr).get(off).add();
    value();
    if (this.vec) this.f.storeV();
    else this.f.storeF32();
    return this;
  }

  /** ptr[off] += the value that `value` pushes. */
  accumulate(ptr: Local, off: Local, value: () => void): this {
    return this.store(ptr, off, () => {
      this.load(ptr, off);
      value();
      this.add();
    });
  }

  c(x: number): this {
    this.f.f32(x);
    if (this.vec) this.f.splat();
    return this;
  }

  /** A scalar f32 local, broadcast when on vectors. */
  scalar(l: Local): this {
    this.f.get(l);
    if (this.vec) this.f.splat();
    return this;
  }

  add(): this {
    if (this.vec) this.f.vadd();
    else this.f.fadd();
    return this;
  }
  sub(): this {
    if (this.vec) this.f.vsub();
    else this.f.fsub();
    return this;
  }
  mul(): this {
    if (this.vec) this.f.vmul();
    else this.f.fmul();
    return this;
  }
  div(): this {
    if (this.vec) this.f.vdiv();
    else this.f.fdiv();
    return this;
  }
  neg(): this {
    if (this.vec) this.f.vneg();
    else this.f.fneg();
    return this;
  }
  abs(): this {
    if (this.vec) this.f.vabs();
    else this.f.fabs();
    return this;
  }
}

/** Emits `body` for the vectors of a row (byte offset `ib` in steps of 16) and then the scalar tail. */
export function overRow(f: Fn, ib: Local, nBytes: Local, n4Bytes: Local, body: (L: Lanes) => void): void {
  f.forStep(
    ib,
    () => f.i32(0),
    n4Bytes,
    16,
    () => body(new Lanes(f, true)),
  );
  f.forStep(
    ib,
    () => f.get(n4Bytes),
    nBytes,
    4,
    () => body(new Lanes(f, false)),
  );
}

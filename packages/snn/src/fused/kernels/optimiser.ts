import { F32, F64, Fn, I32, V128, type Local, type ValType } from './wasm-emit.js';
import { overRow } from './lanes.js';

/** The optimiser's kernels of the fused engine: Adam, axpy (decay, SGD, L2 terms) and the sum of squares (clip norm). */

/** Adam on n floats: m, v updated in place, w −= lr (m / bc1) / (√(v / bc2) + ε), with g scaled by `scale`. */
export function adamKernel(): Fn {
  const names = 'w g m v n'.split(' ');
  const f = new Fn('adam', [...names.map((): ValType => I32), F32, F32, F32, F32, F32, F32, F32, F32, F32]);
  const [w, g, m, v, n, scale, lr, b1, omb1, b2, omb2, bc1, bc2, eps] = f.params as Local[];
  const ib = f.local(I32);
  const nBytes = f.local(I32);
  const n4Bytes = f.local(I32);
  const vg = f.local(V128);
  const vm = f.local(V128);
  const vv = f.local(V128);
  const sg = f.local(F32);
  const sm = f.local(F32);
  const sv = f.local(F32);
  f.get(n!).i32(2).shl().set(nBytes);
  f.get(n!).i32(-4).and().i32(2).shl().set(n4Bytes);
  overRow(f, ib, nBytes, n4Bytes, (L) => {
    const [G, M, Vv] = L.vec ? [vg, vm, vv] : [sg, sm, sv];
    L.load(g!, ib).scalar(scale!).mul();
    f.set(G);
    L.scalar(b1!).load(m!, ib).mul().scalar(omb1!);
    f.get(G);
    L.mul().add();
    f.set(M);
    L.store(m!, ib, () => f.get(M));
    L.scalar(b2!).load(v!, ib).mul().scalar(omb2!);
    f.get(G).get(G);
    L.mul().mul().add();
    f.set(Vv);
    L.store(v!, ib, () => f.get(Vv));
    L.store(w!, ib, () => {
      L.load(w!, ib).scalar(lr!);
      f.get(M);
      L.scalar(bc1!).div();
      f.get(Vv);
      L.scalar(bc2!).div();
      if (L.vec) f.simd(0xe3);
      else f.op(0x91); // sqrt
      L.scalar(eps!).add().div().mul().sub();
    });
  });
  return f;
}

/** y += a x over n floats. */
export function axpyKernel(): Fn {
  const f = new Fn('axpy', [I32, I32, I32, F32]);
  const [y, x, n, a] = f.params as Local[];
  const ib = f.local(I32);
  const nBytes = f.local(I32);
  const n4Bytes = f.local(I32);
  f.get(n!).i32(2).shl().set(nBytes);
  f.get(n!).i32(-4).and().i32(2).shl().set(n4Bytes);
  overRow(f, ib, nBytes, n4Bytes, (L) => {
    L.accumulate(y!, ib, () => {
      L.scalar(a!).load(x!, ib).mul();
    });
  });
  return f;
}

/** Σ x² over n floats (four f32 lanes and a tail, summed in f64). */
export function sumSquaresKernel(): Fn {
  const f = new Fn('sum_squares', [I32, I32], F64);
  const [x, n] = f.params as Local[];
  const ib = f.local(I32);
  const nBytes = f.local(I32);
  const n4Bytes = f.local(I32);
  const acc = f.local(V128);
  const tail = f.local(F32);
  f.get(n!).i32(2).shl().set(nBytes);
  f.get(n!).i32(-4).and().i32(2).shl().set(n4Bytes);
  f.vzero().set(acc).f32(0).set(tail);
  overRow(f, ib, nBytes, n4Bytes, (L) => {
    const a = L.vec ? acc : tail;
    f.get(a);
    L.load(x!, ib).load(x!, ib).mul().add();
    f.set(a);
  });
  f.get(acc).lane(0).get(acc).lane(1).fadd().get(acc).lane(2).get(acc).lane(3).fadd().fadd().promote();
  f.get(tail).promote().dadd();
  return f;
}

import type { KernelExports } from './module.js';
import { F32, Fn, I32, V128, type Local } from './wasm-emit.js';

/**
 * The linear-algebra kernels of the fused engine, as WebAssembly SIMD (f32x4). Every output
 * element is a sum taken in one fixed order (sequential over the summed index, in four lanes
 * where the summed index is contiguous), whatever blocking a call uses, so results do not depend
 * on batch size or on how many networks share a call. Pointers are byte offsets; counts are floats.
 */

/** Emits `acc(k) += W[row r] · x[trial b]` over j-vectors, for an R × Tb block (R rows, Tb trials). */
export function matvecKernel(R: number, Tb: number): Fn {
  // (w, x, out, n, rowFrom, rowTo, outStride) — out[b][i] = Σ_j W[i][j] x[b][j], for b < Tb.
  const f = new Fn(`matvec_${R}x${Tb}`, [I32, I32, I32, I32, I32, I32, I32]);
  const [w, x, out, n, rowFrom, rowTo, outStride] = f.params as [Local, Local, Local, Local, Local, Local, Local];
  const i = f.local(I32);
  const j = f.local(I32);
  const n4 = f.local(I32);
  const rowBytes = f.local(I32);
  const wr: Local[] = [];
  for (let r = 0; r < R; r++) wr.push(f.local(I32));
  const xb: Local[] = [];
  for (let b = 0; b < Tb; b++) xb.push(f.local(I32));
  const acc: Local[] = [];
  const tail: Local[] = [];
  for (let k = 0; k < R * Tb; k++) {
    acc.push(f.local(V128));
    tail.push(f.local(F32));
  }
  const wv: Local[] = [];
  for (let r = 0; r < R; r++) wv.push(f.local(V128));
  const ws = f.local(F32);
  const jb = f.local(I32);
  const xv = f.local(V128);
  f.get(n).i32(-4).and().set(n4);
  f.get(n).i32(2).shl().set(rowBytes);
  f.forStep(
    i,
    () => f.get(rowFrom),
    rowTo,
    R,
    () => {
      for (let r = 0; r < R; r++) {
        f.get(w).get(i).i32(r).add().get(rowBytes).mul().add().set(wr[r]!);
      }
      for (let b = 0; b < Tb; b++) {
        f.get(x).i32(b).get(rowBytes).mul().add().set(xb[b]!);
      }
      for (let k = 0; k < R * Tb; k++) {
        f.vzero().set(acc[k]!);
        f.f32(0).set(tail[k]!);
      }
      f.forStep(
        j,
        () => f.i32(0),
        n4,
        4,
        () => {
          f.get(j).i32(2).shl().set(jb);
          for (let r = 0; r < R; r++) f.get(wr[r]!).get(jb).add().loadV().set(wv[r]!);
          for (let b = 0; b < Tb; b++) {
            f.get(xb[b]!).get(jb).add().loadV().set(xv);
            for (let r = 0; r < R; r++) {
              const k = r * Tb + b;
              f.get(acc[k]!).get(wv[r]!).get(xv).vmul().vadd().set(acc[k]!);
            }
          }
        },
      );
      f.forStep(
        j,
        () => f.get(n4),
        n,
        1,
        () => {
          for (let r = 0; r < R; r++) {
            f.get(wr[r]!).get(j).i32(2).shl().add().loadF32().set(ws);
            for (let b = 0; b < Tb; b++) {
              const k = r * Tb + b;
              f.get(tail[k]!).get(ws).get(xb[b]!).get(j).i32(2).shl().add().loadF32().fmul().fadd().set(tail[k]!);
            }
          }
        },
      );
      for (let r = 0; r < R; r++) {
        for (let b = 0; b < Tb; b++) {
          const k = r * Tb + b;
          // out[b*outStride + i + r] = ((l0 + l1) + (l2 + l3)) + tail
          f.get(out).i32(b).get(outStride).mul().get(i).add().i32(r).add().i32(2).shl().add();
          f.get(acc[k]!).lane(0).get(acc[k]!).lane(1).fadd();
          f.get(acc[k]!).lane(2).get(acc[k]!).lane(3).fadd();
          f.fadd().get(tail[k]!).fadd().storeF32();
        }
      }
    },
  );
  return f;
}

/**
 * Y[r][0..n) (=, or += when `accumulate`) Σ_k X[r][k] · W[k][0..n), skipping zero X, for rows
 * r = g·perGroup + q (group stride in bytes for X and Y; rows within a group contiguous).
 */
export function projKernel(accumulate: boolean): Fn {
  // (x, xRow, xGroup, w, y, yGroup, groups, perGroup, k, n)
  const f = new Fn(accumulate ? 'proj_add' : 'proj', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [x, xRow, xGroup, w, y, yGroup, groups, perGroup, kk, n] = f.params as Local[] as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ];
  const g = f.local(I32);
  const q = f.local(I32);
  const xr = f.local(I32);
  const yr = f.local(I32);
  const i = f.local(I32);
  const k = f.local(I32);
  const xv = f.local(F32);
  const xs = f.local(V128);
  const wk = f.local(I32);
  const rowBytes = f.local(I32);
  const n32 = f.local(I32);
  const n4 = f.local(I32);
  const BL = 8;
  const acc: Local[] = [];
  for (let m = 0; m < BL; m++) acc.push(f.local(V128));
  const sc = f.local(F32);
  f.get(n).i32(2).shl().set(rowBytes);
  const [n16, n8] = blockBounds(f, n, n32, n4);
  f.forStep(
    g,
    () => f.i32(0),
    groups,
    1,
    () => {
      f.forStep(
        q,
        () => f.i32(0),
        perGroup,
        1,
        () => {
          f.get(x).get(g).get(xGroup).mul().add().get(q).get(xRow).mul().add().set(xr);
          f.get(y).get(g).get(yGroup).mul().add().get(q).get(rowBytes).mul().add().set(yr);
          const block = (width: number, from: () => void, to: Local) => {
            f.forStep(i, from, to, width * 4, () => {
              for (let m = 0; m < width; m++) {
                if (accumulate) {
                  f.get(yr)
                    .get(i)
                    .i32(2)
                    .shl()
                    .add()
                    .loadV(16 * m)
                    .set(acc[m]!);
                } else f.vzero().set(acc[m]!);
              }
              f.get(w).get(i).i32(2).shl().add().set(wk);
              f.forStep(
                k,
                () => f.i32(0),
                kk,
                1,
                () => {
                  f.get(xr).get(k).i32(2).shl().add().loadF32().tee(xv).f32(0).fne();
                  f.if(() => {
                    f.get(xv).splat().set(xs);
                    for (let m = 0; m < width; m++) {
                      f.get(acc[m]!)
                        .get(xs)
                        .get(wk)
                        .loadV(16 * m)
                        .vmul()
                        .vadd()
                        .set(acc[m]!);
                    }
                  });
                  f.get(wk).get(rowBytes).add().set(wk);
                },
              );
              for (let m = 0; m < width; m++) {
                f.get(yr)
                  .get(i)
                  .i32(2)
                  .shl()
                  .add()
                  .get(acc[m]!)
                  .storeV(16 * m);
              }
            });
          };
          widthBlocks(f, block, n32, n16, n8, n4);
          // Scalar tail.
          f.forStep(
            i,
            () => f.get(n4),
            n,
            1,
            () => {
              if (accumulate) f.get(yr).get(i).i32(2).shl().add().loadF32().set(sc);
              else f.f32(0).set(sc);
              f.get(w).get(i).i32(2).shl().add().set(wk);
              f.forStep(
                k,
                () => f.i32(0),
                kk,
                1,
                () => {
                  f.get(xr).get(k).i32(2).shl().add().loadF32().tee(xv).f32(0).fne();
                  f.if(() => {
                    f.get(sc).get(xv).get(wk).loadF32().fmul().fadd().set(sc);
                  });
                  f.get(wk).get(rowBytes).add().set(wk);
                },
              );
              f.get(yr).get(i).i32(2).shl().add().get(sc).storeF32();
            },
          );
        },
      );
    },
  );
  return f;
}

/**
 * The bounds of the column blocks after the 32-float ones: n32 = n rounded down to 32, then at most
 * one block of 16 floats (to n16), one of 8 (to n8) and whole vectors one at a time (to n4). Narrow
 * blocks keep several independent accumulators in flight, so a width under 32 does not wait on one
 * addition chain; each element is still summed in the same order.
 */
function blockBounds(f: Fn, n: Local, n32: Local, n4: Local): [Local, Local] {
  const n16 = f.local(I32);
  const n8 = f.local(I32);
  f.get(n).i32(-32).and().set(n32);
  f.get(n).i32(-4).and().set(n4);
  f.get(n32).get(n4).get(n32).sub().i32(-16).and().add().set(n16);
  f.get(n16).get(n4).get(n16).sub().i32(-8).and().add().set(n8);
  return [n16, n8];
}

/** Runs `block` of 8, 4, 2 and 1 vectors over [0, n32), [n32, n16), [n16, n8) and [n8, n4). */
function widthBlocks(
  f: Fn,
  block: (width: number, from: () => void, to: Local) => void,
  n32: Local,
  n16: Local,
  n8: Local,
  n4: Local,
): void {
  block(8, () => f.i32(0), n32);
  block(4, () => f.get(n32), n16);
  block(2, () => f.get(n16), n8);
  block(1, () => f.get(n8), n4);
}

/**
 * gather: y[0..n) += Σ_q W[idx[q]][0..n); scatter: G[idx[q]][0..n) += v[0..n), for q in [q0, q1).
 * idx holds i32 row numbers.
 */
export function rowsKernel(scatter: boolean): Fn {
  // (m, idx, q0, q1, v, n)
  const f = new Fn(scatter ? 'scatter_rows' : 'gather_rows', [I32, I32, I32, I32, I32, I32]);
  const [m, idx, q0, q1, v, n] = f.params as [Local, Local, Local, Local, Local, Local];
  const q = f.local(I32);
  const row = f.local(I32);
  const i = f.local(I32);
  const n4 = f.local(I32);
  const a = f.local(I32);
  const b = f.local(I32);
  f.get(n).i32(-4).and().set(n4);
  f.forStep(
    q,
    () => f.get(q0),
    q1,
    1,
    () => {
      f.get(m).get(idx).get(q).i32(2).shl().add().loadI32().get(n).mul().i32(2).shl().add().set(row);
      // target a += source b
      if (scatter) {
        f.get(row).set(a);
        f.get(v).set(b);
      } else {
        f.get(v).set(a);
        f.get(row).set(b);
      }
      f.forStep(
        i,
        () => f.i32(0),
        n4,
        4,
        () => {
          f.get(a).get(i).i32(2).shl().add();
          f.get(a).get(i).i32(2).shl().add().loadV();
          f.get(b).get(i).i32(2).shl().add().loadV();
          f.vadd().storeV();
        },
      );
      f.forStep(
        i,
        () => f.get(n4),
        n,
        1,
        () => {
          f.get(a).get(i).i32(2).shl().add();
          f.get(a).get(i).i32(2).shl().add().loadF32();
          f.get(b).get(i).i32(2).shl().add().loadF32();
          f.fadd().storeF32();
        },
      );
    },
  );
  return f;
}

/**
 * For `rows` consecutive rows r (perNet per network, whose matrices are mStride bytes apart): the
 * spike list spikeIdx[off[r] .. off[r+1]) of row r; gather adds those rows of the network's matrix
 * to v[r]; scatter adds v[r] to those rows.
 */
export function netRowsKernel(scatter: boolean): Fn {
  // (m, mStride, perNet, idx, off, v, rows, n)
  const f = new Fn(scatter ? 'scatter_net' : 'gather_net', [I32, I32, I32, I32, I32, I32, I32, I32]);
  const [m, mStride, perNet, idx, off, v, rows, n] = f.params as Local[] as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ];
  const r = f.local(I32);
  const q = f.local(I32);
  const q1 = f.local(I32);
  const mat = f.local(I32);
  const vec = f.local(I32);
  const row = f.local(I32);
  const i = f.local(I32);
  const n4 = f.local(I32);
  const a = f.local(I32);
  const b = f.local(I32);
  f.get(n).i32(-4).and().set(n4);
  f.forStep(
    r,
    () => f.i32(0),
    rows,
    1,
    () => {
      f.get(m).get(r).get(perNet).op(0x6e).get(mStride).mul().add().set(mat);
      f.get(v).get(r).get(n).mul().i32(2).shl().add().set(vec);
      f.get(off).get(r).i32(2).shl().add().loadI32(4).set(q1);
      f.forStep(
        q,
        () => f.get(off).get(r).i32(2).shl().add().loadI32(),
        q1,
        1,
        () => {
          f.get(mat).get(idx).get(q).i32(2).shl().add().loadI32().get(n).mul().i32(2).shl().add().set(row);
          if (scatter) {
            f.get(row).set(a);
            f.get(vec).set(b);
          } else {
            f.get(vec).set(a);
            f.get(row).set(b);
          }
          f.forStep(
            i,
            () => f.i32(0),
            n4,
            4,
            () => {
              f.get(a).get(i).i32(2).shl().add();
              f.get(a).get(i).i32(2).shl().add().loadV();
              f.get(b).get(i).i32(2).shl().add().loadV();
              f.vadd().storeV();
            },
          );
          f.forStep(
            i,
            () => f.get(n4),
            n,
            1,
            () => {
              f.get(a).get(i).i32(2).shl().add();
              f.get(a).get(i).i32(2).shl().add().loadF32();
              f.get(b).get(i).i32(2).shl().add().loadF32();
              f.fadd().storeF32();
            },
          );
        },
      );
    },
  );
  return f;
}

/**
 * G[k][0..n) += Σ_r X[r][k] · D[r][0..n), skipping zero X, over rows r = g·perGroup + q (X rows
 * xRow bytes apart, groups xGroup apart; D rows n floats apart, groups dGroup apart).
 */
export function gemmTnKernel(): Fn {
  // (x, xRow, xGroup, d, dGroup, groups, perGroup, k, n, g)
  const f = new Fn('gemm_tn', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [x, xRow, xGroup, d, dGroup, groups, perGroup, kk, n, gm] = f.params as Local[] as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ];
  const k = f.local(I32);
  const i = f.local(I32);
  const g = f.local(I32);
  const q = f.local(I32);
  const xp = f.local(I32);
  const dp = f.local(I32);
  const grow = f.local(I32);
  const xv = f.local(F32);
  const xs = f.local(V128);
  const rowBytes = f.local(I32);
  const n32 = f.local(I32);
  const n4 = f.local(I32);
  const sc = f.local(F32);
  const BL = 8;
  const acc: Local[] = [];
  for (let m = 0; m < BL; m++) acc.push(f.local(V128));
  f.get(n).i32(2).shl().set(rowBytes);
  const [n16, n8] = blockBounds(f, n, n32, n4);
  const rows = (body: () => void) => {
    f.forStep(
      g,
      () => f.i32(0),
      groups,
      1,
      () => {
        f.get(x).get(g).get(xGroup).mul().add().get(k).i32(2).shl().add().set(xp);
        f.get(d).get(g).get(dGroup).mul().add().get(i).i32(2).shl().add().set(dp);
        f.forStep(
          q,
          () => f.i32(0),
          perGroup,
          1,
          () => {
            f.get(xp).loadF32().tee(xv).f32(0).fne();
            f.if(body);
            f.get(xp).get(xRow).add().set(xp);
            f.get(dp).get(rowBytes).add().set(dp);
          },
        );
      },
    );
  };
  f.forStep(
    k,
    () => f.i32(0),
    kk,
    1,
    () => {
      f.get(gm).get(k).get(rowBytes).mul().add().set(grow);
      const block = (width: number, from: () => void, to: Local) => {
        f.forStep(i, from, to, width * 4, () => {
          for (let m = 0; m < width; m++) {
            f.get(grow)
              .get(i)
              .i32(2)
              .shl()
              .add()
              .loadV(16 * m)
              .set(acc[m]!);
          }
          rows(() => {
            f.get(xv).splat().set(xs);
            for (let m = 0; m < width; m++) {
              f.get(acc[m]!)
                .get(xs)
                .get(dp)
                .loadV(16 * m)
                .vmul()
                .vadd()
                .set(acc[m]!);
            }
          });
          for (let m = 0; m < width; m++) {
            f.get(grow)
              .get(i)
              .i32(2)
              .shl()
              .add()
              .get(acc[m]!)
              .storeV(16 * m);
          }
        });
      };
      widthBlocks(f, block, n32, n16, n8, n4);
      f.forStep(
        i,
        () => f.get(n4),
        n,
        1,
        () => {
          f.get(grow).get(i).i32(2).shl().add().loadF32().set(sc);
          rows(() => {
            f.get(sc).get(xv).get(dp).loadF32().fmul().fadd().set(sc);
          });
          f.get(grow).get(i).i32(2).shl().add().get(sc).storeF32();
        },
      );
    },
  );
  return f;
}

/**
 * out[b][i] = Σ_j W[i][j] x[b][j] for i < rows, b < trials; W is rows × n, x is trials × n,
 * out rows are outStride floats apart. Byte pointers.
 */
export function matvec(
  k: KernelExports,
  w: number,
  x: number,
  out: number,
  rows: number,
  n: number,
  trials: number,
  outStride: number,
): void {
  let b = 0;
  const rowBytes = n * 4;
  for (; b + 4 <= trials; b += 4) {
    const xb = x + b * rowBytes;
    const ob = out + b * outStride * 4;
    const even = rows - (rows % 2);
    k.matvec_2x4(w, xb, ob, n, 0, even, outStride);
    if (even < rows) k.matvec_1x4(w, xb, ob, n, even, rows, outStride);
  }
  for (; b < trials; b++) {
    const xb = x + b * rowBytes;
    const ob = out + b * outStride * 4;
    const four = rows - (rows % 4);
    k.matvec_4x1(w, xb, ob, n, 0, four, outStride);
    if (four < rows) k.matvec_1x1(w, xb, ob, n, four, rows, outStride);
  }
}

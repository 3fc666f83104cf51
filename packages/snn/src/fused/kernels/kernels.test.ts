import { describe, expect, it } from 'vitest';
import { instantiateKernels, matvec, wasm } from './index.js';

/**
 * The matrix kernels against plain loops, on sizes that exercise every blocking path and tail
 * (rows and lengths not multiples of 2, 4 or 32; trial counts not multiples of 4; zero inputs).
 */
describe('WebAssembly kernels', () => {
  const memory = new wasm.Memory({ initial: 64 });
  const k = instantiateKernels(memory);
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  let seed = 7;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  const fill = (at: number, n: number, zeros = 0) => {
    for (let i = 0; i < n; i++) f32[at / 4 + i] = rnd() + 0.5 < zeros ? 0 : rnd();
  };
  const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));

  it('leak: dst[k] = κ dst[k−1] + c src[k], forwards and backwards (in place)', () => {
    for (const n of [1, 3, 4, 9, 100]) {
      const steps = 7;
      const stride = (n + 5) * 4;
      const D = 4 * 1000;
      const S = 4 * 60000;
      fill(D, (steps + 1) * (n + 5));
      fill(S, (steps + 1) * (n + 5));
      const dst0 = Float32Array.from(f32.subarray(D / 4, D / 4 + (steps + 1) * (n + 5)));
      const src = Float32Array.from(f32.subarray(S / 4, S / 4 + (steps + 1) * (n + 5)));
      // Forwards from row 1 (row 0 is the initial state).
      k.leak(D + stride, S + stride, steps, n, stride, 0.9, 0.1);
      const want = Float32Array.from(dst0);
      for (let t = 1; t <= steps; t++) {
        for (let i = 0; i < n; i++) {
          const at = (t * stride) / 4 + i;
          want[at] = Math.fround(0.9 * want[at - stride / 4]! + 0.1 * src[at]!);
        }
      }
      for (let i = 0; i < want.length; i++) close(f32[D / 4 + i]!, want[i]!);
      // Backwards in place: row t += κ row t+1, from the second-last row down to row 0.
      const before = Float32Array.from(f32.subarray(D / 4, D / 4 + want.length));
      const last = (steps - 1) * stride;
      k.leak(D + last, D + last, steps, n, -stride, 0.5, 1);
      for (let t = steps - 1; t >= 0; t--) {
        for (let i = 0; i < n; i++) {
          const at = (t * stride) / 4 + i;
          before[at] = Math.fround(0.5 * before[at + stride / 4]! + before[at]!);
        }
      }
      for (let i = 0; i < before.length; i++) close(f32[D / 4 + i]!, before[i]!);
    }
  });

  it('matvec: out[b][i] = Σ_j W[i][j] x[b][j]', () => {
    for (const n of [1, 3, 4, 7, 33, 100]) {
      for (const trials of [1, 2, 4, 5, 9]) {
        const W = 0;
        const X = 4 * 20000;
        const O = 4 * 40000;
        fill(W, n * n);
        fill(X, trials * n);
        matvec(k, W, X, O, n, n, trials, n + 3);
        for (let b = 0; b < trials; b++) {
          for (let i = 0; i < n; i++) {
            let s = 0;
            for (let j = 0; j < n; j++) s += f32[W / 4 + i * n + j]! * f32[X / 4 + b * n + j]!;
            close(f32[O / 4 + b * (n + 3) + i]!, s);
          }
        }
      }
    }
  });

  it('proj and proj_add: Y[r] (+)= Σ_k X[r][k] W[k], skipping zero inputs, each sum in k order', () => {
    // Widths that reach every column block (32, 16, 8 and 4 floats, and the scalar tail).
    for (const n of [1, 5, 8, 30, 32, 37, 60, 100]) {
      for (const add of [false, true]) {
        const kk = 11;
        const groups = 3;
        const per = 2;
        const X = 0;
        const W = 4 * 4000;
        const Y = 4 * 20000;
        const xRow = kk * 4 + 8;
        const xGroup = per * xRow + 16;
        const yGroup = (per * n + 5) * 4;
        fill(X, 4000, 0.4);
        fill(W, kk * n);
        fill(Y, groups * (per * n + 5));
        const before = f32.slice(Y / 4, Y / 4 + groups * (per * n + 5));
        (add ? k.proj_add : k.proj)(X, xRow, xGroup, W, Y, yGroup, groups, per, kk, n);
        for (let g = 0; g < groups; g++) {
          for (let q = 0; q < per; q++) {
            for (let i = 0; i < n; i++) {
              const y = (g * yGroup) / 4 + q * n + i;
              // float32 arithmetic, summed over k in order: the kernel's result to the bit.
              let s = add ? before[y]! : 0;
              for (let c = 0; c < kk; c++) {
                const x = f32[(X + g * xGroup + q * xRow) / 4 + c]!;
                if (x !== 0) s = Math.fround(s + Math.fround(x * f32[W / 4 + c * n + i]!));
              }
              expect(f32[Y / 4 + y]).toBe(s);
            }
          }
        }
      }
    }
  });

  it('gather_rows and scatter_rows over a spike list', () => {
    for (const n of [1, 6, 100, 101]) {
      for (const scatter of [false, true]) {
        const M = 0;
        const IDX = 4 * 30000;
        const V = 4 * 31000;
        fill(M, 20 * n);
        fill(V, n);
        const idx = [3, 7, 7, 19, 0];
        idx.forEach((r, q) => (i32[IDX / 4 + q] = r));
        const m0 = f32.slice(0, 20 * n);
        const v0 = f32.slice(V / 4, V / 4 + n);
        (scatter ? k.scatter_rows : k.gather_rows)(M, IDX, 1, 5, V, n);
        for (const r of idx.slice(1)) {
          for (let i = 0; i < n; i++) {
            if (scatter) m0[r * n + i] = m0[r * n + i]! + v0[i]!;
            else v0[i] = v0[i]! + m0[r * n + i]!;
          }
        }
        if (scatter) for (let i = 0; i < 20 * n; i++) close(f32[i]!, m0[i]!);
        else for (let i = 0; i < n; i++) close(f32[V / 4 + i]!, v0[i]!);
      }
    }
  });

  it('gemm_tn: G[k] += Σ_r X[r][k] D[r], each sum in row order', () => {
    for (const n of [1, 6, 12, 30, 32, 45, 60, 100]) {
      const kk = 5;
      const groups = 4;
      const per = 3;
      const X = 0;
      const D = 4 * 1000;
      const G = 4 * 30000;
      const xRow = kk * 4 + 4;
      const xGroup = per * xRow + 12;
      const dGroup = (per * n + 8) * 4;
      fill(X, 1000, 0.3);
      fill(D, groups * (per * n + 8));
      fill(G, kk * n);
      const g0 = f32.slice(G / 4, G / 4 + kk * n);
      k.gemm_tn(X, xRow, xGroup, D, dGroup, groups, per, kk, n, G);
      for (let c = 0; c < kk; c++) {
        for (let i = 0; i < n; i++) {
          let s = g0[c * n + i]!;
          for (let g = 0; g < groups; g++) {
            for (let q = 0; q < per; q++) {
              const x = f32[(X + g * xGroup + q * xRow) / 4 + c]!;
              if (x !== 0) s = Math.fround(s + Math.fround(x * f32[(D + g * dGroup) / 4 + q * n + i]!));
            }
          }
          expect(f32[G / 4 + c * n + i]).toBe(s);
        }
      }
    }
  });

  it('axpy and sum_squares', () => {
    for (const n of [1, 3, 4, 9, 64]) {
      fill(0, n);
      fill(4 * 1000, n);
      const y0 = f32.slice(0, n);
      k.axpy(0, 4 * 1000, n, 0.5);
      let sq = 0;
      for (let i = 0; i < n; i++) {
        close(f32[i]!, y0[i]! + 0.5 * f32[1000 + i]!);
        sq += f32[i]! ** 2;
      }
      close(k.sum_squares(0, n), sq);
    }
  });
});

import type { Rng } from '@ip2/snn';

/**
 * `n` orthonormal vectors in R^dim (n ≤ dim): Gaussian draws, orthonormalised by modified
 * Gram–Schmidt with a second pass, which keeps float64 round-off far below float32's resolution.
 * A draw left nearly parallel to the earlier ones (probability ~0) is redrawn.
 */
export function orthonormalVectors(rng: Rng, n: number, dim: number): Float32Array[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`need a non-negative integer count, got ${n}`);
  if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`need a positive integer dimension, got ${dim}`);
  if (n > dim) throw new RangeError(`cannot draw ${n} orthonormal vectors in R^${dim}`);
  const basis: Float64Array[] = [];
  while (basis.length < n) {
    const v = new Float64Array(dim);
    for (let i = 0; i < dim; i++) v[i] = rng.normal();
    const before = norm(v);
    for (let pass = 0; pass < 2; pass++) {
      for (const q of basis) {
        const p = dot(v, q);
        for (let i = 0; i < dim; i++) v[i] = (v[i] as number) - p * (q[i] as number);
      }
    }
    const after = norm(v);
    if (after < 1e-6 * before || after === 0) continue;
    for (let i = 0; i < dim; i++) v[i] = (v[i] as number) / after;
    basis.push(v);
  }
  return basis.map((v) => Float32Array.from(v));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

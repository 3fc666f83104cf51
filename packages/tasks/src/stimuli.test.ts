import { Rng } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import { orthonormalVectors } from './stimuli.js';

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

describe('orthonormalVectors', () => {
  it.each([1, 2, 3, 6, 8, 10])('draws %i orthonormal unit vectors in R^10', (n) => {
    const vs = orthonormalVectors(Rng.seeded(7, 'test', n), n, 10);
    expect(vs).toHaveLength(n);
    for (let i = 0; i < n; i++) {
      expect(vs[i]).toHaveLength(10);
      for (let j = 0; j < n; j++) expect(dot(vs[i]!, vs[j]!)).toBeCloseTo(i === j ? 1 : 0, 6);
    }
  });

  it('is a function of the generator state', () => {
    const a = orthonormalVectors(Rng.seeded(3), 4, 10);
    const b = orthonormalVectors(Rng.seeded(3), 4, 10);
    const c = orthonormalVectors(Rng.seeded(4), 4, 10);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('rejects impossible requests', () => {
    expect(() => orthonormalVectors(Rng.seeded(1), 11, 10)).toThrow(/cannot draw 11/);
    expect(() => orthonormalVectors(Rng.seeded(1), -1, 10)).toThrow(RangeError);
    expect(() => orthonormalVectors(Rng.seeded(1), 2, 0)).toThrow(RangeError);
    expect(orthonormalVectors(Rng.seeded(1), 0, 10)).toEqual([]);
  });
});

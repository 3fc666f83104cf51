import { describe, expect, it } from 'vitest';
import type { Learner } from '../learner.js';
import { firingRates, participationRatio, ratesToHz, spikingState } from './activity.js';

/** [samples][neurons] from columns. */
function fromColumns(cols: readonly (readonly number[])[], neurons = cols.length): Float64Array {
  const samples = cols[0]!.length;
  const x = new Float64Array(samples * neurons);
  cols.forEach((c, i) => c.forEach((v, s) => (x[s * neurons + i] = v)));
  return x;
}

// Mutually orthogonal, zero-mean columns of equal norm (Hadamard rows without the constant one).
const H = [
  [1, 1, -1, -1],
  [1, -1, 1, -1],
  [1, -1, -1, 1],
];

describe('firing rates per neuron', () => {
  it('averages a [T][B][N] raster over steps and trials', () => {
    // T = 2, B = 2, N = 3.
    const raster = Uint8Array.from([1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    expect(Array.from(firingRates(raster, 3))).toEqual([0.75, 0.5, 0]);
    expect(Array.from(ratesToHz([0.75, 0.5, 0], 20))).toEqual([37.5, 25, 0]);
    expect(() => firingRates(raster, 5)).toThrow(RangeError);
  });
});

describe('participation ratio', () => {
  it('k independent channels of equal variance span k dimensions, idle neurons or not', () => {
    expect(participationRatio(fromColumns(H), 3)).toBeCloseTo(3, 12);
    // More neurons than samples: the other Gram matrix is used.
    expect(participationRatio(fromColumns([...H, [0, 0, 0, 0], [0, 0, 0, 0]], 5), 5)).toBeCloseTo(3, 12);
    expect(participationRatio(fromColumns([[1, -1, 1, -1]]), 1)).toBeCloseTo(1, 12);
  });

  it('a known spectrum λ = (3, 2, 1) gives (Σλ)²/Σλ² = 36/14, whatever the rotation and offsets', () => {
    const cols = H.map((c, k) => c.map((v) => v * Math.sqrt(3 - k)));
    expect(participationRatio(fromColumns(cols), 3)).toBeCloseTo(36 / 14, 12);
    // Rotate the channels into mixed neurons (an orthogonal map keeps the spectrum) and add offsets.
    const a = 0.7;
    const c = Math.cos(a);
    const s = Math.sin(a);
    const mixed = [
      cols[0]!.map((v, t) => c * v - s * cols[1]![t]! + 5),
      cols[0]!.map((v, t) => s * v + c * cols[1]![t]! - 2),
      cols[2]!.map((v) => v + 0.5),
    ];
    expect(participationRatio(fromColumns(mixed), 3)).toBeCloseTo(36 / 14, 12);
    // The same activity, the samples repeated: more samples than neurons in both cases.
    const twice = mixed.map((col) => [...col, ...col]);
    expect(participationRatio(fromColumns(twice), 3)).toBeCloseTo(36 / 14, 12);
  });

  it('one dominant channel gives ≈ 1', () => {
    const cols = H.map((c, k) => c.map((v) => v * (k === 0 ? 100 : 0.1)));
    const pr = participationRatio(fromColumns(cols), 3);
    expect(pr).toBeGreaterThan(1);
    expect(pr).toBeCloseTo((1e4 + 2e-2) ** 2 / (1e8 + 2e-4), 10);
    expect(pr).toBeLessThan(1.001);
  });

  it('is NaN for activity that does not vary', () => {
    expect(participationRatio(new Float64Array(12).fill(0.3), 3)).toBeNaN();
    expect(participationRatio(new Float64Array(3), 3)).toBeNaN();
  });
});

describe('spiking state', () => {
  it('says which model has none', () => {
    const fake = { model: 'lstm', save: () => new Uint8Array(4) } as unknown as Learner;
    expect(() => spikingState(fake)).toThrow(/model 'lstm' has no spiking network state/);
  });
});

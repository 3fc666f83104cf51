import { describe, expect, it } from 'vitest';
import { initialState, step, synapticInput, type NeuronParams } from './step.js';

const dt = 20;
const params = (over: Partial<NeuronParams> = {}): NeuronParams => ({
  tauD: [40, 200],
  tauS: [60, 100],
  theta: [1, 0.5],
  beta: [0.5, 0.2],
  tauA: [400, 300],
  adapt: true,
  spike: 'hard',
  softness: 10,
  tauOut: 100,
  ...over,
});

describe('the neuron step (SCIENCE.md §2)', () => {
  it('from rest, one step filters the input through both compartments', () => {
    const p = params();
    const s = step([2, 3], initialState(p), p, dt);
    for (let i = 0; i < 2; i++) {
      const aD = Math.exp(-dt / p.tauD[i]!);
      const aS = Math.exp(-dt / p.tauS[i]!);
      const I = [2, 3][i]!;
      expect(s.d[i]).toBeCloseTo((1 - aD) * I, 14);
      expect(s.u[i]).toBeCloseTo((1 - aS) * (1 - aD) * I, 14);
      expect(s.a[i]).toBe(0);
      expect(s.thr[i]).toBe(p.theta[i]);
    }
    // u = 0.32 < θ = 1 for neuron 0; neuron 1 (θ = 0.5, slow soma) stays below too.
    expect([...s.s]).toEqual([0, 0]);
  });

  it('a spike soft-resets by ϑ, feeds the adaptation and raises the threshold, and enters the readout filter', () => {
    const p = params();
    const before = { ...initialState(p), u: Float64Array.of(0, 0), s: Float64Array.of(1, 0) };
    before.thr.set([1.1, 0.5]);
    const after = step([0, 0], before, p, dt);
    const rho = Math.exp(-dt / 400);
    expect(after.u[0]).toBeCloseTo(-1.1, 14);
    expect(after.a[0]).toBeCloseTo(1 - rho, 14);
    expect(after.thr[0]).toBeCloseTo(1 + 0.5 * (1 - rho), 14);
    expect(after.a[1]).toBe(0);
    // No spike now, so z stays at κ·0 + 0.
    expect(after.z[0]).toBe(0);
    const fired = step([0, 0], { ...initialState(p), u: Float64Array.of(5, 0) }, params({ tauS: [1e12, 100] }), dt);
    expect(fired.s[0]).toBe(1);
    expect(fired.z[0]).toBeCloseTo(1 - Math.exp(-dt / 100), 14);
  });

  it('without adaptation a ≡ 0 and ϑ ≡ θ; without a spike readout z ≡ 0; the old state is not changed', () => {
    const p = params({ adapt: false, tauOut: null });
    const s0 = { ...initialState(p), s: Float64Array.of(1, 1) };
    const copy = structuredClone(s0);
    const s1 = step([10, 10], s0, p, dt);
    expect([...s1.a]).toEqual([0, 0]);
    expect([...s1.thr]).toEqual([1, 0.5]);
    expect([...s1.z]).toEqual([0, 0]);
    expect(s0).toEqual(copy);
  });

  it('the soft spike is σ(κ (u − ϑ) / θ)', () => {
    const p = params({ spike: 'soft', adapt: false });
    const s = step([0, 0], { ...initialState(p), u: Float64Array.of(1.5, 0.25) }, p, dt);
    for (let i = 0; i < 2; i++) {
      const v = s.u[i]! - s.thr[i]!;
      expect(s.s[i]).toBeCloseTo(1 / (1 + Math.exp((-10 * v) / p.theta[i]!)), 14);
    }
  });

  it('synaptic input is b + W_in x + W_rec s', () => {
    // N = 2, nIn = 1: wIn [1][2], wRec [2 pre][2 post].
    const I = synapticInput([2], [1, 0], [0.5, -1], [1, 2, 3, 4], [0.1, 0.2]);
    expect([...I]).toEqual([0.1 + 1 + 1, 0.2 - 2 + 2]);
  });
});

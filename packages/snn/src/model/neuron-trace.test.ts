import { describe, expect, it } from 'vitest';
import { initNetwork } from '../network.js';
import { FusedEngine } from '../fused/fused-engine.js';
import { referenceForward } from './reference.js';
import { TfjsEngine } from '../tfjs/tfjs-engine.js';
import type { NetworkState, TrialBatch } from '../engine.js';
import { softplusInverse } from './properties.js';
import { randomBatch } from '../testkit.js';

/**
 * One neuron, constant drive I = 2 from t = 0 (W_in = 2, x = 1), no recurrence, readout y = u.
 * Before the first spike the two compartments are cascaded first-order filters, so
 *   d[t] = I (1 − α_d^{t+1})
 *   u[t] = I (1 − α_s^{t+1}) − I (1 − α_s) α_d (α_d^{t+1} − α_s^{t+1}) / (α_d − α_s).
 */
describe('single neuron, hand-computed trace', () => {
  const dt = 20;
  const tauD = 40;
  const tauS = 60;
  const tauA = 400;
  const theta = 1.2;
  const beta = 0.5;
  const I = 2;
  const aD = Math.exp(-dt / tauD);
  const aS = Math.exp(-dt / tauS);
  const rho = Math.exp(-dt / tauA);
  const T = 12;

  function neuron(readout: 'membrane' | 'spikes' = 'membrane'): { state: NetworkState; batch: TrialBatch } {
    const base = initNetwork({
      nIn: 1,
      nRec: 1,
      nOut: 1,
      dt,
      readout,
      space: ['tauD', 'tauS', 'theta', 'beta', 'tauA'],
    });
    const params = {
      ...base.params,
      wIn: Float32Array.of(I),
      wRec: Float32Array.of(0),
      b: Float32Array.of(0),
      wOut: Float32Array.of(1),
      bOut: Float32Array.of(0),
      tauD: Float32Array.of(Math.log(tauD)),
      tauS: Float32Array.of(Math.log(tauS)),
      tauA: Float32Array.of(Math.log(tauA)),
      theta: Float32Array.of(softplusInverse(theta)),
      beta: Float32Array.of(softplusInverse(beta)),
    };
    const batch: TrialBatch = {
      steps: T,
      batch: 1,
      nIn: 1,
      nOut: 1,
      inputs: new Float32Array(T).fill(1),
      targets: new Float32Array(T),
      mask: new Float32Array(T).fill(1),
    };
    return { state: { ...base, params }, batch };
  }

  const dAt = (t: number) => I * (1 - aD ** (t + 1));
  const uFree = (t: number) =>
    I * (1 - aS ** (t + 1)) - (I * (1 - aS) * aD * (aD ** (t + 1) - aS ** (t + 1))) / (aD - aS);

  it('matches the closed form up to the first spike, then soft-resets and adapts', () => {
    const { state, batch } = neuron();
    // float32 parameters: use the values the network actually holds.
    const { trace } = referenceForward(state.config, state.params, batch, null);
    const first = Array.from({ length: T }, (_, t) => uFree(t)).findIndex((u) => u > theta);
    expect(first).toBeGreaterThan(1); // the drive needs a few steps to reach threshold
    for (let t = 0; t <= first; t++) {
      expect(trace.d[t]).toBeCloseTo(dAt(t), 5);
      expect(trace.u[t]).toBeCloseTo(uFree(t), 5);
      expect(trace.a[t]).toBe(0);
      expect(trace.thr[t]).toBeCloseTo(theta, 6);
      expect(trace.s[t]).toBe(t === first ? 1 : 0);
    }
    // The step after the spike: soft reset by ϑ[t−1] = θ, adaptation trace jumps by (1 − ρ).
    const t1 = first + 1;
    expect(trace.d[t1]).toBeCloseTo(dAt(t1), 5);
    expect(trace.u[t1]).toBeCloseTo(aS * uFree(first) + (1 - aS) * dAt(t1) - theta, 5);
    expect(trace.a[t1]).toBeCloseTo(1 - rho, 6);
    expect(trace.thr[t1]).toBeCloseTo(theta + beta * (1 - rho), 6);
    // Two steps after: the adaptation decays geometrically while no further spike occurs.
    if (trace.s[t1] === 0) expect(trace.a[t1 + 1]).toBeCloseTo(rho * (1 - rho), 6);
  });

  it('the TensorFlow.js engine reproduces the same membrane trace (y = u)', async () => {
    const { state, batch } = neuron();
    const { trace } = referenceForward(state.config, state.params, batch, null);
    const engine = await TfjsEngine.create(state);
    try {
      const ev = engine.evaluate(batch);
      for (let t = 0; t < T; t++) expect(ev.outputs[t]).toBeCloseTo(trace.u[t]!, 5);
      const spikes = trace.s.reduce((n, s) => n + s, 0);
      expect(ev.firingRate).toBeCloseTo(spikes / T, 6);
    } finally {
      engine.dispose();
    }
  });

  it('the spike readout is the leaky integral of the spikes, y[t] = κ y[t−1] + (1 − κ) s[t], in every engine', async () => {
    const { state, batch } = neuron('spikes');
    const kappa = Math.exp(-dt / 100);
    const { trace } = referenceForward(state.config, state.params, batch, null);
    // The hand-computed readout from the spike train alone (W_out = 1, b_out = 0).
    const expected: number[] = [];
    let z = 0;
    for (let t = 0; t < T; t++) {
      z = kappa * z + (1 - kappa) * trace.s[t]!;
      expected.push(z);
    }
    expect(trace.s.reduce((n, x) => n + x, 0)).toBeGreaterThan(1);
    for (let t = 0; t < T; t++) expect(trace.y[t]).toBeCloseTo(expected[t]!, 12);
    const tf = await TfjsEngine.create(state);
    const fused = FusedEngine.create(state);
    try {
      for (const engine of [tf, fused]) {
        const ev = engine.evaluate(batch);
        for (let t = 0; t < T; t++) expect(ev.outputs[t], `${engine.info.engine} t=${t}`).toBeCloseTo(expected[t]!, 6);
        expect(ev.activeNeurons).toBe(1);
      }
    } finally {
      tf.dispose();
      fused.dispose();
    }
  });

  it('without β in the space the neuron has no adaptation (β ≡ 0)', () => {
    const { state, batch } = neuron();
    const paper = initNetwork({ nIn: 1, nRec: 1, nOut: 1, dt });
    const { trace } = referenceForward(paper.config, { ...state.params, beta: paper.params.beta }, batch, null);
    for (let t = 0; t < T; t++) expect(trace.thr[t]).toBeCloseTo(theta, 6);
  });
});

/**
 * A small recurrent population over a few steps: the engines' readouts follow the float64 model
 * (step.ts through referenceForward) to float32 rounding, spike for spike.
 */
describe('every engine follows the model step by step', () => {
  const cases = [
    { name: 'adaptation, spike readout', space: ['tauD', 'tauS', 'theta', 'beta', 'tauA'], readout: 'spikes' },
    { name: 'no adaptation, spike readout', space: ['tauD', 'tauS', 'theta'], readout: 'spikes' },
    { name: 'adaptation, membrane readout', space: ['tauD', 'tauS', 'theta', 'beta', 'tauA'], readout: 'membrane' },
  ] as const;
  for (const c of cases) {
    it(`${c.name}: fused and TensorFlow.js readouts within 1e-4 of the float64 model`, async () => {
      const state = initNetwork({
        nIn: 4,
        nRec: 16,
        nOut: 3,
        space: [...c.space],
        readout: c.readout,
        tauOut: 60,
        init: { tauD: { min: 20, max: 80 }, tauS: { min: 20, max: 80 } },
        weights: { inGain: 2, recGain: 1.5, outGain: 1, bias: 1 },
        seed: 4,
      });
      const batch = randomBatch({ steps: 12, batch: 2, nIn: 4, nOut: 3, seed: 9 });
      const ref = referenceForward(state.config, state.params, batch, null);
      const spikes = ref.trace.s.reduce((n, x) => n + x, 0);
      // The check means something only if the population spikes, and not on every step.
      expect(spikes).toBeGreaterThan(4);
      expect(spikes).toBeLessThan(ref.trace.s.length / 2);
      const tf = await TfjsEngine.create(state);
      const fused = FusedEngine.create(state);
      try {
        for (const engine of [tf, fused]) {
          const ev = engine.evaluate(batch);
          expect(ev.firingRate, engine.info.engine).toBeCloseTo(ref.terms.firingRate, 7);
          for (let i = 0; i < ref.trace.y.length; i++) {
            expect(Math.abs(ev.outputs[i]! - ref.trace.y[i]!), `${engine.info.engine} y[${i}]`).toBeLessThan(1e-4);
          }
          expect(Math.abs(ev.meanU2 - ref.terms.meanU2) / ref.terms.meanU2).toBeLessThan(1e-5);
        }
      } finally {
        tf.dispose();
        fused.dispose();
      }
    });
  }
});

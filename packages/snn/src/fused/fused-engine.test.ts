import { afterAll, describe, expect, it } from 'vitest';
import type { NetworkConfigInput } from '../model/config.js';
import type { NetworkState, ParamKey, Params, TrialBatch } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { initNetwork, noisyInputs } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { referenceForward } from '../model/reference.js';
import { Rng } from '../rng.js';
import { TfjsEngine } from '../tfjs/tfjs-engine.js';
import { FusedEngine } from './fused-engine.js';

const ALL: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

/** Gaussian inputs strong enough to make a few % of the neurons spike; one-hot targets; ~70% of steps scored. */
function spikingBatch(T: number, B: number, nIn: number, nOut: number, seed: number, scale = 1.5): TrialBatch {
  const rng = Rng.seeded(seed, 'fused-test-batch');
  const inputs = new Float32Array(T * B * nIn);
  for (let i = 0; i < inputs.length; i++) inputs[i] = scale * rng.normal();
  const targets = new Float32Array(T * B * nOut);
  const mask = new Float32Array(T * B);
  const labels = new Int32Array(B);
  const responseMask = new Float32Array(T * B);
  for (let b = 0; b < B; b++) labels[b] = rng.int(nOut);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      targets[(t * B + b) * nOut + labels[b]!] = 1;
      mask[t * B + b] = rng.uniform() < 0.7 ? 1 : 0;
      responseMask[t * B + b] = t >= (3 * T) / 4 ? 1 : 0;
    }
  }
  return { steps: T, batch: B, nIn, nOut, inputs, targets, mask, labels, responseMask };
}

/** ‖a − b‖ / max(‖b‖, tiny). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! ** 2;
  return Math.sqrt(s);
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

function expectStatesEqual(a: NetworkState, b: NetworkState): void {
  for (const k of ALL) expect(bits(a.params[k]), `params.${k}`).toEqual(bits(b.params[k]));
  expect(a.adam.step).toBe(b.adam.step);
  for (const k of ALL) {
    expect(a.adam.m[k] === undefined).toBe(b.adam.m[k] === undefined);
    if (a.adam.m[k]) expect(bits(a.adam.m[k]), `adam.m.${k}`).toEqual(bits(b.adam.m[k]!));
    if (a.adam.v[k]) expect(bits(a.adam.v[k]), `adam.v.${k}`).toEqual(bits(b.adam.v[k]!));
  }
  expect(a.rng).toEqual(b.rng);
  expect(a.homeostaticTarget).toBe(b.homeostaticTarget);
}

/** Small networks with time constants short enough to spike within 20–30 steps. */
const SMALL = {
  nIn: 4,
  nRec: 16,
  nOut: 3,
  weights: { inGain: 3, recGain: 1.5 },
  init: { tauD: { min: 20, max: 200 }, tauS: { min: 20, max: 200 } },
} as const;
const FIVE = [...PROPERTY_KEYS];

interface Case {
  readonly name: string;
  readonly config: NetworkConfigInput;
  /** Edits the initial parameters in place. */
  readonly tweak?: (params: Params) => void;
  /** Bound on each gradient group's relative error (default 1e-4). */
  readonly tolerance?: number;
}

const cases: Case[] = [
  { name: 'fast-sigmoid, mse, adaptation, all learnable', config: { space: FIVE, learnable: FIVE } },
  {
    name: 'fast-sigmoid, xent, no adaptation, mask 101',
    config: { loss: { kind: 'xent' }, learnable: ['tauD', 'theta'] },
  },
  {
    name: 'arctan, mse, adaptation, weights frozen',
    config: { surrogate: { name: 'arctan' }, space: FIVE, learnable: ['theta', 'beta'], trainWeights: false },
  },
  {
    name: 'arctan, xent, adaptation, empty mask',
    config: { surrogate: { name: 'arctan', kappa: 5 }, loss: { kind: 'xent' }, space: FIVE },
  },
  {
    name: 'multi-gaussian, mse, no adaptation, all learnable',
    config: { surrogate: { name: 'multi-gaussian' }, learnable: ['tauD', 'tauS', 'theta'] },
    tolerance: 2e-4,
  },
  {
    name: 'multi-gaussian, xent, adaptation, mask and frozen weights',
    config: {
      surrogate: { name: 'multi-gaussian', gamma: 0.5 },
      loss: { kind: 'xent' },
      space: FIVE,
      learnable: ['tauS', 'tauA'],
      trainWeights: false,
    },
  },
  {
    name: 'soft spike, mse, adaptation',
    config: { spike: 'soft', surrogate: { name: 'fast-sigmoid', kappa: 4 }, space: FIVE, learnable: FIVE },
  },
  { name: 'soft spike, xent, no adaptation', config: { spike: 'soft', loss: { kind: 'xent' } } },
  {
    name: 'membrane readout, loss-mode L2, mask 110',
    config: { readout: 'membrane', weightDecay: { mode: 'loss' }, learnable: ['tauD', 'tauS'] },
  },
  {
    name: 'membrane readout, adaptation, soft spike',
    config: { readout: 'membrane', spike: 'soft', space: FIVE, learnable: ['theta', 'tauA'] },
  },
  {
    name: 'spike readout τ_out 40 ms, xent, decoupled decay, sgd properties',
    config: {
      tauOut: 40,
      loss: { kind: 'xent' },
      weightDecay: { in: 0.5, rec: 0.3, out: 0.2 },
      optimizer: { properties: 'sgd', lr: { theta: 0.05 } },
      space: FIVE,
      learnable: FIVE,
    },
  },
  {
    name: 'model version 1 (membrane readout, forward clamp, L2 in loss, η 1e-2)',
    config: { modelVersion: 1, learnable: ['tauS', 'theta'] },
  },
  {
    name: 'time constants beyond the clamp (no gradient there)',
    config: { space: FIVE, learnable: FIVE, tauClamp: { min: 30, max: 600, mode: 'forward' } },
    tweak: (p) => {
      for (let i = 0; i < 16; i += 4) {
        p.tauD[i] = Math.log(10);
        p.tauS[i + 1] = Math.log(5000);
        p.tauA[i + 2] = Math.log(900);
      }
    },
  },
];

describe('FusedEngine agrees with TfjsEngine', () => {
  const engines: { dispose(): void }[] = [];
  afterAll(() => engines.forEach((e) => e.dispose()));
  const worst: Record<string, number> = {};
  afterAll(() => {
    // The worst relative error of each group over all cases (printed for the record).
    console.log('fused vs tfjs, worst relative error per group:', JSON.stringify(worst));
  });

  for (const [n, c] of cases.entries()) {
    it(`${c.name}: loss and every gradient group within 1e-4`, async () => {
      const state = initNetwork({ ...SMALL, ...c.config, loss: { lambdaH: 0.01, ...c.config.loss }, seed: 11 + n });
      c.tweak?.(state.params);
      const batch = spikingBatch(30, 2, SMALL.nIn, SMALL.nOut, 100 + n);
      const tf = await TfjsEngine.create(state);
      const fused = FusedEngine.create(state);
      engines.push(tf, fused);
      for (const e of [tf, fused]) e.setHomeostaticTarget(0.05);
      const gt = tf.gradients(batch);
      const gf = fused.gradients(batch);
      if (c.tweak) {
        expect(gf.grads.tauD[0] === 0).toBe(true);
        expect(gf.grads.tauS[1] === 0).toBe(true);
        expect(gf.grads.tauA[2] === 0).toBe(true);
      }
      expect(gf.firingRate).toBeGreaterThan(0.005);
      expect(gf.homeoLoss).toBeGreaterThan(0);
      for (const k of ['loss', 'taskLoss', 'homeoLoss', 'l2Loss', 'meanU2', 'firingRate'] as const) {
        expect(Math.abs(gf[k] - gt[k]) / Math.max(Math.abs(gt[k]), 1e-30), k).toBeLessThan(1e-5);
      }
      for (const k of ALL) {
        const err = relativeError(gf.grads[k], gt.grads[k]);
        worst[k] = Math.max(worst[k] ?? 0, norm(gt.grads[k]) === 0 && norm(gf.grads[k]) === 0 ? 0 : err);
        if (norm(gt.grads[k]) === 0) expect(norm(gf.grads[k]), k).toBe(0);
        // The multi-Gaussian surrogate's negative side lobes make its float32 sums cancel more (θ: 1.1e-4 seen).
        else expect(err, `${k}: relative error ${err.toExponential(2)}`).toBeLessThan(c.tolerance ?? 1e-4);
      }
      const et = tf.evaluate(batch);
      const ef = fused.evaluate(batch);
      expect(relativeError(ef.outputs, et.outputs)).toBeLessThan(1e-5);
      expect(ef.accuracy).toBe(et.accuracy);
      // Three optimiser steps: the trainable groups move alike, the others not at all.
      for (let i = 0; i < 3; i++) {
        const st = tf.trainStep(batch);
        const sf = fused.trainStep(batch);
        expect(Math.abs(sf.gradNorm - st.gradNorm) / Math.max(st.gradNorm, 1e-30)).toBeLessThan(1e-4);
      }
      const a = fused.snapshot();
      const b = tf.snapshot();
      for (const k of ALL) {
        const initial = bits(state.params[k]);
        if (bits(b.params[k]).every((x, i) => x === initial[i])) {
          expect(bits(a.params[k]), k).toEqual(initial);
          continue;
        }
        const change = Float32Array.from(b.params[k], (x, i) => x - state.params[k][i]!);
        const diff = Float32Array.from(a.params[k], (x, i) => x - b.params[k][i]!);
        expect(norm(diff) / norm(change), k).toBeLessThan(c.tolerance ?? 1e-4);
      }
    });
  }

  it('odd sizes (13 neurons, 5 trials, 3 inputs, 2 outputs) agree', async () => {
    const state = initNetwork({
      nIn: 3,
      nRec: 13,
      nOut: 2,
      weights: { inGain: 3, recGain: 1.5 },
      space: FIVE,
      learnable: FIVE,
      loss: { lambdaH: 0.01 },
      seed: 31,
    });
    const batch = spikingBatch(25, 5, 3, 2, 31);
    const tf = await TfjsEngine.create(state);
    const fused = FusedEngine.create(state);
    engines.push(tf, fused);
    for (const e of [tf, fused]) e.setHomeostaticTarget(0.05);
    const gt = tf.gradients(batch);
    const gf = fused.gradients(batch);
    expect(gf.firingRate).toBeGreaterThan(0.005);
    expect(Math.abs(gf.loss - gt.loss) / gt.loss).toBeLessThan(1e-5);
    for (const k of ALL) expect(relativeError(gf.grads[k], gt.grads[k]), k).toBeLessThan(1e-4);
    const st = tf.trainStep(batch);
    const sf = fused.trainStep(batch);
    expect(Math.abs(sf.gradNorm - st.gradNorm) / st.gradNorm).toBeLessThan(1e-4);
  });

  it('lesioned evaluation agrees', async () => {
    const state = initNetwork({ ...SMALL, space: FIVE, seed: 3 });
    const batch = spikingBatch(30, 2, SMALL.nIn, SMALL.nOut, 7);
    const lesion = new Uint8Array(SMALL.nRec);
    for (let i = 0; i < SMALL.nRec; i += 3) lesion[i] = 1;
    const tf = await TfjsEngine.create(state);
    const fused = FusedEngine.create(state);
    engines.push(tf, fused);
    const et = tf.evaluate(batch, { lesion });
    const ef = fused.evaluate(batch, { lesion });
    expect(relativeError(ef.outputs, et.outputs)).toBeLessThan(1e-5);
    expect(ef.firingRate).toBeCloseTo(et.firingRate, 6);
    expect(ef.meanU2).toBeCloseTo(et.meanU2, 6);
    expect(relativeError(ef.outputs, fused.evaluate(batch).outputs)).toBeGreaterThan(1e-3);
  });

  it('twenty training steps in a row give the same parameters (within 1e-4 of their change)', async () => {
    const state = initNetwork({ ...SMALL, space: FIVE, learnable: FIVE, inputNoise: 0.2, seed: 21 });
    const batch = spikingBatch(30, 2, SMALL.nIn, SMALL.nOut, 5);
    const tf = await TfjsEngine.create(state);
    const fused = FusedEngine.create(state);
    engines.push(tf, fused);
    for (const e of [tf, fused]) e.setHomeostaticTarget(0.05);
    for (let i = 0; i < 20; i++) {
      const st = tf.trainStep(batch);
      const sf = fused.trainStep(batch);
      expect(Math.abs(sf.loss - st.loss) / st.loss).toBeLessThan(1e-4);
      expect(Math.abs(sf.gradNorm - st.gradNorm) / st.gradNorm).toBeLessThan(1e-4);
    }
    const a = fused.snapshot();
    const b = tf.snapshot();
    expect(a.adam.step).toBe(20);
    expect(a.rng).toEqual(b.rng);
    for (const k of ALL) {
      const change = Float32Array.from(b.params[k], (x, i) => x - state.params[k][i]!);
      const diff = Float32Array.from(a.params[k], (x, i) => x - b.params[k][i]!);
      expect(norm(diff) / norm(change), k).toBeLessThan(1e-4);
    }
  });

  it('a fused snapshot trains on in TfjsEngine, and a TfjsEngine snapshot in the fused engine', async () => {
    const state = initNetwork({ ...SMALL, space: FIVE, learnable: ['tauD', 'beta'], seed: 8 });
    const batch = spikingBatch(30, 2, SMALL.nIn, SMALL.nOut, 9);
    const fused = FusedEngine.create(state);
    for (let i = 0; i < 3; i++) fused.trainStep(batch);
    const tf = await TfjsEngine.create(fused.snapshot());
    const back = FusedEngine.create(tf.snapshot());
    engines.push(tf, fused, back);
    expectStatesEqual(back.snapshot(), fused.snapshot());
    const gb = back.gradients(batch);
    const gt = tf.gradients(batch);
    for (const k of ALL) {
      if (norm(gt.grads[k]) > 0) expect(relativeError(gb.grads[k], gt.grads[k]), k).toBeLessThan(1e-4);
    }
    const st = tf.trainStep(batch);
    const sf = fused.trainStep(batch);
    expect(Math.abs(sf.loss - st.loss) / st.loss).toBeLessThan(1e-5);
    expect(Math.abs(sf.gradNorm - st.gradNorm) / st.gradNorm).toBeLessThan(1e-4);
  });
});

describe('FusedEngine against finite differences of the float64 reference (soft spike)', () => {
  const variants = [
    { kind: 'mse', readout: 'spikes', weightDecay: 'loss' },
    { kind: 'xent', readout: 'spikes', weightDecay: 'decoupled' },
    { kind: 'mse', readout: 'membrane', weightDecay: 'decoupled' },
    { kind: 'xent', readout: 'membrane', weightDecay: 'loss' },
  ] as const;
  for (const { kind, readout, weightDecay } of variants) {
    it(`${kind}, ${readout} readout, ${weightDecay} weight penalty: every parameter group within 1e-3 relative error`, () => {
      const state = initNetwork({
        readout,
        tauOut: 60,
        weightDecay: { mode: weightDecay },
        nIn: 3,
        nRec: 6,
        nOut: 2,
        spike: 'soft',
        surrogate: { name: 'fast-sigmoid', kappa: 3 },
        space: FIVE,
        learnable: FIVE,
        init: { tauD: { min: 30, max: 150 }, tauS: { min: 30, max: 150 }, tauA: { min: 200, max: 1000 } },
        weights: { inGain: 3, recGain: 1.5 },
        loss: { kind, lambdaH: 0.01, lambdaIn: 0.01, lambdaRec: 0.01, lambdaOut: 0.05 },
        seed: 5,
      });
      const target = 0.05;
      const batch = spikingBatch(14, 2, 3, 2, 2);
      const fused = FusedEngine.create(state);
      fused.setHomeostaticTarget(target);
      const g = fused.gradients(batch);
      const ref = referenceForward(state.config, state.params, batch, target).terms;
      expect(Math.abs(g.loss - ref.loss) / ref.loss).toBeLessThan(1e-6);
      for (const key of ALL) {
        const p = state.params[key];
        const fd = new Float64Array(p.length);
        for (let i = 0; i < p.length; i++) {
          const h = 1e-3 * Math.max(1, Math.abs(p[i]!));
          const at = (value: number): [number, number] => {
            const params: Params = { ...state.params, [key]: Float32Array.from(p) };
            params[key][i] = value;
            return [params[key][i]!, referenceForward(state.config, params, batch, target).terms.loss];
          };
          const [xp, lp] = at(p[i]! + h);
          const [xm, lm] = at(p[i]! - h);
          fd[i] = (lp - lm) / (xp - xm);
        }
        expect(norm(fd), `${key}: gradient should not vanish`).toBeGreaterThan(1e-6);
        const err = relativeError(g.grads[key], fd);
        expect(err, `${key}: relative error ${err.toExponential(2)}`).toBeLessThan(1e-3);
      }
    });
  }
});

describe('FusedEngine state handling', () => {
  it('masked-out properties and frozen weights stay bit-identical over 200 steps', () => {
    const state = initNetwork({ ...SMALL, space: FIVE, learnable: ['tauS', 'beta'], trainWeights: false, seed: 4 });
    const batch = spikingBatch(20, 1, SMALL.nIn, SMALL.nOut, 4);
    const fused = FusedEngine.create(state);
    for (let i = 0; i < 200; i++) fused.trainStep(batch);
    const after = fused.snapshot();
    for (const k of ALL) {
      if (k === 'tauS' || k === 'beta') expect(bits(after.params[k]), k).not.toEqual(bits(state.params[k]));
      else expect(bits(after.params[k]), k).toEqual(bits(state.params[k]));
    }
    expect(Object.keys(after.adam.m).sort()).toEqual(['beta', 'tauS']);
  });

  it('snapshot → new engine → continue equals an uninterrupted run, exactly', () => {
    const state = initNetwork({ ...SMALL, space: FIVE, learnable: FIVE, inputNoise: 0.3, seed: 6 });
    const batch = spikingBatch(20, 2, SMALL.nIn, SMALL.nOut, 6);
    const whole = FusedEngine.create(state);
    whole.setHomeostaticTarget(0.1);
    for (let i = 0; i < 20; i++) whole.trainStep(batch);
    const first = FusedEngine.create(state);
    first.setHomeostaticTarget(0.1);
    for (let i = 0; i < 10; i++) first.trainStep(batch);
    const second = FusedEngine.create(first.snapshot());
    for (let i = 0; i < 10; i++) second.trainStep(batch);
    expectStatesEqual(second.snapshot(), whole.snapshot());
  });

  it('resetOptimizer zeroes the moments and the step count', () => {
    const state = initNetwork({ ...SMALL, learnable: ['theta'], seed: 2 });
    const batch = spikingBatch(10, 1, SMALL.nIn, SMALL.nOut, 2);
    const fused = FusedEngine.create(state);
    fused.trainStep(batch);
    fused.resetOptimizer();
    const s = fused.snapshot();
    expect(s.adam.step).toBe(0);
    for (const k of Object.keys(s.adam.m) as ParamKey[]) expect(norm(s.adam.m[k]!)).toBe(0);
  });

  it('draws input noise exactly as noisyInputs does', () => {
    const state = initNetwork({ ...SMALL, inputNoise: 0.5, seed: 2 });
    const batch = spikingBatch(10, 2, SMALL.nIn, SMALL.nOut, 2);
    const fused = FusedEngine.create(state);
    fused.trainStep(batch);
    const rng = Rng.fromState(state.rng);
    noisyInputs(batch, 0.5, rng);
    expect(fused.snapshot().rng).toEqual(rng.state());
  });

  it('reuses its buffers: no allocation after the first step, growth only for larger batches', () => {
    const state = initNetwork({ ...SMALL, space: FIVE, learnable: FIVE, inputNoise: 0.1, seed: 3 });
    const fused = FusedEngine.create(state);
    const batch = spikingBatch(20, 2, SMALL.nIn, SMALL.nOut, 1);
    fused.trainStep(batch);
    const after1 = fused.bufferAllocations;
    for (let i = 0; i < 100; i++) fused.trainStep(batch);
    fused.gradients(batch);
    fused.evaluate(spikingBatch(10, 2, SMALL.nIn, SMALL.nOut, 2));
    fused.trainStep(spikingBatch(20, 1, SMALL.nIn, SMALL.nOut, 3));
    expect(fused.bufferAllocations).toBe(after1);
    fused.trainStep(spikingBatch(40, 2, SMALL.nIn, SMALL.nOut, 3));
    expect(fused.bufferAllocations).toBeGreaterThan(after1);
  });

  it('rejects batches of the wrong shape', () => {
    const fused = FusedEngine.create(initNetwork({ ...SMALL }));
    expect(() => fused.trainStep(spikingBatch(5, 1, 3, SMALL.nOut, 1))).toThrow(/nIn/);
  });
});

describe('optimiser: decoupled weight decay, property SGD, τ clamp after the step (both engines)', () => {
  const makers = [
    ['fused', (s: NetworkState) => Promise.resolve(FusedEngine.create(s))],
    ['tfjs', (s: NetworkState) => TfjsEngine.create(s)],
  ] as const;
  /** Input channel 0 is always 0: its W_in row gets no task gradient at all. */
  function silentChannelBatch(): TrialBatch {
    const b = spikingBatch(20, 2, SMALL.nIn, SMALL.nOut, 12);
    const inputs = Float32Array.from(b.inputs);
    for (let i = 0; i < inputs.length; i += SMALL.nIn) inputs[i] = 0;
    return { ...b, inputs };
  }

  for (const [name, make] of makers) {
    it(`${name}: a weight with no task gradient decays at rate lr·λ per step (decoupled), not at rate lr (L2 inside Adam)`, async () => {
      const lr = 1e-2;
      const lambda = 0.5;
      const steps = 10;
      const batch = silentChannelBatch();
      const row = (s: NetworkState) => s.params.wIn.slice(0, SMALL.nRec);
      const decoupled = initNetwork({
        ...SMALL,
        seed: 17,
        optimizer: { lrWeights: lr },
        weightDecay: { mode: 'decoupled', in: lambda, rec: 0, out: 0 },
      });
      const e = await make(decoupled);
      for (let i = 0; i < steps; i++) e.trainStep(batch);
      const w0 = row(decoupled);
      const w = row(e.snapshot());
      e.dispose();
      for (let i = 0; i < w0.length; i++) {
        expect(w[i]! / w0[i]!).toBeCloseTo(Math.pow(1 - lr * lambda, steps), 5);
      }
      // The same weight under mean-L2 inside Adam: Adam normalises its tiny gradient to a full-size step.
      const inLoss = initNetwork({
        ...SMALL,
        seed: 17,
        optimizer: { lrWeights: lr },
        weightDecay: { mode: 'loss' },
        loss: { lambdaIn: 1e-4, lambdaRec: 0, lambdaOut: 0 },
      });
      const f = await make(inLoss);
      for (let i = 0; i < steps; i++) f.trainStep(batch);
      const v = row(f.snapshot());
      f.dispose();
      let far = 0;
      for (let i = 0; i < w0.length; i++) {
        expect(Math.abs(w[i]! - w0[i]!)).toBeLessThan(steps * lr * lambda * Math.abs(w0[i]!) * 1.01);
        // Each step moves it by about lr towards 0 whatever λ is (for weights that do not reach 0 first).
        if (Math.abs(w0[i]!) <= steps * lr) continue;
        far++;
        expect(Math.abs(w0[i]!) - Math.abs(v[i]!)).toBeGreaterThan(0.8 * steps * lr);
      }
      expect(far).toBeGreaterThan(SMALL.nRec / 2);
    });

    it(`${name}: properties under 'sgd' take the plain step P ← P − η ∇P L (weights still Adam)`, async () => {
      const eta = 0.05;
      const state = initNetwork({
        ...SMALL,
        seed: 19,
        learnable: ['tauD', 'theta'],
        optimizer: { properties: 'sgd', clipNorm: 0, lr: { tauD: eta, theta: 2 * eta } },
      });
      const batch = spikingBatch(20, 2, SMALL.nIn, SMALL.nOut, 13);
      const e = await make(state);
      e.setHomeostaticTarget(0.05);
      const g = e.gradients(batch).grads;
      e.trainStep(batch);
      const after = e.snapshot();
      e.dispose();
      for (const [k, rate] of [
        ['tauD', eta],
        ['theta', 2 * eta],
      ] as const) {
        expect(norm(g[k])).toBeGreaterThan(0);
        const expected = Float32Array.from(state.params[k], (x, i) => x - rate * g[k][i]!);
        expect(relativeError(after.params[k], expected), k).toBeLessThan(1e-6);
        expect(after.adam.m[k]!.every((x) => x === 0)).toBe(true);
      }
      expect(after.adam.m.wRec!.some((x) => x !== 0)).toBe(true);
    });

    it(`${name}: time constants are clamped after each step and keep their gradient at the bound`, async () => {
      const state = initNetwork({
        ...SMALL,
        seed: 23,
        learnable: ['tauD', 'tauS'],
        tauClamp: { min: 30, max: 300 },
        optimizer: { lr: { tauD: 50, tauS: 50 } },
      });
      const batch = spikingBatch(20, 2, SMALL.nIn, SMALL.nOut, 14);
      const e = await make(state);
      for (let i = 0; i < 3; i++) e.trainStep(batch);
      const s = e.snapshot();
      const lo = Math.fround(Math.log(30));
      const hi = Math.fround(Math.log(300));
      let atBound = 0;
      for (const k of ['tauD', 'tauS'] as const) {
        for (const x of s.params[k]) {
          expect(x).toBeGreaterThanOrEqual(lo);
          expect(x).toBeLessThanOrEqual(hi);
          if (x === lo || x === hi) atBound++;
        }
      }
      expect(atBound).toBeGreaterThan(0);
      // At the bound the gradient still flows (a clamp inside the pass would give exactly 0 there).
      const g = e.gradients(batch).grads;
      e.dispose();
      let flowing = 0;
      for (const k of ['tauD', 'tauS'] as const) {
        s.params[k].forEach((x, i) => {
          if ((x === lo || x === hi) && g[k][i] !== 0) flowing++;
        });
      }
      expect(flowing).toBeGreaterThan(0);
    });
  }
});

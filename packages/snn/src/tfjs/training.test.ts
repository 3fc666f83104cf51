import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { NetworkConfigInput } from '../model/config.js';
import type { Engine, NetworkState, TrialBatch } from '../engine.js';
import { initNetwork } from '../network.js';
import { deserializeState, serializeState } from '../state.js';
import { randomBatch } from '../testkit.js';
import { TfjsEngine } from './tfjs-engine.js';

const small: NetworkConfigInput = {
  nIn: 4,
  nRec: 12,
  nOut: 2,
  learnable: ['tauD'],
  weights: { inGain: 3 },
  optimizer: { lrWeights: 5e-3, lr: { tauD: 0.05, tauS: 0.05, theta: 0.05, beta: 0.05, tauA: 0.05 } },
};

function batches(n: number, seed = 0): TrialBatch[] {
  return Array.from({ length: n }, (_, i) =>
    randomBatch({ steps: 20, batch: 2, nIn: 4, nOut: 2, inputScale: 1.5, seed: seed * 1000 + i }),
  );
}

async function withEngine<T>(state: NetworkState, f: (e: Engine) => T | Promise<T>): Promise<T> {
  const e = await TfjsEngine.create(state);
  try {
    return await f(e);
  } finally {
    e.dispose();
  }
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('fast intrinsic plasticity', () => {
  it('a masked-out property stays bit-identical through 200 steps; a masked-in one changes', async () => {
    const state = initNetwork(small);
    const data = batches(10);
    const after = await withEngine(state, (e) => {
      for (let i = 0; i < 200; i++) e.trainStep(data[i % data.length]!);
      return e.snapshot();
    });
    expect(bits(after.params.tauS)).toEqual(bits(state.params.tauS));
    expect(bits(after.params.theta)).toEqual(bits(state.params.theta));
    expect(bits(after.params.tauA)).toEqual(bits(state.params.tauA));
    expect(bits(after.params.beta)).toEqual(bits(state.params.beta));
    const moved = after.params.tauD.filter((x, i) => x !== state.params.tauD[i]).length;
    expect(moved).toBeGreaterThan(state.config.nRec / 2);
    expect(bits(after.params.wRec)).not.toEqual(bits(state.params.wRec));
  });

  it('trainWeights: false leaves every synaptic weight bit-identical', async () => {
    const state = initNetwork({ ...small, learnable: ['tauD', 'theta'], trainWeights: false });
    const data = batches(5);
    const after = await withEngine(state, (e) => {
      for (let i = 0; i < 30; i++) e.trainStep(data[i % data.length]!);
      return e.snapshot();
    });
    for (const k of ['wIn', 'wRec', 'b', 'wOut', 'bOut'] as const)
      expect(bits(after.params[k])).toEqual(bits(state.params[k]));
    expect(bits(after.params.theta)).not.toEqual(bits(state.params.theta));
  });

  it('resetOptimizer zeroes Adam state (the next step equals a fresh optimiser step)', async () => {
    const state = initNetwork(small);
    const data = batches(3);
    const [afterReset, fresh] = await withEngine(state, async (e) => {
      e.trainStep(data[0]!);
      e.trainStep(data[1]!);
      e.resetOptimizer();
      const mid = e.snapshot();
      expect(mid.adam.step).toBe(0);
      e.trainStep(data[2]!);
      const a = e.snapshot();
      const b = await withEngine({ ...mid, adam: { step: 0, m: {}, v: {} } }, (f) => {
        f.trainStep(data[2]!);
        return f.snapshot();
      });
      return [a, b] as const;
    });
    expect(bits(afterReset.params.wRec)).toEqual(bits(fresh.params.wRec));
    expect(bits(afterReset.params.tauD)).toEqual(bits(fresh.params.tauD));
  });
});

describe('state', () => {
  it('serialises to bytes and back exactly, ±∞ included', () => {
    const state = initNetwork(small); // β is not in the space: its raw value is −∞
    const back = deserializeState(serializeState(state));
    expect(back.config).toEqual(state.config);
    for (const k of Object.keys(state.params) as (keyof typeof state.params)[]) {
      expect(bits(back.params[k])).toEqual(bits(state.params[k]));
    }
    expect(back.params.beta[0]).toBe(Number.NEGATIVE_INFINITY);
    expect(back.rng).toEqual(state.rng);
  });

  it('save → restore → continue equals uninterrupted training, exactly (noise and homeostasis on)', async () => {
    const state = initNetwork({ ...small, inputNoise: 0.1 });
    const data = batches(12, 3);
    const losses = (e: Engine, from: number, to: number) => data.slice(from, to).map((b) => e.trainStep(b).loss);
    const straight = await withEngine(state, (e) => {
      e.setHomeostaticTarget(0.3);
      const l = losses(e, 0, 12);
      return { l, s: e.snapshot() };
    });
    const bytes = await withEngine(state, (e) => {
      e.setHomeostaticTarget(0.3);
      losses(e, 0, 5);
      return serializeState(e.snapshot());
    });
    const resumed = await withEngine(deserializeState(bytes), (e) => {
      expect(e.snapshot().homeostaticTarget).toBe(0.3);
      const l = losses(e, 5, 12);
      return { l, s: e.snapshot() };
    });
    expect(resumed.l).toEqual(straight.l.slice(5));
    expect(Buffer.from(serializeState(resumed.s))).toEqual(Buffer.from(serializeState(straight.s)));
  });

  it('rejects bytes that are not a network state', () => {
    expect(() => deserializeState(new Uint8Array(40))).toThrow(/bad magic/);
  });
});

describe('determinism', () => {
  const trajectory = (seed: number) =>
    withEngine(initNetwork({ ...small, seed, inputNoise: 0.05 }), (e) => batches(8).map((b) => e.trainStep(b).loss));

  it('same seed → the same loss trajectory; different seed → a different one', async () => {
    const a = await trajectory(11);
    const b = await trajectory(11);
    const c = await trajectory(12);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });
});

describe('memory', () => {
  it('no tensor leaks across iterations', async () => {
    const data = batches(2);
    await withEngine(initNetwork({ ...small, learnable: [] }), (e) => {
      e.trainStep(data[0]!);
      e.evaluate(data[0]!);
      e.gradients(data[0]!);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 10; i++) {
        e.trainStep(data[i % 2]!);
        e.evaluate(data[i % 2]!);
        e.gradients(data[i % 2]!);
        e.resetOptimizer();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('an engine frees every tensor it made when disposed', async () => {
    const before = tf.memory().numTensors;
    const e = await TfjsEngine.create(initNetwork(small));
    e.trainStep(batches(1)[0]!);
    e.resetOptimizer();
    e.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('learning', () => {
  it('a tiny network learns a trivial task on the wasm backend (loss falls 10×)', async () => {
    // Two input patterns, each with its own constant target readout.
    const T = 15;
    const B = 4;
    const make = (): TrialBatch => {
      const inputs = new Float32Array(T * B * 2);
      const targets = new Float32Array(T * B * 2);
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          inputs[(t * B + b) * 2 + (b % 2)] = 1;
          targets[(t * B + b) * 2 + 0] = b % 2 === 0 ? 0.5 : -0.5;
          targets[(t * B + b) * 2 + 1] = b % 2 === 0 ? -0.3 : 0.3;
        }
      }
      const mask = new Float32Array(T * B);
      mask.fill(1, 5 * B);
      return { steps: T, batch: B, nIn: 2, nOut: 2, inputs, targets, mask };
    };
    const state = initNetwork({
      nIn: 2,
      nRec: 16,
      nOut: 2,
      learnable: ['tauD', 'tauS', 'theta'],
      optimizer: { lrWeights: 0.01 },
      loss: { lambdaOut: 0.001, lambdaIn: 0, lambdaRec: 0 },
    });
    const batch = make();
    await withEngine(state, (e) => {
      expect(e.info.backend).toBe('wasm');
      const first = e.evaluate(batch).taskLoss;
      for (let i = 0; i < 300; i++) e.trainStep(batch);
      const last = e.evaluate(batch).taskLoss;
      expect(last).toBeLessThan(first / 10);
    });
  });
});

describe('a learnable property that does not enter the model', () => {
  it('τ_a learnable without β in the space: trains, τ_a unchanged', async () => {
    const state = initNetwork({ ...small, space: ['tauD', 'tauA'], learnable: ['tauA'] });
    const after = await withEngine(state, (e) => {
      for (const b of batches(3)) e.trainStep(b);
      return e.snapshot();
    });
    expect(bits(after.params.tauA)).toEqual(bits(state.params.tauA));
  });
});

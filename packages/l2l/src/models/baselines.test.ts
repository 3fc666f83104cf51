import * as tf from '@tensorflow/tfjs-core';
import { PAPER_SPACE, randomBatch, Rng, type TrialBatch } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import type { LearnerSpec } from '../learner.js';
import { BASELINE_MODELS, baselineParameters, createBaselineLearner, hiddenForParameters } from './baselines.js';
import { createLearner, getModel } from './registry.js';
import { spikingParameterCount } from './spiking.js';
import { createRunLearner } from '../chunk.js';
import type { FusedBaselineLearner } from './fused-baseline.js';
import type { BaselineLearner } from './tf-learner.js';

const tiny = (model: string, over: Partial<LearnerSpec> = {}): LearnerSpec => ({
  model,
  nIn: 3,
  nOut: 2,
  hidden: 4,
  dt: 20,
  seed: 7,
  loss: 'mse',
  lr: 1e-2,
  ...over,
});

const batches = (n: number, over: { steps?: number; batch?: number; nOut?: number } = {}): TrialBatch[] =>
  Array.from({ length: n }, (_, i) =>
    randomBatch({ steps: over.steps ?? 6, batch: over.batch ?? 2, nIn: 3, nOut: over.nOut ?? 2, scored: 0.8, seed: i }),
  );

function unit(a: Float32Array): Float32Array {
  let s = 0;
  for (const x of a) s += x * x;
  const norm = Math.sqrt(s);
  return Float32Array.from(a, (x) => x / norm);
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Total loss at the learner's current parameters (a gradients() call, whose gradients are ignored). */
const lossOf = (l: BaselineLearner | FusedBaselineLearner, b: TrialBatch) => l.gradients(b).loss;

describe.each(BASELINE_MODELS)('%s', (model) => {
  it('is registered with a description', () => {
    expect(getModel(model).description.length).toBeGreaterThan(10);
  });

  // Float32 throughout: the observed error is ≤ 4e-4·‖g‖ for every model and group, while a wrong
  // gradient (a missing term, factor or sign) is off by O(‖g‖).
  it('gradient of each parameter group agrees with central differences of the loss', async () => {
    const l = await createBaselineLearner(tiny(model));
    const [b] = batches(1);
    // Move off the initial point, where some groups (biases, layer-norm shifts) are special.
    l.trainStep(b!);
    l.trainStep(b!);
    const { grads } = l.gradients(b!);
    const params = l.parameters();
    const rng = Rng.seeded(1, 'directions');
    const eps = 1e-2;
    for (const [k, g] of Object.entries(grads)) {
      const gNorm = Math.sqrt(dot(g, g));
      const random = unit(Float32Array.from(g, () => rng.normal()));
      // Along the gradient itself (checks its length) and along a random direction (checks its direction).
      for (const v of gNorm > 0 ? [unit(g), random] : [random]) {
        const at = (s: number) => {
          l.setParameter(
            k,
            Float32Array.from(params[k]!, (x, i) => x + s * v[i]!),
          );
          return lossOf(l, b!);
        };
        const central = (h: number) => (at(h) - at(-h)) / (2 * h);
        // Richardson extrapolation cancels the O(ε²) error of the central difference.
        const fd = (4 * central(eps / 2) - central(eps)) / 3;
        l.setParameter(k, params[k]!);
        expect(Math.abs(fd - dot(g, v)), `${k}: fd ${fd}, autodiff ${dot(g, v)}`).toBeLessThan(1.5e-3 * gNorm + 1e-5);
      }
    }
    l.dispose();
  });

  it('save → restore → continue equals the uninterrupted run exactly', async () => {
    const data = batches(8);
    const a = await createLearner(tiny(model));
    for (const b of data.slice(0, 3)) a.trainStep(b);
    a.startTask();
    for (const b of data.slice(3, 5)) a.trainStep(b);
    const bytes = a.save();
    const b2 = await createLearner(tiny(model, { seed: 99, hidden: 8 }), {}, bytes);
    expect(b2.save()).toEqual(bytes);
    for (const b of data.slice(5)) expect(b2.trainStep(b)).toEqual(a.trainStep(b));
    expect(b2.save()).toEqual(a.save());
    await expect(createLearner(tiny(model === 'rnn' ? 'gru' : 'rnn'), {}, bytes)).rejects.toThrow(
      /saved state is of model/,
    );
    a.dispose();
    b2.dispose();
  });

  it('same seed → same loss trajectory; another seed → another', async () => {
    const data = batches(5);
    const run = async (seed: number) => {
      const l = await createLearner(tiny(model, { seed }));
      const losses = data.map((b) => l.trainStep(b).loss);
      l.dispose();
      return losses;
    };
    const first = await run(3);
    expect(await run(3)).toEqual(first);
    expect(await run(4)).not.toEqual(first);
  });

  it('learns a small fixed task: task loss falls at least 5×', async () => {
    const b = randomBatch({ steps: 8, batch: 4, nIn: 3, nOut: 3, seed: 5 });
    const l = await createLearner(tiny(model, { hidden: 8, nOut: 3, lr: 2e-2 }));
    const first = l.trainStep(b).taskLoss;
    let last = first;
    for (let i = 0; i < 100; i++) last = l.trainStep(b).taskLoss;
    expect(first / last).toBeGreaterThan(5);
    expect(l.evaluate(b).accuracy).toBe(1);
    l.dispose();
  });

  it('leaks no tensors across iterations, and dispose frees everything', async () => {
    const before = tf.memory().numTensors;
    const l = (await createBaselineLearner(tiny(model))) as BaselineLearner;
    const data = batches(4);
    l.trainStep(data[0]!);
    const live = tf.memory().numTensors;
    for (const b of data) {
      const s = l.trainStep(b);
      expect(Number.isNaN(s.meanU2)).toBe(true);
      l.evaluate(b, new Uint8Array(4).fill(1));
      l.gradients(b);
    }
    l.startTask();
    l.save();
    l.parameters();
    l.recurrentWeights?.();
    expect(tf.memory().numTensors).toBe(live);
    l.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => l.trainStep(data[0]!)).toThrow(/disposed/);
  });

  it('trains with the cross-entropy loss too', async () => {
    const l = await createLearner(tiny(model, { loss: 'xent' }));
    const s = l.trainStep(batches(1)[0]!);
    expect(Number.isFinite(s.taskLoss) && s.taskLoss > 0).toBe(true);
    l.dispose();
  });
});

describe('parameter counts', () => {
  it('baselineParameters counts every parameter the model creates', async () => {
    for (const model of BASELINE_MODELS) {
      for (const hidden of [4, 8, 12]) {
        for (const engine of ['fused', 'tfjs'] as const) {
          const l = await createBaselineLearner(tiny(model, { hidden }), { mlpRatio: 3 }, undefined, { engine });
          const sizes = Object.values(l.parameters()).reduce((n, a) => n + a.length, 0);
          expect(baselineParameters(model, 3, 2, hidden, 3), `${model} ${hidden}`).toBe(sizes);
          expect(l.parameterCount()).toBe(sizes);
          l.dispose();
        }
      }
    }
  });

  it('a spiking network counts its weights and its learnable intrinsic properties', async () => {
    const weights = 3 * 4 + 4 * 4 + 4 + 4 * 2 + 2;
    const noip = await createLearner(tiny('rsnn-noip'));
    expect(noip.parameterCount!()).toBe(weights);
    const inner = await createLearner(tiny('ip-inner'), { space: ['tauD', 'theta'] });
    expect(inner.parameterCount!()).toBe(weights + 2 * 4);
    noip.dispose();
    inner.dispose();
  });

  it('spikingParameterCount gives what a built run learner counts, for every spiking model and family', async () => {
    for (const family of ['sma', 'dms', 'cddms']) {
      for (const [model, mask] of [
        ['rsnn-noip', []],
        ['ip2', ['tauS', 'theta']],
        ['ip-inner', []],
      ] as const) {
        const l = await createRunLearner({
          family,
          seed: 1,
          model,
          space: [...PAPER_SPACE],
          mask,
          hidden: 12,
          lr: 1e-3,
          loss: 'mse',
          dt: 1,
        });
        const keys = model === 'ip-inner' ? PAPER_SPACE : mask;
        expect(spikingParameterCount(family, 12, keys), `${family} ${model}`).toBe(l.parameterCount!());
        l.dispose();
      }
    }
  });

  it('hiddenForParameters picks the size whose count is nearest, a multiple of the heads for attention', () => {
    for (const model of BASELINE_MODELS) {
      const step = model.startsWith('attn') ? Number(model.slice(-1)) : 1;
      for (const target of [1, 500, 12_345, 41_000, 1_000_000]) {
        const got = hiddenForParameters(model, target, 11, 3);
        expect(got % step).toBe(0);
        const miss = (h: number) => Math.abs(baselineParameters(model, 11, 3, h) - target);
        for (let h = step; h <= 2000; h += step)
          expect(miss(got), `${model} ${target}: ${got} vs ${h}`).toBeLessThanOrEqual(miss(h));
      }
    }
    expect(() => hiddenForParameters('lstm', 0, 11, 3)).toThrow(/parameter count/);
  });
});

describe('baseline configuration', () => {
  it('attention width not divisible by the heads is an error naming hidden', async () => {
    await expect(createLearner(tiny('attn-h4', { hidden: 6 }))).rejects.toThrow(/hidden \(6\).*heads \(4\)/);
    await expect(createLearner(tiny('attn-h2', { hidden: 6 }))).resolves.toBeDefined();
  });

  it('unknown or invalid options are errors naming the field', async () => {
    await expect(createLearner(tiny('rnn'), { baseline: { tau: -1 } })).rejects.toThrow(/tau/);
    await expect(createLearner(tiny('rnn'), { baseline: { nope: 1 } as never })).rejects.toThrow(/nope/);
    await expect(createLearner(tiny('lstm', { hidden: 0 }))).rejects.toThrow(/hidden/);
  });

  it('options reach the model and are saved with it', async () => {
    const l = await createLearner(tiny('rnn'), { baseline: { lambdaOut: 0, tau: 40 } });
    const r = (await createLearner(tiny('rnn'), {}, l.save())) as BaselineLearner;
    expect(r.config.lambdaOut).toBe(0);
    expect(r.config.tau).toBe(40);
    l.dispose();
    r.dispose();
  });

  it('attention is causal: later inputs do not change earlier outputs', async () => {
    for (const model of ['attn-h1', 'attn-h4']) {
      const l = await createLearner(tiny(model));
      const [b] = batches(1, { steps: 8 });
      const changed = Float32Array.from(b!.inputs);
      for (let i = 5 * 2 * 3; i < changed.length; i++) changed[i] = changed[i]! + 1;
      const y0 = l.evaluate(b!).outputs;
      const y1 = l.evaluate({ ...b!, inputs: changed }).outputs;
      expect(y1.subarray(0, 5 * 2 * 2)).toEqual(y0.subarray(0, 5 * 2 * 2));
      expect(y1.subarray(5 * 2 * 2)).not.toEqual(y0.subarray(5 * 2 * 2));
      l.dispose();
    }
  });
});

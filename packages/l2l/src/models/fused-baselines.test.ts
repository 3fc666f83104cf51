import { randomBatch, type TrialBatch } from '@ip2/snn';
import { createInstance, trainingBatch } from '@ip2/tasks';
import { describe, expect, it } from 'vitest';
import type { LearnerSpec } from '../learner.js';
import { createBaselineLearner, FUSED_BASELINES, type BaselineModel } from './baselines.js';
import { FusedBaselineLearner } from './fused-baseline.js';
import { rnnAlpha } from './rnn.js';
import {
  BaselineLearner,
  lossPenalty,
  type BaselineConfig,
  type BaselineOptionsInput,
  type L2Group,
} from './tf-learner.js';

const spec = (model: string, over: Partial<LearnerSpec> = {}): LearnerSpec => ({
  model,
  nIn: 4,
  nOut: 3,
  hidden: 8,
  dt: 20,
  seed: 5,
  loss: 'mse',
  lr: 5e-3,
  ...over,
});

const batch = (seed: number, over: { steps?: number; batch?: number; nIn?: number } = {}): TrialBatch =>
  randomBatch({ steps: over.steps ?? 9, batch: over.batch ?? 3, nIn: over.nIn ?? 4, nOut: 3, scored: 0.7, seed });

/** ‖a − b‖ / ‖b‖. */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

async function pair(s: LearnerSpec, options: BaselineOptionsInput = {}) {
  const fused = await createBaselineLearner(s, options, undefined, { engine: 'fused' });
  const tf = await createBaselineLearner(s, options, undefined, { engine: 'tfjs' });
  expect(fused).toBeInstanceOf(FusedBaselineLearner);
  expect(fused.info).toEqual({ engine: 'fused', backend: 'wasm-simd' });
  expect(tf).toBeInstanceOf(BaselineLearner);
  return { fused: fused as FusedBaselineLearner, tf: tf as BaselineLearner };
}

type Params64 = Record<string, Float64Array>;
const sig = (z: number) => 1 / (1 + Math.exp(-z));
const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));

/** x W + b for a row vector x and W [k][m]. */
function affine(x: ArrayLike<number>, w: Float64Array, b: Float64Array | null, m: number): Float64Array {
  const out = b ? Float64Array.from(b) : new Float64Array(m);
  for (let i = 0; i < x.length; i++) for (let j = 0; j < m; j++) out[j] = out[j]! + x[i]! * w[i * m + j]!;
  return out;
}

/** The hidden state of one trial at every step, from its inputs, in float64 (rnn.ts, gated.ts, attention.ts). */
type Hidden = (c: BaselineConfig, p: Params64, xs: readonly Float64Array[]) => Float64Array[];

/** Runs a recurrent cell over the steps of one trial. */
const recurrent =
  (states: number, cell: (c: BaselineConfig, p: Params64, x: Float64Array, state: Float64Array[]) => void): Hidden =>
  (c, p, xs) => {
    const state = Array.from({ length: states }, () => new Float64Array(c.hidden));
    return xs.map((x) => {
      cell(c, p, x, state);
      return state[0]!.slice();
    });
  };

function layerNorm64(x: Float64Array, g: Float64Array, n: Float64Array): Float64Array {
  const mean = x.reduce((a, v) => a + v, 0) / x.length;
  const v = x.reduce((a, u) => a + (u - mean) ** 2, 0) / x.length;
  return x.map((u, j) => ((u - mean) / Math.sqrt(v + 1e-5)) * g[j]! + n[j]!);
}

const attentionHidden =
  (heads: number): Hidden =>
  (c, p, xs) => {
    const d = c.hidden;
    const dh = d / heads;
    const e = xs.map((x, t) =>
      affine(x, p.wIn!, p.bIn!, d).map(
        (v, i) => v + (i % 2 === 0 ? Math.sin : Math.cos)(t / 10000 ** ((2 * Math.floor(i / 2)) / d)),
      ),
    );
    const qkv = e.map((row) => affine(row, p.wQkv!, p.bQkv!, 3 * d));
    const o = e.map(() => new Float64Array(d));
    for (let h = 0; h < heads; h++) {
      for (let t = 0; t < xs.length; t++) {
        const scores = qkv.slice(0, t + 1).map((k) => {
          let s = 0;
          for (let j = 0; j < dh; j++) s += qkv[t]![h * dh + j]! * k[d + h * dh + j]!;
          return s / Math.sqrt(dh);
        });
        const max = Math.max(...scores);
        const z = scores.reduce((a, s) => a + Math.exp(s - max), 0);
        scores.forEach((s, u) => {
          const ot = o[t]!;
          for (let j = 0; j < dh; j++)
            ot[h * dh + j] = ot[h * dh + j]! + (Math.exp(s - max) / z) * qkv[u]![2 * d + h * dh + j]!;
        });
      }
    }
    return e.map((row, t) => {
      const h1 = layerNorm64(
        affine(o[t]!, p.wO!, p.bO!, d).map((v, j) => v + row[j]!),
        p.g1!,
        p.n1!,
      );
      const u = affine(h1, p.w1!, p.b1!, c.mlpRatio * d).map(
        (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
      );
      return layerNorm64(
        affine(u, p.w2!, p.b2!, d).map((v, j) => v + h1[j]!),
        p.g2!,
        p.n2!,
      );
    });
  };

const HIDDEN: Record<string, Hidden> = {
  rnn: recurrent(1, (c, p, x, [h]) => {
    const a = rnnAlpha(c.dt, c.tau);
    const z = affine(x, p.wIn!, p.b!, c.hidden);
    const rec = affine(h!, p.wRec!, null, c.hidden);
    for (let j = 0; j < c.hidden; j++) h![j] = (1 - a) * h![j]! + a * softplus(z[j]! + rec[j]!);
  }),
  lstm: recurrent(2, (c, p, x, [h, cell]) => {
    const n = c.hidden;
    const z = affine(x, p.wIn!, p.b!, 4 * n);
    const rec = affine(h!, p.wRec!, null, 4 * n);
    for (let j = 0; j < n; j++) {
      const g = (k: number) => z[k * n + j]! + rec[k * n + j]!;
      cell![j] = sig(g(1)) * cell![j]! + sig(g(0)) * Math.tanh(g(2));
      h![j] = sig(g(3)) * Math.tanh(cell![j]!);
    }
  }),
  gru: recurrent(1, (c, p, x, [h]) => {
    const n = c.hidden;
    const d = affine(x, p.wIn!, p.b!, 3 * n);
    const q = affine(h!, p.wRec!, null, 3 * n);
    for (let j = 0; j < n; j++) {
      const r = sig(d[j]! + q[j]!);
      const u = sig(d[n + j]! + q[n + j]!);
      const cand = Math.tanh(d[2 * n + j]! + r * (q[2 * n + j]! + p.bRec![j]!));
      h![j] = (1 - u) * cand + u * h![j]!;
    }
  }),
  'attn-h1': attentionHidden(1),
  'attn-h2': attentionHidden(2),
  'attn-h4': attentionHidden(4),
};

/** The model and its loss written out in float64, independently of both engines. */
function reference(model: string, c: BaselineConfig, p: Params64, b: TrialBatch): number {
  const { steps: T, batch: B, nIn, nOut } = b;
  const y = new Float64Array(T * B * nOut);
  for (let trial = 0; trial < B; trial++) {
    const xs = Array.from({ length: T }, (_, t) =>
      Float64Array.from(b.inputs.subarray((t * B + trial) * nIn, (t * B + trial + 1) * nIn)),
    );
    HIDDEN[model]!(c, p, xs).forEach((h, t) => y.set(affine(h, p.wOut!, p.bOut!, nOut), (t * B + trial) * nOut));
  }
  let scored = 0;
  let task = 0;
  for (let s = 0; s < T * B; s++) {
    const m = b.mask[s]!;
    scored += m;
    const row = y.subarray(s * nOut, (s + 1) * nOut);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((acc, v) => acc + Math.exp(v - max), 0));
    for (let o = 0; o < nOut; o++) {
      const target = b.targets[s * nOut + o]!;
      task += c.loss === 'mse' ? m * (row[o]! - target) ** 2 : -m * target * (row[o]! - lse);
    }
  }
  task /= c.loss === 'mse' ? scored * nOut : scored;
  const pen = lossPenalty(c);
  const meanSq = (a: Float64Array) => a.reduce((acc, v) => acc + v * v, 0) / a.length;
  let loss = task;
  for (const [k, a] of Object.entries(p)) if (L2_GROUPS[k]) loss += pen[L2_GROUPS[k]] * meanSq(a);
  return loss;
}

/** The L2 group of every regularised weight of the models (rnn.ts, gated.ts, attention.ts). */
const L2_GROUPS: Record<string, L2Group | undefined> = {
  wIn: 'in',
  wRec: 'rec',
  wQkv: 'rec',
  wO: 'rec',
  w1: 'rec',
  w2: 'rec',
  wOut: 'out',
};

const MODELS = FUSED_BASELINES as readonly BaselineModel[];

describe.each(MODELS)('fused %s against the TensorFlow.js autodiff', (model) => {
  // Random networks: several seeds, both losses, both weight penalties, the rnn's gain and τ other
  // than the defaults, and parameters moved off their initial values (biases non-zero) by a few
  // Adam steps of the fused engine; then its state is copied into the TensorFlow.js one.
  const cases: { seed: number; loss: 'mse' | 'xent'; options: BaselineOptionsInput }[] = [
    { seed: 1, loss: 'mse', options: {} },
    { seed: 2, loss: 'xent', options: {} },
    {
      seed: 3,
      loss: 'mse',
      options: { weightDecay: { mode: 'loss' }, ...(model === 'rnn' ? { gain: 2.5, tau: 50 } : {}) },
    },
    {
      seed: 4,
      loss: 'xent',
      options: { weightDecay: { mode: 'loss' }, lambdaOut: 0, ...(model === 'rnn' ? { tau: 300 } : {}) },
    },
  ];
  for (const c of cases) {
    it(`seed ${c.seed}, ${c.loss}, ${JSON.stringify(c.options)}: same init, loss within 1e-5, every gradient within 1e-4`, async () => {
      const { fused, tf } = await pair(spec(model, { seed: c.seed, loss: c.loss }), c.options);
      for (const [k, a] of Object.entries(tf.parameters())) expect(fused.parameters()[k], k).toEqual(a);
      for (let i = 0; i < 3; i++) fused.trainStep(batch(100 + i));
      for (const [k, a] of Object.entries(fused.parameters())) tf.setParameter(k, a);
      for (const seed of [10 + c.seed, 20 + c.seed]) {
        const b = batch(seed);
        const f = fused.gradients(b);
        const t = tf.gradients(b);
        expect(Math.abs(f.loss - t.loss) / t.loss).toBeLessThan(1e-5);
        expect(Math.abs(f.taskLoss - t.taskLoss) / t.taskLoss).toBeLessThan(1e-5);
        expect(Object.keys(f.grads)).toEqual(Object.keys(t.grads));
        for (const [k, g] of Object.entries(t.grads)) expect(relError(f.grads[k]!, g), k).toBeLessThan(1e-4);
        expect(relError(fused.evaluate(b).outputs, tf.evaluate(b).outputs)).toBeLessThan(1e-5);
        const lesion = Uint8Array.from({ length: 8 }, (_, i) => (i % 3 === 0 ? 1 : 0));
        expect(relError(fused.evaluate(b, lesion).outputs, tf.evaluate(b, lesion).outputs)).toBeLessThan(1e-5);
      }
      fused.dispose();
      tf.dispose();
    });
  }

  it('on task batches (sparse inputs, two batch shapes): the same loss and gradients', async () => {
    const instance = createInstance('sma', 1, 0);
    const s = spec(model, { nIn: instance.nIn, nOut: instance.nOut, dt: 40, seed: 6 });
    const { fused, tf } = await pair(s);
    for (const [i, size] of [2, 1, 2].entries()) {
      const b = trainingBatch(instance, 1, i, size, 40);
      const f = fused.gradients(b);
      const t = tf.gradients(b);
      expect(Math.abs(f.loss - t.loss) / t.loss).toBeLessThan(1e-5);
      for (const [k, g] of Object.entries(t.grads)) expect(relError(f.grads[k]!, g), k).toBeLessThan(1e-4);
      expect(fused.trainStep(b).loss).toBeCloseTo(tf.trainStep(b).loss, 5);
    }
    fused.dispose();
    tf.dispose();
  });

  it('clipped Adam with decoupled decay: the same trajectory over 20 steps and a task reset', async () => {
    const options = { clipNorm: 0.05, weightDecay: { in: 0.5, rec: 1, out: 2 } };
    const { fused, tf } = await pair(spec(model, { seed: 9, lr: 2e-2 }), options);
    for (let i = 0; i < 20; i++) {
      if (i === 10) {
        fused.startTask();
        tf.startTask();
      }
      const b = batch(200 + i);
      const sf = fused.trainStep(b);
      const st = tf.trainStep(b);
      expect(Math.abs(sf.loss - st.loss) / st.loss).toBeLessThan(1e-4);
    }
    const d = fused.config.hidden;
    for (const [k, a] of Object.entries(tf.parameters())) {
      // The key bias b_k adds q·b_k to every score of a row, which the softmax cancels: its gradient
      // is 0 up to rounding, and Adam turns that rounding into steps of about lr, different in each
      // engine. The outputs do not depend on it; its values are left out here.
      const free = (x: Float32Array) =>
        k === 'bQkv' ? Float32Array.from([...x.subarray(0, d), ...x.subarray(2 * d)]) : x;
      expect(relError(free(fused.parameters()[k]!), free(a)), k).toBeLessThan(1e-4);
    }
    const b = batch(300);
    expect(relError(fused.evaluate(b).outputs, tf.evaluate(b).outputs)).toBeLessThan(1e-4);
    fused.dispose();
    tf.dispose();
  });

  for (const loss of ['mse', 'xent'] as const) {
    it(`${loss}: the loss equals a float64 reference and every gradient its central differences`, async () => {
      const l = (await createBaselineLearner(
        spec(model, { loss, hidden: model.startsWith('attn') ? 4 : 5, nIn: 3 }),
        { weightDecay: { mode: 'loss' } },
        undefined,
        { engine: 'fused' },
      )) as FusedBaselineLearner;
      const b = randomBatch({ steps: 7, batch: 2, nIn: 3, nOut: 3, scored: 0.7, seed: 3 });
      l.trainStep(b);
      l.trainStep(b);
      const p = Object.fromEntries(Object.entries(l.parameters()).map(([k, a]) => [k, Float64Array.from(a)]));
      const { loss: value, grads } = l.gradients(b);
      expect(Math.abs(value - reference(model, l.config, p, b)) / value).toBeLessThan(1e-5);
      for (const [k, g] of Object.entries(grads)) {
        const fd = Float64Array.from(g, (_, i) => {
          const x = p[k]![i]!;
          const h = 1e-6 * Math.max(1, Math.abs(x));
          p[k]![i] = x + h;
          const up = reference(model, l.config, p, b);
          p[k]![i] = x - h;
          const down = reference(model, l.config, p, b);
          p[k]![i] = x;
          return (up - down) / (2 * h);
        });
        expect(relError(g, fd), k).toBeLessThan(1e-5);
      }
      l.dispose();
    });
  }
});

describe.each(MODELS)('fused %s state', (model) => {
  it('save and restore continue byte-identically', async () => {
    const s = spec(model, { seed: 12 });
    const a = await createBaselineLearner(s, {}, undefined, { engine: 'fused' });
    for (let i = 0; i < 5; i++) a.trainStep(batch(300 + i));
    const b = await createBaselineLearner(s, {}, a.save(), { engine: 'fused' });
    expect(b.save()).toEqual(a.save());
    for (let i = 5; i < 12; i++) {
      if (i === 8) {
        a.startTask();
        b.startTask();
      }
      // A batch of another shape in between makes the workspace grow.
      const x = batch(300 + i, i === 9 ? { steps: 40, batch: 5 } : {});
      expect(b.trainStep(x)).toEqual(a.trainStep(x));
    }
    expect(b.save()).toEqual(a.save());
    a.dispose();
    b.dispose();
  });

  it('reads the TensorFlow.js engine’s state and the other way round', async () => {
    const s = spec(model, { seed: 13 });
    const tf = await createBaselineLearner(s, { clipNorm: 0.5 }, undefined, { engine: 'tfjs' });
    tf.trainStep(batch(400));
    const fused = await createBaselineLearner(s, {}, tf.save(), { engine: 'fused' });
    expect(fused.config.clipNorm).toBe(0.5);
    expect(fused.save()).toEqual(tf.save());
    const back = await createBaselineLearner(s, {}, fused.save(), { engine: 'tfjs' });
    expect(back.save()).toEqual(tf.save());
    tf.dispose();
    back.dispose();
    fused.dispose();
  });

  it('a state saved before decoupled decay existed restores with the penalty in the loss', async () => {
    const s = spec(model, { seed: 14 });
    const tf = (await createBaselineLearner(s, { weightDecay: { mode: 'loss' } }, undefined, {
      engine: 'tfjs',
    })) as BaselineLearner;
    const { weightDecay: _, ...old } = tf.config;
    const { meta, arrays } = await import('./tf-common.js').then((m) => m.unpackArrays(tf.save()));
    const bytes = (await import('./tf-common.js')).packArrays({ ...(meta as object), config: old }, arrays);
    for (const engine of ['fused', 'tfjs'] as const) {
      const l = await createBaselineLearner(s, {}, bytes, { engine });
      expect(l.config.weightDecay.mode).toBe('loss');
      l.dispose();
    }
    tf.dispose();
  });

  it('rejects bad state, shapes and lesions with a message naming them', async () => {
    const s = spec(model);
    const other = model === 'rnn' ? 'gru' : 'rnn';
    await expect(createBaselineLearner(s, {}, new Uint8Array(3), { engine: 'fused' })).rejects.toThrow(/short/);
    const foreign = await createBaselineLearner(spec(other), {}, undefined, { engine: 'fused' });
    await expect(createBaselineLearner(s, {}, foreign.save(), { engine: 'fused' })).rejects.toThrow(
      /saved state is of model/,
    );
    await expect(createBaselineLearner({ ...s, hidden: 0 }, {}, undefined, { engine: 'fused' })).rejects.toThrow(
      /hidden/,
    );
    const l = await createBaselineLearner(s, {}, undefined, { engine: 'fused' });
    expect(() => l.trainStep(batch(1, { nIn: 5 }))).toThrow(/inputs/);
    if (model === 'rnn') expect(() => l.evaluate(batch(1), new Uint8Array(4))).toThrow(/lesion/);
    l.dispose();
    expect(() => l.trainStep(batch(1))).toThrow(/disposed/);
    foreign.dispose();
  });
});

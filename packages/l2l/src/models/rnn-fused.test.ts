import { randomBatch, type TrialBatch } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import type { LearnerSpec } from '../learner.js';
import { createBaselineLearner } from './baselines.js';
import { FusedRnnLearner } from './rnn-fused.js';
import { BaselineLearner } from './tf-learner.js';

const spec = (over: Partial<LearnerSpec> = {}): LearnerSpec => ({
  model: 'rnn',
  nIn: 4,
  nOut: 3,
  hidden: 9,
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

async function pair(s: LearnerSpec, options = {}) {
  const fused = await createBaselineLearner(s, options, undefined, 'fused');
  const tf = await createBaselineLearner(s, options, undefined, 'tfjs');
  expect(fused).toBeInstanceOf(FusedRnnLearner);
  expect(tf).toBeInstanceOf(BaselineLearner);
  return { fused, tf };
}

describe('fused rnn against the TensorFlow.js autodiff rnn', () => {
  // Random networks: several seeds, both losses, a gain and τ other than the defaults, and
  // parameters moved off their initial values (biases non-zero) by a few Adam steps on each engine
  // from the same start; then the state of one is copied into the other.
  const cases = [
    { seed: 1, loss: 'mse' as const, options: {} },
    { seed: 2, loss: 'xent' as const, options: {} },
    { seed: 3, loss: 'mse' as const, options: { gain: 2.5, tau: 50 } },
    { seed: 4, loss: 'xent' as const, options: { gain: 0.8, tau: 300, lambdaOut: 0 } },
  ];
  for (const c of cases) {
    it(`seed ${c.seed}, ${c.loss}, ${JSON.stringify(c.options)}: same init, loss and every gradient within 1e-4`, async () => {
      const { fused, tf } = await pair(spec({ seed: c.seed, loss: c.loss }), c.options);
      for (const [k, a] of Object.entries(tf.parameters())) expect(fused.parameters()[k], k).toEqual(a);
      for (let i = 0; i < 3; i++) fused.trainStep(batch(100 + i));
      for (const [k, a] of Object.entries(fused.parameters())) tf.setParameter(k, a);
      for (const seed of [10 + c.seed, 20 + c.seed]) {
        const b = batch(seed);
        const f = fused.gradients(b);
        const t = tf.gradients(b);
        expect(Math.abs(f.loss - t.loss) / t.loss).toBeLessThan(1e-5);
        expect(Math.abs(f.taskLoss - t.taskLoss) / t.taskLoss).toBeLessThan(1e-5);
        for (const [k, g] of Object.entries(t.grads)) expect(relError(f.grads[k]!, g), k).toBeLessThan(1e-4);
        const ef = fused.evaluate(b);
        const et = tf.evaluate(b);
        expect(relError(ef.outputs, et.outputs)).toBeLessThan(1e-5);
        const lesion = Uint8Array.from({ length: 9 }, (_, i) => (i % 3 === 0 ? 1 : 0));
        expect(relError(fused.evaluate(b, lesion).outputs, tf.evaluate(b, lesion).outputs)).toBeLessThan(1e-5);
      }
      fused.dispose();
      tf.dispose();
    });
  }

  it('Adam with clipping: the same trajectory over 20 steps and a task reset', async () => {
    const { fused, tf } = await pair(spec({ seed: 9, lr: 2e-2 }), { clipNorm: 0.05 });
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
    for (const [k, a] of Object.entries(tf.parameters()))
      expect(relError(fused.parameters()[k]!, a), k).toBeLessThan(1e-4);
    fused.dispose();
    tf.dispose();
  });
});

describe('fused rnn state', () => {
  it('save and restore continue byte-identically', async () => {
    const s = spec({ seed: 12 });
    const a = FusedRnnLearner.create(s);
    for (let i = 0; i < 5; i++) a.trainStep(batch(300 + i));
    const b = FusedRnnLearner.create(s, {}, a.save());
    expect(b.save()).toEqual(a.save());
    for (let i = 5; i < 12; i++) {
      if (i === 8) {
        a.startTask();
        b.startTask();
      }
      expect(b.trainStep(batch(300 + i))).toEqual(a.trainStep(batch(300 + i)));
    }
    expect(b.save()).toEqual(a.save());
  });

  it('reads the TensorFlow.js engine’s state and the other way round', async () => {
    const s = spec({ seed: 13 });
    const tf = await createBaselineLearner(s, { tau: 60 }, undefined, 'tfjs');
    tf.trainStep(batch(400));
    const fused = FusedRnnLearner.create(s, {}, tf.save());
    expect(fused.config.tau).toBe(60);
    expect(fused.save()).toEqual(tf.save());
    const back = await createBaselineLearner(s, {}, fused.save(), 'tfjs');
    expect(back.save()).toEqual(tf.save());
    tf.dispose();
    back.dispose();
  });

  it('rejects bad state, shapes and lesions with a message naming them', () => {
    const s = spec();
    expect(() => FusedRnnLearner.create({ ...s, model: 'lstm' })).toThrow(/rnn/);
    expect(() => FusedRnnLearner.create({ ...s, hidden: 0 })).toThrow(/hidden/);
    const l = FusedRnnLearner.create(s);
    expect(() => FusedRnnLearner.create({ ...s, model: 'rnn' }, {}, new Uint8Array(3))).toThrow(/short/);
    expect(() => l.trainStep(batch(1, { nIn: 5 }))).toThrow(/inputs/);
    expect(() => l.evaluate(batch(1), new Uint8Array(4))).toThrow(/lesion/);
    l.dispose();
    expect(() => l.trainStep(batch(1))).toThrow(/disposed/);
  });
});

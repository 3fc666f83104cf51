import { randomBatch, type TrialBatch } from '@ip2/snn';
import { createInstance } from '@ip2/tasks';
import { describe, expect, it } from 'vitest';
import { sequenceLearner, type LearnerSpec } from '../learner.js';
import { parseProtocol, runSequence, type TaskResult } from '../protocol.js';
import { createLearner } from './registry.js';
import { rnnAlpha } from './rnn.js';
import type { FusedRnnLearner } from './rnn-fused.js';
import { lossPenalty, type BaselineConfig, type BaselineLearner } from './tf-learner.js';

type RnnLearner = BaselineLearner | FusedRnnLearner;

type Params64 = Record<string, Float64Array>;

const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
const meanSquare = (a: Float64Array) => a.reduce((s, x) => s + x * x, 0) / a.length;

/** The leaky softplus RNN and its loss written out in float64, independently of TensorFlow.js. */
function reference(c: BaselineConfig, p: Params64, batch: TrialBatch, keep?: Float64Array) {
  const { steps: T, batch: B, nIn, nOut } = batch;
  const n = c.hidden;
  const alpha = rnnAlpha(c.dt, c.tau);
  const h = new Float64Array(B * n);
  const y = new Float64Array(T * B * nOut);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const prev = h.slice(b * n, (b + 1) * n);
      for (let j = 0; j < n; j++) {
        let z = p.b![j]!;
        for (let i = 0; i < nIn; i++) z += batch.inputs[(t * B + b) * nIn + i]! * p.wIn![i * n + j]!;
        for (let i = 0; i < n; i++) z += prev[i]! * p.wRec![i * n + j]!;
        h[b * n + j] = ((1 - alpha) * prev[j]! + alpha * softplus(z)) * (keep ? keep[j]! : 1);
      }
      for (let o = 0; o < nOut; o++) {
        let v = p.bOut![o]!;
        for (let j = 0; j < n; j++) v += h[b * n + j]! * p.wOut![j * nOut + o]!;
        y[(t * B + b) * nOut + o] = v;
      }
    }
  }
  let scored = 0;
  let task = 0;
  for (let s = 0; s < T * B; s++) {
    const m = batch.mask[s]!;
    scored += m;
    if (c.loss === 'mse') {
      for (let o = 0; o < nOut; o++) task += m * (y[s * nOut + o]! - batch.targets[s * nOut + o]!) ** 2;
    } else {
      const row = y.subarray(s * nOut, (s + 1) * nOut);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((acc, v) => acc + Math.exp(v - max), 0));
      for (let o = 0; o < nOut; o++) task -= m * batch.targets[s * nOut + o]! * (row[o]! - lse);
    }
  }
  task /= c.loss === 'mse' ? scored * nOut : scored;
  const pen = lossPenalty(c);
  const loss = task + pen.in * meanSquare(p.wIn!) + pen.rec * meanSquare(p.wRec!) + pen.out * meanSquare(p.wOut!);
  return { loss, task, y };
}

const spec = (over: Partial<LearnerSpec> = {}): LearnerSpec => ({
  model: 'rnn',
  nIn: 3,
  nOut: 3,
  hidden: 5,
  dt: 20,
  seed: 11,
  loss: 'mse',
  lr: 1e-2,
  ...over,
});

const to64 = (p: Record<string, Float32Array>): Params64 =>
  Object.fromEntries(Object.entries(p).map(([k, a]) => [k, Float64Array.from(a)]));

describe.each(['fused', 'tfjs'] as const)('rnn (%s engine) against a float64 reference', (engine) => {
  for (const [loss, mode] of [
    ['mse', 'decoupled'],
    ['xent', 'decoupled'],
    ['mse', 'loss'],
  ] as const) {
    it(`${loss}, weight penalty ${mode}: loss equals the reference, gradients equal its central differences`, async () => {
      const l = (await createLearner(spec({ loss }), { engine, baseline: { weightDecay: { mode } } })) as RnnLearner;
      expect(l.info.engine).toBe(engine);
      const batch = randomBatch({ steps: 7, batch: 2, nIn: 3, nOut: 3, scored: 0.7, seed: 3 });
      l.trainStep(batch);
      const p = to64(l.parameters());
      const { loss: value, grads } = l.gradients(batch);
      expect(value).toBeCloseTo(reference(l.config, p, batch).loss, 5);
      for (const [k, g] of Object.entries(grads)) {
        let num = 0;
        let den = 0;
        for (let i = 0; i < g.length; i++) {
          const x = p[k]![i]!;
          const h = 1e-6 * Math.max(1, Math.abs(x));
          p[k]![i] = x + h;
          const up = reference(l.config, p, batch).loss;
          p[k]![i] = x - h;
          const down = reference(l.config, p, batch).loss;
          p[k]![i] = x;
          const fd = (up - down) / (2 * h);
          num += (g[i]! - fd) ** 2;
          den += fd ** 2;
        }
        // float32 parameters against float64 differences: observed ≤ 3e-7 relative.
        expect(Math.sqrt(num / den), k).toBeLessThan(1e-5);
      }
      l.dispose();
    });
  }

  it('a lesion holds the silenced units at 0, as in the reference', async () => {
    const l = (await createLearner(spec(), { engine })) as RnnLearner;
    const batch = randomBatch({ steps: 6, batch: 2, nIn: 3, nOut: 3, seed: 4 });
    const lesion = Uint8Array.from([1, 0, 0, 1, 0]);
    const keep = Float64Array.from(lesion, (s) => 1 - s);
    const got = l.evaluate(batch, lesion).outputs;
    const want = reference(l.config, to64(l.parameters()), batch, keep).y;
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
    const all = l.evaluate(batch, new Uint8Array(5).fill(1)).outputs;
    const bOut = l.parameters().bOut!;
    for (let i = 0; i < all.length; i++) expect(all[i]).toBe(bOut[i % 3]);
    expect(() => l.evaluate(batch, new Uint8Array(4))).toThrow(/lesion/);
    expect(l.recurrentWeights!()).toEqual({ n: 5, w: l.parameters().wRec });
    l.dispose();
  });
});

describe('rnn in the learning-to-learn protocol', () => {
  it('runs a short sma sequence and reports every task', async () => {
    const instance = createInstance('sma', 0, 0);
    // dt = 40 ms halves the steps per trial (50) and so the test's time.
    const protocol = parseProtocol({ tasks: 3, window: 10, epsilon: 0.05, cap: 300, evalBatch: 8, dt: 40 });
    const learner = await createLearner(
      spec({ nIn: instance.nIn, nOut: instance.nOut, hidden: 16, dt: protocol.dt, seed: 1 }),
    );
    const results: TaskResult[] = [];
    for await (const step of runSequence({ family: 'sma', seed: 1, protocol, learner: sequenceLearner(learner) }))
      results.push(step.result);
    expect(results.map((r) => r.taskIndex)).toEqual([0, 1, 2]);
    for (const r of results) {
      expect(r.totalIterations).toBeGreaterThanOrEqual(protocol.window);
      expect(r.totalIterations).toBeLessThanOrEqual(protocol.cap);
      expect(Number.isFinite(r.finalLoss) && Number.isFinite(r.heldOutLoss)).toBe(true);
      expect(r.accuracy).toBeGreaterThanOrEqual(0);
      expect(Number.isNaN(r.firingRate)).toBe(true);
      expect(r.activeNeurons).toBeNaN();
      expect(r.fractionSilent).toBeNaN();
      expect(r.neurons).toBe(16);
      expect(r.batchSize).toBe(2);
      expect(r.trialsToCriterion).toBe(r.iterations * 2);
      expect(r.iterations).toBe(r.totalIterations - protocol.window);
    }
    learner.dispose();
  });
});

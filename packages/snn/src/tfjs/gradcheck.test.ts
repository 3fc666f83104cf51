import { afterAll, describe, expect, it } from 'vitest';
import type { NetworkConfigInput } from '../model/config.js';
import type { NetworkState, ParamKey, Params, TrialBatch } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { initNetwork } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { referenceForward } from '../model/reference.js';
import { randomBatch } from '../testkit.js';
import { TfjsEngine } from './tfjs-engine.js';

/**
 * Central finite differences of the float64 reference forward pass, against the TensorFlow.js
 * engine's autodiff gradients (float32). With the smooth spike the model is differentiable, so the
 * two must agree; the float32 parameters are perturbed by exactly representable steps.
 */
function finiteDifferences(state: NetworkState, batch: TrialBatch, target: number | null, key: ParamKey): Float64Array {
  const p = state.params[key];
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const x = p[i]!;
    const h = 1e-3 * Math.max(1, Math.abs(x));
    const trial = (value: number): [number, number] => {
      const params: Params = { ...state.params, [key]: Float32Array.from(p) };
      params[key][i] = value;
      return [params[key][i]!, referenceForward(state.config, params, batch, target).terms.loss];
    };
    const [xp, lp] = trial(x + h);
    const [xm, lm] = trial(x - h);
    out[i] = (lp - lm) / (xp - xm);
  }
  return out;
}

function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
}

const cases: { name: string; config: NetworkConfigInput }[] = [
  { name: 'mse, all five properties', config: { loss: { kind: 'mse' } } },
  { name: 'xent, all five properties', config: { loss: { kind: 'xent' } } },
];

describe('finite-difference gradient check (smooth spike)', () => {
  const engines: TfjsEngine[] = [];
  afterAll(() => engines.forEach((e) => e.dispose()));

  for (const c of cases) {
    it(`${c.name}: every parameter group within 1e-3 relative error`, async () => {
      const state = initNetwork({
        nIn: 3,
        nRec: 6,
        nOut: 2,
        spike: 'soft',
        surrogate: { name: 'fast-sigmoid', kappa: 3 },
        space: [...PROPERTY_KEYS],
        learnable: [...PROPERTY_KEYS],
        init: { tauD: { min: 30, max: 150 }, tauS: { min: 30, max: 150 }, tauA: { min: 200, max: 1000 } },
        weights: { inGain: 3, recGain: 1.5 },
        loss: { ...c.config.loss, lambdaH: 0.01, lambdaIn: 0.01, lambdaRec: 0.01, lambdaOut: 0.05 },
        seed: 5,
      });
      const target = 0.05;
      const batch = randomBatch({ steps: 14, batch: 2, nIn: 3, nOut: 2, inputScale: 1.5, scored: 0.7, seed: 2 });
      const engine = await TfjsEngine.create(state);
      engines.push(engine);
      engine.setHomeostaticTarget(target);
      const g = engine.gradients(batch);
      const ref = referenceForward(state.config, state.params, batch, target).terms;
      expect(g.loss).toBeCloseTo(ref.loss, 5);
      expect(g.homeoLoss).toBeGreaterThan(0);
      for (const key of [...WEIGHT_KEYS, ...PROPERTY_KEYS]) {
        const fd = finiteDifferences(state, batch, target, key);
        const err = relativeError(g.grads[key], fd);
        expect(Math.hypot(...fd), `${key}: gradient should not vanish`).toBeGreaterThan(1e-6);
        expect(err, `${key}: relative error ${err.toExponential(2)}`).toBeLessThan(1e-3);
      }
    });
  }
});

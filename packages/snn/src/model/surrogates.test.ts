import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveBackend } from '../tfjs/backend.js';
import { parseNetworkConfig } from './config.js';
import { assertSurrogateName, MG_H, MG_S, SURROGATE_NAMES, surrogate, type SurrogateParams } from './surrogates.js';
import { makeSpike } from '../tfjs/tfjs-engine.js';

const points = [-0.9, -0.31, -0.05, -0.001, 0.0005, 0.02, 0.12, 0.5, 1.7];
const thetas = [0.8, 1.0, 1.3];

/** Closed forms written out independently of surrogates.ts. */
const closedForm: Record<string, (v: number, th: number, g: number, k: number) => number> = {
  'fast-sigmoid': (v, th, g, k) => g / (1 + (k * Math.abs(v)) / th) ** 2,
  arctan: (v, th, g, k) => g / (1 + ((Math.PI / 2) * k * (v / th)) ** 2),
  'multi-gaussian': (v, th, g, k) => {
    const x = v / th;
    const s = 1 / k;
    const gauss = (mu: number, sd: number) => Math.exp(-((x - mu) ** 2) / (2 * sd * sd));
    const at0 = 1 + MG_H - 2 * MG_H * Math.exp(-(s * s) / (2 * (MG_S * s) ** 2));
    return (g * ((1 + MG_H) * gauss(0, s) - MG_H * gauss(s, MG_S * s) - MG_H * gauss(-s, MG_S * s))) / at0;
  },
};

describe('surrogate derivatives', () => {
  beforeAll(async () => {
    await resolveBackend();
  });

  for (const name of SURROGATE_NAMES) {
    it(`${name}: ψ(0) = γ and the value equals its closed form`, () => {
      const p: SurrogateParams = { name, gamma: 0.3, kappa: 10 };
      expect(surrogate(p, 0, 1)).toBeCloseTo(0.3, 12);
      for (const v of points)
        for (const th of thetas) expect(surrogate(p, v, th)).toBeCloseTo(closedForm[name]!(v, th, 0.3, 10), 12);
    });

    it(`${name}: the spike's backward pass equals the closed form, forward is Heaviside`, () => {
      const p: SurrogateParams = { name, gamma: 0.7, kappa: 4 };
      const spike = makeSpike(p);
      for (const th of thetas) {
        const v = tf.tensor1d(points);
        const theta = tf.fill([points.length], th);
        const out = spike(v, theta).dataSync();
        const grad = tf
          .grad((x: tf.Tensor) => tf.sum(spike(x, theta)))(v)
          .dataSync();
        points.forEach((x, i) => {
          expect(out[i]).toBe(x > 0 ? 1 : 0);
          expect(grad[i]).toBeCloseTo(closedForm[name]!(x, th, 0.7, 4), 5);
        });
        v.dispose();
        theta.dispose();
      }
    });
  }

  it('an unknown name is an error listing the valid names', () => {
    expect(() => assertSurrogateName('relu')).toThrow(
      /unknown surrogate 'relu'; valid: fast-sigmoid, arctan, multi-gaussian/,
    );
    expect(() => parseNetworkConfig({ surrogate: { name: 'relu' as never } })).toThrow(
      /surrogate\.name: unknown surrogate 'relu'; valid: fast-sigmoid, arctan, multi-gaussian/,
    );
  });
});

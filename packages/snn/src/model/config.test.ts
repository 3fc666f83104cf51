import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, parseNetworkConfig } from './config.js';
import { allMasks, maskFromKeys, maskKeys, maskLabel, parsePropertyKeys, PAPER_SPACE } from './properties.js';
import { initNetwork, intrinsicValues, learningRate } from '../network.js';
import type { TfBackendName } from '../tfjs/backend.js';

describe('network configuration', () => {
  it('fills SCIENCE.md defaults', () => {
    const c = parseNetworkConfig();
    expect(c).toMatchObject({ dt: 20, nRec: 100, space: ['tauD', 'tauS', 'theta'], learnable: [], trainWeights: true });
    expect(c.surrogate).toEqual({ name: 'fast-sigmoid', gamma: 0.3, kappa: 10 });
    expect(c.loss).toEqual({ kind: 'mse', lambdaH: 5e-4, lambdaIn: 1e-4, lambdaRec: 1e-3, lambdaOut: 0.1 });
    expect(c.tauClamp).toEqual({ min: 20, max: 5000, mode: 'step' });
    expect(c).toMatchObject({ modelVersion: 2, readout: 'spikes', tauOut: 100, firingTarget: 10 });
    expect(c.init.tauD).toEqual({ min: 100, max: 1000 });
    expect(c.weightDecay).toEqual({ mode: 'decoupled', in: 1e-2, rec: 1e-2, out: 1e-2 });
    expect(c.optimizer.properties).toBe('adam');
    expect(c.optimizer.lr).toEqual({});
  });

  it('model version 1 restores the first defaults under the fields a configuration sets', () => {
    const c = parseNetworkConfig({ modelVersion: 1, init: { tauS: { min: 50, max: 60 } } });
    expect(c).toMatchObject({ modelVersion: 1, readout: 'membrane', firingTarget: null });
    expect(c.tauClamp).toEqual({ min: 20, max: 2000, mode: 'forward' });
    expect(c.init.tauD).toEqual({ min: 20, max: 200 });
    expect(c.init.tauS).toEqual({ min: 50, max: 60 });
    expect(c.weightDecay.mode).toBe('loss');
    expect(c.optimizer.lr).toEqual({ tauD: 1e-2, tauS: 1e-2, theta: 1e-2, beta: 1e-2, tauA: 1e-2 });
    // Parsing a parsed configuration changes nothing.
    expect(parseNetworkConfig(c as never)).toEqual(c);
    expect(parseNetworkConfig(parseNetworkConfig() as never)).toEqual(parseNetworkConfig());
  });

  it("a property without its own learning rate takes the weights' one", () => {
    const c = parseNetworkConfig({ optimizer: { lrWeights: 3e-3, lr: { theta: 1e-2 } } });
    expect(learningRate(c, 'tauD')).toBe(3e-3);
    expect(learningRate(c, 'theta')).toBe(1e-2);
    expect(learningRate(c, 'wRec')).toBe(3e-3);
  });

  const bad: [unknown, RegExp][] = [
    [{ nRec: 0 }, /^nRec: .*>=1/],
    [{ nRec: 2.5 }, /^nRec: .*expected int/],
    [{ dt: -1 }, /^dt: .*>0/],
    [{ dt: 'x' }, /^dt: .*expected number, received string/],
    [{ space: ['tauD', 'tauX'] }, /^space\.1: /],
    [{ space: ['tauD', 'tauD'] }, /^space\.1: duplicate property 'tauD'/],
    [{ learnable: ['beta'] }, /^learnable\.0: 'beta' is not in the search space/],
    [{ init: { tauD: { min: 300, max: 100 } } }, /^init\.tauD: min must not exceed max/],
    [{ init: { theta: { mean: 1, spread: 2 } } }, /^init\.theta: spread must be smaller than mean/],
    [{ optimizer: { beta1: 1 } }, /^optimizer\.beta1: /],
    [{ loss: { kind: 'hinge' } }, /^loss\.kind: /],
    [{ tauClamp: { min: 50, max: 10 } }, /^tauClamp: min \(50\) must not exceed max \(10\)/],
    [{ extra: true }, /Unrecognized key/],
    [{ modelVersion: 3 }, /^modelVersion: modelVersion must be one of 1, 2/],
    [{ readout: 'voltage' }, /^readout: /],
    [{ optimizer: { properties: 'rmsprop' } }, /^optimizer\.properties: /],
    [{ weightDecay: { mode: 'l1' } }, /^weightDecay\.mode: /],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${JSON.stringify(input)} naming the field`, () => {
      let caught: unknown;
      try {
        parseNetworkConfig(input as never);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).message).toMatch(message);
    });
  }
});

describe('search spaces and masks', () => {
  it('parses keys and names the bad one', () => {
    expect(parsePropertyKeys('tauD, theta')).toEqual(['tauD', 'theta']);
    expect(() => parsePropertyKeys('tauD,tauQ')).toThrow(
      /unknown property key 'tauQ'; valid: tauD, tauS, theta, beta, tauA/,
    );
  });

  it('enumerates 2^K masks, the empty mask first', () => {
    const masks = allMasks(PAPER_SPACE);
    expect(masks).toHaveLength(8);
    expect(maskLabel(masks[0]!)).toBe('000');
    expect(new Set(masks.map(maskLabel)).size).toBe(8);
    expect(maskKeys(PAPER_SPACE, maskFromKeys(PAPER_SPACE, ['theta', 'tauD']))).toEqual(['tauD', 'theta']);
    expect(() => maskFromKeys(PAPER_SPACE, ['beta'])).toThrow(/not in the search space/);
  });
});

describe('initialisation', () => {
  it('draws heterogeneous intrinsic values inside their initial ranges', () => {
    const s = initNetwork({ nRec: 200, space: ['tauD', 'tauS', 'theta', 'beta', 'tauA'] });
    const within = (k: 'tauD' | 'tauS' | 'theta' | 'beta' | 'tauA', lo: number, hi: number) => {
      const v = intrinsicValues(s, k);
      expect(Math.min(...v)).toBeGreaterThanOrEqual(lo * (1 - 1e-6));
      expect(Math.max(...v)).toBeLessThanOrEqual(hi * (1 + 1e-6));
      expect(new Set(v).size).toBeGreaterThan(150);
    };
    within('tauD', 100, 1000);
    within('tauS', 100, 1000);
    within('theta', 0.9, 1.1);
    within('beta', 0.15, 0.25);
    within('tauA', 200, 2000);
  });

  it('β is exactly 0 when it is not in the search space (the paper neuron)', () => {
    expect([...intrinsicValues(initNetwork({ nRec: 5 }), 'beta')]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('backend resolver', () => {
  afterEach(() => {
    vi.resetModules();
  });

  it('rejects an unknown forced backend, naming who forced it and the valid ones', async () => {
    const { resolveBackend } = await import('../tfjs/backend.js');
    await expect(
      resolveBackend({ backend: 'metal' as TfBackendName, forcedBy: 'IP2_TF_BACKEND', log: () => {} }),
    ).rejects.toThrow(/IP2_TF_BACKEND='metal' is not a backend; valid: tensorflow, wasm, cpu/);
    await expect(resolveBackend({ backend: 'metal' as TfBackendName })).rejects.toThrow(
      /backend='metal' is not a backend; valid: tensorflow, wasm, cpu/,
    );
  });

  it('loads a forced backend and says who forced it', async () => {
    const { resolveBackend } = await import('../tfjs/backend.js');
    const lines: string[] = [];
    const choice = await resolveBackend({ backend: 'cpu', forcedBy: 'IP2_TF_BACKEND', log: (l) => lines.push(l) });
    expect(choice).toEqual({ backend: 'cpu', reason: 'forced by IP2_TF_BACKEND', skipped: [] });
    expect(lines).toEqual(['TensorFlow.js backend: cpu (forced by IP2_TF_BACKEND)']);
  });

  it('falls back past the native backend when it is not installed, and reports why', async () => {
    const { resolveBackend } = await import('../tfjs/backend.js');
    const lines: string[] = [];
    const choice = await resolveBackend({ log: (l) => lines.push(l) });
    expect(['tensorflow', 'wasm']).toContain(choice.backend);
    if (choice.backend === 'wasm') expect(choice.skipped[0]).toMatch(/^tensorflow: /);
    expect(lines.join('\n')).toMatch(/TensorFlow\.js backend: /);
  });
});

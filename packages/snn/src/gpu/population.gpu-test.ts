import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NetworkState, ParamKey, StepStats, TrialBatch } from '../engine.js';
import { FusedEngine, FusedPopulation } from '../fused/index.js';
import { initNetwork, type NetworkConfigInput } from '../index.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { Rng } from '../rng.js';
import { gpuContext, releaseGpu, WEBGPU_BACKEND_ENV, type GpuContext } from './device.js';
import { GROUP_KEYS } from './layout.js';
import { GpuPopulation } from './population.js';

/**
 * Agreement of GpuPopulation with FusedPopulation on tiny networks. These tests need a WebGPU
 * adapter (Dawn: Vulkan on a GPU machine, or OpenGL ES through Mesa's llvmpipe without one); they
 * fail, with the reason, when none is available.
 *
 * Tolerance (float32 on both sides, different summation orders and transcendental functions):
 * loss terms within 1e-4 relative; parameters and Adam moments |gpu − cpu| ≤ 1e-4 (|cpu| + 0.1).
 */
const REL = 1e-4;
const FIVE = [...PROPERTY_KEYS];
const SIZES = { nIn: 3, nRec: 8, nOut: 2, weights: { inGain: 3, recGain: 1.5 } } as const;

function batchOf(T: number, B: number, seed: number, scale = 1.5): TrialBatch {
  const { nIn, nOut } = SIZES;
  const rng = Rng.seeded(seed, 'gpu-test-batch');
  const inputs = new Float32Array(T * B * nIn);
  for (let i = 0; i < inputs.length; i++) inputs[i] = scale * rng.normal();
  const targets = new Float32Array(T * B * nOut);
  const mask = new Float32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      targets[(t * B + b) * nOut + ((b + seed) % nOut)] = 1;
      mask[t * B + b] = t > T / 3 ? 1 : 0;
    }
  }
  return {
    steps: T,
    batch: B,
    nIn,
    nOut,
    inputs,
    targets,
    mask,
    labels: Int32Array.from({ length: B }, (_, b) => (b + seed) % nOut),
  };
}

type Version = 1 | 2;

/**
 * Version 1: membrane readout, L2 in the loss, τ clamped inside the pass. Version 2 (the default):
 * spike readout, decoupled weight decay, τ clamped after each step.
 */
function netOf(version: Version, extra: NetworkConfigInput): NetworkState {
  // Version 2's time constants start at 100–1 000 ms; the 20–200 ms of version 1 make these short
  // trials spike, so that the spike readout and the recurrent spikes are exercised.
  return initNetwork({ modelVersion: version, ...SIZES, init: { tauD: FAST, tauS: FAST }, ...extra });
}
const FAST = { min: 20, max: 200 };

/** Puts member 0's first τ_d above the clamp's range and its second τ_s below it, so that both clamp modes act. */
function pastTheClamp(state: NetworkState): NetworkState {
  const { min, max } = state.config.tauClamp;
  state.params.tauD[0] = Math.log(max) + 0.3;
  state.params.tauS[1] = Math.log(min) - 0.3;
  return state;
}

let worst = 0;
function close(a: number, b: number, what: string, rel = REL, floor = 0): void {
  const err = Math.abs(a - b) / (Math.abs(b) + floor);
  if (Number.isFinite(err)) worst = Math.max(worst, err);
  if (!(a === b || err <= rel)) expect.fail(`${what}: gpu ${a} vs cpu ${b} (relative error ${err.toExponential(2)})`);
}

function closeStats(g: readonly StepStats[], c: readonly StepStats[], what: string): void {
  for (const [p, s] of c.entries()) {
    for (const k of ['loss', 'taskLoss', 'homeoLoss', 'l2Loss', 'meanU2', 'firingRate', 'gradNorm'] as const) {
      close(g[p]![k], s[k], `${what} member ${p} ${k}`, REL, 1e-6);
    }
  }
}

function closeArrays(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < b.length; i++) close(a[i]!, b[i]!, `${what}[${i}]`, REL, 0.1);
}

function closeStates(g: NetworkState, c: NetworkState, what: string): void {
  for (const k of GROUP_KEYS) closeArrays(g.params[k], c.params[k], `${what} ${k}`);
  expect(g.adam.step).toBe(c.adam.step);
  expect(Object.keys(g.adam.m).sort()).toEqual(Object.keys(c.adam.m).sort());
  for (const k of Object.keys(c.adam.m) as ParamKey[]) {
    closeArrays(g.adam.m[k]!, c.adam.m[k]!, `${what} m.${k}`);
    closeArrays(g.adam.v[k]!, c.adam.v[k]!, `${what} v.${k}`);
  }
  expect(g.rng).toEqual(c.rng);
  expect(g.homeostaticTarget).toBe(c.homeostaticTarget);
}

describe.each([1, 2] as const)('GpuPopulation (WebGPU), model version %i', (version) => {
  const net = (extra: NetworkConfigInput) => netOf(version, extra);
  let ctx: GpuContext;
  beforeAll(async () => {
    // No skip: without an adapter this rejects with the reason and every test below fails.
    ctx = await gpuContext({ backend: process.env[WEBGPU_BACKEND_ENV] ?? 'auto' });
  });
  afterAll(async () => {
    console.log(
      `GpuPopulation agreement: worst relative error ${worst.toExponential(2)} on ${ctx?.name} (${ctx?.backend})`,
    );
    await releaseGpu();
  });

  const surrogates = ['fast-sigmoid', 'arctan', 'multi-gaussian'] as const;
  for (const [si, name] of surrogates.entries()) {
    it(`agrees with FusedPopulation over training steps (${name}, mixed masks, trainWeights on/off)`, async () => {
      const states = [
        pastTheClamp(
          net({
            space: FIVE,
            learnable: FIVE,
            seed: 1 + si,
            surrogate: { name },
            weightDecay: { in: 20, rec: 30, out: 40 },
          }),
        ),
        net({
          learnable: ['tauD', 'theta'],
          seed: 11 + si,
          surrogate: { name, gamma: 0.5, kappa: 5 },
          inputNoise: 0.2,
        }),
        net({
          space: FIVE,
          learnable: ['beta', 'tauA'],
          trainWeights: false,
          seed: 21 + si,
          surrogate: { name },
          loss: { kind: 'xent' },
        }),
        // The other readout, the other weight penalty (a decoupled decay strong enough to show), and
        // the properties stepped by plain gradient descent.
        net({
          learnable: ['tauS', 'theta'],
          seed: 31 + si,
          surrogate: { name },
          readout: version === 1 ? 'spikes' : 'membrane',
          weightDecay: version === 1 ? { mode: 'decoupled', in: 20, rec: 30, out: 40 } : { mode: 'loss' },
          loss: { lambdaIn: 0.5, lambdaRec: 0.5, lambdaOut: 0.5 },
          optimizer: { properties: 'sgd', lr: { tauS: 0.05, theta: 0.05 } },
        }),
      ];
      const gpu = await GpuPopulation.create(states, { context: ctx });
      const cpu = FusedPopulation.create(states);
      await gpu.setHomeostaticTarget(0, 0.05);
      await cpu.setHomeostaticTarget(0, 0.05);
      const batch = batchOf(12, 2, si);
      let fired = 0;
      for (let i = 0; i < 4; i++) {
        const c = await cpu.trainStep(batch);
        closeStats(await gpu.trainStep(batch), c, `step ${i}`);
        fired += c.reduce((s, x) => s + x.firingRate, 0);
      }
      expect(fired).toBeGreaterThan(0);
      const snaps = await gpu.snapshots();
      for (const [p, s] of (await cpu.snapshots()).entries()) closeStates(snaps[p]!, s, `member ${p}`);
      await gpu.dispose();
    });
  }

  it('per-member batches, resetOptimizer, gradients, evaluate with a lesion', async () => {
    const states = [
      net({ space: FIVE, learnable: ['tauS', 'beta'], seed: 5 }),
      net({ learnable: [], trainWeights: false, seed: 6 }),
      net({ learnable: ['tauD', 'tauS', 'theta'], seed: 7, optimizer: { lrWeights: 1e-2 } }),
    ];
    const gpu = await GpuPopulation.create(states, { context: ctx });
    const cpu = FusedPopulation.create(states);
    for (let i = 0; i < 3; i++) {
      const bs = states.map((_, p) => batchOf(10, 3, 10 * i + p));
      closeStats(await gpu.trainStep(bs), await cpu.trainStep(bs), `step ${i}`);
    }
    await gpu.resetOptimizer(2);
    await cpu.resetOptimizer(2);
    const bs = states.map((_, p) => batchOf(12, 1, 50 + p));
    closeStats(await gpu.trainStep(bs), await cpu.trainStep(bs), 'after reset');
    const snaps = await gpu.snapshots();
    for (const [p, s] of (await cpu.snapshots()).entries()) closeStates(snaps[p]!, s, `member ${p}`);

    const gg = await gpu.gradients(bs);
    const cg = await cpu.gradients(bs);
    closeStats(
      gg.map((e) => ({ ...e, gradNorm: 0 })),
      cg.map((e) => ({ ...e, gradNorm: 0 })),
      'gradients',
    );
    expect(Object.keys(gg[0]!).sort()).toEqual(Object.keys(cg[0]!).sort());
    for (const [p, c] of cg.entries()) {
      for (const k of GROUP_KEYS) closeArrays(gg[p]!.grads[k], c.grads[k], `grad member ${p} ${k}`);
    }

    const lesion = new Uint8Array(SIZES.nRec);
    lesion[1] = 1;
    lesion[4] = 1;
    const ge = await gpu.evaluate(bs, { lesion });
    const ce = await cpu.evaluate(bs, { lesion });
    closeStats(
      ge.map((e) => ({ ...e, gradNorm: 0 })),
      ce.map((e) => ({ ...e, gradNorm: 0 })),
      'evaluate',
    );
    expect(Object.keys(ge[0]!).sort()).toEqual(Object.keys(ce[0]!).sort());
    for (const [p, c] of ce.entries()) {
      closeArrays(ge[p]!.outputs, c.outputs, `outputs ${p}`);
      expect(ge[p]!.accuracy).toBe(c.accuracy);
    }
    // The lesion does not stick: the next evaluation is unlesioned.
    closeStats(
      (await gpu.evaluate(bs)).map((e) => ({ ...e, gradNorm: 0 })),
      (await cpu.evaluate(bs)).map((e) => ({ ...e, gradNorm: 0 })),
      'evaluate after lesion',
    );
    await gpu.dispose();
  });

  it('snapshots load into FusedEngine and continue identically to the population', async () => {
    const states = [net({ space: FIVE, learnable: FIVE, seed: 9 }), net({ learnable: ['theta'], seed: 10 })];
    const gpu = await GpuPopulation.create(states, { context: ctx });
    const batch = batchOf(12, 2, 3);
    for (let i = 0; i < 3; i++) await gpu.trainStep(batch);
    const snaps = await gpu.snapshots();
    const engines = snaps.map((s) => FusedEngine.create(s));
    const next = await gpu.trainStep(batch);
    closeStats(
      next,
      engines.map((e) => e.trainStep(batch)),
      'continued',
    );
    for (const [p, e] of engines.entries()) closeStates(await gpu.snapshot(p), e.snapshot(), `member ${p}`);
    await gpu.dispose();
  });

  it('refuses soft spikes and members of different sizes', async () => {
    await expect(GpuPopulation.create([net({ spike: 'soft' })], { context: ctx })).rejects.toThrow(/soft/);
    await expect(
      GpuPopulation.create([net({}), initNetwork({ modelVersion: version, nRec: 9 })], { context: ctx }),
    ).rejects.toThrow(/same sizes/);
  });
});

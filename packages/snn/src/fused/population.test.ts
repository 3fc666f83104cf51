import { describe, expect, it } from 'vitest';
import type { NetworkState, ParamKey, TrialBatch } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { initNetwork } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { FusedEngine } from './fused-engine.js';
import { bits, mixedMembers, populationBatch } from './population.fixtures.js';
import { FusedPopulation } from './population.js';

const ALL: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

const batchOf = (T: number, B: number, nIn: number, nOut: number, seed: number): TrialBatch =>
  populationBatch(T, B, nIn, nOut, seed, 'population-test-batch');
const members = (): NetworkState[] => mixedMembers(6);

function expectSame(a: NetworkState, b: NetworkState): void {
  for (const k of ALL) expect(bits(a.params[k]), k).toEqual(bits(b.params[k]));
  expect(a.adam.step).toBe(b.adam.step);
  for (const k of Object.keys(b.adam.m) as ParamKey[]) {
    expect(bits(a.adam.m[k]!), `m.${k}`).toEqual(bits(b.adam.m[k]!));
    expect(bits(a.adam.v[k]!), `v.${k}`).toEqual(bits(b.adam.v[k]!));
  }
  expect(a.rng).toEqual(b.rng);
}

describe('FusedPopulation', () => {
  it('each member equals a standalone FusedEngine, exactly (shared batch)', async () => {
    const states = members();
    const pop = FusedPopulation.create(states);
    const solo = states.map((s) => FusedEngine.create(s));
    await pop.setHomeostaticTarget(0, 0.05);
    solo[0]!.setHomeostaticTarget(0.05);
    const batch = batchOf(25, 2, 4, 3, 1);
    for (let i = 0; i < 8; i++) {
      const stats = await pop.trainStep(batch);
      for (const [p, e] of solo.entries()) expect(stats[p]).toEqual(e.trainStep(batch));
    }
    for (const [p, e] of solo.entries()) expectSame(await pop.snapshot(p), e.snapshot());
    const grads = await pop.gradients(batch);
    const evals = await pop.evaluate(batch);
    for (const [p, e] of solo.entries()) {
      expect(grads[p]).toEqual(e.gradients(batch));
      expect(evals[p]).toEqual(e.evaluate(batch));
    }
  });

  it('each member equals a standalone FusedEngine, exactly (a batch per member)', async () => {
    const states = members().slice(0, 4);
    const pop = FusedPopulation.create(states);
    const solo = states.map((s) => FusedEngine.create(s));
    for (let i = 0; i < 6; i++) {
      const batches = states.map((_, p) => batchOf(20, 3, 4, 3, 10 * i + p));
      await pop.trainStep(batches);
      for (const [p, e] of solo.entries()) e.trainStep(batches[p]!);
    }
    await pop.resetOptimizer(1);
    solo[1]!.resetOptimizer();
    const batches = states.map((_, p) => batchOf(20, 3, 4, 3, 99 + p));
    await pop.trainStep(batches);
    for (const [p, e] of solo.entries()) e.trainStep(batches[p]!);
    for (const [p, e] of solo.entries()) expectSame(await pop.snapshot(p), e.snapshot());
  });

  it('a pass may leave networks out: each member still equals a FusedEngine that took only its own steps', async () => {
    const states = members();
    const pop = FusedPopulation.create(states);
    const solo = states.map((s) => FusedEngine.create(s));
    for (let i = 0; i < 9; i++) {
      // Member p joins step i when (i + p) % 3 ≠ 0; some steps train a single network.
      const batches = states.map((_, p) =>
        (i + p) % 3 !== 0 || (i === 4 && p === 2) ? batchOf(18, 2, 4, 3, 7 * i + p) : null,
      );
      if (i === 5) batches.fill(null, 1);
      const stats = await pop.trainStep(batches);
      for (const [p, e] of solo.entries()) {
        const b = batches[p];
        if (b) expect(stats[p]).toEqual(e.trainStep(b));
        else expect(stats[p]).toBeNull();
      }
      // Evaluations of another shape in between, for other subsets.
      const held = states.map((_, p) => ((i + p) % 2 === 0 ? batchOf(12, 4, 4, 3, 500 + p) : null));
      const evals = await pop.evaluate(held);
      for (const [p, e] of solo.entries()) {
        const b = held[p];
        if (b) expect(evals[p]).toEqual(e.evaluate(b));
        else expect(evals[p]).toBeNull();
      }
    }
    for (const [p, e] of solo.entries()) expectSame(await pop.snapshot(p), e.snapshot());
    await expect(pop.trainStep(states.map(() => null))).rejects.toThrow(/at least one network/);
  });

  it('rejects members of different sizes and batches of different lengths', async () => {
    expect(() => FusedPopulation.create([initNetwork({ nRec: 8 }), initNetwork({ nRec: 9 })])).toThrow(/same sizes/);
    const pop = FusedPopulation.create([initNetwork({ nIn: 2, nOut: 2 }), initNetwork({ nIn: 2, nOut: 2, seed: 2 })]);
    await expect(pop.trainStep([batchOf(5, 1, 2, 2, 1), batchOf(6, 1, 2, 2, 1)])).rejects.toThrow(/same steps/);
  });
});

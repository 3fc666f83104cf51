import { availableParallelism } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { NetworkState, ParamKey, TrialBatch } from '../engine.js';
import { WEIGHT_KEYS } from '../engine.js';
import { initNetwork } from '../network.js';
import { PROPERTY_KEYS } from '../model/properties.js';
import { FusedEngine } from './fused-engine.js';
import { bits, mixedMembers, populationBatch } from './population.fixtures.js';
import { FusedPopulation } from './population.js';
import { ThreadedPopulation } from './threaded-population.js';

const ALL: readonly ParamKey[] = [...WEIGHT_KEYS, ...PROPERTY_KEYS];

const batchOf = (T: number, B: number, nIn: number, nOut: number, seed: number): TrialBatch =>
  populationBatch(T, B, nIn, nOut, seed, 'threaded-population-test-batch');
const members = (): NetworkState[] => mixedMembers(7);

function expectSame(a: NetworkState, b: NetworkState): void {
  expect(a.config).toEqual(b.config);
  for (const k of ALL) expect(bits(a.params[k]), k).toEqual(bits(b.params[k]));
  expect(a.adam.step).toBe(b.adam.step);
  expect(Object.keys(a.adam.m).sort()).toEqual(Object.keys(b.adam.m).sort());
  for (const k of Object.keys(b.adam.m) as ParamKey[]) {
    expect(bits(a.adam.m[k]!), `m.${k}`).toEqual(bits(b.adam.m[k]!));
    expect(bits(a.adam.v[k]!), `v.${k}`).toEqual(bits(b.adam.v[k]!));
  }
  expect(a.homeostaticTarget).toBe(b.homeostaticTarget);
  expect(a.rng).toEqual(b.rng);
}

const open: ThreadedPopulation[] = [];
async function threaded(states: readonly NetworkState[], threads?: number, callingThread?: boolean) {
  const pop = await ThreadedPopulation.create(states, { threads, callingThread });
  open.push(pop);
  return pop;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.dispose()));
});

describe('ThreadedPopulation', () => {
  for (const [threads, callingThread] of [
    [2, true],
    [3, true],
    [2, false],
    [3, false],
  ] as const) {
    const how = `${threads} threads, ${callingThread ? 'one on the calling thread' : 'all workers'}`;

    it(`each member equals FusedPopulation and FusedEngine, exactly, with a shared batch (${how})`, async () => {
      const states = members();
      const pop = await threaded(states, threads, callingThread);
      expect(pop.size).toBe(states.length);
      expect(pop.threads).toBe(threads);
      const ref = FusedPopulation.create(states);
      const solo = states.map((s) => FusedEngine.create(s));
      await pop.setHomeostaticTarget(0, 0.05);
      await pop.setHomeostaticTarget(5, 0.08);
      await ref.setHomeostaticTarget(0, 0.05);
      await ref.setHomeostaticTarget(5, 0.08);
      solo[0]!.setHomeostaticTarget(0.05);
      solo[5]!.setHomeostaticTarget(0.08);
      const batch = batchOf(25, 2, 4, 3, 1);
      for (let i = 0; i < 6; i++) {
        const stats = await pop.trainStep(batch);
        expect(stats).toEqual(await ref.trainStep(batch));
        for (const [p, e] of solo.entries()) expect(stats[p]).toEqual(e.trainStep(batch));
      }
      const snaps = await pop.snapshots();
      expect(snaps).toHaveLength(states.length);
      for (const [p, e] of solo.entries()) {
        expectSame(snaps[p]!, e.snapshot());
        expectSame(await pop.snapshot(p), await ref.snapshot(p));
      }
      const grads = await pop.gradients(batch);
      const evals = await pop.evaluate(batch);
      expect(grads).toEqual(await ref.gradients(batch));
      expect(evals).toEqual(await ref.evaluate(batch));
      for (const [p, e] of solo.entries()) {
        expect(grads[p]).toEqual(e.gradients(batch));
        expect(evals[p]).toEqual(e.evaluate(batch));
      }
      const lesion = new Uint8Array(16);
      lesion[3] = 1;
      lesion[9] = 1;
      const lesioned = await pop.evaluate(batch, { lesion });
      expect(lesioned).toEqual(await ref.evaluate(batch, { lesion }));
      for (const [p, e] of solo.entries()) expect(lesioned[p]).toEqual(e.evaluate(batch, { lesion }));
      expect(lesioned.some((e, p) => e.loss !== evals[p]!.loss)).toBe(true);
    });

    it(`each member equals FusedPopulation and FusedEngine, exactly, with a batch per member (${how})`, async () => {
      const states = members();
      const pop = await threaded(states, threads, callingThread);
      const ref = FusedPopulation.create(states);
      const solo = states.map((s) => FusedEngine.create(s));
      const round = async (i: number) => {
        const batches = states.map((_, p) => batchOf(20, 3, 4, 3, 10 * i + p));
        const stats = await pop.trainStep(batches);
        expect(stats).toEqual(await ref.trainStep(batches));
        for (const [p, e] of solo.entries()) expect(stats[p]).toEqual(e.trainStep(batches[p]!));
      };
      for (let i = 0; i < 5; i++) await round(i);
      // Reset one member of each shard's range, and then all of them.
      for (const p of [1, states.length - 1]) {
        await pop.resetOptimizer(p);
        await ref.resetOptimizer(p);
        solo[p]!.resetOptimizer();
      }
      await round(5);
      for (const [p, e] of solo.entries()) expectSame(await pop.snapshot(p), e.snapshot());
      await pop.resetOptimizer();
      await ref.resetOptimizer();
      for (const e of solo) e.resetOptimizer();
      expect((await pop.snapshots()).map((s) => s.adam.step)).toEqual(states.map(() => 0));
      await round(6);
      await round(7);
      const batches = states.map((_, p) => batchOf(20, 3, 4, 3, 500 + p));
      const grads = await pop.gradients(batches);
      const evals = await pop.evaluate(batches);
      expect(grads).toEqual(await ref.gradients(batches));
      expect(evals).toEqual(await ref.evaluate(batches));
      for (const [p, e] of solo.entries()) {
        expect(grads[p]).toEqual(e.gradients(batches[p]!));
        expect(evals[p]).toEqual(e.evaluate(batches[p]!));
        expectSame(await pop.snapshot(p), e.snapshot());
      }
    });
  }

  it('runs calls made without waiting in the order they were made', async () => {
    const states = members();
    const pop = await threaded(states, 2);
    const ref = FusedPopulation.create(states);
    const batch = batchOf(15, 1, 4, 3, 3);
    const calls = [pop.trainStep(batch), pop.setHomeostaticTarget(6, 0.1), pop.trainStep(batch), pop.snapshots()];
    const done = await Promise.all(calls);
    await ref.trainStep(batch);
    await ref.setHomeostaticTarget(6, 0.1);
    expect(done[2]).toEqual(await ref.trainStep(batch));
    for (const [p, s] of (done[3] as NetworkState[]).entries()) expectSame(s, await ref.snapshot(p));
  });

  it('defaults to one shard per available core, at most one per member', async () => {
    const states = members();
    const byDefault = await threaded(states);
    expect(byDefault.threads).toBe(Math.min(availableParallelism(), states.length));
    expect((await threaded(states.slice(0, 2), 64)).threads).toBe(2);
    const one = await threaded(states.slice(0, 1), 4);
    expect(one.threads).toBe(1);
    const batch = batchOf(10, 1, 4, 3, 4);
    expect(await one.trainStep(batch)).toEqual([FusedEngine.create(states[0]!).trainStep(batch)]);
    expect((await byDefault.trainStep(batch))[0]).toEqual(FusedEngine.create(states[0]!).trainStep(batch));
  });

  it('rejects out-of-range members, wrong batches and different sizes, and leaves every shard untouched', async () => {
    await expect(ThreadedPopulation.create([initNetwork({ nRec: 8 }), initNetwork({ nRec: 9 })])).rejects.toThrow(
      /same sizes/,
    );
    await expect(ThreadedPopulation.create(members(), { threads: 0 })).rejects.toThrow(RangeError);
    const states = members();
    const pop = await threaded(states, 3);
    for (const p of [-1, 7, 1.5, Number.NaN]) {
      await expect(pop.snapshot(p)).rejects.toThrow(RangeError);
      await expect(pop.setHomeostaticTarget(p, 0.1)).rejects.toThrow(RangeError);
      await expect(pop.resetOptimizer(p)).rejects.toThrow(RangeError);
    }
    await expect(pop.snapshot(7)).rejects.toThrow(/member 7 out of range \[0, 7\)/);
    const good = states.map((_, p) => batchOf(6, 1, 4, 3, p));
    await expect(pop.trainStep(good.slice(1))).rejects.toThrow(/expected 7 batches, got 6/);
    const uneven = [...good.slice(0, 6), batchOf(7, 1, 4, 3, 6)];
    await expect(pop.trainStep(uneven)).rejects.toThrow(/same steps and trials/);
    await expect(pop.trainStep(batchOf(6, 1, 5, 3, 1))).rejects.toThrow(/input channels/);
    await expect(pop.evaluate(good, { lesion: new Uint8Array(3) })).rejects.toThrow(/lesion has 3 entries/);
    // Nothing was trained by the rejected calls.
    const ref = FusedPopulation.create(states);
    for (const [p, s] of (await pop.snapshots()).entries()) expectSame(s, await ref.snapshot(p));
  });

  it("rejects with the worker's error when a shard cannot be built", async () => {
    const states = members();
    const broken = { ...states[5]!, params: { ...states[5]!.params, wIn: new Float32Array(5) } };
    const made = ThreadedPopulation.create([...states.slice(0, 5), broken, states[6]!], {
      threads: 3,
      callingThread: false,
    });
    await expect(made).rejects.toThrow(
      /could not start the population's worker threads: population worker for members 4–6 failed: parameter wIn has 5 values, expected 64/,
    );
  });

  it('dispose ends the threads and makes every later call reject', async () => {
    const states = members();
    const pop = await threaded(states, 3);
    const batch = batchOf(10, 1, 4, 3, 2);
    await pop.trainStep(batch);
    // A call still waiting for the workers when the population is disposed rejects too.
    const running = pop.trainStep(batch);
    const disposing = pop.dispose();
    await expect(running).rejects.toThrow('population was disposed');
    await disposing;
    await expect(pop.trainStep(batch)).rejects.toThrow(/disposed/);
    await expect(pop.evaluate(batch)).rejects.toThrow(/disposed/);
    await expect(pop.gradients(batch)).rejects.toThrow(/disposed/);
    await expect(pop.snapshot(0)).rejects.toThrow(/disposed/);
    await expect(pop.snapshots()).rejects.toThrow(/disposed/);
    await expect(pop.resetOptimizer()).rejects.toThrow(/disposed/);
    await expect(pop.setHomeostaticTarget(0, 1)).rejects.toThrow(/disposed/);
    await pop.dispose();
  });
});

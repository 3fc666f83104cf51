import { afterEach, describe, expect, it } from 'vitest';
import type { NetworkState, TrialBatch } from './engine.js';
import { FusedEngine } from './fused/fused-engine.js';
import { populationBatch } from './fused/population.fixtures.js';
import { initNetwork, type NetworkConfigInput } from './index.js';
import type { Population } from './population.js';
import { PROPERTY_KEYS } from './model/properties.js';

/* The contract every Population implementation keeps (not built into the package). */

export interface PopulationSubject {
  readonly create: (states: readonly NetworkState[]) => Promise<Population>;
  /** Whether the members may use soft spikes (GpuPopulation: no). */
  readonly softSpikes?: boolean;
  /** Compares two numbers within the implementation's precision; absent: exactly (bit for bit). */
  readonly close?: (actual: number, expected: number, what: string) => void;
}

const FIVE = [...PROPERTY_KEYS];
const SIZES = { nIn: 4, nRec: 16, nOut: 3, weights: { inGain: 3, recGain: 1.5 } } as const;

function members(subject: PopulationSubject): NetworkState[] {
  const configs: NetworkConfigInput[] = [
    { space: FIVE, learnable: FIVE, seed: 1 },
    { learnable: ['tauD'], seed: 2, inputNoise: 0.2 },
    { space: FIVE, learnable: ['beta', 'tauA'], trainWeights: false, seed: 3, loss: { kind: 'xent' } },
    { surrogate: { name: 'arctan' }, optimizer: { lrWeights: 1e-2 }, seed: 4 },
    subject.softSpikes === false
      ? { surrogate: { name: 'multi-gaussian' }, space: FIVE, learnable: ['theta'], seed: 5 }
      : { spike: 'soft', space: FIVE, learnable: ['theta'], seed: 5 },
  ];
  return configs.map((c) => initNetwork({ ...SIZES, ...c }));
}

const batchOf = (T: number, B: number, seed: number): TrialBatch =>
  populationBatch(T, B, SIZES.nIn, SIZES.nOut, seed, 'population-contract');

/** Expects `actual` to equal `expected`: every number exactly or by subject.close, every array element-wise. */
function agree(subject: PopulationSubject, actual: unknown, expected: unknown, what: string): void {
  if (typeof expected === 'number') {
    expect(typeof actual, what).toBe('number');
    if (subject.close) subject.close(actual as number, expected, what);
    else expect(actual, what).toBe(expected);
  } else if (ArrayBuffer.isView(expected)) {
    const e = expected as unknown as ArrayLike<number>;
    const a = actual as ArrayLike<number>;
    expect(a.length, what).toBe(e.length);
    if (!subject.close && expected instanceof Float32Array) {
      const view = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
      expect(view(actual as Float32Array), what).toEqual(view(expected));
    } else for (let i = 0; i < e.length; i++) agree(subject, a[i], e[i], `${what}[${i}]`);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), what).toBe(true);
    expect((actual as unknown[]).length, what).toBe(expected.length);
    for (const [i, x] of expected.entries()) agree(subject, (actual as unknown[])[i], x, `${what}[${i}]`);
  } else if (expected !== null && typeof expected === 'object') {
    const keys = Object.keys(expected);
    expect(actual, what).toBeTypeOf('object');
    const got = Object.keys(actual as object);
    expect(got.sort(), what).toEqual([...keys].sort());
    for (const k of keys) {
      agree(subject, (actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${what}.${k}`);
    }
  } else {
    expect(actual, what).toBe(expected);
  }
}

/**
 * Runs the Population contract against one implementation: each member computes what a FusedEngine
 * on its own state computes (exactly, or within subject.close), members may sit a pass out, calls
 * take effect in the order they were made, bad input and calls after dispose() reject.
 */
export function populationContract(name: string, subject: PopulationSubject): void {
  describe(`Population contract: ${name}`, () => {
    const open: Population[] = [];
    const create = async (states: readonly NetworkState[]) => {
      const pop = await subject.create(states);
      open.push(pop);
      return pop;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((p) => p.dispose()));
    });

    it('each member equals a FusedEngine on its own state', async () => {
      const states = members(subject);
      const pop = await create(states);
      expect(pop.size).toBe(states.length);
      expect(pop.info.engine.length).toBeGreaterThan(0);
      const solo = states.map((s) => FusedEngine.create(s));
      await pop.setHomeostaticTarget(1, 0.05);
      solo[1]!.setHomeostaticTarget(0.05);
      const shared = batchOf(14, 2, 1);
      for (let i = 0; i < 3; i++) {
        agree(
          subject,
          await pop.trainStep(shared),
          solo.map((e) => e.trainStep(shared)),
          `shared step ${i}`,
        );
      }
      for (let i = 0; i < 2; i++) {
        const bs = states.map((_, p) => batchOf(10, 3, 10 * i + p));
        agree(
          subject,
          await pop.trainStep(bs),
          solo.map((e, p) => e.trainStep(bs[p]!)),
          `own step ${i}`,
        );
      }
      await pop.resetOptimizer(2);
      solo[2]!.resetOptimizer();
      agree(
        subject,
        await pop.trainStep(shared),
        solo.map((e) => e.trainStep(shared)),
        'after one reset',
      );
      await pop.resetOptimizer();
      for (const e of solo) e.resetOptimizer();
      agree(
        subject,
        await pop.trainStep(shared),
        solo.map((e) => e.trainStep(shared)),
        'after a reset of all',
      );
      agree(
        subject,
        await pop.gradients(shared),
        solo.map((e) => e.gradients(shared)),
        'gradients',
      );
      agree(
        subject,
        await pop.evaluate(shared),
        solo.map((e) => e.evaluate(shared)),
        'evaluate',
      );
      const lesion = new Uint8Array(SIZES.nRec);
      lesion[1] = 1;
      lesion[7] = 1;
      agree(
        subject,
        await pop.evaluate(shared, { lesion }),
        solo.map((e) => e.evaluate(shared, { lesion })),
        'lesion',
      );
      agree(
        subject,
        await pop.evaluate(shared),
        solo.map((e) => e.evaluate(shared)),
        'after the lesion',
      );
      agree(
        subject,
        await pop.snapshots(),
        solo.map((e) => e.snapshot()),
        'snapshots',
      );
      agree(subject, await pop.snapshot(3), solo[3]!.snapshot(), 'snapshot 3');
    });

    it('a member with a null batch sits the pass out: its result is null, its state unchanged', async () => {
      const states = members(subject);
      const pop = await create(states);
      const solo = states.map((s) => FusedEngine.create(s));
      for (let i = 0; i < 4; i++) {
        const bs = states.map((_, p) => ((i + p) % 3 !== 0 ? batchOf(12, 2, 5 * i + p) : null));
        const stats = await pop.trainStep(bs);
        agree(
          subject,
          stats,
          bs.map((b, p) => (b ? solo[p]!.trainStep(b) : null)),
          `step ${i}`,
        );
        const held = states.map((_, p) => (p === i ? batchOf(9, 4, 100 + i) : null));
        const evals = await pop.evaluate(held);
        agree(
          subject,
          evals,
          held.map((b, p) => (b ? solo[p]!.evaluate(b) : null)),
          `evaluate ${i}`,
        );
      }
      agree(
        subject,
        await pop.snapshots(),
        solo.map((e) => e.snapshot()),
        'snapshots',
      );
      await expect(pop.trainStep(states.map(() => null))).rejects.toThrow(/at least one network/);
    });

    it('calls made without waiting take effect in the order they were made', async () => {
      const states = members(subject);
      const pop = await create(states);
      const solo = states.map((s) => FusedEngine.create(s));
      const a = batchOf(11, 2, 7);
      const b = states.map((_, p) => batchOf(11, 2, 20 + p));
      const calls = [
        pop.trainStep(a),
        pop.setHomeostaticTarget(4, 0.1),
        pop.trainStep(b),
        pop.resetOptimizer(0),
        pop.snapshot(0),
        pop.trainStep(a),
        pop.snapshots(),
      ] as const;
      const done = await Promise.all(calls);
      const want: unknown[] = [solo.map((e) => e.trainStep(a))];
      solo[4]!.setHomeostaticTarget(0.1);
      want.push(solo.map((e, p) => e.trainStep(b[p]!)));
      solo[0]!.resetOptimizer();
      want.push(solo[0]!.snapshot());
      want.push(solo.map((e) => e.trainStep(a)));
      want.push(solo.map((e) => e.snapshot()));
      agree(subject, [done[0], done[2], done[4], done[5], done[6]], want, 'in order');
    });

    it('rejects bad input and, after dispose(), every call', async () => {
      await expect(subject.create([initNetwork({ ...SIZES, nRec: 8 }), initNetwork(SIZES)])).rejects.toThrow(
        /same sizes/,
      );
      const states = members(subject).slice(0, 3);
      const pop = await create(states);
      await expect(pop.trainStep([batchOf(5, 1, 1), batchOf(6, 1, 2), batchOf(5, 1, 3)])).rejects.toThrow(/same steps/);
      await expect(pop.trainStep([batchOf(5, 1, 1)])).rejects.toThrow(/expected 3 batches/);
      await expect(pop.snapshot(3)).rejects.toThrow(RangeError);
      await expect(pop.setHomeostaticTarget(-1, 0.1)).rejects.toThrow(RangeError);
      await expect(pop.evaluate(batchOf(5, 1, 1), { lesion: new Uint8Array(3) })).rejects.toThrow(/lesion/);
      await pop.dispose();
      await expect(pop.trainStep(batchOf(5, 1, 1))).rejects.toThrow(/disposed/);
      await expect(pop.snapshots()).rejects.toThrow(/disposed/);
    });
  });
}

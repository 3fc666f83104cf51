import { readFileSync } from 'node:fs';
import type { TaskResult } from '@ip2/l2l';
import {
  decide,
  definitionHash,
  parseSearchDefinition,
  parseStoredSearchDefinition,
  plan,
  powerLawTruth,
  runSeed,
  SearchDefinitionError,
  simulateSearch,
  storedProtocol,
  tableFromRows,
  type SearchDefinitionInput,
} from '@ip2/search';
import { useTestStore } from '@ip2/testing/store';
import { describe, expect, it } from 'vitest';
import { ActiveLimitError, ConflictError, NotFoundError, openStore, type Store } from './index.js';

let store: Store;
const tdb = useTestStore((url) => (store = openStore({ url })));

const small: SearchDefinitionInput = {
  family: 'dms',
  space: ['tauD', 'theta'],
  protocol: { tasks: 6, seeds: 3, baseSeed: 7 },
};

describe('create', () => {
  it('stores the parsed definition with its candidates and one run per seed', async () => {
    const { search, created } = await store.searches.create('alice', { definition: small });
    const d = parseSearchDefinition(small);
    expect(created).toBe(true);
    expect(search).toMatchObject({
      owner: 'alice',
      family: 'dms',
      space: ['tauD', 'theta'],
      strategy: { kind: 'exhaustive' },
      maxTaskTrainings: null,
      state: 'QUEUED',
      error: null,
      idempotencyKey: null,
      definitionHash: definitionHash(d),
    });
    expect(search.definition).toEqual(d);
    expect(search.protocol).toEqual(d.protocol);
    const cands = await store.searches.candidates('alice', search.id);
    expect(cands.map((c) => [c.bits, c.role, c.keys])).toEqual([
      ['00', 'rsnn-noip', []],
      ['01', 'ip-masked', ['theta']],
      ['10', 'ip-masked', ['tauD']],
      ['11', 'ip-inner', ['tauD', 'theta']],
    ]);
    for (const c of cands) {
      expect(c).toMatchObject({ state: 'WAITING', rung: 0, score: null });
      expect(c.runs.map((r) => [r.seedIndex, r.seed, r.state, r.tasksDone])).toEqual(
        [0, 1, 2].map((s) => [s, runSeed(7, s), 'WAITING', 0]),
      );
    }
  });

  it('stores the budget and the random strategy’s masks', async () => {
    const { search } = await store.searches.create('alice', {
      definition: {
        family: 'dms',
        space: ['tauD', 'tauS', 'theta'],
        strategy: { kind: 'random', n: 3 },
        protocol: { tasks: 4, seeds: 1 },
        budget: { maxTaskTrainings: 12 },
        validation: { seeds: 0 },
      },
    });
    expect(search.maxTaskTrainings).toBe(12);
    expect(await store.searches.candidates('alice', search.id)).toHaveLength(3);
  });

  it('rejects an invalid definition and stores nothing', async () => {
    const before = await store.client.search.count();
    await expect(
      store.searches.create('alice', { definition: { family: 'dms', space: ['nope'] } }),
    ).rejects.toBeInstanceOf(SearchDefinitionError);
    await expect(store.searches.create('', { definition: small })).rejects.toThrow(TypeError);
    expect(await store.client.search.count()).toBe(before);
  });

  it('is idempotent per (owner, idempotency key), also for concurrent requests', async () => {
    const first = await store.searches.create('alice', { definition: small, idempotencyKey: 'k1' });
    const again = await store.searches.create('alice', { definition: small, idempotencyKey: 'k1' });
    expect(first.created).toBe(true);
    expect(again).toEqual({ search: first.search, created: false });

    const racing = await Promise.all(
      Array.from({ length: 8 }, () => store.searches.create('alice', { definition: small, idempotencyKey: 'k2' })),
    );
    expect(racing.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(racing.map((r) => r.search.id)).size).toBe(1);
    expect(await store.client.search.count({ where: { idempotencyKey: 'k2' } })).toBe(1);
    expect(await store.client.candidate.count({ where: { searchId: racing[0]!.search.id } })).toBe(4);

    // The same key with another definition is a conflict; another owner's key is another search.
    await expect(
      store.searches.create('alice', { definition: { ...small, protocol: { tasks: 7 } }, idempotencyKey: 'k1' }),
    ).rejects.toBeInstanceOf(ConflictError);
    const bobs = await store.searches.create('bob', { definition: small, idempotencyKey: 'k1' });
    expect(bobs.created).toBe(true);
    expect(bobs.search.id).not.toBe(first.search.id);
  });

  it('maxActive: parallel creations through two clients (two pools) cannot pass the limit', async () => {
    const other = openStore({ url: tdb.url, poolSize: 4 });
    try {
      const stores = [store, other];
      const tries = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          stores[i % 2]!.searches.create('pat', { definition: small, idempotencyKey: `p${i}`, maxActive: 2 }),
        ),
      );
      const made = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
      const refused = tries.flatMap((t) => (t.status === 'rejected' ? [t.reason as unknown] : []));
      expect(made).toHaveLength(2);
      expect(refused).toHaveLength(6);
      for (const e of refused) expect(e).toMatchObject({ name: 'ActiveLimitError', active: 2, limit: 2 });
      expect(await store.searches.activeCount('pat')).toBe(2);
      // A retry of a created one is answered through either client, at the limit; a refused one stays refused.
      const key = made[0]!.search.idempotencyKey!;
      for (const s of stores) {
        expect(await s.searches.create('pat', { definition: small, idempotencyKey: key, maxActive: 2 })).toEqual({
          search: made[0]!.search,
          created: false,
        });
      }
      const refusedKey = [0, 1, 2, 3, 4, 5, 6, 7]
        .map((i) => `p${i}`)
        .find((k) => !made.some((m) => m.search.idempotencyKey === k))!;
      await expect(
        other.searches.create('pat', { definition: small, idempotencyKey: refusedKey, maxActive: 2 }),
      ).rejects.toBeInstanceOf(ActiveLimitError);
      // A finished search no longer counts.
      await store.searches.cancel('pat', made[1]!.search.id);
      expect((await other.searches.create('pat', { definition: small, maxActive: 2 })).created).toBe(true);
      await expect(store.searches.create('pat', { definition: small, maxActive: 2 })).rejects.toBeInstanceOf(
        ActiveLimitError,
      );
    } finally {
      await other.close();
    }
  });
});

describe('a search stored before model versions', () => {
  it('reads as model version 1 wherever its definition is read; a new one is version 2', async () => {
    const fresh = await store.searches.create('olga', { definition: small });
    expect(fresh.search.definition.protocol.network.modelVersion).toBe(2);
    expect(fresh.search.protocol.network.modelVersion).toBe(2);
    // The row as it was written before the field existed (the definition of the fixture, its protocol).
    const old = JSON.parse(
      readFileSync(new URL('../../search/src/fixtures/definition-unversioned.json', import.meta.url), 'utf8'),
    ) as { protocol: unknown };
    const { search } = await store.searches.create('olga', { definition: old });
    await store.client.$executeRaw`UPDATE "Search" SET "definition" = ${JSON.stringify(old)}::jsonb,
      "protocol" = ${JSON.stringify(old.protocol)}::jsonb WHERE "id" = ${search.id}::uuid`;
    const read = await store.searches.get('olga', search.id);
    expect(read.definition.protocol.network.modelVersion).toBe(1);
    expect(read.protocol.network.modelVersion).toBe(1);
    expect((await store.controller.search(search.id)).definition.protocol.network.modelVersion).toBe(1);
    expect(parseStoredSearchDefinition(read.definition)).toEqual(
      // Stored before the validation stage: read without one.
      parseSearchDefinition({ ...old, protocol: storedProtocol(old.protocol), validation: { seeds: 0 } }),
    );
    const run = (await store.runs.list(search.id))[0]!;
    const claim = (await store.runs.claim(run.id, { workerId: 'w' }))!;
    expect(claim.definition.protocol.network.modelVersion).toBe(1);
    expect(parseStoredSearchDefinition(claim.definition).protocol.network.modelVersion).toBe(1);
  });
});

describe('owner scoping', () => {
  it('shows a search only to its owner', async () => {
    const { search } = await store.searches.create('dave', { definition: small });
    const id = search.id;
    await expect(store.searches.get('erin', id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.searches.candidates('erin', id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.searches.results('erin', id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.searches.cancel('erin', id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.searches.remove('erin', id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.searches.list('erin')).toEqual([]);
    expect((await store.searches.get('dave', id)).state).toBe('QUEUED');
    expect((await store.searches.list('dave')).map((s) => s.id)).toEqual([id]);
    await expect(store.searches.get('dave', 'not-a-uuid')).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.searches.get('dave', '00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });

  it('lists newest first, by state, a page at a time', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await store.searches.create('frank', { definition: small })).search.id);
    await store.searches.cancel('frank', ids[1]!);
    const all = await store.searches.list('frank');
    expect(all.map((s) => s.id)).toEqual([...ids].reverse());
    const page1 = await store.searches.list('frank', { limit: 2 });
    const page2 = await store.searches.list('frank', { limit: 2, after: page1[1]!.id });
    expect([...page1, ...page2].map((s) => s.id)).toEqual(all.slice(0, 4).map((s) => s.id));
    expect((await store.searches.list('frank', { state: 'CANCELLED' })).map((s) => s.id)).toEqual([ids[1]]);
  });
});

describe('cancel and remove', () => {
  it('cancels once, refuses to cancel a finished search, removes only finished ones', async () => {
    const { search } = await store.searches.create('gina', { definition: small });
    await expect(store.searches.remove('gina', search.id)).rejects.toBeInstanceOf(ConflictError);
    const c = await store.searches.cancel('gina', search.id);
    expect(c.state).toBe('CANCELLED');
    expect(c.finishedAt).toBeInstanceOf(Date);
    expect((await store.searches.cancel('gina', search.id)).state).toBe('CANCELLED');
    expect((await store.runs.list(search.id)).every((r) => r.state === 'CANCELLED')).toBe(true);

    const done = (await store.searches.create('gina', { definition: small })).search;
    await store.controller.setSearchState(done.id, 'RUNNING');
    await store.controller.setSearchState(done.id, 'COMPLETE');
    await expect(store.searches.cancel('gina', done.id)).rejects.toBeInstanceOf(ConflictError);

    await store.searches.remove('gina', search.id);
    await expect(store.searches.get('gina', search.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.runs.list(search.id)).toEqual([]);
  });
});

describe('controller', () => {
  it('moves a search through its states and never out of a final one', async () => {
    const { search } = await store.searches.create('hank', { definition: small });
    const running = await store.controller.setSearchState(search.id, 'RUNNING');
    expect(running.startedAt).toBeInstanceOf(Date);
    expect((await store.controller.setSearchState(search.id, 'RUNNING')).state).toBe('RUNNING');
    expect((await store.controller.searchesIn(['RUNNING'])).map((s) => s.id)).toContain(search.id);
    const failed = await store.controller.setSearchState(search.id, 'FAILED', 'worker crashed');
    expect(failed).toMatchObject({ state: 'FAILED', error: 'worker crashed' });
    await expect(store.controller.setSearchState(search.id, 'RUNNING')).rejects.toBeInstanceOf(ConflictError);
    expect((await store.runs.list(search.id)).every((r) => r.state === 'CANCELLED')).toBe(true);
  });

  it('prunes a candidate (its runs stop) and keeps scores with non-finite bounds', async () => {
    const { search } = await store.searches.create('hank', { definition: small });
    await store.controller.updateCandidate(search.id, '01', { state: 'PRUNED', rung: 1 });
    await store.controller.updateCandidate(search.id, '01', { rung: 0 });
    await store.controller.updateCandidate(search.id, '11', {
      score: { mean: 120.5, lo: Number.NEGATIVE_INFINITY, hi: Number.NaN },
    });
    const cands = await store.controller.candidates(search.id);
    const pruned = cands.find((c) => c.bits === '01')!;
    expect(pruned).toMatchObject({ state: 'PRUNED', rung: 1 });
    expect(pruned.runs.every((r) => r.state === 'CANCELLED')).toBe(true);
    const scored = cands.find((c) => c.bits === '11')!.score!;
    expect(scored.mean).toBe(120.5);
    expect(scored.lo).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(scored.hi)).toBe(true);
    await store.controller.updateCandidate(search.id, '11', { score: null });
    expect((await store.controller.candidates(search.id)).find((c) => c.bits === '11')!.score).toBeNull();
    await expect(store.controller.updateCandidate(search.id, '111', { rung: 1 })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('result table', () => {
  it('gives rows that @ip2/search turns into the same table, plan and decision', async () => {
    const input: SearchDefinitionInput = {
      family: 'dms',
      space: ['tauD', 'tauS'],
      protocol: { tasks: 12, seeds: 3 },
      strategy: { kind: 'successive-halving', eta: 2, minTasks: 3 },
      bootstrap: { resamples: 200 },
      // The decision of the searched seeds alone: the validation stage has its own tests.
      validation: { seeds: 0 },
    };
    const d = parseSearchDefinition(input);
    // Some tasks fail with a NaN loss: the decision must see them exactly as the simulation did.
    const truth = powerLawTruth({
      first: { '10': 300, '11': 500 },
      noise: 0.2,
      seed: 3,
      fails: (c, s, t) => c === '01' && s === 1 && t % 2 === 0,
    });
    const sim = simulateSearch(d, truth);
    const { search } = await store.searches.create('ivy', { definition: input });
    const runs = await store.runs.list(search.id);
    for (const [candidate, bySeed] of Object.entries(sim.table)) {
      for (const [s, list] of Object.entries(bySeed ?? {})) {
        const run = runs.find((r) => r.candidate === candidate && r.seedIndex === Number(s))!;
        const claim = (await store.runs.claim(run.id, { workerId: 'sim' }))!;
        const results: TaskResult[] = [...list]
          .sort((a, b) => a.taskIndex - b.taskIndex)
          .map((t) => ({
            taskIndex: t.taskIndex,
            iterations: t.iterations ?? Number.NaN,
            trialsToCriterion: 2 * (t.iterations ?? Number.NaN),
            batchSize: 2,
            totalIterations: Number.isFinite(t.iterations) ? t.iterations! + 50 : 20_000,
            converged: t.converged,
            failure: t.converged ? null : 'nan',
            finalLoss: t.finalLoss ?? Number.NaN,
            accuracy: 1,
            heldOutLoss: 0,
            firingRate: 0.2,
            activeNeurons: 50,
            neurons: 100,
            fractionSilent: 0.5,
            wallMs: 5,
          }));
        await store.runs.recordTasks(run.id, claim.claimToken, results, {
          nextTask: results.length,
          learner: new Uint8Array(8),
          converged: true,
        });
        await store.runs.release(run.id, claim.claimToken, 'WAITING');
      }
    }
    const rows = await store.runs.resultTable(search.id);
    expect(rows.length).toBe(sim.trained);
    expect(Object.keys(rows[0]!).sort()).toEqual(
      ['candidate', 'converged', 'finalLoss', 'iterations', 'seedIndex', 'taskIndex'].sort(),
    );
    expect(rows.some((r) => Number.isNaN(r.finalLoss))).toBe(true);
    const table = tableFromRows(rows);
    expect(plan(d, table)).toEqual(plan(d, sim.table));
    expect(plan(d, table).at(-1)).toEqual({ kind: 'done' });
    expect(decide(d, table)).toEqual(decide(d, sim.table));
    expect(await store.searches.results('ivy', search.id)).toEqual(rows);
  });
});

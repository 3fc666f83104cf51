import { useTestStore } from '@ip2/testing/store';
import { describe, expect, it } from 'vitest';
import { NotFoundError, openStore, type Store } from './index.js';

let store: Store;
useTestStore((url) => (store = openStore({ url })));

const newSearch = async () =>
  (await store.searches.create('alice', { definition: { family: 'sma', space: ['tauD'], protocol: { tasks: 2 } } }))
    .search.id;

describe('configuration analyses', () => {
  it('asks once, stores the analysis exactly (NaN, ±Infinity and every double kept) and reads it back', async () => {
    const id = await newSearch();
    expect(await store.analyses.get(id)).toBeNull();
    const asked = await store.analyses.request(id, 2);
    expect(asked).toMatchObject({ searchId: id, seeds: 2, state: 'PENDING', analysis: null, error: null });
    // A second request (a repeated advance) keeps the first one.
    expect(await store.analyses.request(id, 5)).toEqual(asked);

    const analysis = {
      zeta: 'written first',
      format: 'ip2.configuration-analysis/1',
      runs: [{ seedIndex: 0, tasks: [{ qStart: Number.NaN, qEnd: 0.30000000000000004, iterations: Infinity }] }],
      modularityEfficiency: { r: -Infinity, n: 3, p: 1e-300, label: 'NaN as a word' },
      nested: [[0.1, 2 / 3, Number.MIN_VALUE, Number.MAX_VALUE]],
    };
    const done = await store.analyses.complete(id, analysis);
    expect(done).toMatchObject({ searchId: id, seeds: 2, state: 'COMPLETE', error: null });
    expect(done.analysis).toEqual(analysis);
    expect((await store.analyses.get(id))!.analysis).toEqual(analysis);
    // Key order too (json, not jsonb): the stored analysis serialises to the same text.
    expect(JSON.stringify(done.analysis, (_k, x: unknown) => (Number.isNaN(x) ? 'NaN' : x))).toBe(
      JSON.stringify(analysis, (_k, x: unknown) => (Number.isNaN(x) ? 'NaN' : x)),
    );
    expect(Object.is((done.analysis as typeof analysis).runs[0]!.tasks[0]!.qStart, Number.NaN)).toBe(true);
    // Still a request changes nothing.
    expect((await store.analyses.request(id, 2)).state).toBe('COMPLETE');
  });

  it('records a failure; refuses a bad seed count, an unknown search and an analysis nobody asked for', async () => {
    const id = await newSearch();
    await store.analyses.request(id, 1);
    const failed = await store.analyses.fail(id, 'lesion study: out of memory');
    expect(failed).toMatchObject({ state: 'FAILED', analysis: null, error: 'lesion study: out of memory' });

    await expect(store.analyses.request(id, 0)).rejects.toThrow(/seeds must be a positive integer/);
    await expect(store.analyses.request('00000000-0000-4000-8000-000000000000', 2)).rejects.toThrow();
    await expect(store.analyses.request('not-an-id', 2)).rejects.toBeInstanceOf(NotFoundError);
    const other = await newSearch();
    await expect(store.analyses.complete(other, { format: 'x' })).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.analyses.get('not-an-id')).toBeNull();
  });

  it('reads the task results of any owner’s search, and goes with its search', async () => {
    const id = await newSearch();
    expect(await store.analyses.taskResults(id)).toEqual([]);
    await store.analyses.request(id, 2);
    await store.client.search.delete({ where: { id } });
    expect(await store.analyses.get(id)).toBeNull();
  });
});

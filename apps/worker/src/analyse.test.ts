import { openStore, type Store } from '@ip2/db';
import { useTestStore } from '@ip2/testing/store';
import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { processAnalyseJob } from './analyse.js';

/* The analysis processor's refusals in this process, against a real, migrated PostgreSQL database. */

let store: Store;
useTestStore((url) => (store = openStore({ url, poolSize: 2 })));

const job = (data: unknown, attemptsMade = 0) => ({ id: 'analyse-x', data, attemptsMade, opts: { attempts: 3 } });
const newSearch = async () =>
  (await store.searches.create('alice', { definition: { family: 'sma', space: ['tauD'], protocol: { tasks: 2 } } }))
    .search.id;

describe('search.analyse processor', () => {
  it('refuses a malformed payload and an analysis nobody asked for, without retries', async () => {
    await expect(processAnalyseJob({ store }, job({ searchId: 'a b', seeds: 2 }))).rejects.toThrow(
      /searchId: must be 1–64 characters/,
    );
    await expect(processAnalyseJob({ store }, job({ searchId: 'a', seeds: 0 }))).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
    const id = await newSearch();
    await expect(processAnalyseJob({ store }, job({ searchId: id, seeds: 2 }))).rejects.toThrow(
      /no analysis was asked for/,
    );
  });

  it('records why it failed when retrying cannot help (the report shows it)', async () => {
    const id = await newSearch();
    await store.analyses.request(id, 2);
    const e = await processAnalyseJob({ store }, job({ searchId: id, seeds: 2 })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UnrecoverableError);
    expect(await store.analyses.get(id)).toMatchObject({
      state: 'FAILED',
      error: `search ${id} has no fixed configuration`,
    });
  });
});

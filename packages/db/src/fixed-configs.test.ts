import {
  fixConfiguration,
  parseSearchDefinition,
  powerLawTruth,
  simulateSearch,
  verifyFixedConfig,
  type FixedConfig,
  type SearchDefinitionInput,
} from '@ip2/search';
import { createTestDatabase, type TestDatabase } from '@ip2/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, mapError, openStore, type Store } from './index.js';

let tdb: TestDatabase;
let store: Store;
beforeAll(async () => {
  tdb = await createTestDatabase();
  store = openStore({ url: tdb.url });
});
afterAll(async () => {
  await store?.close();
  await tdb?.drop();
});

/** A fixed configuration record of a small simulated search; `tasks` makes distinct records. */
function record(family: string, tasks: number, best = '10'): FixedConfig {
  const input: SearchDefinitionInput = {
    family,
    space: ['tauD', 'theta'],
    protocol: { tasks, seeds: 2 },
    bootstrap: { resamples: 50 },
  };
  const d = parseSearchDefinition(input);
  const { table } = simulateSearch(d, powerLawTruth({ first: { [best]: 200 }, noise: 0.1, seed: tasks }));
  return fixConfiguration(d, table);
}

describe('fixed configurations', () => {
  it('stores a record once, as the family’s next version, and gives it back intact', async () => {
    const r1 = record('dms', 4);
    const a = await store.fixedConfigs.save(r1);
    expect(a.created).toBe(true);
    expect(a.config).toMatchObject({ family: 'dms', version: 1, bits: '10', hash: r1.hash, searchId: null });
    expect(a.config.record).toEqual(r1);
    expect(verifyFixedConfig(a.config.record)).toBe(true);

    const again = await store.fixedConfigs.save(r1);
    expect(again).toEqual({ config: a.config, created: false });

    const r2 = record('dms', 5, '01');
    const b = await store.fixedConfigs.save(r2);
    expect(b.config).toMatchObject({ version: 2, bits: '01' });
    const other = await store.fixedConfigs.save(record('cddms', 4));
    expect(other.config.version).toBe(1);

    expect((await store.fixedConfigs.latest('dms'))!.hash).toBe(r2.hash);
    expect((await store.fixedConfigs.get('dms', 1)).hash).toBe(r1.hash);
    expect((await store.fixedConfigs.list('dms')).map((c) => c.version)).toEqual([1, 2]);
    expect((await store.fixedConfigs.byHash(r2.hash))!.version).toBe(2);
    expect(await store.fixedConfigs.latest('none')).toBeNull();
  });

  it('numbers concurrent saves 1..n without gaps and stores a racing duplicate once', async () => {
    const records = [4, 5, 6, 7, 8].map((t) => record('race', t));
    const saved = await Promise.all(records.map((r) => store.fixedConfigs.save(r)));
    expect(saved.map((s) => s.config.version).sort()).toEqual([1, 2, 3, 4, 5]);

    const same = record('race-same', 4);
    const dup = await Promise.all(Array.from({ length: 4 }, () => store.fixedConfigs.save(same)));
    expect(dup.filter((d) => d.created)).toHaveLength(1);
    expect(await store.fixedConfigs.list('race-same')).toHaveLength(1);
  });

  it('refuses a record whose hash does not match, and any change to a stored one', async () => {
    const r = record('tamper', 4);
    const forged = JSON.parse(JSON.stringify(r)) as { mask: { bits: string } };
    forged.mask.bits = '11';
    await expect(store.fixedConfigs.save(forged as unknown as FixedConfig)).rejects.toThrow(/hash/);
    const { config } = await store.fixedConfigs.save(r);
    await expect(
      store.client.fixedConfig.update({ where: { id: config.id }, data: { bits: '11' } }).catch((e: unknown) => {
        throw mapError(e);
      }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect((await store.fixedConfigs.get('tamper', 1)).bits).toBe('10');
  });

  it('keeps the search it came from, which can then no longer be deleted', async () => {
    const { search } = await store.searches.create('alice', {
      definition: { family: 'prov', space: ['tauD'], protocol: { tasks: 2, seeds: 1 } },
    });
    const { config } = await store.fixedConfigs.save(record('prov', 4), { searchId: search.id });
    expect(config.searchId).toBe(search.id);
    await store.searches.cancel('alice', search.id);
    await expect(store.searches.remove('alice', search.id)).rejects.toBeInstanceOf(ConflictError);
    expect((await store.searches.get('alice', search.id)).state).toBe('CANCELLED');
    expect((await store.fixedConfigs.get('prov', 1)).searchId).toBe(search.id);
  });
});

import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fixConfiguration,
  fixedConfigModelVersion,
  parseSearchDefinition,
  powerLawTruth,
  simulateSearch,
  verifyFixedConfig,
  type FixedConfig,
  type SearchDefinitionInput,
} from '@ip2/search';
import { createTestDatabase, findMigrationsDir, readMigrations } from '@ip2/testing';
import { useTestStore } from '@ip2/testing/store';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ConflictError, mapError, openStore, type Store } from './index.js';

let store: Store;
useTestStore((url) => (store = openStore({ url })));

/** A fixed configuration record of a small simulated search; `tasks` makes distinct records. */
function record(family: string, tasks: number, best = '10', modelVersion: 1 | 2 = 2): FixedConfig {
  const input: SearchDefinitionInput = {
    family,
    space: ['tauD', 'theta'],
    protocol: { tasks, seeds: 2, network: { modelVersion } },
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

  it('keeps configurations of several model versions per family apart: the current one is asked for per version', async () => {
    const v1 = await store.fixedConfigs.save(record('mv', 4, '01', 1));
    const v2 = await store.fixedConfigs.save(record('mv', 5, '10', 2));
    const v1b = await store.fixedConfigs.save(record('mv', 6, '11', 1));
    expect([v1, v2, v1b].map((s) => [s.config.version, s.config.modelVersion])).toEqual([
      [1, 1],
      [2, 2],
      [3, 1],
    ]);
    // The newest record of the family is a version-1 one: never the current one for version 2.
    expect((await store.fixedConfigs.latest('mv'))!.hash).toBe(v2.config.hash);
    expect((await store.fixedConfigs.latest('mv', 2))!.hash).toBe(v2.config.hash);
    expect((await store.fixedConfigs.latest('mv', 1))!.hash).toBe(v1b.config.hash);
    expect(await store.fixedConfigs.latest('dms-v1-only', 2)).toBeNull();
    await expect(store.fixedConfigs.latest('mv', 3 as 2)).rejects.toThrow(/model version must be one of 1, 2/);
    expect((await store.fixedConfigs.list('mv')).map((c) => c.version)).toEqual([1, 2, 3]);
    expect((await store.fixedConfigs.list('mv', { modelVersion: 1 })).map((c) => c.version)).toEqual([1, 3]);
    expect((await store.fixedConfigs.list('mv', { modelVersion: 2 })).map((c) => c.version)).toEqual([2]);
    const only1 = await store.fixedConfigs.save(record('dms-v1-only', 4, '10', 1));
    expect(only1.config.modelVersion).toBe(1);
    expect(await store.fixedConfigs.latest('dms-v1-only')).toBeNull();
  });

  it('stores a record fixed before versioned defaults as model version 1, and the column cannot disagree with a record', async () => {
    const old = JSON.parse(
      readFileSync(new URL('../../search/src/fixtures/fixed-config-unversioned.json', import.meta.url), 'utf8'),
    ) as FixedConfig;
    expect(fixedConfigModelVersion(old)).toBe(1);
    // Saved after the family's version-2 records (first test): the newest, yet not their current one.
    const { config } = await store.fixedConfigs.save(old);
    expect(config).toMatchObject({ family: 'dms', modelVersion: 1, hash: old.hash });
    expect(verifyFixedConfig(config.record)).toBe(true);
    expect(config.record).toEqual(old);
    expect((await store.fixedConfigs.list('dms')).at(-1)!.hash).toBe(old.hash);
    expect((await store.fixedConfigs.latest('dms'))!.modelVersion).toBe(2);
    expect((await store.fixedConfigs.latest('dms', 1))!.hash).toBe(old.hash);
    const v2 = record('dms', 9);
    const id = crypto.randomUUID();
    await expect(
      store.client.$executeRawUnsafe(
        `INSERT INTO "FixedConfig" ("id", "family", "version", "modelVersion", "bits", "record", "hash")
         VALUES ($1::uuid, 'dms', 99, 1, '10', $2::jsonb, $3)`,
        id,
        JSON.stringify(v2),
        v2.hash,
      ),
    ).rejects.toThrow(/FixedConfig_modelVersion_check/);
  });
});

describe('migration: rows fixed before model versions', () => {
  it('read as model version 1, and stay the current configuration of version 1 only', async () => {
    // A database at the migrations before this one, holding a configuration fixed then.
    const dir = mkdtempSync(join(tmpdir(), 'ip2-migrations-'));
    const all = readMigrations(findMigrationsDir());
    const at = all.findIndex((m) => m.name.endsWith('_fixed_config_model_version'));
    expect(at).toBeGreaterThan(0);
    for (const m of all.slice(0, at)) cpSync(join(findMigrationsDir(), m.name), join(dir, m.name), { recursive: true });
    const before = await createTestDatabase({ migrationsDir: dir });
    const old = JSON.parse(
      readFileSync(new URL('../../search/src/fixtures/fixed-config-unversioned.json', import.meta.url), 'utf8'),
    ) as FixedConfig;
    const client = new pg.Client({ connectionString: before.url });
    await client.connect();
    let later: Store | undefined;
    try {
      await client.query(
        `INSERT INTO "FixedConfig" ("id", "family", "version", "bits", "record", "hash")
         VALUES ($1::uuid, 'dms', 1, $2, $3::jsonb, $4)`,
        [crypto.randomUUID(), old.mask.bits, JSON.stringify(old), old.hash],
      );
      for (const m of all.slice(at)) await client.query(m.sql);
      later = openStore({ url: before.url });
      const [row] = await later.fixedConfigs.list('dms');
      expect(row).toMatchObject({ version: 1, modelVersion: 1, hash: old.hash });
      expect(await later.fixedConfigs.latest('dms')).toBeNull();
      expect((await later.fixedConfigs.latest('dms', 1))!.hash).toBe(old.hash);
      const next = await later.fixedConfigs.save(record('dms', 4));
      expect(next.config).toMatchObject({ version: 2, modelVersion: 2 });
      expect((await later.fixedConfigs.latest('dms'))!.hash).toBe(next.config.hash);
    } finally {
      await client.end();
      await later?.close();
      await before.drop();
    }
  });
});

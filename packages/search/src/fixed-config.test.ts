import { readFileSync } from 'node:fs';
import { modelDefaults } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import { canonicalJson, contentHash } from './canonical-json.js';
import { parseSearchDefinition } from './definition.js';
import {
  definitionHash,
  FIXED_CONFIG_FORMAT,
  fixConfiguration,
  fixedConfigDefaultsMatch,
  fixedConfigModelVersion,
  modelDefaultsHash,
  modelSettings,
  verifyFixedConfig,
  type FixedConfig,
} from './fixed-config.js';
import { powerLawTruth, shuffledTable as shuffled, simulateSearch } from './testkit.js';

const d = parseSearchDefinition({
  family: 'cddms',
  protocol: { tasks: 20, seeds: 4 },
  strategy: { kind: 'successive-halving', minTasks: 2 },
});
const { table } = simulateSearch(d, powerLawTruth({ first: { '110': 300 }, noise: 0.2, seed: 4 }));

describe('fixed configuration record', () => {
  const rec = fixConfiguration(d, table);

  it('records family, space, mask, protocol, evidence and provenance', () => {
    expect(rec).toMatchObject({
      format: 'ip2.fixed-config/1',
      family: 'cddms',
      space: ['tauD', 'tauS', 'theta'],
      mask: { bits: '110', keys: ['tauD', 'tauS'] },
      protocol: d.protocol,
      model: { version: 2, defaultsHash: modelDefaultsHash(2) },
      createdFrom: { searchHash: definitionHash(d) },
    });
    expect(rec.evidence.best.id).toBe('110');
    expect(rec.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.isFrozen(rec) && Object.isFrozen(rec.evidence.best)).toBe(true);
  });

  it('is the same, byte for byte, for the same inputs in any order', () => {
    const bytes = canonicalJson(rec);
    expect(canonicalJson(fixConfiguration(d, table))).toBe(bytes);
    for (const seed of [5, 6]) expect(canonicalJson(fixConfiguration(d, shuffled(table, seed)))).toBe(bytes);
  });

  it('verifies its hash, also after a JSON round trip, and detects tampering', () => {
    expect(verifyFixedConfig(rec)).toBe(true);
    const copy = JSON.parse(JSON.stringify(rec));
    expect(verifyFixedConfig(copy)).toBe(true);
    copy.mask.bits = '111';
    expect(verifyFixedConfig(copy)).toBe(false);
    expect(verifyFixedConfig({ ...rec, hash: 'x' })).toBe(false);
    expect(verifyFixedConfig(null)).toBe(false);
    expect(verifyFixedConfig({ ...rec, extra: Number.NaN })).toBe(false);
  });

  it('a search id is provenance and part of the hash', () => {
    const withId = fixConfiguration(d, table, { searchId: 's-42' });
    expect(withId.createdFrom).toEqual({ searchHash: definitionHash(d), searchId: 's-42' });
    expect(withId.hash).not.toBe(rec.hash);
    expect(verifyFixedConfig(withId)).toBe(true);
  });
});

describe('versioned model defaults in the record', () => {
  it('names the model version and the hash of all its defaults, and its own hash covers them', () => {
    const rec = fixConfiguration(d, table);
    expect(rec.model).toEqual({ version: 2, defaultsHash: contentHash(modelDefaults(2)) });
    expect(fixedConfigModelVersion(rec)).toBe(2);
    expect(fixedConfigDefaultsMatch(rec)).toBe(true);
    const v1 = fixConfiguration(
      parseSearchDefinition({ ...d, protocol: { ...d.protocol, network: { ...d.protocol.network, modelVersion: 1 } } }),
      table,
    );
    expect(v1.model).toEqual({ version: 1, defaultsHash: modelDefaultsHash(1) });
    expect(fixedConfigModelVersion(v1)).toBe(1);
    expect(modelDefaultsHash(1)).not.toBe(modelDefaultsHash(2));
    expect(v1.hash).not.toBe(rec.hash);
    // Another set of defaults under the same version number no longer verifies as the same record.
    const copy = JSON.parse(JSON.stringify(rec)) as { model: { defaultsHash: string } };
    copy.model.defaultsHash = modelDefaultsHash(1);
    expect(verifyFixedConfig(copy)).toBe(false);
    expect(fixedConfigDefaultsMatch(copy as unknown as FixedConfig)).toBe(false);
  });

  it('resolves the settings a search ran with from its network and the version’s defaults', () => {
    const n = (network: Record<string, unknown>) =>
      modelSettings(
        parseSearchDefinition({ family: 'dms', protocol: { network: { lr: 3e-3, ...network } } }).protocol.network,
      );
    expect(n({})).toEqual({ modelVersion: 2, readout: 'spikes', propertyOptimizer: 'adam', propertyLr: 3e-3 });
    expect(n({ modelVersion: 1 })).toEqual({
      modelVersion: 1,
      readout: 'membrane',
      propertyOptimizer: 'adam',
      propertyLr: 1e-2,
    });
    expect(n({ modelVersion: 1, readout: 'spikes', propertyOptimizer: 'sgd', propertyLr: 0.5 })).toEqual({
      modelVersion: 1,
      readout: 'spikes',
      propertyOptimizer: 'sgd',
      propertyLr: 0.5,
    });
  });

  it('a record fixed before versioned defaults stays readable, verifies, and says version 1', () => {
    const old = JSON.parse(
      readFileSync(new URL('./fixtures/fixed-config-unversioned.json', import.meta.url), 'utf8'),
    ) as FixedConfig;
    expect(old.format).toBe(FIXED_CONFIG_FORMAT);
    expect('model' in old).toBe(false);
    expect(verifyFixedConfig(old)).toBe(true);
    expect(old.hash).toBe('8f8160607e4575974c51cbfb3b49205c233fdfc1c29abfc847c9710508e7f581');
    expect(fixedConfigModelVersion(old)).toBe(1);
    expect(fixedConfigDefaultsMatch(old)).toBeNull();
  });
});

describe('canonical JSON', () => {
  it('sorts keys, drops undefined members, rejects what JSON cannot hold exactly', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, d: { z: -0, y: 1.5 } })).toBe(
      '{"a":[true,null,"x"],"b":1,"d":{"y":1.5,"z":0}}',
    );
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/\$\.a is NaN/);
    expect(() => canonicalJson([undefined])).toThrow(/undefined/);
    expect(() => canonicalJson(new Date(0))).toThrow(/not a plain object/);
  });
});

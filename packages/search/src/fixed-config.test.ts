import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import { parseSearchDefinition } from './definition.js';
import { definitionHash, fixConfiguration, verifyFixedConfig } from './fixed-config.js';
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

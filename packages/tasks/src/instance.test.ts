import { describe, expect, it } from 'vitest';
import { createInstance } from './instance.js';
import { FAMILY_IDS } from './registry.js';

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function expectOrthonormal(vs: readonly Float32Array[]): void {
  for (let i = 0; i < vs.length; i++) {
    expect(vs[i]).toHaveLength(10);
    for (let j = 0; j < vs.length; j++) expect(Math.abs(dot(vs[i]!, vs[j]!) - (i === j ? 1 : 0))).toBeLessThan(1e-6);
  }
}

describe.each(FAMILY_IDS)('createInstance(%s)', (id) => {
  it('draws orthonormal stimuli (and cues) and declares the channel counts', () => {
    for (const taskIndex of [0, 1, 57]) {
      const inst = createInstance(id, 11, taskIndex);
      expect(inst).toMatchObject({ family: id, seed: 11, taskIndex, nOut: 3 });
      expect(inst.nIn).toBe(id === 'cddms' ? 21 : 11);
      expect(inst.cues).toHaveLength(id === 'cddms' ? 2 : 0);
      expectOrthonormal(inst.stimuli);
      expectOrthonormal(inst.cues);
    }
  });

  it('is the same for the same (seed, taskIndex) and differs otherwise', () => {
    const a = createInstance(id, 5, 3);
    expect(createInstance(id, 5, 3)).toEqual(a);
    expect(createInstance(id, 5, 4).stimuli[0]).not.toEqual(a.stimuli[0]);
    expect(createInstance(id, 6, 3).stimuli[0]).not.toEqual(a.stimuli[0]);
  });
});

describe('createInstance', () => {
  it('gives each family its own stimuli for the same seed and index', () => {
    const firsts = FAMILY_IDS.map((id) => Array.from(createInstance(id, 1, 0).stimuli[0]!).join());
    expect(new Set(firsts).size).toBe(FAMILY_IDS.length);
  });

  it('draws the sma mapping per instance, both ways across instances', () => {
    const maps = new Set<string>();
    for (let k = 0; k < 40; k++) {
      const { associations } = createInstance('sma', 2, k);
      expect([...associations].sort()).toEqual([0, 1]);
      maps.add(associations.join());
    }
    expect(maps).toEqual(new Set(['0,1', '1,0']));
  });

  it('rejects unknown families and bad seeds or indices', () => {
    expect(() => createInstance('xor', 1, 0)).toThrow(/valid: sma, dms, cddms, gng2, gng4/);
    expect(() => createInstance('dms', -1, 0)).toThrow(/seed/);
    expect(() => createInstance('dms', 1.5, 0)).toThrow(/seed/);
    expect(() => createInstance('dms', 2 ** 32, 0)).toThrow(/seed/);
    expect(() => createInstance('dms', 1, -1)).toThrow(/taskIndex/);
  });
});

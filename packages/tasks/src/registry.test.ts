import { describe, expect, it } from 'vitest';
import { defineFamily, type TaskFamily } from './family.js';
import { FAMILY_IDS, getFamily, isFamilyId, listFamilies } from './registry.js';

describe('registry', () => {
  it('lists the five families of SCIENCE.md §5', () => {
    expect(FAMILY_IDS).toEqual(['sma', 'dms', 'cddms', 'gng2', 'gng4']);
    expect(listFamilies().map((f) => f.id)).toEqual(FAMILY_IDS);
    for (const id of FAMILY_IDS) {
      expect(getFamily(id).id).toBe(id);
      expect(isFamilyId(id)).toBe(true);
    }
  });

  it('throws on an unknown id, listing the valid ones', () => {
    expect(isFamilyId('xor')).toBe(false);
    expect(() => getFamily('xor')).toThrow("unknown task family 'xor'; valid: sma, dms, cddms, gng2, gng4");
  });

  it('uses at most 10 stimuli per instance and leaves no-go probes in gng', () => {
    expect(listFamilies().map((f) => [f.id, f.nStimuli, f.nCues])).toEqual([
      ['sma', 2, 0],
      ['dms', 3, 0],
      ['cddms', 3, 2],
      ['gng2', 6, 0],
      ['gng4', 8, 0],
    ]);
  });
});

describe('defineFamily', () => {
  const base: TaskFamily<'demo'> = {
    id: 'demo',
    title: 'demo',
    rule: 'R1',
    nStimuli: 1,
    nCues: 0,
    epochs: [
      { name: 'stimulus', startMs: 0, endMs: 100 },
      { name: 'response', startMs: 100, endMs: 300 },
    ],
    conditions: ['only'],
    drawTrial: () => ({ condition: 'only', events: [], response: 0 }),
  };

  it('accepts a well-formed family', () => {
    expect(defineFamily(base).id).toBe('demo');
  });

  it.each([
    [
      'a gap between epochs',
      { epochs: [base.epochs[0]!, { name: 'response', startMs: 150, endMs: 300 }] },
      /expected 100/,
    ],
    ['a timeline not ending in response', { epochs: [base.epochs[0]!] }, /last epoch/],
    ['duplicate epochs', { epochs: [base.epochs[0]!, base.epochs[0]!] }, /duplicate/],
    ['too many stimuli', { nStimuli: 11 }, /nStimuli/],
    ['no conditions', { conditions: [] }, /condition/],
  ])('rejects %s', (_what, change, message) => {
    expect(() => defineFamily({ ...base, ...change })).toThrow(message);
  });
});

import { describe, expect, it } from 'vitest';
import { getFamily } from './registry.js';
import { msToStep, trialTiming } from './timing.js';

describe('trialTiming', () => {
  // [family, dt, steps, goStep, scoredFrom]
  it.each([
    ['sma', 20, 100, 75, 80],
    ['sma', 10, 200, 150, 160],
    ['dms', 20, 90, 65, 70],
    ['dms', 10, 180, 130, 140],
    ['cddms', 20, 90, 65, 70],
    ['cddms', 10, 180, 130, 140],
    ['gng2', 20, 90, 65, 70],
    ['gng2', 10, 180, 130, 140],
    ['gng4', 20, 115, 90, 95],
    ['gng4', 10, 230, 180, 190],
  ] as const)('%s at dt = %i ms', (id, dt, steps, goStep, scoredFrom) => {
    const t = trialTiming(getFamily(id), dt);
    expect(t).toMatchObject({ dt, steps, goStep, scoredFrom });
    expect(t.epochs[0]!.start).toBe(0);
    expect(t.epochs.at(-1)).toMatchObject({ name: 'response', start: goStep, end: steps });
    for (let i = 1; i < t.epochs.length; i++) expect(t.epochs[i]!.start).toBe(t.epochs[i - 1]!.end);
  });

  it('rounds boundaries, not durations, so 250 ms items do not drift at dt = 20', () => {
    const t = trialTiming(getFamily('gng4'), 20);
    expect(t.epochs.slice(0, 5).map((e) => [e.start, e.end])).toEqual([
      [0, 13],
      [13, 25],
      [25, 38],
      [38, 50],
      [50, 75],
    ]);
    expect(msToStep(1000, 20)).toBe(50);
  });

  it('takes the grace period as a parameter', () => {
    expect(trialTiming(getFamily('dms'), 20, 0).scoredFrom).toBe(65);
    expect(trialTiming(getFamily('dms'), 20, 200).scoredFrom).toBe(75);
  });

  it('rejects a dt that leaves an epoch without a step, and bad arguments', () => {
    expect(() => trialTiming(getFamily('gng2'), 600)).toThrow(/without a step/);
    expect(() => trialTiming(getFamily('dms'), 0)).toThrow(/dt must be/);
    expect(() => trialTiming(getFamily('dms'), Number.NaN)).toThrow(/dt must be/);
    expect(() => trialTiming(getFamily('dms'), 20, 500)).toThrow(/no scored response step/);
    expect(() => trialTiming(getFamily('dms'), 20, -1)).toThrow(/graceMs/);
  });
});

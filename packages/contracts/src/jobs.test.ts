import { describe, expect, it } from 'vitest';
import { InvalidJobError, JOBS, jobId, parsePayload, parseResult } from './jobs.js';

const train = {
  searchId: 's1',
  runId: 'r42',
  candidate: '101',
  seedIndex: 2,
  seed: 12345,
  keys: ['tauD', 'theta'],
  fromTask: 4,
  toTask: 12,
  rung: 1,
};

describe('job catalog', () => {
  it('every job has a queue, a retry policy and a deterministic id', () => {
    for (const c of Object.values(JOBS)) {
      expect(c.queue).toMatch(/^ip2-/);
      expect(c.backoffMs).toBeGreaterThan(0);
      expect(c.attempts).toBeGreaterThan(0);
    }
    expect(jobId('run.train', parsePayload('run.train', train))).toBe('run-r42-from-4');
    expect(jobId('search.advance', { searchId: 's1', reason: 'chunk done' })).toBe('advance-s1');
    expect(jobId('search.analyse', parsePayload('search.analyse', { searchId: 's1', seeds: 2 }))).toBe('analyse-s1');
    expect(() => parsePayload('search.analyse', { searchId: 's1', seeds: 0 })).toThrow(/seeds/);
    expect(() => parseResult('search.analyse', { runs: 2, reproduced: 6, compared: 6 })).toThrow(/wallSeconds/);
  });

  it('accepts a valid payload and returns it unchanged', () => {
    expect(parsePayload('run.train', train)).toEqual(train);
    expect(parseResult('run.train', { tasksWritten: 8, nextTask: 12, engine: 'fused', backend: 'wasm' })).toMatchObject(
      { nextTask: 12 },
    );
  });

  const bad: [string, object, RegExp][] = [
    ['unknown field', { ...train, extra: 1 }, /Unrecognized key/],
    ['bad mask label', { ...train, candidate: '12' }, /candidate: must be a mask label/],
    ['unknown property', { ...train, keys: ['tauX'] }, /keys\.0/],
    ['empty range', { ...train, toTask: 4 }, /toTask: toTask must exceed fromTask/],
    ['negative index', { ...train, seedIndex: -1 }, /seedIndex/],
    ['bad id', { ...train, runId: 'a b' }, /runId: must be 1–64 characters/],
    ['missing field', { searchId: 's1' }, /runId/],
  ];
  for (const [what, payload, message] of bad) {
    it(`refuses ${what}, naming the field`, () => {
      expect(() => parsePayload('run.train', payload)).toThrow(InvalidJobError);
      expect(() => parsePayload('run.train', payload)).toThrow(message);
    });
  }
});

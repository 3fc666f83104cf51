import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TASK_COLUMNS } from '@ip2/report';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from './main.js';

let stderr = '';
let stdout = '';
beforeEach(() => {
  stderr = '';
  stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('ip2 l2l: bad input', () => {
  const out = () => mkdtempSync(join(tmpdir(), 'ip2-cli-'));
  const cases: [string[], RegExp][] = [
    [['--family', 'xyz'], /--family: unknown value 'xyz'; valid: sma, dms, cddms, gng2, gng4/],
    [['--model', 'cnn'], /--model: unknown value 'cnn'; valid: ip2, rsnn-noip/],
    [['--mask', 'tauD,tauQ'], /--mask: unknown mask key 'tauQ'; valid: tauD, tauS, theta, beta, tauA/],
    [['--mask', 'beta'], /--mask: 'beta' is not in the search space \(tauD, tauS, theta\)/],
    [['--tasks', '0'], /--tasks: expected a positive integer/],
    [['--tasks', '-3'], /--tasks: expected a positive integer/],
    [['--hidden', '2.5'], /--hidden: expected a positive integer/],
    [['--epsilon', 'abc'], /--epsilon: expected a positive number/],
    [['--seed', '-1'], /--seed: expected an integer/],
    [['--loss', 'hinge'], /--loss: unknown value 'hinge'; valid: mse, xent/],
    [['--model', 'rsnn-noip', '--mask', 'tauD'], /--mask: only the ip2 model takes a mask/],
    [['--window', '500', '--cap', '100'], /window must not exceed cap/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')} → exit 2, one line naming the flag, nothing written`, async () => {
      const dir = out();
      const code = await main(['l2l', ...args, '--out', join(dir, 'r'), '--quiet']);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(readdirSync(dir)).toEqual([]);
    });
  }

  it('an unwritable output folder is refused before any training', async () => {
    const dir = out();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const code = await main(['l2l', '--out', join(file, 'sub'), '--quiet']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--out: cannot write to/);
  });

  it('an unknown flag exits 2', async () => {
    expect(await main(['l2l', '--bogus'])).toBe(2);
    expect(stderr).toMatch(/unknown option '--bogus'/);
  });
});

describe('ip2 --help', () => {
  it('lists every family, model, property key and preset with defaults', async () => {
    expect(await main(['l2l', '--help'])).toBe(0);
    for (const word of [
      'sma',
      'dms',
      'cddms',
      'gng2',
      'gng4',
      'ip2',
      'rsnn-noip',
      'ip-inner',
      'ip-random',
      'tauD',
      'tauA',
      'tiny',
      'quick',
      'paper',
      'default: "sma"',
    ]) {
      expect(stdout).toContain(word);
    }
  });
});

describe('ip2 l2l: a tiny real run', () => {
  it('writes results.json, tasks.csv, timings.csv and curve.svg', async () => {
    const dir = out();
    const code = await main([
      'l2l',
      '--preset',
      'tiny',
      '--family',
      'sma',
      '--tasks',
      '2',
      '--hidden',
      '8',
      '--cap',
      '60',
      '--window',
      '10',
      '--out',
      dir,
      '--quiet',
    ]);
    expect(code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['curve.svg', 'results.json', 'tasks.csv', 'timings.csv']);
    expect(stdout).toMatch(/adaptation curve \(iterations to criterion\)/);
    const csv = readFileSync(join(dir, 'tasks.csv'), 'utf8').split('\n');
    expect(csv[0]).toBe(TASK_COLUMNS.join(','));
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as {
      definition: { protocol: { batchSize: number } };
      tasks: {
        iterations: number;
        totalIterations: number;
        trialsToCriterion: number;
        batchSize: number;
        neurons: number;
      }[];
    };
    // sma has two conditions: the default batch holds both.
    expect(results.definition.protocol.batchSize).toBe(2);
    for (const t of results.tasks) {
      expect(t.batchSize).toBe(2);
      expect(t.iterations).toBe(Math.max(0, t.totalIterations - 10));
      expect(t.trialsToCriterion).toBe(2 * t.iterations);
      expect(t.neurons).toBe(8);
    }
  });
  function out() {
    return mkdtempSync(join(tmpdir(), 'ip2-cli-'));
  }
});

describe('ip2 search: bad input', () => {
  const cases: [string[], RegExp][] = [
    [['--seeds', '0'], /--seeds: expected a positive integer/],
    [['--family', 'xyz'], /--family: unknown value 'xyz'/],
    [['--space', 'tauD,foo'], /--space: unknown property key 'foo'/],
    [['--strategy', 'exhaustive', '--eta', '3'], /--eta\/--min-tasks: only for --strategy successive-halving/],
    [['--masks', '3'], /--masks: only for --strategy random/],
    [['--score', 'best'], /--score: unknown value 'best'/],
    [['--resume'], /--resume: .* holds no search to resume/],
    [['--window', '500', '--cap', '100'], /--window: must not exceed --cap/],
    [['--analysis-seeds', 'two'], /--analysis-seeds: expected an integer in \[0, 1000\], got 'two'/],
    [['--population', '0'], /--population: expected a positive integer/],
    [['--population', '2.5'], /--population: expected a positive integer/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')} → exit 2 naming the flag, no folder made`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'ip2-cli-'));
      const code = await main(['search', ...args, '--out', join(dir, 'r'), '--quiet']);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
      expect(readdirSync(dir)).toEqual([]);
    });
  }
});

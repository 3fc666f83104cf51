import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCheckpoint } from '@ip2/l2l';
import { TASK_COLUMNS } from '@ip2/report';
import { modelDefaultsHash } from '@ip2/search';
import { deserializeState } from '@ip2/snn';
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
    [['--model-version', '3'], /^ip2: --model-version: unknown value '3'; valid: 1, 2\n$/],
    [['--property-optimizer', 'rmsprop'], /^ip2: --property-optimizer: unknown value 'rmsprop'; valid: adam, sgd\n$/],
    [['--property-lr', '0'], /^ip2: --property-lr: expected a positive number, got '0'\n$/],
    [['--property-lr', '20'], /^ip2: --property-lr: expected a positive number ≤ 10, got '20'\n$/],
    [['--readout', 'voltage'], /^ip2: --readout: unknown value 'voltage'; valid: spikes, membrane\n$/],
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

describe('ip2 --help: the model settings', () => {
  for (const command of ['search', 'submit', 'l2l']) {
    it(`ip2 ${command} lists --model-version, --property-optimizer, --property-lr and --readout with their defaults`, async () => {
      expect(await main([command, '--help'])).toBe(0);
      const text = stdout.replace(/\s+/g, ' ');
      expect(text).toMatch(/--model-version <n> version of the model's defaults: 1 or 2 .*\(default: "2"\)/);
      expect(text).toMatch(/--property-optimizer <name> .*adam or sgd .*\(default: "adam"\)/);
      expect(text).toMatch(/--property-lr <x> .*\(default: the weights' --lr; --model-version 1: 0\.01\)/);
      expect(text).toMatch(
        /--readout <kind> .*spikes or membrane \(default: the model version's, 2: spikes, 1: membrane\)/,
      );
    });
  }
});

describe('ip2 search --resume: a search stored before model versions', () => {
  it('goes on under model version 1, and its fixed configuration says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ip2-cli-'));
    // search.json as ip2 search wrote it before definitions had model versions.
    const old = {
      family: 'sma',
      space: ['theta'],
      protocol: {
        tasks: 1,
        seeds: 1,
        baseSeed: 3,
        criterion: { window: 10, epsilon: 0.05 },
        iterationCap: 30,
        evalBatch: 4,
        network: { hidden: 6, dt: 20, lr: 0.003, loss: 'mse' },
      },
      strategy: { kind: 'exhaustive' },
      score: { metric: 'final-efficiency', failurePenalty: 30 },
      bootstrap: { resamples: 20, level: 0.95 },
    };
    writeFileSync(join(dir, 'search.json'), JSON.stringify(old, null, 2) + '\n');
    const code = await main(['search', '--resume', '--out', dir, '--workers', '1', '--analysis-seeds', '0', '--quiet']);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'search.json'), 'utf8'))).toEqual(old);
    const fixed = JSON.parse(readFileSync(join(dir, 'fixed-config.json'), 'utf8'));
    expect(fixed.model).toEqual({ version: 1, defaultsHash: modelDefaultsHash(1) });
    expect(fixed.protocol.network).toMatchObject({ modelVersion: 1, propertyOptimizer: 'adam' });
    for (const bits of ['0', '1']) {
      const saved = decodeCheckpoint(new Uint8Array(readFileSync(join(dir, 'checkpoints', `${bits}-0.bin`))));
      expect(deserializeState(saved.learner).config).toMatchObject({ modelVersion: 1, readout: 'membrane' });
    }
  });
});

describe('ip2 l2l and search: the engine and backend of the environment', () => {
  afterEach(() => vi.unstubAllEnvs());
  const cases: [string, string, string, RegExp][] = [
    ['l2l', 'IP2_ENGINE', 'cuda', /^ip2: error: IP2_ENGINE: unknown engine 'cuda'; valid: fused, tfjs\n$/],
    ['search', 'IP2_ENGINE', 'gpu', /^ip2: error: IP2_ENGINE: unknown engine 'gpu'; valid: fused, tfjs\n$/],
    [
      'l2l',
      'IP2_TF_BACKEND',
      'metal',
      /^ip2: error: IP2_TF_BACKEND: 'metal' is not a backend; valid: tensorflow, wasm, cpu\n$/,
    ],
    [
      'search',
      'IP2_TF_BACKEND',
      'webgl',
      /^ip2: error: IP2_TF_BACKEND: 'webgl' is not a backend; valid: tensorflow, wasm, cpu\n$/,
    ],
  ];
  for (const [command, variable, value, message] of cases) {
    it(`${variable}=${value} ip2 ${command} → exit 1, one line naming the variable, nothing written`, async () => {
      vi.stubEnv(variable, value);
      const dir = mkdtempSync(join(tmpdir(), 'ip2-cli-'));
      expect(await main([command, '--out', join(dir, 'r'), '--quiet'])).toBe(1);
      expect(stderr).toMatch(message);
      expect(readdirSync(dir)).toEqual([]);
    });
  }
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
      definition: { protocol: { batchSize: number }; network: Record<string, unknown> };
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
    expect(results.definition.network).toEqual({ modelVersion: 2, propertyOptimizer: 'adam' });
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
    [['--model-version', '0'], /^ip2: --model-version: unknown value '0'; valid: 1, 2\n$/],
    [['--property-optimizer', 'adamw'], /^ip2: --property-optimizer: unknown value 'adamw'; valid: adam, sgd\n$/],
    [['--property-lr', 'fast'], /^ip2: --property-lr: expected a positive number, got 'fast'\n$/],
    [['--readout', 'rates'], /^ip2: --readout: unknown value 'rates'; valid: spikes, membrane\n$/],
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

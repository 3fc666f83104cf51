import { chmodSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSearchDefinition } from '@ip2/search';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flagsFromConfig, flagsFromFixed, planL2l } from './commands/l2l.js';
import { definitionFromFlags, type DefinitionFlags } from './definition.js';
import { main } from './main.js';

let stderr = '';
beforeEach(() => {
  stderr = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

const dir = () => mkdtempSync(join(tmpdir(), 'ip2-config-'));
const definition = {
  family: 'dms',
  space: ['tauD', 'theta'],
  strategy: { kind: 'exhaustive' },
  protocol: { tasks: 6, seeds: 2, iterationCap: 300, criterion: { window: 10 }, network: { hidden: 24 } },
};
function file(content: string): string {
  const d = dir();
  const p = join(d, 'search.json');
  writeFileSync(p, content);
  return p;
}

/** The flags as commander hands them over: every default set, `explicit` naming the typed ones. */
const flags = (extra: Partial<DefinitionFlags>): DefinitionFlags => ({
  family: 'sma',
  strategy: 'successive-halving',
  preset: 'quick',
  seed: '1',
  loss: 'mse',
  score: 'final-efficiency',
  ...extra,
});

describe('--config: a search definition from a file', () => {
  it('takes every field from the file when no flag is typed', () => {
    const d = definitionFromFlags(flags({ config: file(JSON.stringify(definition)), explicit: ['config'] }));
    expect(parseSearchDefinition(d)).toEqual(parseSearchDefinition(definition));
  });

  it('flags typed on the command line override the file', () => {
    const d = parseSearchDefinition(
      definitionFromFlags(
        flags({
          config: file(JSON.stringify(definition)),
          family: 'sma',
          tasks: '9',
          hidden: '32',
          window: '5',
          strategy: 'random',
          masks: '2',
          explicit: ['config', 'family', 'tasks', 'hidden', 'window', 'strategy', 'masks'],
        }),
      ),
    );
    expect(d.family).toBe('sma');
    expect(d.protocol.tasks).toBe(9);
    expect(d.protocol.network.hidden).toBe(32);
    expect(d.protocol.criterion.window).toBe(5);
    expect(d.strategy).toEqual({ kind: 'random', n: 2 });
    // Untyped fields keep the file's values, not the flags' defaults.
    expect(d.space).toEqual(['tauD', 'theta']);
    expect(d.protocol.seeds).toBe(2);
    expect(d.protocol.iterationCap).toBe(300);
  });
});

describe('--config: a bad file is named, exit 2, nothing written', () => {
  const cases: [string, () => string, RegExp][] = [
    ['missing', () => join(dir(), 'nope.json'), /^ip2: --config: no such file '.*nope\.json'$/],
    ['a folder', () => dir(), /^ip2: --config: '.*' is a folder, not a JSON file$/],
    [
      'under a file',
      () => join(file('{}'), 'x.json'),
      /^ip2: --config: no such file '.*x\.json' \(a part of the path is not a folder\)$/,
    ],
    ['empty', () => file(''), /^ip2: --config: '.*' is not valid JSON \(Unexpected end of JSON input\)$/],
    ['truncated JSON', () => file('{"family": "dms",'), /^ip2: --config: '.*' is not valid JSON \(.+\)$/],
    ['YAML, not JSON', () => file('family: dms\n'), /^ip2: --config: '.*' is not valid JSON/],
    ['an array', () => file('[1, 2]'), /^ip2: --config: '.*' must hold a JSON object \(a search definition\)$/],
    [
      'a wrong type',
      () => file(JSON.stringify({ ...definition, protocol: { ...definition.protocol, seeds: 'two' } })),
      /^ip2: --config: '.*': .*protocol\.seeds/,
    ],
    [
      'an unknown field',
      () => file(JSON.stringify({ ...definition, colour: 'red' })),
      /^ip2: --config: '.*': .*colour/,
    ],
    [
      'an unknown property key',
      () => file(JSON.stringify({ ...definition, space: ['tauD', 'tauX'] })),
      /^ip2: --config: '.*': space\.1: unknown property 'tauX'/,
    ],
  ];
  for (const [name, path, message] of cases) {
    it(`${name} → one line naming --config and what is wrong`, async () => {
      const out = dir();
      const code = await main(['search', '--config', path(), '--out', join(out, 'r'), '--quiet']);
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr.trim()).toMatch(message);
      expect(readdirSync(out)).toEqual([]);
    });
  }

  it.skipIf(process.getuid?.() === 0)('an unreadable file → permission denied', async () => {
    const p = file(JSON.stringify(definition));
    chmodSync(p, 0o000);
    const code = await main(['search', '--config', p, '--quiet']);
    expect(code).toBe(2);
    expect(stderr.trim()).toMatch(/^ip2: --config: cannot read '.*': permission denied$/);
  });

  it('a typed flag that makes the file invalid is named with the file', async () => {
    const out = dir();
    const code = await main([
      'search',
      '--config',
      file(JSON.stringify(definition)),
      '--window',
      '500',
      '--out',
      join(out, 'r'),
      '--quiet',
    ]);
    expect(code).toBe(2);
    expect(stderr.trim()).toMatch(/^ip2: --config: '.*' with the flags given: .*iterationCap/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('--preset with --config is refused', async () => {
    const code = await main(['search', '--config', file(JSON.stringify(definition)), '--preset', 'quick']);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(
      'ip2: --preset: not with --config (the file gives the protocol; single flags may override it)',
    );
  });

  it('is listed in --help', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s);
      return true;
    });
    expect(await main(['search', '--help'])).toBe(0);
    expect(out).toMatch(/--config <file\.json>\s+search definition \(JSON/);
  });
});

describe('ip2 l2l --config', () => {
  it('takes family, space and protocol from the file; typed flags win', () => {
    const path = file(JSON.stringify(definition));
    const typed = new Set(['config', 'tasks']);
    const f = flagsFromConfig(
      { family: 'sma', model: 'ip2', out: 'x', preset: 'quick', seed: '1', loss: 'mse', tasks: '3', config: path },
      (flag) => typed.has(flag),
    );
    const plan = planL2l(f);
    expect(plan.family).toBe('dms');
    expect(plan.space).toEqual(['tauD', 'theta']);
    expect(plan.hidden).toBe(24);
    expect(plan.protocol.tasks).toBe(3);
    expect(plan.protocol).toMatchObject({ tasks: 3, cap: 300, window: 10 });
  });

  const bad: [string, string[], RegExp][] = [
    [
      'a missing file',
      ['--config', '/nonexistent/ip2.json'],
      /^ip2: --config: no such file '\/nonexistent\/ip2\.json'$/,
    ],
    ['not JSON', ['--config', 'BAD_JSON'], /^ip2: --config: '.*' is not valid JSON/],
    ['with --fixed', ['--config', 'GOOD', '--fixed', 'GOOD'], /^ip2: --config: not with --fixed/],
    ['--fixed: a missing file', ['--fixed', '/nonexistent/fixed.json'], /^ip2: --fixed: no such file/],
    ['--fixed: not JSON', ['--fixed', 'BAD_JSON'], /^ip2: --fixed: '.*' is not valid JSON/],
    ['--fixed: not a fixed configuration', ['--fixed', 'GOOD'], /^ip2: --fixed: '.*' is not a fixed configuration/],
  ];
  for (const [name, args, message] of bad) {
    it(`${name} → exit 2, one line, nothing written`, async () => {
      const out = dir();
      const argv = args.map((a) =>
        a === 'BAD_JSON' ? file('{"family":') : a === 'GOOD' ? file(JSON.stringify(definition)) : a,
      );
      const code = await main(['l2l', ...argv, '--out', join(out, 'r'), '--quiet']);
      expect(code).toBe(2);
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr.trim()).toMatch(message);
      expect(readdirSync(out)).toEqual([]);
    });
  }
});

describe("batch size: the family's number of conditions unless given", () => {
  it('ip2 search / submit: absent from the definition by default, --batch sets it, also over a --config file', () => {
    expect(parseSearchDefinition(definitionFromFlags(flags({}))).protocol.batchSize).toBeUndefined();
    expect(
      parseSearchDefinition(definitionFromFlags(flags({ batch: '3', explicit: ['batch'] }))).protocol.batchSize,
    ).toBe(3);
    const path = file(JSON.stringify({ ...definition, protocol: { ...definition.protocol, batchSize: 6 } }));
    const fromFile = definitionFromFlags(flags({ config: path, explicit: ['config'] }));
    expect(parseSearchDefinition(fromFile).protocol.batchSize).toBe(6);
    const typed = definitionFromFlags(flags({ config: path, batch: '4', explicit: ['config', 'batch'] }));
    expect(parseSearchDefinition(typed).protocol.batchSize).toBe(4);
  });

  it('ip2 l2l: the family default in the plan (and so in results.json), --batch or the file otherwise', () => {
    const base = { model: 'rsnn-noip', out: 'x', preset: 'quick', seed: '1', loss: 'mse' };
    expect(planL2l({ ...base, family: 'sma' }).protocol.batchSize).toBe(2);
    expect(planL2l({ ...base, family: 'cddms' }).protocol.batchSize).toBe(4);
    expect(planL2l({ ...base, family: 'cddms', batch: '5' }).protocol.batchSize).toBe(5);
    const none = new Set(['config']);
    const withoutBatch = flagsFromConfig({ ...base, family: 'sma', config: file(JSON.stringify(definition)) }, (f) =>
      none.has(f),
    );
    expect(withoutBatch.batch).toBeUndefined();
    expect(planL2l(withoutBatch).protocol.batchSize).toBe(2);
    const six = file(JSON.stringify({ ...definition, protocol: { ...definition.protocol, batchSize: 6 } }));
    expect(
      planL2l(flagsFromConfig({ ...base, family: 'sma', config: six }, (f) => none.has(f))).protocol.batchSize,
    ).toBe(6);
  });
});

describe('model settings: --model-version, --property-optimizer, --property-lr, --readout', () => {
  const network = (d: ReturnType<typeof definitionFromFlags>) => parseSearchDefinition(d).protocol.network;

  it('ip2 search / submit: version 2 with adam by default, lr and readout left to the version; typed flags set them', () => {
    // As commander hands them over: the two defaults set.
    const defaults = flags({ modelVersion: '2', propertyOptimizer: 'adam' });
    expect(network(definitionFromFlags(defaults))).toMatchObject({ modelVersion: 2, propertyOptimizer: 'adam' });
    expect(network(definitionFromFlags(defaults))).not.toHaveProperty('propertyLr');
    expect(network(definitionFromFlags(defaults))).not.toHaveProperty('readout');
    expect(network(definitionFromFlags(flags({})))).toMatchObject({ modelVersion: 2, propertyOptimizer: 'adam' });
    const typed = flags({ modelVersion: '1', propertyOptimizer: 'sgd', propertyLr: '0.02', readout: 'spikes' });
    expect(network(definitionFromFlags(typed))).toMatchObject({
      modelVersion: 1,
      propertyOptimizer: 'sgd',
      propertyLr: 0.02,
      readout: 'spikes',
    });
  });

  it('over a --config file: the file’s settings unless a flag is typed; the flags’ defaults never override it', () => {
    const path = file(
      JSON.stringify({
        ...definition,
        protocol: { ...definition.protocol, network: { hidden: 24, modelVersion: 1, propertyOptimizer: 'sgd' } },
      }),
    );
    const defaults = { modelVersion: '2', propertyOptimizer: 'adam' };
    expect(network(definitionFromFlags(flags({ ...defaults, config: path, explicit: ['config'] })))).toMatchObject({
      modelVersion: 1,
      propertyOptimizer: 'sgd',
    });
    const typed = definitionFromFlags(
      flags({
        ...defaults,
        modelVersion: '2',
        propertyLr: '0.5',
        readout: 'membrane',
        config: path,
        explicit: ['config', 'modelVersion', 'propertyLr', 'readout'],
      }),
    );
    expect(network(typed)).toMatchObject({
      modelVersion: 2,
      propertyOptimizer: 'sgd',
      propertyLr: 0.5,
      readout: 'membrane',
    });
    // A file without the fields: a new definition, version 2.
    const plain = file(JSON.stringify(definition));
    expect(network(definitionFromFlags(flags({ ...defaults, config: plain, explicit: ['config'] })))).toMatchObject({
      modelVersion: 2,
      propertyOptimizer: 'adam',
    });
  });

  it('ip2 l2l: the plan carries the settings to the run; from a --config file unless typed', () => {
    const base = { family: 'sma', model: 'ip2', out: 'x', preset: 'quick', seed: '1', loss: 'mse' };
    expect(planL2l({ ...base, modelVersion: '2', propertyOptimizer: 'adam' }).network).toEqual({
      modelVersion: 2,
      propertyOptimizer: 'adam',
    });
    expect(
      planL2l({ ...base, modelVersion: '1', propertyOptimizer: 'sgd', propertyLr: '0.1', readout: 'spikes' }).network,
    ).toEqual({ modelVersion: 1, propertyOptimizer: 'sgd', propertyLr: 0.1, readout: 'spikes' });
    const path = file(
      JSON.stringify({
        ...definition,
        protocol: { ...definition.protocol, network: { hidden: 24, modelVersion: 1, readout: 'spikes' } },
      }),
    );
    const none = new Set(['config']);
    const f = { ...base, modelVersion: '2', propertyOptimizer: 'adam', config: path };
    expect(planL2l(flagsFromConfig(f, (x) => none.has(x))).network).toEqual({
      modelVersion: 1,
      propertyOptimizer: 'adam',
      readout: 'spikes',
    });
    const typed = new Set(['config', 'propertyOptimizer', 'propertyLr']);
    expect(
      planL2l(flagsFromConfig({ ...f, propertyOptimizer: 'sgd', propertyLr: '0.03' }, (x) => typed.has(x))).network,
    ).toEqual({ modelVersion: 1, propertyOptimizer: 'sgd', propertyLr: 0.03, readout: 'spikes' });
  });

  it('ip2 l2l --fixed: the record decides the settings; a record without a model is version 1', () => {
    const fixture = (name: string) => new URL(`../../../packages/search/src/fixtures/${name}`, import.meta.url);
    const old = readFileSync(fixture('fixed-config-unversioned.json'), 'utf8');
    const base = { family: 'sma', model: 'ip2', out: 'x', preset: 'quick', seed: '1', loss: 'mse' };
    const f = flagsFromFixed({ ...base, modelVersion: '2', propertyOptimizer: 'adam', fixed: file(old) }, () => false);
    expect(planL2l(f).network).toEqual({ modelVersion: 1, propertyOptimizer: 'adam' });
    expect(() =>
      flagsFromFixed({ ...base, modelVersion: '2', fixed: file(old) }, (flag) => flag === 'modelVersion'),
    ).toThrow(/^--model-version: the fixed configuration decides it/);
    expect(() =>
      flagsFromFixed({ ...base, propertyLr: '0.1', fixed: file(old) }, (flag) => flag === 'propertyLr'),
    ).toThrow(/^--property-lr: the fixed configuration decides it/);
  });
});

import { readFileSync } from 'node:fs';
import { batchSizeFor } from '@ip2/l2l';
import { CURRENT_MODEL_VERSION } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import { chunkJob } from './chunk-job.js';
import {
  parseSearchDefinition,
  parseStoredSearchDefinition,
  plannedTaskTrainings,
  scheduleOf,
  searchDefinitionSchema,
  SearchDefinitionError,
  STORED_DEFAULT_MODEL_VERSION,
  storedDefinition,
  storedProtocol,
} from './definition.js';
import { definitionHash } from './fixed-config.js';

describe('search definition', () => {
  it('fills the defaults: the paper space, exhaustive, the restricted mean, validation on 3 fresh seeds', () => {
    const d = parseSearchDefinition({ family: 'dms' });
    expect(d).toEqual({
      family: 'dms',
      space: ['tauD', 'tauS', 'theta'],
      protocol: {
        tasks: 100,
        seeds: 5,
        baseSeed: 1,
        criterion: { window: 50, epsilon: 0.005 },
        iterationCap: 20000,
        evalBatch: 32,
        network: { hidden: 100, dt: 20, lr: 1e-3, loss: 'mse', modelVersion: 2, propertyOptimizer: 'adam' },
      },
      strategy: { kind: 'exhaustive' },
      score: { metric: 'restricted-mean', failurePenalty: 0 },
      validation: { seeds: 3 },
      bootstrap: { resamples: 2000, level: 0.95 },
    });
    expect(parseSearchDefinition({ family: 'sma', strategy: { kind: 'successive-halving' } }).strategy).toEqual({
      kind: 'successive-halving',
      eta: 3,
      minTasks: 10,
    });
  });

  it('leaves the batch size to the family (its number of conditions) unless given; the chunk job trains with it', () => {
    const d = parseSearchDefinition({ family: 'cddms' });
    expect(d.protocol.batchSize).toBeUndefined();
    expect('batchSize' in d.protocol).toBe(false);
    const target = { seed: 1, keys: ['theta'], fromTask: 0, toTask: 1 };
    const job = chunkJob(d, target);
    expect(batchSizeFor(job.protocol, job.family)).toBe(4);
    const three = parseSearchDefinition({ family: 'cddms', protocol: { batchSize: 3 } });
    expect(three.protocol.batchSize).toBe(3);
    expect(chunkJob(three, target).protocol.batchSize).toBe(3);
    // An old stored definition (batch size 1 written out) keeps its batch size.
    expect(
      chunkJob(parseSearchDefinition({ family: 'dms', protocol: { batchSize: 1 } }), target).protocol.batchSize,
    ).toBe(1);
  });

  it('resolves the failure penalty per metric unless given', () => {
    const p = (metric: string, failurePenalty?: number) =>
      parseSearchDefinition({ family: 'x', protocol: { iterationCap: 500 }, score: { metric, failurePenalty } }).score
        .failurePenalty;
    expect(p('final-efficiency')).toBe(500);
    expect(p('auc')).toBe(500);
    expect(p('speed-up')).toBe(1);
    expect(p('l2l-slope')).toBe(1);
    expect(p('auc', 0)).toBe(0);
    expect(p('restricted-mean')).toBe(0);
    // failures-first: the cap times the most seeds a mean is over (protocol.seeds 5, validation.seeds 3).
    expect(p('failures-first')).toBe(500 * 5);
    expect(
      parseSearchDefinition({
        family: 'x',
        protocol: { iterationCap: 500, seeds: 2 },
        validation: { seeds: 7 },
        score: { metric: 'failures-first' },
      }).score.failurePenalty,
    ).toBe(500 * 7);
  });

  const bad: [unknown, RegExp][] = [
    [{}, /^family must be a string/],
    [{ family: 'DMS' }, /^family must use only a-z, 0-9 and -/],
    [{ family: '' }, /^family must not be empty/],
    [{ family: 'dms', space: [] }, /^space must name at least one property/],
    [
      { family: 'dms', space: ['tauD', 'tauX'] },
      /^space\.1: unknown property 'tauX'; valid: tauD, tauS, theta, beta, tauA/,
    ],
    [{ family: 'dms', space: ['tauD', 'tauD'] }, /^space\.1: duplicate property 'tauD'/],
    [{ family: 'dms', protocol: { tasks: 0 } }, /^protocol\.tasks must be at least 1/],
    [{ family: 'dms', protocol: { seeds: 2.5 } }, /^protocol\.seeds must be an integer/],
    [{ family: 'dms', protocol: { baseSeed: -1 } }, /^protocol\.baseSeed must be at least 0/],
    [{ family: 'dms', protocol: { criterion: { window: 0 } } }, /^protocol\.criterion\.window must be at least 1/],
    [{ family: 'dms', protocol: { criterion: { epsilon: 0 } } }, /^protocol\.criterion\.epsilon must be positive/],
    [{ family: 'dms', protocol: { iterationCap: 'lots' } }, /^protocol\.iterationCap must be a number/],
    [
      { family: 'dms', protocol: { iterationCap: 40 } },
      /^protocol\.iterationCap \(40\) must exceed protocol\.criterion\.window \(50\)/,
    ],
    [{ family: 'dms', protocol: { batchSize: 0 } }, /^protocol\.batchSize must be at least 1/],
    [{ family: 'dms', protocol: { network: { hidden: 0 } } }, /^protocol\.network\.hidden must be at least 1/],
    [{ family: 'dms', protocol: { network: { dt: -20 } } }, /^protocol\.network\.dt must be positive/],
    [
      { family: 'dms', protocol: { network: { modelVersion: 3 } } },
      /^protocol\.network\.modelVersion must be one of 1, 2/,
    ],
    [
      { family: 'dms', protocol: { network: { modelVersion: '2' } } },
      /^protocol\.network\.modelVersion must be one of 1, 2/,
    ],
    [
      { family: 'dms', protocol: { network: { propertyOptimizer: 'rmsprop' } } },
      /^protocol\.network\.propertyOptimizer must be one of adam, sgd/,
    ],
    [{ family: 'dms', protocol: { network: { propertyLr: 0 } } }, /^protocol\.network\.propertyLr must be positive/],
    [
      { family: 'dms', protocol: { network: { propertyLr: -1e-3 } } },
      /^protocol\.network\.propertyLr must be positive/,
    ],
    [
      { family: 'dms', protocol: { network: { propertyLr: 'fast' } } },
      /^protocol\.network\.propertyLr must be a finite number/,
    ],
    [{ family: 'dms', protocol: { network: { propertyLr: 11 } } }, /^protocol\.network\.propertyLr must be at most 10/],
    [
      { family: 'dms', protocol: { network: { readout: 'voltage' } } },
      /^protocol\.network\.readout must be one of spikes, membrane/,
    ],
    [{ family: 'dms', protocol: { network: { model: 1 } } }, /^protocol\.network: unknown field\(s\) 'model'/],
    [{ family: 'dms', protocol: { seed: 3 } }, /^protocol: unknown field\(s\) 'seed'/],
    [
      { family: 'dms', strategy: { kind: 'grid' } },
      /^strategy\.kind must be one of exhaustive, successive-halving, random/,
    ],
    [{ family: 'dms', strategy: { kind: 'successive-halving', eta: 1 } }, /^strategy\.eta must be at least 2/],
    [
      { family: 'dms', strategy: { kind: 'successive-halving', minTasks: 0 } },
      /^strategy\.minTasks must be at least 1/,
    ],
    [{ family: 'dms', strategy: { kind: 'random' } }, /^strategy\.n must be a number/],
    [{ family: 'dms', strategy: { kind: 'random', n: 9 } }, /^strategy\.n must be at most 8/],
    [{ family: 'dms', budget: { maxTaskTrainings: 0 } }, /^budget\.maxTaskTrainings must be at least 1/],
    [
      { family: 'dms', budget: { maxTaskTrainings: 3999 }, validation: { seeds: 0 } },
      /^budget\.maxTaskTrainings \(3999\) is below the 4000 task trainings/,
    ],
    [
      { family: 'dms', budget: { maxTaskTrainings: 4000 } },
      /^budget\.maxTaskTrainings \(4000\) is below the 5200 task trainings the exhaustive strategy needs with its validation \(1200; validation\.seeds 0 skips it\)/,
    ],
    [{ family: 'dms', validation: { seeds: -1 } }, /^validation\.seeds must be at least 0/],
    [{ family: 'dms', validation: { seeds: 2.5 } }, /^validation\.seeds must be an integer/],
    [{ family: 'dms', validation: { folds: 2 } }, /^validation: unknown field\(s\) 'folds'/],
    [
      { family: 'dms', score: { metric: 'accuracy' } },
      /^score\.metric must be one of final-efficiency, auc, speed-up, l2l-slope/,
    ],
    [{ family: 'dms', score: { failurePenalty: -1 } }, /^score\.failurePenalty must not be negative/],
    [
      { family: 'dms', score: { metric: 'l2l-slope' }, protocol: { tasks: 1 } },
      /^protocol\.tasks must be at least 2 to score by l2l-slope/,
    ],
    [{ family: 'dms', bootstrap: { level: 1 } }, /^bootstrap\.level must be between 0 and 1/],
    [{ family: 'dms', bootstrap: { resamples: 5 } }, /^bootstrap\.resamples must be at least 10/],
    [{ family: 'dms', colour: 'red' }, /^search definition: unknown field\(s\) 'colour'/],
  ];
  for (const [input, message] of bad) {
    it(`rejects ${JSON.stringify(input)} naming the field`, () => {
      let caught: unknown;
      try {
        parseSearchDefinition(input);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SearchDefinitionError);
      expect((caught as SearchDefinitionError).message).toMatch(message);
    });
  }

  it('the schema alone reports the same field paths', () => {
    const r = searchDefinitionSchema.safeParse({ family: 'dms', protocol: { tasks: 0 } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['protocol', 'tasks']);
  });

  it('accepts a budget that covers the plan exactly, the validation included', () => {
    const d = parseSearchDefinition({ family: 'dms', budget: { maxTaskTrainings: 4000 }, validation: { seeds: 0 } });
    expect(plannedTaskTrainings(d)).toBe(4000);
    // Validation: at most 4 masks (chosen, runner-up, rsnn-noip, ip-inner) × 3 seeds × 100 tasks.
    const v = parseSearchDefinition({ family: 'dms', budget: { maxTaskTrainings: 5200 } });
    expect(plannedTaskTrainings(v)).toBe(4000 + 4 * 3 * 100);
    expect(plannedTaskTrainings(parseSearchDefinition({ family: 'dms', space: ['theta'] }))).toBe(
      2 * 5 * 100 + 2 * 3 * 100,
    );
    const sh = parseSearchDefinition({
      family: 'dms',
      strategy: { kind: 'successive-halving' },
      budget: { maxTaskTrainings: 1470 },
      validation: { seeds: 0 },
    });
    expect(scheduleOf(sh).map((r) => [r.candidates, r.tasks, r.keep])).toEqual([
      [8, 12, 3],
      [3, 34, 2],
      [2, 100, 2],
    ]);
    expect(plannedTaskTrainings(sh)).toBe(5 * (8 * 12 + 3 * 22 + 2 * 66));
  });

  it('hashes equal definitions alike, whatever defaults were spelled out', () => {
    const a = parseSearchDefinition({ family: 'dms' });
    const b = parseSearchDefinition({ bootstrap: { level: 0.95 }, space: ['tauD', 'tauS', 'theta'], family: 'dms' });
    expect(definitionHash(a)).toBe(definitionHash(b));
    expect(definitionHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(definitionHash(parseSearchDefinition({ family: 'dms', protocol: { baseSeed: 2 } }))).not.toBe(
      definitionHash(a),
    );
  });
});

describe('model settings of a definition (protocol.network)', () => {
  const target = { seed: 1, keys: ['theta'], fromTask: 0, toTask: 1 };

  it('default to the current model version with adam; propertyLr and readout absent (the version decides)', () => {
    const n = parseSearchDefinition({ family: 'dms' }).protocol.network;
    expect(n.modelVersion).toBe(CURRENT_MODEL_VERSION);
    expect(n.modelVersion).toBe(2);
    expect(n.propertyOptimizer).toBe('adam');
    expect('propertyLr' in n).toBe(false);
    expect('readout' in n).toBe(false);
    expect(chunkJob(parseSearchDefinition({ family: 'dms' }), target).network).toEqual({
      modelVersion: 2,
      propertyOptimizer: 'adam',
    });
  });

  it('takes every field given, and the chunk job carries them to the runs', () => {
    const d = parseSearchDefinition({
      family: 'dms',
      protocol: { network: { modelVersion: 1, propertyOptimizer: 'sgd', propertyLr: 0.05, readout: 'spikes' } },
    });
    expect(d.protocol.network).toMatchObject({
      modelVersion: 1,
      propertyOptimizer: 'sgd',
      propertyLr: 0.05,
      readout: 'spikes',
    });
    expect(chunkJob(d, target).network).toEqual({
      modelVersion: 1,
      propertyOptimizer: 'sgd',
      propertyLr: 0.05,
      readout: 'spikes',
    });
  });

  it('a definition stored before model versions is read as version 1; a new one without the field is version 2', () => {
    const old = JSON.parse(
      readFileSync(new URL('./fixtures/definition-unversioned.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    expect(JSON.stringify(old)).not.toContain('modelVersion');
    const read = parseStoredSearchDefinition(old);
    expect(read.protocol.network.modelVersion).toBe(STORED_DEFAULT_MODEL_VERSION);
    expect(read.protocol.network.modelVersion).toBe(1);
    expect(read.protocol.network.propertyOptimizer).toBe('adam');
    expect(chunkJob(read, target).network).toEqual({ modelVersion: 1, propertyOptimizer: 'adam' });
    // Stored before the validation stage: read without one.
    expect(read.validation).toEqual({ seeds: 0 });
    expect(parseSearchDefinition(old).validation).toEqual({ seeds: 3 });
    // Everything else keeps its stored value.
    expect({ ...read, protocol: { ...read.protocol, network: {} }, validation: null }).toEqual({
      ...parseSearchDefinition(old),
      protocol: { ...parseSearchDefinition(old).protocol, network: {} },
      validation: null,
    });
    // The same input as a new definition means the current version.
    expect(parseSearchDefinition(old).protocol.network.modelVersion).toBe(2);
    // A stored definition that names its version keeps it, and reading is idempotent.
    const stored2 = JSON.parse(JSON.stringify(parseSearchDefinition({ family: 'dms' }))) as unknown;
    expect(parseStoredSearchDefinition(stored2).protocol.network.modelVersion).toBe(2);
    expect(parseStoredSearchDefinition(storedDefinition(old))).toEqual(read);
    // Stored definitions with no protocol or no network at all were version 1 too.
    expect(parseStoredSearchDefinition({ family: 'dms' }).protocol.network.modelVersion).toBe(1);
    expect(parseStoredSearchDefinition({ family: 'dms', protocol: { tasks: 3 } }).protocol.network.modelVersion).toBe(
      1,
    );
    expect(storedProtocol({ tasks: 3, network: { hidden: 8 } })).toEqual({
      tasks: 3,
      network: { hidden: 8, modelVersion: 1 },
    });
    // What is not a definition is left for the parser to refuse.
    expect(storedDefinition(null)).toBeNull();
    expect(() => parseStoredSearchDefinition({ family: 'dms', protocol: 'x' })).toThrow(SearchDefinitionError);
  });

  it('the model settings are part of the definition hash', () => {
    const h = (network: Record<string, unknown>) =>
      definitionHash(parseSearchDefinition({ family: 'dms', protocol: { network } }));
    const base = h({});
    expect(h({ modelVersion: 2, propertyOptimizer: 'adam' })).toBe(base);
    for (const n of [{ modelVersion: 1 }, { propertyOptimizer: 'sgd' }, { propertyLr: 1e-3 }, { readout: 'spikes' }]) {
      expect(h(n), JSON.stringify(n)).not.toBe(base);
    }
  });
});

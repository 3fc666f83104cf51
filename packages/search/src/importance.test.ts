import { Rng } from '@ip2/snn';
import { describe, expect, it } from 'vitest';
import { parseSearchDefinition, type SearchDefinitionInput } from './definition.js';
import { isImportance, propertyImportance, type PropertyImportance } from './importance.js';
import { powerLawTruth, simulateSearch, type SyntheticTruth } from './testkit.js';

const SPACE = ['tauD', 'tauS', 'theta'] as const;
const def = (o: Partial<SearchDefinitionInput> = {}) =>
  parseSearchDefinition({
    family: 'dms',
    space: [...SPACE],
    protocol: { tasks: 6, seeds: 20, iterationCap: 100_000 },
    strategy: { kind: 'exhaustive' },
    validation: { seeds: 0 },
    // Six intervals must each hold their truth: at 99% each, all six do in about 19 of 20 noise draws.
    bootstrap: { level: 0.99 },
    ...o,
  });

/**
 * A full factorial with known effects on the restricted mean (the mean iterations per task): a mask's
 * level is 2000 − 600·τ_d − 150·θ + 100·τ_s + 400·τ_d·θ, with seeded noise per (mask, seed) of sd 40 and
 * per task of sd 20. So the main effects (with − without, averaged over the others) are τ_d −600 + 400/2 =
 * −400, τ_s +100, θ −150 + 400/2 = +50, and the interactions (effect of one with the other learnable minus
 * without) τ_d×θ +400, τ_d×τ_s 0, τ_s×θ 0.
 */
const TRUE_MAIN = { tauD: -400, tauS: 100, theta: 50 };
const TRUE_PAIRS = { 'tauD×tauS': 0, 'tauD×theta': 400, 'tauS×theta': 0 };
const factorial: SyntheticTruth = (candidate, seedIndex, taskIndex) => {
  const [d, s, t] = [...candidate].map((b) => (b === '1' ? 1 : 0)) as [number, number, number];
  const level = 2000 - 600 * d - 150 * t + 100 * s + 400 * d * t;
  const runNoise = 40 * Rng.seeded(9, 'run-noise', candidate, seedIndex).normal();
  const taskNoise = 20 * Rng.seeded(9, 'task-noise', candidate, seedIndex, taskIndex).normal();
  return { taskIndex, iterations: Math.round(level + runNoise + taskNoise), converged: true, finalLoss: 0.001 };
};

function within(imp: PropertyImportance) {
  for (const e of imp.main) {
    const truth = TRUE_MAIN[e.keys[0] as keyof typeof TRUE_MAIN];
    expect(e.effect.lo!, `${e.keys[0]}`).toBeLessThanOrEqual(truth);
    expect(e.effect.hi!, `${e.keys[0]}`).toBeGreaterThanOrEqual(truth);
  }
  for (const e of imp.interactions) {
    const truth = TRUE_PAIRS[e.keys.join('×') as keyof typeof TRUE_PAIRS];
    expect(e.effect.lo!, e.keys.join('×')).toBeLessThanOrEqual(truth);
    expect(e.effect.hi!, e.keys.join('×')).toBeGreaterThanOrEqual(truth);
  }
}

describe('property importance from the factorial design', () => {
  it('recovers known main effects and interactions within their intervals (exhaustive)', () => {
    const d = def();
    const imp = propertyImportance(d, simulateSearch(d, factorial).table);
    if (!isImportance(imp)) throw new Error(imp.unavailable);
    expect(imp).toMatchObject({ metric: 'restricted-mean', direction: 'lower', tasks: 6, seeds: 20, level: 0.99 });
    expect(imp.main.map((e) => e.keys)).toEqual([['tauD'], ['tauS'], ['theta']]);
    expect(imp.interactions.map((e) => e.keys)).toEqual([
      ['tauD', 'tauS'],
      ['tauD', 'theta'],
      ['tauS', 'theta'],
    ]);
    within(imp);
    // Close to the truth too, and read the right way round (lower is better: a negative effect helps).
    expect(imp.main[0]!.effect.mean!).toBeCloseTo(-400, -2);
    expect(imp.main.map((e) => e.reading)).toEqual(['helps', 'hurts', 'hurts']);
    expect(imp.interactions[1]!.reading).toBe('hurts');
  });

  it('successive halving: from the first rung, where every mask is measured', () => {
    const d = def({
      protocol: { tasks: 27, seeds: 20, iterationCap: 100_000 },
      strategy: { kind: 'successive-halving', minTasks: 3 },
    });
    const { table } = simulateSearch(d, factorial);
    const imp = propertyImportance(d, table);
    if (!isImportance(imp)) throw new Error(imp.unavailable);
    expect(imp.tasks).toBe(3);
    within(imp);
    // Before the first rung is complete there is none yet, and it says why.
    expect(propertyImportance(d, {})).toEqual({
      unavailable: 'not every mask has its first 3 tasks on every seed yet',
    });
  });

  it('needs every mask: a random search of fewer masks has none, saying why', () => {
    const d = def({ strategy: { kind: 'random', n: 5 } });
    const imp = propertyImportance(d, simulateSearch(d, powerLawTruth()).table);
    expect(isImportance(imp)).toBe(false);
    expect(imp).toEqual({
      unavailable:
        'the random strategy measures 5 of the 8 masks: property importance needs every mask (a full factorial)',
    });
  });

  it('a higher-is-better score reads positive effects as helping', () => {
    const d = def({ score: { metric: 'speed-up' } });
    const truth = powerLawTruth({ exponent: { '100': -1, '110': -1, '101': -1, '111': -1 }, noise: 0.05, seed: 2 });
    const imp = propertyImportance(d, simulateSearch(d, truth).table);
    if (!isImportance(imp)) throw new Error(imp.unavailable);
    expect(imp.direction).toBe('higher');
    expect(imp.main[0]!.reading).toBe('helps');
    expect(JSON.stringify(imp)).not.toMatch(/NaN|Infinity/);
  });
});

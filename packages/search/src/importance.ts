import type { PropertyKey } from '@ip2/snn';
import { resamplerFor } from './aggregate.js';
import { intervalRecord, type IntervalRecord } from './decision.js';
import type { ScoreMetric, SearchDefinition } from './definition.js';
import type { ResultTable } from './results.js';
import { runMetrics } from './score.js';
import { searchState, type SearchState } from './search-state.js';

/** The effect of one property, or of a pair, on the score, with its bootstrap interval over seeds. */
export interface Effect {
  /** The property (main effect) or the pair (interaction), in the space's order. */
  readonly keys: readonly PropertyKey[];
  /**
   * Main effect: mean score of the masks where the property is learnable minus the mean where it is not.
   * Interaction of k and l: the main effect of k among the masks where l is learnable minus its main effect
   * among those where l is not (so a positive interaction means k raises the score more when l learns too).
   */
  readonly effect: IntervalRecord;
  /**
   * 'helps' when the whole interval lies on the better side of 0 (below it for a metric where lower is
   * better), 'hurts' when on the worse side, 'unclear' when it contains 0 (or is not a number).
   */
  readonly reading: 'helps' | 'hurts' | 'unclear';
}

/** Property importance from the factorial design over masks (every mask of the space measured). */
export interface PropertyImportance {
  readonly metric: ScoreMetric;
  readonly direction: 'lower' | 'higher';
  /** The prefix of tasks the scores are over: the first rung's (every mask has it on every seed). */
  readonly tasks: number;
  /** The seeds each effect's bootstrap is over (the search's own runs). */
  readonly seeds: number;
  readonly level: number;
  /** One per property of the space, in its order. */
  readonly main: readonly Effect[];
  /** One per pair of properties (k before l in the space's order). */
  readonly interactions: readonly Effect[];
}

/** Why there is no importance: not every mask is a candidate, or the first rung is not measured yet. */
export interface ImportanceUnavailable {
  readonly unavailable: string;
}

function reading(direction: 'lower' | 'higher', i: IntervalRecord): Effect['reading'] {
  if (i.lo === null || i.hi === null) return 'unclear';
  const better = direction === 'lower' ? i.hi < 0 : i.lo > 0;
  const worse = direction === 'lower' ? i.lo > 0 : i.hi < 0;
  return better ? 'helps' : worse ? 'hurts' : 'unclear';
}

const mean = (xs: readonly number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

/**
 * Main effects and pairwise interactions of the space's properties on the search's score (SCIENCE.md §6
 * metric of the definition), from the full factorial design the search measured: every mask of the space
 * on the first rung's tasks, every seed. For each seed the effects are computed from its 2^K run scores
 * (each property's setting averaged over the others, equal weight per mask), and the interval of each
 * effect is the percentile bootstrap of its mean over seeds (the search's resamples, `bootstrap.level`).
 * The effect over seeds is then the same as the effect on the candidates' mean scores.
 */
export function propertyImportance(
  definition: SearchDefinition,
  results: ResultTable,
): PropertyImportance | ImportanceUnavailable {
  return importanceOfState(searchState(definition, results));
}

/** propertyImportance() on a search state already derived. */
export function importanceOfState(st: SearchState): PropertyImportance | ImportanceUnavailable {
  const d = st.definition;
  const k = d.space.length;
  const masks = 2 ** k;
  if (st.candidates.length < masks) {
    return {
      unavailable: `the ${d.strategy.kind} strategy measures ${st.candidates.length} of the ${masks} masks: property importance needs every mask (a full factorial)`,
    };
  }
  const tasks = st.schedule[0]!.tasks;
  const seeds = d.protocol.seeds;
  for (const c of st.candidates) {
    if (st.table.commonPrefix(c.id, seeds) < tasks) {
      return { unavailable: `not every mask has its first ${tasks} tasks on every seed yet` };
    }
  }
  // y[s][bits as an integer, bit i = key i]: the run score of seed s.
  const index = (id: string) => [...id].reduce((n, b, i) => n + (b === '1' ? 1 << i : 0), 0);
  const y: number[][] = Array.from({ length: seeds }, () => new Array<number>(masks).fill(Number.NaN));
  for (const c of st.candidates) {
    for (let s = 0; s < seeds; s++) y[s]![index(c.id)] = runMetrics(st.rule, st.table.head(c.id, s, tasks)).score;
  }
  const all = Array.from({ length: masks }, (_, m) => m);
  const main = (row: readonly number[], i: number, among: readonly number[] = all) =>
    mean(among.filter((m) => (m >> i) & 1).map((m) => row[m]!)) -
    mean(among.filter((m) => !((m >> i) & 1)).map((m) => row[m]!));
  const resampler = resamplerFor(d);
  const effect = (keys: readonly PropertyKey[], perSeed: number[]): Effect => {
    const e = intervalRecord(resampler.interval(perSeed));
    return { keys, effect: e, reading: reading(st.rule.direction, e) };
  };
  const mainEffects = d.space.map((key, i) =>
    effect(
      [key],
      y.map((row) => main(row, i)),
    ),
  );
  const interactions: Effect[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const withJ = all.filter((m) => (m >> j) & 1);
      const withoutJ = all.filter((m) => !((m >> j) & 1));
      interactions.push(
        effect(
          [d.space[i]!, d.space[j]!],
          y.map((row) => main(row, i, withJ) - main(row, i, withoutJ)),
        ),
      );
    }
  }
  return {
    metric: st.rule.metric,
    direction: st.rule.direction,
    tasks,
    seeds,
    level: d.bootstrap.level,
    main: mainEffects,
    interactions,
  };
}

/** Narrows propertyImportance()'s result. */
export function isImportance(x: PropertyImportance | ImportanceUnavailable): x is PropertyImportance {
  return !('unavailable' in x);
}

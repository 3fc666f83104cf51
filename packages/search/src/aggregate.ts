import { Rng } from '@ip2/snn';
import { bootstrapMeanWithPlan, bootstrapPlan, type Interval } from './bootstrap.js';
import { compareIds, type Candidate, type CandidateRole } from './candidates.js';
import type { SearchDefinition } from './definition.js';
import type { RunTable } from './results.js';
import type { ResultTable } from './results.js';
import { compareScores, runMetrics, type RunMetrics, type ScoreRule } from './score.js';
import { searchState, type SearchState } from './search-state.js';

/** A candidate's runs on a common prefix of tasks, aggregated over seeds with bootstrap intervals. */
export interface CandidateAggregate {
  readonly id: string;
  readonly keys: Candidate['keys'];
  readonly role: CandidateRole;
  /** The prefix of tasks every run aggregated was scored on. */
  readonly tasks: number;
  /** Seed indices that reached `tasks` and were aggregated, ascending. */
  readonly seeds: readonly number[];
  readonly score: Interval;
  readonly finalEfficiency: Interval;
  readonly speedUp: Interval;
  readonly l2lSlope: Interval;
  readonly auc: Interval;
  /** Failed tasks per run. */
  readonly failures: Interval;
  /** Converged tasks / tasks per run (the censored metrics above count a failed task at the cap). */
  readonly convergedShare: Interval;
  /**
   * Failure-free metrics (over each run's converged tasks only, see score.ts), each over the seeds where it
   * is defined (a run with no converged task has no failure-free final efficiency); `failureFreeSeeds`
   * says how many seeds each interval holds. They do not enter the score.
   */
  readonly failureFreeFinalEfficiency: Interval;
  readonly failureFreeSpeedUp: Interval;
  readonly failureFreeL2lSlope: Interval;
  readonly failureFreeSeeds: {
    readonly finalEfficiency: number;
    readonly speedUp: number;
    readonly l2lSlope: number;
  };
  /** Survival-style curve: per task index of the prefix, the share of the aggregated seeds that converged on it. */
  readonly convergedByTask: readonly number[];
  /** Per aggregated seed, in `seeds` order. */
  readonly runs: readonly RunMetrics[];
}

/**
 * Bootstrap resample plans, one per number of values, all from the base seed: every candidate
 * aggregated over the same seeds uses the same resamples, in any order of computation.
 */
export class Resampler {
  private readonly plans = new Map<number, Uint32Array>();
  constructor(
    private readonly baseSeed: number,
    readonly resamples: number,
    readonly level: number,
  ) {}

  plan(n: number): Uint32Array {
    let p = this.plans.get(n);
    if (p === undefined) {
      p = bootstrapPlan(Rng.seeded(this.baseSeed, 'bootstrap', n), n, this.resamples);
      this.plans.set(n, p);
    }
    return p;
  }

  interval(values: readonly number[]): Interval {
    return bootstrapMeanWithPlan(values, this.plan(values.length), this.level);
  }
}

export function resamplerFor(d: SearchDefinition): Resampler {
  return new Resampler(d.protocol.baseSeed, d.bootstrap.resamples, d.bootstrap.level);
}

/**
 * Aggregates one candidate on tasks [0, tasks) of every seed that reached that prefix: seed indices
 * 0 … seeds − 1 (the search's runs), or the given seed indices (the validation's).
 */
export function aggregateCandidate(
  rule: ScoreRule,
  table: RunTable,
  candidate: Candidate,
  seeds: number | readonly number[],
  tasks: number,
  resampler: Resampler,
): CandidateAggregate {
  const used: number[] = [];
  const runs: RunMetrics[] = [];
  const indices = typeof seeds === 'number' ? Array.from({ length: seeds }, (_, s) => s) : seeds;
  for (const s of indices) {
    if (table.prefix(candidate.id, s) < tasks) continue;
    used.push(s);
    runs.push(runMetrics(rule, table.head(candidate.id, s, tasks)));
  }
  const of = (pick: (m: RunMetrics) => number) => resampler.interval(runs.map(pick));
  const defined = (pick: (m: RunMetrics) => number) => runs.map(pick).filter(Number.isFinite);
  const ff = {
    finalEfficiency: defined((m) => m.failureFreeFinalEfficiency),
    speedUp: defined((m) => m.failureFreeSpeedUp),
    l2lSlope: defined((m) => m.failureFreeL2lSlope),
  };
  return {
    id: candidate.id,
    keys: candidate.keys,
    role: candidate.role,
    tasks,
    seeds: used,
    score: of((m) => m.score),
    finalEfficiency: of((m) => m.finalEfficiency),
    speedUp: of((m) => m.speedUp),
    l2lSlope: of((m) => m.l2lSlope),
    auc: of((m) => m.auc),
    failures: of((m) => m.failures),
    convergedShare: of((m) => m.convergedShare),
    failureFreeFinalEfficiency: resampler.interval(ff.finalEfficiency),
    failureFreeSpeedUp: resampler.interval(ff.speedUp),
    failureFreeL2lSlope: resampler.interval(ff.l2lSlope),
    failureFreeSeeds: {
      finalEfficiency: ff.finalEfficiency.length,
      speedUp: ff.speedUp.length,
      l2lSlope: ff.l2lSlope.length,
    },
    convergedByTask: Array.from({ length: tasks }, (_, t) =>
      runs.length === 0 ? Number.NaN : runs.filter((r) => r.converged[t]).length / runs.length,
    ),
    runs,
  };
}

export interface AggregateOptions {
  /**
   * Score every candidate on this prefix, over the seeds that reached it. Default: the prefix every seed of
   * every candidate of the search has reached (the common footing: the first rung's tasks once it is
   * measured), so that every score is over the same tasks.
   */
  readonly tasks?: number;
}

/** Every candidate of the search on the same prefix of tasks (AggregateOptions), from the results so far. */
export function aggregate(
  definition: SearchDefinition,
  results: ResultTable,
  options: AggregateOptions = {},
): CandidateAggregate[] {
  const st = searchState(definition, results);
  const resampler = resamplerFor(definition);
  const seeds = definition.protocol.seeds;
  if (options.tasks !== undefined && !(Number.isInteger(options.tasks) && options.tasks >= 0)) {
    throw new RangeError(`aggregate: tasks must be a non-negative integer, got ${options.tasks}`);
  }
  const tasks = options.tasks ?? commonFooting(st);
  return st.candidates.map((c) => aggregateCandidate(st.rule, st.table, c, seeds, tasks, resampler));
}

/** The prefix of tasks every search run of every candidate has reached (0 while one has none). */
export function commonFooting(st: Pick<SearchState, 'candidates' | 'table' | 'definition'>): number {
  let n = st.definition.protocol.tasks;
  for (const c of st.candidates) n = Math.min(n, st.table.commonPrefix(c.id, st.definition.protocol.seeds));
  return n;
}

/** Where a candidate's measurement stopped: pruned after a rung, on the last rung, or still going. */
export interface Stop {
  readonly state: 'pruned' | 'finished' | 'active';
  /** The rung it was pruned after or finished (0-based), or the rung it is in. */
  readonly rung: number;
  /** The prefix of tasks it was compared on there (for an active one: the tasks all its seeds have). */
  readonly tasks: number;
}

/** Candidates compared on the same tasks: a table in which no two scores are over different prefixes. */
export interface Standing {
  /** The prefix of tasks every score of the table is over. */
  readonly tasks: number;
  /** Best first (the ranking rule; NaN last), each with where its measurement stopped. */
  readonly candidates: readonly (CandidateAggregate & { readonly stop: Stop })[];
}

/**
 * The search's candidates on common footings: `all`, every candidate on the prefix all of them reached
 * (the first rung's tasks under successive halving), and `finalists`, the last rung's candidates on the
 * full sequence (null until the last rung is measured, and for a one-rung strategy, where `all` is already
 * the full sequence). Every table or plot that puts candidates side by side takes one of the two.
 */
export function standings(
  definition: SearchDefinition,
  results: ResultTable,
): { readonly all: Standing; readonly finalists: Standing | null } {
  const st = searchState(definition, results);
  const resampler = resamplerFor(definition);
  const seeds = definition.protocol.seeds;
  const stops = new Map<string, Stop>();
  for (const p of st.progress) {
    const prunedAt = st.rungs.find((r) => r.pruned.includes(p.id));
    const last = st.rungs[st.rungs.length - 1];
    stops.set(
      p.id,
      prunedAt !== undefined
        ? { state: 'pruned', rung: prunedAt.rung, tasks: prunedAt.tasks }
        : st.decided && last !== undefined
          ? { state: 'finished', rung: last.rung, tasks: last.tasks }
          : { state: 'active', rung: p.rung, tasks: Math.min(...p.tasks) },
    );
  }
  const table = (ids: readonly string[], tasks: number): Standing => ({
    tasks,
    candidates: ids
      .map((id) => st.candidates.find((c) => c.id === id)!)
      .map((c) => ({ ...aggregateCandidate(st.rule, st.table, c, seeds, tasks, resampler), stop: stops.get(c.id)! }))
      .sort((a, b) => compareScores(st.rule, a.score.mean, b.score.mean) || compareIds(a.id, b.id)),
  });
  const all = table(
    st.candidates.map((c) => c.id),
    commonFooting(st),
  );
  const last = st.rungs[st.rungs.length - 1];
  const finalists =
    st.decided && last !== undefined && last.tasks > all.tasks
      ? table(
          last.ranking.map((r) => r.id),
          last.tasks,
        )
      : null;
  return { all, finalists };
}

import { Rng } from '@ip2/snn';
import { bootstrapMeanWithPlan, bootstrapPlan, type Interval } from './bootstrap.js';
import type { Candidate, CandidateRole } from './candidates.js';
import type { SearchDefinition } from './definition.js';
import type { RunTable } from './results.js';
import type { ResultTable } from './results.js';
import { runMetrics, type RunMetrics, type ScoreRule } from './score.js';
import { searchState } from './search-state.js';

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

/** Aggregates one candidate on tasks [0, tasks) of every seed that reached that prefix. */
export function aggregateCandidate(
  rule: ScoreRule,
  table: RunTable,
  candidate: Candidate,
  seeds: number,
  tasks: number,
  resampler: Resampler,
): CandidateAggregate {
  const used: number[] = [];
  const runs: RunMetrics[] = [];
  for (let s = 0; s < seeds; s++) {
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
   * Score every candidate on this prefix, over the seeds that reached it. Default: each candidate on
   * its own common prefix (the tasks all its seeds have), which makes candidates comparable only when
   * the prefixes are equal.
   */
  readonly tasks?: number;
}

/** Every candidate of the search, aggregated from the results so far (for progress reports). */
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
  return st.candidates.map((c) =>
    aggregateCandidate(st.rule, st.table, c, seeds, options.tasks ?? st.table.commonPrefix(c.id), resampler),
  );
}

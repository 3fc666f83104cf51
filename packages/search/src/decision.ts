import type { PropertyKey } from '@ip2/snn';
import { aggregateCandidate, resamplerFor, type CandidateAggregate, type Resampler } from './aggregate.js';
import type { Interval } from './bootstrap.js';
import type { CandidateRole } from './candidates.js';
import type { SearchDefinition } from './definition.js';
import type { ResultTable } from './results.js';
import { scheduleCost } from './schedule.js';
import { advantage, ratio, type ScoreRule } from './score.js';
import { searchState, type SearchState } from './search-state.js';

/** An interval in a JSON-safe form: a bound that is not a finite number is null. */
export interface IntervalRecord {
  readonly mean: number | null;
  readonly lo: number | null;
  readonly hi: number | null;
}

export interface CandidateEvidence {
  readonly id: string;
  readonly keys: readonly PropertyKey[];
  readonly role: CandidateRole;
  readonly tasks: number;
  readonly seeds: number;
  readonly score: IntervalRecord;
  readonly metrics: {
    readonly finalEfficiency: IntervalRecord;
    readonly speedUp: IntervalRecord;
    readonly l2lSlope: IntervalRecord;
    readonly auc: IntervalRecord;
    readonly failures: IntervalRecord;
    /**
     * Beside the censored metrics above: the converged share and the failure-free metrics (over converged
     * tasks only; aggregate.ts). Absent from records fixed before they were recorded.
     */
    readonly convergedShare?: IntervalRecord;
    readonly failureFreeFinalEfficiency?: IntervalRecord;
    readonly failureFreeSpeedUp?: IntervalRecord;
    readonly failureFreeL2lSlope?: IntervalRecord;
  };
  /** Seeds each failure-free interval holds (those where it is defined); absent from older records. */
  readonly failureFreeSeeds?: {
    readonly finalEfficiency: number;
    readonly speedUp: number;
    readonly l2lSlope: number;
  };
}

/** The best candidate against another, both scored on the same prefix of the same seeds. */
export interface Comparison {
  readonly candidate: string;
  readonly role: CandidateRole;
  /** The common prefix of tasks both were scored on. */
  readonly tasks: number;
  readonly best: IntervalRecord;
  readonly other: IntervalRecord;
  /** How many times better the best is (score.ts `ratio`); null where a ratio has no meaning. */
  readonly ratio: number | null;
  /** Paired bootstrap interval over seeds of how much better the best is, in the metric's units (> 0: better). */
  readonly advantage: IntervalRecord;
}

/** The decision of a finished search, with its evidence; every number is JSON-safe. */
export interface Decision {
  readonly best: CandidateEvidence;
  /** Second on the last rung; null when the search measured a single candidate. */
  readonly runnerUp: CandidateEvidence | null;
  /** True when the best's score interval does not overlap the runner-up's (false without a runner-up). */
  readonly separable: boolean;
  readonly versusRunnerUp: Comparison | null;
  /** Against the controls, on the prefix both reached; null when the control was not measured. */
  readonly versus: { readonly 'rsnn-noip': Comparison | null; readonly 'ip-inner': Comparison | null };
  /** The last rung's candidates, best first. */
  readonly ranking: readonly { readonly id: string; readonly score: IntervalRecord }[];
  readonly rungs: readonly {
    readonly rung: number;
    readonly tasks: number;
    readonly ranking: readonly { readonly id: string; readonly score: number | null }[];
    readonly pruned: readonly string[];
  }[];
  readonly rule: ScoreRule;
  readonly strategy: SearchDefinition['strategy'];
  readonly seeds: number;
  readonly tasks: number;
  readonly bootstrap: { readonly resamples: number; readonly level: number };
  readonly taskTrainings: { readonly measured: number; readonly planned: number };
}

export class SearchIncompleteError extends Error {
  readonly missing: number;
  constructor(missing: number) {
    super(`the search is not finished: ${missing} task trainings of the current rung are missing`);
    this.name = 'SearchIncompleteError';
    this.missing = missing;
  }
}

export function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export function intervalRecord(i: Interval): IntervalRecord {
  return { mean: finiteOrNull(i.mean), lo: finiteOrNull(i.lo), hi: finiteOrNull(i.hi) };
}

export function candidateEvidence(a: CandidateAggregate): CandidateEvidence {
  return {
    id: a.id,
    keys: a.keys,
    role: a.role,
    tasks: a.tasks,
    seeds: a.seeds.length,
    score: intervalRecord(a.score),
    metrics: {
      finalEfficiency: intervalRecord(a.finalEfficiency),
      speedUp: intervalRecord(a.speedUp),
      l2lSlope: intervalRecord(a.l2lSlope),
      auc: intervalRecord(a.auc),
      failures: intervalRecord(a.failures),
      convergedShare: intervalRecord(a.convergedShare),
      failureFreeFinalEfficiency: intervalRecord(a.failureFreeFinalEfficiency),
      failureFreeSpeedUp: intervalRecord(a.failureFreeSpeedUp),
      failureFreeL2lSlope: intervalRecord(a.failureFreeL2lSlope),
    },
    failureFreeSeeds: { ...a.failureFreeSeeds },
  };
}

/** Does interval `a` (the best's) lie strictly on the better side of `b`? */
function apart(rule: ScoreRule, a: Interval, b: Interval): boolean {
  return rule.direction === 'lower' ? a.hi < b.lo : a.lo > b.hi;
}

function compare(st: SearchState, resampler: Resampler, bestId: string, otherId: string): Comparison | null {
  const { table, rule } = st;
  const seeds = st.definition.protocol.seeds;
  const tasks = Math.min(table.commonPrefix(bestId, seeds), table.commonPrefix(otherId, seeds));
  if (tasks === 0) return null;
  const byId = (id: string) => st.candidates.find((c) => c.id === id)!;
  const best = aggregateCandidate(rule, table, byId(bestId), seeds, tasks, resampler);
  const other = aggregateCandidate(rule, table, byId(otherId), seeds, tasks, resampler);
  const diffs = best.runs.map((r, i) => advantage(rule, r.score, other.runs[i]!.score));
  return {
    candidate: otherId,
    role: other.role,
    tasks,
    best: intervalRecord(best.score),
    other: intervalRecord(other.score),
    ratio: finiteOrNull(ratio(rule, best.score.mean, other.score.mean)),
    advantage: intervalRecord(resampler.interval(diffs)),
  };
}

/**
 * The decision rule: the best candidate of the last rung (full sequences), with its interval against the
 * runner-up's, `separable` when they do not overlap, and its standing against `rsnn-noip` (empty mask)
 * and `ip-inner` (all-ones mask) where those were measured. Made from the search's own runs as soon as
 * every rung is measured (the validation stage that follows trains the masks it names); throws
 * SearchIncompleteError before. The result does not depend on the order of the results.
 */
export function decide(definition: SearchDefinition, results: ResultTable): Decision {
  return decideState(searchState(definition, results));
}

/** decide() on a search state already derived. */
export function decideState(st: SearchState): Decision {
  const definition = st.definition;
  if (!st.decided) {
    const missing = st.actions.reduce((n, a) => n + (a.kind === 'train' ? a.toTask - a.fromTask : 0), 0);
    throw new SearchIncompleteError(missing);
  }
  const d = definition;
  const resampler = resamplerFor(d);
  const last = st.rungs[st.rungs.length - 1]!;
  const seeds = d.protocol.seeds;
  const final = last.ranking.map((r) =>
    aggregateCandidate(
      st.rule,
      st.table,
      st.candidates.find((c) => c.id === r.id)!,
      seeds,
      last.tasks,
      resampler,
    ),
  );
  const best = final[0]!;
  const runnerUp = final[1] ?? null;
  const control = (role: CandidateRole) => {
    const c = st.candidates.find((x) => x.role === role);
    return c === undefined ? null : compare(st, resampler, best.id, c.id);
  };
  return {
    best: candidateEvidence(best),
    runnerUp: runnerUp === null ? null : candidateEvidence(runnerUp),
    separable: runnerUp !== null && apart(st.rule, best.score, runnerUp.score),
    versusRunnerUp: runnerUp === null ? null : compare(st, resampler, best.id, runnerUp.id),
    versus: { 'rsnn-noip': control('rsnn-noip'), 'ip-inner': control('ip-inner') },
    ranking: final.map((a) => ({ id: a.id, score: intervalRecord(a.score) })),
    rungs: st.rungs.map((r) => ({
      rung: r.rung,
      tasks: r.tasks,
      ranking: r.ranking.map((x) => ({ id: x.id, score: finiteOrNull(x.score) })),
      pruned: r.pruned,
    })),
    rule: st.rule,
    strategy: d.strategy,
    seeds,
    tasks: d.protocol.tasks,
    bootstrap: { resamples: d.bootstrap.resamples, level: d.bootstrap.level },
    taskTrainings: { measured: st.searchMeasured, planned: scheduleCost(st.schedule, seeds) },
  };
}

import { auc, failureFreeMetrics, finalEfficiency, l2lSlope, speedUp } from '@ip2/l2l';
import type { ScoreMetric, SearchDefinition } from './definition.js';
import type { TaskRecord } from './results.js';

/**
 * How runs are scored and ranked. With e = the run's iterations per task where every failed task counts
 * as the iteration cap, and f = its number of failed tasks (p = failurePenalty):
 *
 * | metric             | better | run score                         | default p                |
 * |--------------------|--------|-----------------------------------|--------------------------|
 * | `restricted-mean`  | lower  | mean(r) + p·f                     | 0                        |
 * | `failures-first`   | lower  | failureFreeFinalEfficiency + p·f  | cap × max(seeds)         |
 * | `final-efficiency` | lower  | finalEfficiency(e) + p·f          | iteration cap            |
 * | `auc`              | lower  | auc(e) + p·f                      | iteration cap            |
 * | `l2l-slope`        | lower  | l2lSlope(e) + p·f                 | 1                        |
 * | `speed-up`         | higher | speedUp(e) / (1 + p·f)            | 1                        |
 *
 * `restricted-mean` (the default) is censoring-aware: r is each task's iterations to criterion with a failed
 * task counted at exactly the cap, so mean(r) is the restricted mean of the iterations a task needs, up to
 * the cap (the area under the share-not-yet-converged curve). `failures-first` ranks by failures first and
 * then by the failure-free final efficiency (over converged tasks only; the cap when none converged): with
 * the default p, the cap times the most seeds a mean is taken over, one failure more over n seeds costs
 * p / n ≥ cap, more than any failure-free efficiency can differ, so the ranking of the means is that order.
 *
 * In the other metrics a failed task counts in e as the cap scaled by how far its final loss stayed from
 * the criterion: cap · clamp(finalLoss / ε, 1, 10), and NaN losses as 10 · cap. Among runs that all fail
 * (early tasks of a hard family), the one that came closest to converging ranks first instead of a tie.
 *
 * A task is failed when it did not converge, or its final loss or its iteration count is not a finite
 * number (a converged task with a NaN loss is a failure). A candidate's score is the mean of its runs'
 * scores over the seeds, on a prefix of tasks common to every run compared.
 *
 * Beside these censored metrics every run also carries its failure-free metrics (@ip2/l2l
 * failureFreeMetrics: the same definitions over its converged tasks only) and its converged share, for
 * tables; they take no part in the score or the ranking.
 */
export interface ScoreRule {
  readonly metric: ScoreMetric;
  readonly direction: 'lower' | 'higher';
  readonly failurePenalty: number;
  readonly iterationCap: number;
  /** The convergence threshold ε, which grades failures. */
  readonly epsilon: number;
}

/** Largest factor of the cap a failed task can count for. */
export const FAILURE_SCALE_MAX = 10;

export function scoreRule(d: SearchDefinition): ScoreRule {
  const { metric, failurePenalty } = d.score;
  return {
    metric,
    direction: metric === 'speed-up' ? 'higher' : 'lower',
    failurePenalty,
    iterationCap: d.protocol.iterationCap,
    epsilon: d.protocol.criterion.epsilon,
  };
}

export function isFailure(r: TaskRecord): boolean {
  return !r.converged || !Number.isFinite(r.finalLoss) || !Number.isFinite(r.iterations);
}

/** Iterations a failed task counts for (see the table above). */
export function failedTaskIterations(rule: ScoreRule, r: TaskRecord): number {
  const scale = Number.isFinite(r.finalLoss)
    ? Math.min(FAILURE_SCALE_MAX, Math.max(1, r.finalLoss / rule.epsilon))
    : FAILURE_SCALE_MAX;
  return rule.iterationCap * scale;
}

/**
 * Restricted mean of the iterations to criterion over the records: each converged task's iterations (at
 * most the cap), each failed task at exactly the cap. NaN for no records.
 */
export function restrictedMean(rule: Pick<ScoreRule, 'iterationCap'>, records: readonly TaskRecord[]): number {
  if (records.length === 0) return Number.NaN;
  let s = 0;
  for (const r of records) s += isFailure(r) ? rule.iterationCap : Math.min(r.iterations, rule.iterationCap);
  return s / records.length;
}

/** The metrics of one run on some prefix of its tasks, failures counted as graded caps. */
export interface RunMetrics {
  readonly tasks: number;
  readonly failures: number;
  readonly finalEfficiency: number;
  readonly speedUp: number;
  readonly l2lSlope: number;
  readonly auc: number;
  /** The ranking score (rule above). */
  readonly score: number;
  /** Converged tasks / tasks (a task is converged when it is not a failure, see isFailure). */
  readonly convergedShare: number;
  /** Final efficiency, speed-up and L2L slope over the converged tasks only; NaN where too few converged. */
  readonly failureFreeFinalEfficiency: number;
  readonly failureFreeSpeedUp: number;
  readonly failureFreeL2lSlope: number;
  /** Per task of the prefix, in order: whether it converged (for survival-style curves). */
  readonly converged: readonly boolean[];
}

export const METRIC_NAMES = ['score', 'finalEfficiency', 'speedUp', 'l2lSlope', 'auc', 'failures'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** The failure-free metrics of a run, beside the censored METRIC_NAMES. */
export const FAILURE_FREE_METRIC_NAMES = [
  'convergedShare',
  'failureFreeFinalEfficiency',
  'failureFreeSpeedUp',
  'failureFreeL2lSlope',
] as const;
export type FailureFreeMetricName = (typeof FAILURE_FREE_METRIC_NAMES)[number];

export function runMetrics(rule: ScoreRule, records: readonly TaskRecord[]): RunMetrics {
  let failures = 0;
  const e = records.map((r) => {
    if (isFailure(r)) {
      failures++;
      return failedTaskIterations(rule, r);
    }
    return r.iterations;
  });
  const m = { finalEfficiency: finalEfficiency(e), speedUp: speedUp(e), l2lSlope: l2lSlope(e), auc: auc(e) };
  const converged = records.map((r) => !isFailure(r));
  const ff = failureFreeMetrics(records.map((r, i) => ({ iterations: r.iterations, converged: converged[i]! })));
  const p = rule.failurePenalty;
  let score: number;
  switch (rule.metric) {
    case 'restricted-mean':
      score = restrictedMean(rule, records) + p * failures;
      break;
    case 'failures-first':
      score =
        (Number.isFinite(ff.finalEfficiency) ? Math.min(ff.finalEfficiency, rule.iterationCap) : rule.iterationCap) +
        p * failures;
      break;
    case 'final-efficiency':
      score = m.finalEfficiency + p * failures;
      break;
    case 'auc':
      score = m.auc + p * failures;
      break;
    case 'l2l-slope':
      score = m.l2lSlope + p * failures;
      break;
    default:
      score = m.speedUp / (1 + p * failures);
  }
  return {
    tasks: records.length,
    failures,
    ...m,
    score,
    convergedShare: ff.convergedShare,
    failureFreeFinalEfficiency: ff.finalEfficiency,
    failureFreeSpeedUp: ff.speedUp,
    failureFreeL2lSlope: ff.l2lSlope,
    converged,
  };
}

/**
 * Ranking order of two scores: negative when `a` ranks before `b`. NaN ranks after every number;
 * equal scores compare 0 (the caller breaks ties by candidate id).
 */
export function compareScores(rule: ScoreRule, a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an === bn ? 0 : an ? 1 : -1;
  if (a === b) return 0;
  return (rule.direction === 'lower' ? a < b : a > b) ? -1 : 1;
}

/** How much better `best` is than `other`, in the metric's units: positive when `best` is better. */
export function advantage(rule: ScoreRule, best: number, other: number): number {
  return rule.direction === 'lower' ? other - best : best - other;
}

/**
 * How many times better `best` is than `other`: other / best for the iteration metrics (each floored at
 * one iteration, the resolution of the measure), best / other for the speed-up. NaN where a ratio has
 * no meaning: for the L2L slope (a signed exponent), or a speed-up of 0.
 */
export function ratio(rule: ScoreRule, best: number, other: number): number {
  if (rule.metric === 'l2l-slope') return Number.NaN;
  if (rule.direction === 'lower') return Math.max(other, 1) / Math.max(best, 1);
  return other > 0 ? best / other : Number.NaN;
}

import type { PropertyKey } from '@ip2/snn';
import { aggregateCandidate, resamplerFor, type CandidateAggregate } from './aggregate.js';
import type { Interval } from './bootstrap.js';
import { candidateFromMask } from './candidates.js';
import type { Verdict } from './definition.js';
import {
  candidateEvidence,
  finiteOrNull,
  intervalRecord,
  SearchIncompleteError,
  type CandidateEvidence,
  type Decision,
  type IntervalRecord,
} from './decision.js';
import { advantage, ratio, type ScoreRule } from './score.js';
import type { SearchState } from './search-state.js';
import { validationComparator, type ValidationRole, type ValidationTarget } from './validation-plan.js';

export {
  validationComparator,
  validationTargets,
  type ValidationRole,
  type ValidationTarget,
} from './validation-plan.js';

/**
 * The verdict rule on the interval of the chosen mask's advantage over the runner-up (positive: the
 * chosen one is better): lo > 0 confirmed, hi < 0 overturned, otherwise (0 inside, or a bound that is
 * not a number) a tie.
 */
export function verdictOf(
  advantageInterval: Pick<Interval, 'lo' | 'hi'> | Pick<IntervalRecord, 'lo' | 'hi'>,
): Exclude<Verdict, 'unvalidated'> {
  const { lo, hi } = advantageInterval;
  if (typeof lo === 'number' && Number.isFinite(lo) && lo > 0) return 'confirmed';
  if (typeof hi === 'number' && Number.isFinite(hi) && hi < 0) return 'overturned';
  return 'tie';
}

/** One validated mask on the validation seeds, with why it was validated. */
export type ValidationEvidence = CandidateEvidence & { readonly as: readonly ValidationRole[] };

/** The chosen mask against another validated one, on the same validation seeds and tasks. */
export interface ValidationComparison {
  readonly candidate: string;
  readonly as: readonly ValidationRole[];
  readonly tasks: number;
  /** Validation seeds both completed (the pairs of the paired bootstrap). */
  readonly seeds: number;
  readonly chosen: IntervalRecord;
  readonly other: IntervalRecord;
  /** How many times better the chosen mask is (score.ts `ratio`); null where a ratio has no meaning. */
  readonly ratio: number | null;
  /** Paired bootstrap interval over the validation seeds of the chosen mask's advantage (> 0: it is better). */
  readonly advantage: IntervalRecord;
}

export interface MaskRef {
  readonly bits: string;
  readonly keys: readonly PropertyKey[];
}

/** The validation stage's outcome, as the fixed configuration records it. Every number is JSON-safe. */
export interface ValidationRecord {
  readonly verdict: Verdict;
  /** validation.seeds of the definition. */
  readonly seeds: number;
  /** The validation runs' seeds (never one of the search's) and their seed indices in the results. */
  readonly runSeeds: readonly number[];
  readonly seedIndices: readonly number[];
  /** The protocol they trained: the full sequence at the definition's cap. */
  readonly tasks: number;
  readonly iterationCap: number;
  /** The search's choice (the decision's best). */
  readonly searchChoice: MaskRef;
  /** The mask the verdict judges it against: the runner-up (else a control); null when unvalidated. */
  readonly comparator: (MaskRef & { readonly as: readonly ValidationRole[] }) | null;
  /** The mask the evidence favours, which the configuration fixes: the runner-up when overturned, else the choice. */
  readonly better: MaskRef;
  /** Every validated mask on the validation seeds, the chosen one first. */
  readonly candidates: readonly ValidationEvidence[];
  /** The chosen mask against each other validated mask. */
  readonly versus: readonly ValidationComparison[];
  /** The verdict in one sentence, with the interval it rests on. */
  readonly statement: string;
}

const maskRef = (t: { readonly id: string; readonly keys: readonly PropertyKey[] }): MaskRef => ({
  bits: t.id,
  keys: [...t.keys],
});

function fmt(x: number | null): string {
  if (x === null) return '—';
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(1) : x.toPrecision(2);
}

function keysText(keys: readonly string[]): string {
  return keys.length === 0 ? 'none' : keys.join(', ');
}

/**
 * The validation record of a search whose every rung and validation run is measured: each validated mask
 * aggregated over the validation seeds on the full sequence, the chosen one's paired advantage over each
 * other, and the verdict (verdictOf) against the comparator. With validation.seeds 0: `unvalidated`.
 * Throws SearchIncompleteError while a validation run is missing.
 */
export function validationRecord(st: SearchState, decision: Decision): ValidationRecord {
  const d = st.definition;
  const choice: MaskRef = { bits: decision.best.id, keys: [...decision.best.keys] };
  const base = {
    seeds: d.validation.seeds,
    runSeeds: [...st.validation.runSeeds],
    seedIndices: [...st.validation.seedIndices],
    tasks: d.protocol.tasks,
    iterationCap: d.protocol.iterationCap,
    searchChoice: choice,
  };
  if (d.validation.seeds === 0) {
    return {
      verdict: 'unvalidated',
      ...base,
      comparator: null,
      better: choice,
      candidates: [],
      versus: [],
      statement: `Not validated (validation.seeds = 0): the choice of ${choice.bits} [${keysText(choice.keys)}] rests on the search's own ${d.protocol.seeds} seeds.`,
    };
  }
  if (!st.done) {
    const missing = st.actions.reduce((n, a) => n + (a.kind === 'train' ? a.toTask - a.fromTask : 0), 0);
    throw new SearchIncompleteError(missing);
  }
  const targets = st.validation.targets;
  const resampler = resamplerFor(d);
  const tasks = d.protocol.tasks;
  const aggregates = new Map<string, CandidateAggregate>(
    targets.map((t) => [
      t.id,
      aggregateCandidate(
        st.rule,
        st.table,
        candidateFromMask(d.space, maskOf(t.id)),
        st.validation.seedIndices,
        tasks,
        resampler,
      ),
    ]),
  );
  const chosen = aggregates.get(choice.bits)!;
  const versus = targets
    .filter((t) => t.id !== choice.bits)
    .map((t) => compareOnSeeds(st.rule, resampler, chosen, aggregates.get(t.id)!, t, tasks));
  const comparator = validationComparator(targets);
  const against = comparator === null ? null : versus.find((v) => v.candidate === comparator.id)!;
  const verdict = against === null ? 'tie' : verdictOf(against.advantage);
  const better = verdict === 'overturned' && comparator !== null ? maskRef(comparator) : choice;
  return {
    verdict,
    ...base,
    comparator: comparator === null ? null : { ...maskRef(comparator), as: [...comparator.as] },
    better,
    candidates: targets.map((t) => ({ ...candidateEvidence(aggregates.get(t.id)!), as: [...t.as] })),
    versus,
    statement: statementOf(verdict, choice, comparator, against, st, decision),
  };
}

function maskOf(id: string): boolean[] {
  return [...id].map((b) => b === '1');
}

function compareOnSeeds(
  rule: ScoreRule,
  resampler: ReturnType<typeof resamplerFor>,
  chosen: CandidateAggregate,
  other: CandidateAggregate,
  target: ValidationTarget,
  tasks: number,
): ValidationComparison {
  // Pairs: the validation seeds both completed (all of them once the stage is done).
  const mine = new Map(chosen.seeds.map((s, i) => [s, chosen.runs[i]!.score]));
  const diffs: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  other.seeds.forEach((s, i) => {
    const x = mine.get(s);
    if (x === undefined) return;
    const y = other.runs[i]!.score;
    diffs.push(advantage(rule, x, y));
    a.push(x);
    b.push(y);
  });
  const ci = (xs: number[]) => intervalRecord(resampler.interval(xs));
  const meanOf = (xs: number[]) => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);
  return {
    candidate: target.id,
    as: [...target.as],
    tasks,
    seeds: diffs.length,
    chosen: ci(a),
    other: ci(b),
    ratio: finiteOrNull(ratio(rule, meanOf(a), meanOf(b))),
    advantage: ci(diffs),
  };
}

function statementOf(
  verdict: Verdict,
  choice: MaskRef,
  comparator: ValidationTarget | null,
  against: ValidationComparison | null,
  st: SearchState,
  decision: Decision,
): string {
  const d = st.definition;
  const level = Math.round(d.bootstrap.level * 100);
  const on = `on ${d.validation.seeds} fresh seed${d.validation.seeds === 1 ? '' : 's'} × ${d.protocol.tasks} tasks (cap ${d.protocol.iterationCap})`;
  if (comparator === null || against === null) {
    return `Validated ${on}; no other mask to compare with.`;
  }
  const who = comparator.as.includes('runner-up')
    ? `the runner-up ${comparator.id}`
    : `${comparator.as.join('/')} ${comparator.id}`;
  const adv = `${fmt(against.advantage.mean)} [${fmt(against.advantage.lo)}, ${fmt(against.advantage.hi)}]`;
  const metric = `${decision.rule.metric}, ${decision.rule.direction} is better`;
  switch (verdict) {
    case 'confirmed':
      return `Confirmed ${on}: ${choice.bits} [${keysText(choice.keys)}] beats ${who} [${keysText(comparator.keys)}] by ${adv} (${level}% paired interval of its advantage in ${metric}).`;
    case 'overturned':
      return `Overturned ${on}: ${who} [${keysText(comparator.keys)}] beats the search's choice ${choice.bits} [${keysText(choice.keys)}] (advantage of ${choice.bits}: ${adv}, ${level}% paired interval, ${metric}); this configuration fixes ${comparator.id}, the better choice on the evidence.`;
    default:
      return `Tie ${on}: ${choice.bits} [${keysText(choice.keys)}] and ${who} [${keysText(comparator.keys)}] cannot be told apart (advantage of ${choice.bits}: ${adv}, ${level}% paired interval, ${metric}); the configuration keeps the search's choice.`;
  }
}

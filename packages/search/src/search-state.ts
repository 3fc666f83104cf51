import type { Action, PruneAction, TrainAction } from './actions.js';
import { allCandidates, compareIds, type Candidate, type CandidateRole } from './candidates.js';
import { validationTaskTrainings, type SearchDefinition } from './definition.js';
import { ResultsError, RunTable, type ResultTable } from './results.js';
import { scheduleCost, type Rung } from './schedule.js';
import { compareScores, runMetrics, scoreRule, type ScoreRule } from './score.js';
import { runSeed, validationSeedIndex, validationSeeds } from './seeds.js';
import { strategyFor } from './strategies/index.js';
import { validationTargets, type ValidationTarget } from './validation-plan.js';

export { runSeed, validationSeedIndex, validationSeeds } from './seeds.js';

export interface RankedCandidate {
  readonly id: string;
  /** Mean run score over the seeds on the rung's prefix. */
  readonly score: number;
}

/** A measured rung: every candidate in it ran every seed up to `tasks`. */
export interface RungOutcome {
  readonly rung: number;
  readonly tasks: number;
  /** Best first; equal scores in candidate-id order. */
  readonly ranking: readonly RankedCandidate[];
  readonly kept: readonly string[];
  readonly pruned: readonly string[];
}

export interface CandidateProgress {
  readonly id: string;
  readonly keys: Candidate['keys'];
  readonly role: CandidateRole;
  /** 'finished': measured on the last rung of a finished search. */
  readonly state: 'active' | 'pruned' | 'finished';
  /** The highest rung the candidate entered. */
  readonly rung: number;
  /** Contiguous tasks recorded, per seed index. */
  readonly tasks: readonly number[];
}

/** The validation stage as the results show it (see validation.ts). */
export interface ValidationProgress {
  /** validation.seeds of the definition. */
  readonly seeds: number;
  /** Seed index of each validation run (protocol.seeds + v) and its seed (validationSeeds). */
  readonly seedIndices: readonly number[];
  readonly runSeeds: readonly number[];
  /** The validated masks, once the search's rungs are measured (empty before, and with 0 seeds). */
  readonly targets: readonly ValidationTarget[];
  /** Distinct validation task results so far. */
  readonly measured: number;
  readonly done: boolean;
}

/** Where a search is: measuring rungs, validating its decision on fresh seeds, or done. */
export type SearchStage = 'search' | 'validation' | 'done';

/** Everything the results say about a search, derived from the results alone. */
export interface SearchState {
  readonly definition: SearchDefinition;
  readonly rule: ScoreRule;
  readonly candidates: readonly Candidate[];
  readonly schedule: readonly Rung[];
  /** Every run's results: seed indices 0 … protocol.seeds − 1 are the search's, the rest the validation's. */
  readonly table: RunTable;
  /** Rungs fully measured, in order. */
  readonly rungs: readonly RungOutcome[];
  /** The rung being measured (schedule.length once every rung is). */
  readonly rung: number;
  /** Every rung is measured: the decision can be made (decide()). */
  readonly decided: boolean;
  readonly stage: SearchStage;
  /** The decision is made and validated: the configuration can be fixed (fixConfiguration()). */
  readonly done: boolean;
  /**
   * What to do next: the prunes of every measured rung (re-derived on each call; applying one twice is
   * harmless), then the trainings missing from the current rung or from the validation, or `done`.
   */
  readonly actions: readonly Action[];
  /** Distinct task results in the table, the validation's included. */
  readonly measured: number;
  /** Distinct task results of the search's own runs (not the validation's). */
  readonly searchMeasured: number;
  /**
   * Task trainings the schedule and the validation cost in all (the validation's exact once the validated
   * masks are known, before that its upper bound, validationTaskTrainings).
   */
  readonly planned: number;
  readonly progress: readonly CandidateProgress[];
  readonly validation: ValidationProgress;
}

/** Ranks candidates on tasks [0, tasks) of every seed; each must have reached that prefix on every seed. */
export function rankCandidates(
  rule: ScoreRule,
  table: RunTable,
  ids: readonly string[],
  tasks: number,
  seeds: number,
): RankedCandidate[] {
  const ranked = ids.map((id) => {
    let sum = 0;
    for (let s = 0; s < seeds; s++) sum += runMetrics(rule, table.head(id, s, tasks)).score;
    return { id, score: sum / seeds };
  });
  return ranked.sort((a, b) => compareScores(rule, a.score, b.score) || compareIds(a.id, b.id));
}

export function searchState(definition: SearchDefinition, results: ResultTable): SearchState {
  const d = definition;
  const strategy = strategyFor(d.strategy.kind);
  const candidates = strategy.candidates(d);
  const schedule = strategy.schedule(d);
  const seeds = d.protocol.seeds;
  const vSeeds = d.validation.seeds;
  // The controls are validated even where the strategy did not draw them: their rows hold validation runs only.
  const ids = new Set(candidates.map((c) => c.id));
  const extra = vSeeds > 0 ? allCandidates(d.space).filter((c) => c.role !== 'ip-masked' && !ids.has(c.id)) : [];
  const table = new RunTable([...candidates, ...extra], seeds + vSeeds, d.protocol.tasks, results);
  for (const c of extra) {
    if (table.hasResultsIn(c.id, 0, seeds)) {
      throw new ResultsError(
        `results: unknown candidate '${c.id}' in the search's runs; this search has ${[...ids].join(', ')}`,
      );
    }
  }
  const rule = scoreRule(d);
  const byId = new Map(candidates.map((c) => [c.id, c]));

  const rungs: RungOutcome[] = [];
  const prunes: PruneAction[] = [];
  const trains: TrainAction[] = [];
  const entered = new Map<string, number>();
  let alive = candidates.map((c) => c.id);
  let current = 0;
  for (const r of schedule) {
    current = r.rung;
    for (const id of alive) entered.set(id, r.rung);
    for (const id of alive) {
      for (let s = 0; s < seeds; s++) {
        const from = table.prefix(id, s);
        if (from >= r.tasks) continue;
        trains.push({
          kind: 'train',
          candidate: id,
          keys: byId.get(id)!.keys,
          seedIndex: s,
          seed: runSeed(d.protocol.baseSeed, s),
          fromTask: from,
          toTask: r.tasks,
          rung: r.rung,
          stage: 'search',
        });
      }
    }
    if (trains.length > 0) break;
    const ranking = rankCandidates(rule, table, alive, r.tasks, seeds);
    const kept = ranking.slice(0, r.keep).map((x) => x.id);
    const pruned = ranking.slice(r.keep).map((x) => x.id);
    rungs.push({ rung: r.rung, tasks: r.tasks, ranking, kept, pruned });
    for (const id of [...pruned].sort(compareIds))
      prunes.push({ kind: 'prune', candidate: id, rung: r.rung, tasks: r.tasks });
    alive = kept;
    current = r.rung + 1;
  }
  const decided = trains.length === 0;
  const seedIndices = Array.from({ length: vSeeds }, (_, v) => validationSeedIndex(seeds, v));
  const runSeeds = vSeeds > 0 ? validationSeeds(d.protocol.baseSeed, seeds, vSeeds) : [];
  let targets: ValidationTarget[] = [];
  if (decided && vSeeds > 0) {
    const last = rungs[rungs.length - 1]!;
    targets = validationTargets(d.space, last.ranking[0]!.id, last.ranking[1]?.id ?? null);
    for (const t of targets) {
      for (const [v, s] of seedIndices.entries()) {
        const from = table.prefix(t.id, s);
        if (from >= d.protocol.tasks) continue;
        trains.push({
          kind: 'train',
          candidate: t.id,
          keys: t.keys,
          seedIndex: s,
          seed: runSeeds[v]!,
          fromTask: from,
          toTask: d.protocol.tasks,
          rung: schedule.length,
          stage: 'validation',
        });
      }
    }
  }
  const done = trains.length === 0;
  const prunedAt = new Map(prunes.map((p) => [p.candidate, p.rung]));
  const progress = candidates.map((c): CandidateProgress => ({
    id: c.id,
    keys: c.keys,
    role: c.role,
    state: prunedAt.has(c.id) ? 'pruned' : decided ? 'finished' : 'active',
    rung: entered.get(c.id) ?? 0,
    tasks: Array.from({ length: seeds }, (_, s) => table.prefix(c.id, s)),
  }));
  const validationMeasured = table.measuredIn(seeds, seeds + vSeeds);
  return {
    definition: d,
    rule,
    candidates,
    schedule,
    table,
    rungs,
    rung: current,
    decided,
    stage: done ? 'done' : decided ? 'validation' : 'search',
    done,
    actions: done ? [...prunes, { kind: 'done' }] : [...prunes, ...trains],
    measured: table.measured,
    searchMeasured: table.measuredIn(0, seeds),
    planned:
      scheduleCost(schedule, seeds) +
      (decided ? targets.length * vSeeds * d.protocol.tasks : validationTaskTrainings(d)),
    progress,
    validation: { seeds: vSeeds, seedIndices, runSeeds, targets, measured: validationMeasured, done },
  };
}

/**
 * The next actions of a search, from its definition and its results so far (see SearchState.actions).
 * Pure and stateless: a restarted controller gets the same actions from the same results, and a training
 * already recorded in the results is never asked for again.
 */
export function plan(definition: SearchDefinition, results: ResultTable): Action[] {
  return [...searchState(definition, results).actions];
}

import { deriveSeed } from '@ip2/snn';
import type { Action, PruneAction, TrainAction } from './actions.js';
import { compareIds, type Candidate, type CandidateRole } from './candidates.js';
import type { SearchDefinition } from './definition.js';
import { RunTable, type ResultTable } from './results.js';
import { scheduleCost, type Rung } from './schedule.js';
import { compareScores, runMetrics, scoreRule, type ScoreRule } from './score.js';
import { strategyFor } from './strategies/index.js';

/** The seed of run `seedIndex`: the same for every candidate, so all candidates see the same task instances. */
export function runSeed(baseSeed: number, seedIndex: number): number {
  return deriveSeed(baseSeed, 'run', seedIndex);
}

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

/** Everything the results say about a search, derived from the results alone. */
export interface SearchState {
  readonly definition: SearchDefinition;
  readonly rule: ScoreRule;
  readonly candidates: readonly Candidate[];
  readonly schedule: readonly Rung[];
  readonly table: RunTable;
  /** Rungs fully measured, in order. */
  readonly rungs: readonly RungOutcome[];
  /** The rung being measured (schedule.length when done). */
  readonly rung: number;
  readonly done: boolean;
  /**
   * What to do next: the prunes of every measured rung (re-derived on each call; applying one twice is
   * harmless), then the trainings missing from the current rung, or `done`.
   */
  readonly actions: readonly Action[];
  /** Distinct task results in the table. */
  readonly measured: number;
  /** Task trainings the schedule costs in all. */
  readonly planned: number;
  readonly progress: readonly CandidateProgress[];
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
  const table = new RunTable(candidates, seeds, d.protocol.tasks, results);
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
  const done = trains.length === 0;
  const prunedAt = new Map(prunes.map((p) => [p.candidate, p.rung]));
  const progress = candidates.map((c): CandidateProgress => ({
    id: c.id,
    keys: c.keys,
    role: c.role,
    state: prunedAt.has(c.id) ? 'pruned' : done ? 'finished' : 'active',
    rung: entered.get(c.id) ?? 0,
    tasks: Array.from({ length: seeds }, (_, s) => table.prefix(c.id, s)),
  }));
  return {
    definition: d,
    rule,
    candidates,
    schedule,
    table,
    rungs,
    rung: current,
    done,
    actions: done ? [...prunes, { kind: 'done' }] : [...prunes, ...trains],
    measured: table.measured,
    planned: scheduleCost(schedule, seeds),
    progress,
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

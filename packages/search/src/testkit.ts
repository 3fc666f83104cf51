import { Rng } from '@ip2/snn';
import type { TrainAction } from './actions.js';
import type { SearchDefinition } from './definition.js';
import { tableFromRows, type ResultRow, type ResultTable, type TaskResult } from './results.js';
import { plan } from './search-state.js';

/**
 * Synthetic ground truth for tests and demonstrations of the search machinery: the result of task
 * `taskIndex` of run `seedIndex` of a candidate, a pure function of its arguments.
 */
export type SyntheticTruth = (candidate: string, seedIndex: number, taskIndex: number) => TaskResult;

export interface PowerLawOptions {
  /** Iterations on task 0, per candidate id (missing ids: `defaultFirst`). */
  readonly first?: Readonly<Record<string, number>>;
  readonly defaultFirst?: number;
  /** Iterations ∝ (taskIndex + 1)^exponent, per candidate id (missing ids: `defaultExponent`). */
  readonly exponent?: Readonly<Record<string, number>>;
  readonly defaultExponent?: number;
  /** Standard deviation of the log-normal noise on each task (0: none). */
  readonly noise?: number;
  /** Seed of the noise. */
  readonly seed?: number;
  /** Tasks that fail (not converged, NaN loss). */
  readonly fails?: (candidate: string, seedIndex: number, taskIndex: number) => boolean;
}

/** A power-law learning curve per candidate with seeded log-normal noise, rounded to whole iterations. */
export function powerLawTruth(o: PowerLawOptions = {}): SyntheticTruth {
  return (candidate, seedIndex, taskIndex) => {
    if (o.fails?.(candidate, seedIndex, taskIndex)) {
      return { taskIndex, iterations: Number.NaN, converged: false, finalLoss: Number.NaN };
    }
    const first = o.first?.[candidate] ?? o.defaultFirst ?? 1000;
    const exponent = o.exponent?.[candidate] ?? o.defaultExponent ?? -0.5;
    const z = Rng.seeded(o.seed ?? 0, 'synthetic', candidate, seedIndex, taskIndex).normal();
    const iterations = Math.round(first * (taskIndex + 1) ** exponent * Math.exp((o.noise ?? 0) * z));
    return { taskIndex, iterations, converged: true, finalLoss: 0.001 };
  };
}

/** A copy of the table with tasks [action.fromTask, until) of the action's run added from the truth. */
export function applyTraining(
  table: ResultTable,
  action: TrainAction,
  truth: SyntheticTruth,
  until = action.toTask,
): ResultTable {
  const out: Record<string, Record<number, TaskResult[]>> = {};
  for (const [id, bySeed] of Object.entries(table)) {
    out[id] = {};
    for (const [s, list] of Object.entries(bySeed ?? {})) out[id][Number(s)] = [...list];
  }
  const run = ((out[action.candidate] ??= {})[action.seedIndex] ??= []);
  for (let t = action.fromTask; t < Math.min(until, action.toTask); t++) {
    run.push(truth(action.candidate, action.seedIndex, t));
  }
  return out;
}

export interface SimulationOptions {
  /**
   * Probability that the controller dies during a training: the run stops at a random task of its range
   * and the controller restarts, re-planning from the results alone (0: never).
   */
  readonly interrupt?: number;
  /** Drives the interruptions. */
  readonly rng?: Rng;
  /** Safety bound on plan() calls. */
  readonly maxPlans?: number;
}

export interface Simulation {
  readonly table: ResultTable;
  /** plan() calls made. */
  readonly plans: number;
  /** Tasks trained in all (a task trained twice counts twice). */
  readonly trained: number;
  /** Every train action carried out (or started), in order. */
  readonly issued: readonly TrainAction[];
}

/** Runs a search against a synthetic truth until plan() says done, with optional controller crashes. */
export function simulateSearch(
  definition: SearchDefinition,
  truth: SyntheticTruth,
  options: SimulationOptions = {},
): Simulation {
  const rng = options.rng ?? Rng.seeded(0, 'simulate');
  const interrupt = options.interrupt ?? 0;
  const maxPlans = options.maxPlans ?? 10_000;
  let table: ResultTable = {};
  let trained = 0;
  let plans = 0;
  const issued: TrainAction[] = [];
  for (;;) {
    if (++plans > maxPlans) throw new Error(`simulateSearch: not done after ${maxPlans} plans`);
    const actions = plan(definition, table);
    if (actions.some((a) => a.kind === 'done')) break;
    for (const a of actions) {
      if (a.kind !== 'train') continue;
      issued.push(a);
      const crash = interrupt > 0 && rng.uniform() < interrupt;
      const until = crash ? a.fromTask + rng.int(a.toTask - a.fromTask + 1) : a.toTask;
      table = applyTraining(table, a, truth, until);
      trained += Math.max(0, until - a.fromTask);
      if (crash) break;
    }
  }
  return { table, plans, trained, issued };
}

/** The same results as flat rows in a seeded random order, rebuilt into a table (keys in a new order too). */
export function shuffledTable(table: ResultTable, seed: number): ResultTable {
  const rows: ResultRow[] = [];
  for (const [candidate, bySeed] of Object.entries(table)) {
    for (const [s, list] of Object.entries(bySeed ?? {})) {
      for (const r of list) rows.push({ candidate, seedIndex: Number(s), ...r });
    }
  }
  return tableFromRows(Rng.seeded(seed, 'shuffle').shuffle(rows));
}

import type { Candidate } from './candidates.js';

/**
 * One task instance of one run, as the inner loop records it. `iterations` is the iterations-to-criterion
 * of a converged task; NaN or null (a store that cannot hold NaN) is allowed in both numbers and makes
 * the task a failure.
 */
export interface TaskResult {
  readonly taskIndex: number;
  readonly iterations: number | null;
  readonly converged: boolean;
  readonly finalLoss: number | null;
}

/** Task results so far: candidate id → seed index → the run's task results, in any order. */
export type ResultTable = {
  readonly [candidate: string]: { readonly [seedIndex: number]: readonly TaskResult[] } | undefined;
};

/** One task result as a flat row (the shape of a database table). */
export interface ResultRow extends TaskResult {
  readonly candidate: string;
  readonly seedIndex: number;
}

/** A results table that does not fit its search definition (unknown candidate or seed, bad record). */
export class ResultsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResultsError';
  }
}

export function tableFromRows(rows: readonly ResultRow[]): ResultTable {
  const out: Record<string, Record<number, TaskResult[]>> = {};
  for (const { candidate, seedIndex, ...task } of rows) {
    const bySeed = (out[candidate] ??= {});
    (bySeed[seedIndex] ??= []).push(task);
  }
  return out;
}

/** A validated task result with null read as NaN. */
export interface TaskRecord {
  readonly taskIndex: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly finalLoss: number;
}

/**
 * The results table checked against a search's candidates, seeds and sequence length, with each run's
 * records sorted by task index and deduplicated. Only a run's contiguous prefix from task 0 is used:
 * a task after a gap has no trained predecessor to stand on, and is trained again.
 */
export class RunTable {
  private readonly runs = new Map<string, TaskRecord[][]>();
  private readonly prefixes = new Map<string, number[]>();
  /** Distinct task results in the table (task trainings done). */
  readonly measured: number;
  /** Distinct task results per seed index. */
  private readonly perSeed: number[];

  constructor(candidates: readonly Candidate[], seeds: number, tasks: number, table: ResultTable) {
    const ids = new Set(candidates.map((c) => c.id));
    for (const c of candidates)
      this.runs.set(
        c.id,
        Array.from({ length: seeds }, () => []),
      );
    let measured = 0;
    this.perSeed = new Array<number>(seeds).fill(0);
    for (const id of Object.keys(table)) {
      if (!ids.has(id)) {
        throw new ResultsError(`results: unknown candidate '${id}'; this search has ${[...ids].join(', ')}`);
      }
      const bySeed = table[id];
      if (bySeed === undefined) continue;
      if (typeof bySeed !== 'object' || bySeed === null) {
        throw new ResultsError(`results['${id}'] must map seed indices to task lists`);
      }
      for (const key of Object.keys(bySeed)) {
        const s = Number(key);
        if (!Number.isInteger(s) || String(s) !== key || s < 0 || s >= seeds) {
          throw new ResultsError(`results['${id}']: seed index '${key}' is not an integer from 0 to ${seeds - 1}`);
        }
        const list = (bySeed as Record<string, unknown>)[key];
        if (!Array.isArray(list)) throw new ResultsError(`results['${id}'][${s}] must be a list of task results`);
        const run = new Map<number, TaskRecord>();
        for (const raw of list) {
          const r = checkRecord(raw, `results['${id}'][${s}]`, tasks);
          const seen = run.get(r.taskIndex);
          if (seen !== undefined && !sameRecord(seen, r)) {
            throw new ResultsError(`results['${id}'][${s}]: task ${r.taskIndex} has two different results`);
          }
          run.set(r.taskIndex, r);
        }
        measured += run.size;
        this.perSeed[s]! += run.size;
        this.runs.get(id)![s] = [...run.values()].sort((a, b) => a.taskIndex - b.taskIndex);
      }
    }
    this.measured = measured;
    for (const [id, runs] of this.runs) {
      this.prefixes.set(
        id,
        runs.map((run) => {
          let n = 0;
          while (n < run.length && run[n]!.taskIndex === n) n++;
          return n;
        }),
      );
    }
  }

  /** Length of the run's contiguous prefix: tasks [0, prefix) are all recorded. */
  prefix(candidate: string, seedIndex: number): number {
    const n = this.prefixes.get(candidate)?.[seedIndex];
    if (n === undefined) throw new RangeError(`no run ${candidate}/${seedIndex} in this search`);
    return n;
  }

  /** Tasks [0, n) of the run; the prefix must reach n. */
  head(candidate: string, seedIndex: number, n: number): readonly TaskRecord[] {
    if (this.prefix(candidate, seedIndex) < n) {
      throw new RangeError(`run ${candidate}/${seedIndex} has fewer than ${n} contiguous tasks`);
    }
    return this.run(candidate, seedIndex).slice(0, n);
  }

  /**
   * Longest prefix every seed of the candidate has reached (0 when one has none): of seed indices
   * 0 … seeds − 1 when `seeds` is given (a search's own runs, without its validation runs), else of all.
   */
  commonPrefix(candidate: string, seeds?: number): number {
    const p = this.prefixes.get(candidate);
    if (p === undefined) return 0;
    return Math.min(...(seeds === undefined ? p : p.slice(0, seeds)));
  }

  /** Distinct task results of seed indices [from, to). */
  measuredIn(from: number, to: number): number {
    let n = 0;
    for (let s = Math.max(0, from); s < Math.min(to, this.perSeed.length); s++) n += this.perSeed[s]!;
    return n;
  }

  /** Whether the candidate has any result at seed indices [from, to). */
  hasResultsIn(candidate: string, from: number, to: number): boolean {
    const runs = this.runs.get(candidate);
    if (runs === undefined) return false;
    for (let s = Math.max(0, from); s < Math.min(to, runs.length); s++) if (runs[s]!.length > 0) return true;
    return false;
  }

  private run(candidate: string, seedIndex: number): readonly TaskRecord[] {
    const run = this.runs.get(candidate)?.[seedIndex];
    if (run === undefined) throw new RangeError(`no run ${candidate}/${seedIndex} in this search`);
    return run;
  }
}

function checkRecord(raw: unknown, where: string, tasks: number): TaskRecord {
  if (typeof raw !== 'object' || raw === null) throw new ResultsError(`${where}: a task result must be an object`);
  const r = raw as Record<string, unknown>;
  const t = r.taskIndex;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= tasks) {
    throw new ResultsError(`${where}: taskIndex must be an integer from 0 to ${tasks - 1}, got ${String(t)}`);
  }
  const at = `${where} task ${t}`;
  if (typeof r.converged !== 'boolean') throw new ResultsError(`${at}: converged must be a boolean`);
  const iterations = numberOrNaN(r.iterations, `${at}: iterations`);
  if (iterations < 0) throw new ResultsError(`${at}: iterations must not be negative, got ${iterations}`);
  const finalLoss = numberOrNaN(r.finalLoss, `${at}: finalLoss`);
  return { taskIndex: t, iterations, converged: r.converged, finalLoss };
}

function numberOrNaN(v: unknown, what: string): number {
  if (v === null) return Number.NaN;
  if (typeof v !== 'number') throw new ResultsError(`${what} must be a number or null`);
  return v;
}

function sameRecord(a: TaskRecord, b: TaskRecord): boolean {
  return a.converged === b.converged && Object.is(a.iterations, b.iterations) && Object.is(a.finalLoss, b.finalLoss);
}

/**
 * Rung schedules. A rung is a prefix length of the task sequence at which the candidates still in the
 * search are compared; `keep` of them go on to the next rung. A one-rung schedule (all candidates, the
 * full sequence, nobody pruned) is what exhaustive and random search run.
 */
export interface Rung {
  readonly rung: number;
  /** Prefix length: the candidates of this rung are compared on tasks [0, tasks). */
  readonly tasks: number;
  /** Candidates entering the rung. */
  readonly candidates: number;
  /** Candidates promoted to the next rung (equal to `candidates` on the last rung). */
  readonly keep: number;
}

export function singleRung(candidates: number, tasks: number): Rung[] {
  return [{ rung: 0, tasks, candidates, keep: candidates }];
}

/**
 * The successive-halving schedule.
 *
 * Candidates: c_0 = C, c_{r+1} = max(min(2, C), ceil(c_r / η)), until the count stops falling; so the
 * last rung keeps at least two candidates (a best and a runner-up measured on the full sequence).
 * Tasks: the last rung R runs the full sequence M; rung r < R runs
 * n_r = min(M, max(minTasks, ceil(M / η^(R − r)))) tasks, a non-decreasing sequence.
 * Consecutive rungs with the same n_r are merged into one that prunes to the later count, and the last
 * rung (the full sequence) prunes nobody.
 * E.g. C = 8, η = 3, M = 100, minTasks = 10: 8 candidates on 12 tasks, 3 on 34, 2 on 100;
 * C = 32, η = 3, M = 100: 32 on 10 (4 raised to minTasks), 11 on 12, 4 on 34, 2 on 100.
 */
export function halvingSchedule(candidates: number, tasks: number, eta: number, minTasks: number): Rung[] {
  const counts = [candidates];
  const floor = Math.min(2, candidates);
  for (;;) {
    const last = counts[counts.length - 1]!;
    const next = Math.max(floor, Math.ceil(last / eta));
    if (next >= last) break;
    counts.push(next);
  }
  const top = counts.length - 1;
  const rungs: Rung[] = [];
  for (const [r, c] of counts.entries()) {
    const n = r === top ? tasks : Math.min(tasks, Math.max(minTasks, Math.ceil(tasks / eta ** (top - r))));
    const keep = counts[r + 1] ?? c;
    const prev = rungs[rungs.length - 1];
    // A rung on the same prefix as the one before adds no measurement: prune to its size at once.
    if (prev !== undefined && prev.tasks === n) rungs[rungs.length - 1] = { ...prev, keep };
    else rungs.push({ rung: rungs.length, tasks: n, candidates: c, keep });
  }
  // Whoever reaches the full sequence stays: the last rung prunes nobody.
  const last = rungs[rungs.length - 1]!;
  rungs[rungs.length - 1] = { ...last, keep: last.candidates };
  return rungs;
}

/** Task-trainings a schedule costs when followed from an empty table: Σ_r c_r · (n_r − n_{r−1}) · seeds. */
export function scheduleCost(schedule: readonly Rung[], seeds: number): number {
  let total = 0;
  let before = 0;
  for (const r of schedule) {
    total += r.candidates * (r.tasks - before) * seeds;
    before = r.tasks;
  }
  return total;
}

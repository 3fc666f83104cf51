import type { CandidateRecord, SearchRecord, StoredFixedConfig, TaskFields } from '@ip2/db';
import { fixedConfigVerdict, plannedTaskTrainings, type SearchDefinition } from '@ip2/search';

/** JSON has no NaN or ±∞: they are sent as null. */
export function finite(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function searchLinks(id: string) {
  return {
    self: `/v1/searches/${id}`,
    candidates: `/v1/searches/${id}/candidates`,
    events: `/v1/searches/${id}/events`,
    report: `/v1/searches/${id}/report`,
    results: `/v1/searches/${id}/results`,
    importance: `/v1/searches/${id}/importance`,
  };
}

export function searchView(s: SearchRecord) {
  return {
    id: s.id,
    owner: s.owner,
    state: s.state,
    family: s.family,
    space: [...s.space],
    strategy: { ...s.strategy } as Record<string, unknown>,
    protocol: { ...s.protocol } as Record<string, unknown>,
    definition: { ...s.definition } as Record<string, unknown>,
    maxTaskTrainings: s.maxTaskTrainings,
    plannedTaskTrainings: planned(s.definition),
    idempotencyKey: s.idempotencyKey,
    error: s.error,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    links: searchLinks(s.id),
  };
}

function planned(d: SearchDefinition): number {
  try {
    return plannedTaskTrainings(d);
  } catch {
    return 0;
  }
}

export function candidateView(searchId: string, c: CandidateRecord) {
  return {
    id: c.id,
    bits: c.bits,
    keys: [...c.keys],
    role: c.role,
    rung: c.rung,
    state: c.state,
    score: c.score === null ? null : { mean: finite(c.score.mean), lo: finite(c.score.lo), hi: finite(c.score.hi) },
    runs: c.runs.map((r) => ({
      id: r.id,
      seedIndex: r.seedIndex,
      seed: r.seed,
      state: r.state,
      tasksDone: r.tasksDone,
      attempts: r.attempts,
      heartbeatAt: iso(r.heartbeatAt),
      workerHost: r.workerHost,
      engine: r.engine,
      backend: r.backend,
      error: r.error,
      links: { tasks: `/v1/searches/${searchId}/runs/${r.id}/tasks` },
    })),
  };
}

/**
 * One task result as the REST task list and the SSE task event show it: non-finite numbers and fields a
 * row predates as null, failure as 'nan', 'cap' or null.
 */
export function taskView(t: TaskFields) {
  return {
    taskIndex: t.taskIndex,
    iterations: finite(t.iterations),
    trialsToCriterion: finite(t.trialsToCriterion),
    batchSize: finite(t.batchSize),
    totalIterations: t.totalIterations,
    converged: t.converged,
    failure: t.failure === null ? null : t.failure.toLowerCase() === 'nan' ? ('nan' as const) : ('cap' as const),
    finalLoss: finite(t.finalLoss),
    accuracy: finite(t.accuracy),
    heldOutLoss: finite(t.heldOutLoss),
    firingRate: finite(t.firingRate),
    activeNeurons: finite(t.activeNeurons),
    neurons: finite(t.neurons),
    fractionSilent: finite(t.fractionSilent),
    wallMs: finite(t.wallMs),
  };
}

export function fixedConfigView(c: StoredFixedConfig) {
  return {
    id: c.id,
    family: c.family,
    version: c.version,
    modelVersion: c.modelVersion,
    bits: c.bits,
    verdict: fixedConfigVerdict(c.record),
    hash: c.hash,
    searchId: c.searchId,
    createdAt: c.createdAt.toISOString(),
    record: { ...c.record } as unknown as Record<string, unknown>,
  };
}

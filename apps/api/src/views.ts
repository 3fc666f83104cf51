import { finite, searchLinks, type CandidateView, type FixedConfigView, type SearchView } from '@ip2/contracts/http';
import type { CandidateRecord, SearchRecord, StoredFixedConfig } from '@ip2/db';
import { fixedConfigVerdict, plannedTaskTrainings, type SearchDefinition } from '@ip2/search';

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** The API's views of stored records (@ip2/contracts/http types them). */
export function searchView(s: SearchRecord): SearchView {
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

export function candidateView(searchId: string, c: CandidateRecord): CandidateView {
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

export function fixedConfigView(c: StoredFixedConfig): FixedConfigView {
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

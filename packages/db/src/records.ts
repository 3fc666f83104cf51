import {
  storedDefinition,
  storedProtocol,
  type SearchDefinition,
  type SearchProtocol,
  type StrategyDefinition,
} from '@ip2/search';
import type { DbClient } from './client.js';
import { mapped } from './errors.js';
import type { Run, Search } from './generated/client.js';
import type { CandidateRecord, RunSummary, SearchRecord } from './types.js';

export function searchRecord(row: Search): SearchRecord {
  return {
    id: row.id,
    owner: row.owner,
    idempotencyKey: row.idempotencyKey,
    family: row.family,
    space: row.space,
    strategy: row.strategy as unknown as StrategyDefinition,
    maxTaskTrainings: row.maxTaskTrainings === null ? null : Number(row.maxTaskTrainings),
    // A search stored before model versions ran under version 1: its definition says so once read.
    protocol: storedProtocol(row.protocol) as unknown as SearchProtocol,
    definition: storedDefinition(row.definition) as unknown as SearchDefinition,
    definitionHash: row.definitionHash,
    state: row.state,
    error: row.error,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

export function runSummary(row: Run, candidate: string): RunSummary {
  return {
    id: row.id,
    candidateId: row.candidateId,
    candidate,
    seedIndex: row.seedIndex,
    seed: Number(row.seed),
    state: row.state,
    tasksDone: row.tasksDone,
    attempts: row.attempts,
    heartbeatAt: row.heartbeatAt,
    workerId: row.workerId,
    workerHost: row.workerHost,
    engine: row.engine,
    backend: row.backend,
    error: row.error,
  };
}

/** A search's candidates in mask order, each with its runs in seed order. */
export async function candidateRecords(db: DbClient, searchId: string): Promise<CandidateRecord[]> {
  const rows = await mapped(() =>
    db.candidate.findMany({
      where: { searchId },
      orderBy: { bits: 'asc' },
      include: { runs: { orderBy: { seedIndex: 'asc' } } },
    }),
  );
  return rows.map((c) => ({
    id: c.id,
    searchId: c.searchId,
    bits: c.bits,
    keys: c.keys,
    role: c.role,
    rung: c.rung,
    state: c.state,
    score: c.score === null ? null : { mean: c.score, lo: c.scoreLo ?? Number.NaN, hi: c.scoreHi ?? Number.NaN },
    runs: c.runs.map((r) => runSummary(r, c.bits)),
  }));
}

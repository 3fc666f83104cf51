import type { ResultRow } from '@ip2/search';
import type { DbClient } from './client.js';
import { mapped } from './errors.js';

interface Row {
  candidate: string;
  seedIndex: number;
  taskIndex: number;
  iterations: number;
  converged: boolean;
  finalLoss: number;
}

/** Every task result of a search as @ip2/search result rows (NaN kept), ordered by candidate, seed, task. */
export async function resultRows(db: DbClient, searchId: string): Promise<ResultRow[]> {
  const rows = await mapped(
    () => db.$queryRaw<Row[]>`
      SELECT c."bits" AS "candidate", r."seedIndex", t."taskIndex", t."iterations", t."converged", t."finalLoss"
      FROM "TaskResult" t
      JOIN "Run" r ON r."id" = t."runId"
      JOIN "Candidate" c ON c."id" = r."candidateId"
      WHERE c."searchId" = ${searchId}::uuid
      ORDER BY c."bits", r."seedIndex", t."taskIndex"`,
  );
  return rows.map((r) => ({
    candidate: r.candidate,
    seedIndex: r.seedIndex,
    taskIndex: r.taskIndex,
    iterations: r.iterations,
    converged: r.converged,
    finalLoss: r.finalLoss,
  }));
}

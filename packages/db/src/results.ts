import type { TaskResult } from '@ip2/l2l';
import type { ResultRow } from '@ip2/search';
import type { DbClient } from './client.js';
import { mapped } from './errors.js';
import { nanIfNull } from './sql.js';

/** Every task result of a search as @ip2/search result rows (NaN kept), ordered by candidate, seed, task. */
export async function resultRows(db: DbClient, searchId: string): Promise<ResultRow[]> {
  return (await taskResults(db, searchId)).map((r) => ({
    candidate: r.candidate,
    seedIndex: r.seedIndex,
    taskIndex: r.result.taskIndex,
    iterations: r.result.iterations,
    converged: r.result.converged,
    finalLoss: r.result.finalLoss,
  }));
}

/** One task result of a search with its run (the shape of @ip2/report's SearchTaskRecord). */
export interface SearchTaskResult {
  readonly candidate: string;
  readonly seedIndex: number;
  readonly result: TaskResult;
  /** What computed the run ('' when the run never recorded it). */
  readonly engine: { readonly engine: string; readonly backend: string };
}

interface FullRow {
  candidate: string;
  seedIndex: number;
  engine: string | null;
  backend: string | null;
  taskIndex: number;
  iterations: number;
  trialsToCriterion: number | null;
  batchSize: number | null;
  totalIterations: number;
  converged: boolean;
  failure: 'NAN' | 'CAP' | null;
  finalLoss: number;
  accuracy: number;
  heldOutLoss: number;
  firingRate: number;
  activeNeurons: number | null;
  neurons: number | null;
  fractionSilent: number | null;
  wallMs: number;
}

/**
 * Every task result of a search, complete (NaN kept), ordered by candidate, seed, task. Fields a row
 * predates (trials to criterion, batch size, firing statistics) read as NaN.
 */
export async function taskResults(db: DbClient, searchId: string): Promise<SearchTaskResult[]> {
  const rows = await mapped(
    () => db.$queryRaw<FullRow[]>`
      SELECT c."bits" AS "candidate", r."seedIndex", r."engine", r."backend", t."taskIndex", t."iterations",
        t."trialsToCriterion", t."batchSize", t."totalIterations", t."converged", t."failure"::text AS "failure",
        t."finalLoss", t."accuracy", t."heldOutLoss", t."firingRate", t."activeNeurons", t."neurons",
        t."fractionSilent", t."wallMs"
      FROM "TaskResult" t
      JOIN "Run" r ON r."id" = t."runId"
      JOIN "Candidate" c ON c."id" = r."candidateId"
      WHERE c."searchId" = ${searchId}::uuid
      ORDER BY c."bits", r."seedIndex", t."taskIndex"`,
  );
  return rows.map((r) => ({
    candidate: r.candidate,
    seedIndex: r.seedIndex,
    engine: { engine: r.engine ?? '', backend: r.backend ?? '' },
    result: {
      taskIndex: r.taskIndex,
      iterations: r.iterations,
      trialsToCriterion: nanIfNull(r.trialsToCriterion),
      batchSize: nanIfNull(r.batchSize),
      totalIterations: r.totalIterations,
      converged: r.converged,
      failure: taskFailure(r.failure),
      finalLoss: r.finalLoss,
      accuracy: r.accuracy,
      heldOutLoss: r.heldOutLoss,
      firingRate: r.firingRate,
      activeNeurons: nanIfNull(r.activeNeurons),
      neurons: nanIfNull(r.neurons),
      fractionSilent: nanIfNull(r.fractionSilent),
      wallMs: r.wallMs,
    },
  }));
}

/** The failure column (raw SQL reads 'nan'/'cap', Prisma's API 'NAN'/'CAP') as @ip2/l2l reports it. */
export function taskFailure(f: string | null): TaskResult['failure'] {
  if (f === null) return null;
  return f.toLowerCase() === 'nan' ? 'nan' : 'cap';
}

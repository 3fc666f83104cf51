import type { TaskResultFields } from '@ip2/contracts/http';
import type { DbClient } from './client.js';
import { mapped } from './errors.js';
import { isId } from './ids.js';
import { taskFailure } from './results.js';
import { nanIfNull } from './sql.js';
import type { SearchState } from './types.js';

/** Position of a task result in a search's progress stream: (created ms, run id, task index). */
export interface ResultCursor {
  readonly ms: bigint;
  readonly runId: string;
  readonly taskIndex: number;
}

/**
 * The measured fields of one task result (the task view's input, @ip2/contracts): failure mapped from
 * its column, and NaN for fields a row predates (trials to criterion, batch size, firing statistics).
 */
export type TaskFields = TaskResultFields;

export interface StreamedResult extends TaskFields {
  readonly ms: bigint;
  readonly runId: string;
  readonly candidate: string;
  readonly seedIndex: number;
}

/** A row of the stream query: the candidate as its bits, the columns older rows lack as null. */
type StreamRow = Omit<
  StreamedResult,
  'candidate' | 'failure' | 'trialsToCriterion' | 'batchSize' | 'activeNeurons' | 'neurons' | 'fractionSilent'
> & {
  readonly bits: string;
  readonly failure: string | null;
  readonly trialsToCriterion: number | null;
  readonly batchSize: number | null;
  readonly activeNeurons: number | null;
  readonly neurons: number | null;
  readonly fractionSilent: number | null;
};

const NO_RUN = '00000000-0000-0000-0000-000000000000';

/**
 * Reads that follow searches as they run (the progress stream) and count them (metrics), over all
 * owners: a caller that serves an owner checks the search is theirs first (SearchRepository.get).
 */
export class MonitorRepository {
  constructor(private readonly db: DbClient) {}

  /**
   * The search's task results after `after` in stream order, at most `limit`; with `graceMs`, only those
   * written at least that long ago by the database's clock.
   */
  async resultsAfter(
    searchId: string,
    after: ResultCursor | null,
    graceMs: number | null,
    limit: number,
  ): Promise<StreamedResult[]> {
    if (!isId(searchId)) return [];
    const ms = after?.ms ?? -1n;
    const runId = after?.runId ?? NO_RUN;
    const taskIndex = after?.taskIndex ?? -1;
    const grace = graceMs ?? -1;
    const rows = await mapped(
      () => this.db.$queryRaw<StreamRow[]>`
        SELECT (extract(epoch FROM t."createdAt") * 1000)::bigint AS ms, t."runId"::text AS "runId", t."taskIndex",
          c."bits", r."seedIndex", t."iterations", t."trialsToCriterion", t."batchSize", t."totalIterations",
          t."converged", t."failure"::text AS "failure", t."finalLoss", t."accuracy", t."heldOutLoss",
          t."firingRate", t."activeNeurons", t."neurons", t."fractionSilent", t."wallMs"
        FROM "TaskResult" t
          JOIN "Run" r ON r."id" = t."runId"
          JOIN "Candidate" c ON c."id" = r."candidateId"
        WHERE c."searchId" = ${searchId}::uuid
          AND ((extract(epoch FROM t."createdAt") * 1000)::bigint, t."runId", t."taskIndex")
            > (${ms}::bigint, ${runId}::uuid, ${taskIndex}::int)
          AND (${grace}::int < 0 OR t."createdAt" <= now() - make_interval(secs => ${grace}::int / 1000.0))
        ORDER BY ms, t."runId", t."taskIndex"
        LIMIT ${limit}`,
    );
    return rows.map((r) => ({
      ms: BigInt(r.ms),
      runId: r.runId,
      taskIndex: r.taskIndex,
      candidate: r.bits,
      seedIndex: r.seedIndex,
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
    }));
  }

  /** The position of the n-th (1-based) result of the stream (what event id n resumes after). */
  async cursorAt(searchId: string, n: number): Promise<ResultCursor | null> {
    if (n <= 0 || !isId(searchId)) return null;
    const rows = await mapped(
      () => this.db.$queryRaw<{ ms: bigint; runId: string; taskIndex: number }[]>`
        SELECT (extract(epoch FROM t."createdAt") * 1000)::bigint AS ms, t."runId"::text AS "runId", t."taskIndex"
        FROM "TaskResult" t
          JOIN "Run" r ON r."id" = t."runId"
          JOIN "Candidate" c ON c."id" = r."candidateId"
        WHERE c."searchId" = ${searchId}::uuid
        ORDER BY ms, t."runId", t."taskIndex"
        OFFSET ${n - 1} LIMIT 1`,
    );
    // An id past the end of the stream resumes at its end.
    const r =
      rows[0] ??
      (
        await mapped(
          () => this.db.$queryRaw<{ ms: bigint; runId: string; taskIndex: number }[]>`
            SELECT (extract(epoch FROM t."createdAt") * 1000)::bigint AS ms, t."runId"::text AS "runId", t."taskIndex"
            FROM "TaskResult" t
              JOIN "Run" r ON r."id" = t."runId"
              JOIN "Candidate" c ON c."id" = r."candidateId"
            WHERE c."searchId" = ${searchId}::uuid
            ORDER BY ms DESC, t."runId" DESC, t."taskIndex" DESC
            LIMIT 1`,
        )
      )[0];
    return r === undefined ? null : { ms: BigInt(r.ms), runId: r.runId, taskIndex: r.taskIndex };
  }

  /** Searches by state, over all owners (for the metrics). */
  async searchesByState(): Promise<Map<SearchState, number>> {
    const rows = await mapped(() => this.db.search.groupBy({ by: ['state'], _count: { _all: true } }));
    return new Map(rows.map((r) => [r.state, r._count._all]));
  }

  /** Answers when PostgreSQL does (readiness). */
  async ping(): Promise<void> {
    await this.db.$queryRaw`SELECT 1`;
  }
}

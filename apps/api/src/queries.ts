import { searchRecord, type DbClient, type SearchRecord, type SearchState } from '@ip2/db';

// Reads the repositories of @ip2/db do not offer (filtered, paged listings; the progress stream's
// incremental result reads), over its client.

export interface ListQuery {
  readonly limit: number;
  readonly cursor?: string | undefined;
  readonly page?: number | undefined;
  readonly state?: SearchState | undefined;
  readonly family?: string | undefined;
}

export interface ListResult {
  readonly items: SearchRecord[];
  readonly nextCursor: string | null;
  readonly hasMore: boolean;
  /** With page pagination: the number of matching searches. */
  readonly total?: number;
}

/** The owner's searches, newest first, by cursor (the last id of the previous page) or by page. */
export async function listSearches(db: DbClient, owner: string, q: ListQuery): Promise<ListResult> {
  const where = { owner, ...(q.state ? { state: q.state } : {}), ...(q.family ? { family: q.family } : {}) };
  const orderBy = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];
  if (q.cursor !== undefined) {
    const anchor = await db.search.findFirst({ where: { id: q.cursor, owner }, select: { id: true } });
    if (anchor === null) return { items: [], nextCursor: null, hasMore: false };
  }
  const rows = await db.search.findMany({
    where,
    orderBy,
    take: q.limit + 1,
    ...(q.cursor !== undefined ? { cursor: { id: q.cursor }, skip: 1 } : {}),
    ...(q.page !== undefined ? { skip: (q.page - 1) * q.limit } : {}),
  });
  const hasMore = rows.length > q.limit;
  const items = rows.slice(0, q.limit).map(searchRecord);
  const nextCursor = hasMore ? items[items.length - 1]!.id : null;
  if (q.page !== undefined) {
    const total = await db.search.count({ where });
    return { items, nextCursor, hasMore, total };
  }
  return { items, nextCursor, hasMore };
}

/** Position of a task result in a search's progress stream: (created ms, run id, task index). */
export interface ResultCursor {
  readonly ms: bigint;
  readonly runId: string;
  readonly taskIndex: number;
}

export interface StreamedResult {
  readonly ms: bigint;
  readonly runId: string;
  readonly taskIndex: number;
  readonly candidate: string;
  readonly seedIndex: number;
  readonly iterations: number;
  readonly totalIterations: number;
  readonly converged: boolean;
  readonly failure: string | null;
  readonly finalLoss: number;
  readonly accuracy: number;
  readonly heldOutLoss: number;
  readonly firingRate: number;
  readonly wallMs: number;
}

/**
 * The search's task results after `after` in stream order, at most `limit`; with `graceMs`, only those
 * written at least that long ago by the database's clock.
 */
export async function resultsAfter(
  db: DbClient,
  searchId: string,
  after: ResultCursor | null,
  graceMs: number | null,
  limit: number,
): Promise<StreamedResult[]> {
  const ms = after?.ms ?? -1n;
  const runId = after?.runId ?? '00000000-0000-0000-0000-000000000000';
  const taskIndex = after?.taskIndex ?? -1;
  const grace = graceMs ?? -1;
  const rows = await db.$queryRaw<
    {
      ms: bigint;
      runId: string;
      taskIndex: number;
      bits: string;
      seedIndex: number;
      iterations: number;
      totalIterations: number;
      converged: boolean;
      failure: string | null;
      finalLoss: number;
      accuracy: number;
      heldOutLoss: number;
      firingRate: number;
      wallMs: number;
    }[]
  >`
    SELECT (extract(epoch FROM t."createdAt") * 1000)::bigint AS ms, t."runId"::text AS "runId", t."taskIndex",
      c."bits", r."seedIndex", t."iterations", t."totalIterations", t."converged", t."failure"::text AS "failure",
      t."finalLoss", t."accuracy", t."heldOutLoss", t."firingRate", t."wallMs"
    FROM "TaskResult" t
      JOIN "Run" r ON r."id" = t."runId"
      JOIN "Candidate" c ON c."id" = r."candidateId"
    WHERE c."searchId" = ${searchId}::uuid
      AND ((extract(epoch FROM t."createdAt") * 1000)::bigint, t."runId", t."taskIndex")
        > (${ms}::bigint, ${runId}::uuid, ${taskIndex}::int)
      AND (${grace}::int < 0 OR t."createdAt" <= now() - make_interval(secs => ${grace}::int / 1000.0))
    ORDER BY ms, t."runId", t."taskIndex"
    LIMIT ${limit}`;
  return rows.map((r) => ({
    ms: BigInt(r.ms),
    runId: r.runId,
    taskIndex: r.taskIndex,
    candidate: r.bits,
    seedIndex: r.seedIndex,
    iterations: r.iterations,
    totalIterations: r.totalIterations,
    converged: r.converged,
    failure: r.failure,
    finalLoss: r.finalLoss,
    accuracy: r.accuracy,
    heldOutLoss: r.heldOutLoss,
    firingRate: r.firingRate,
    wallMs: r.wallMs,
  }));
}

/** The position of the n-th (1-based) result of the stream (what event id n resumes after). */
export async function cursorAt(db: DbClient, searchId: string, n: number): Promise<ResultCursor | null> {
  if (n <= 0) return null;
  const rows = await db.$queryRaw<{ ms: bigint; runId: string; taskIndex: number }[]>`
    SELECT (extract(epoch FROM t."createdAt") * 1000)::bigint AS ms, t."runId"::text AS "runId", t."taskIndex"
    FROM "TaskResult" t
      JOIN "Run" r ON r."id" = t."runId"
      JOIN "Candidate" c ON c."id" = r."candidateId"
    WHERE c."searchId" = ${searchId}::uuid
    ORDER BY ms, t."runId", t."taskIndex"
    OFFSET ${n - 1} LIMIT 1`;
  // An id past the end of the stream resumes at its end.
  const r =
    rows[0] ??
    (
      await db.$queryRaw<{ ms: bigint; runId: string; taskIndex: number }[]>`
        SELECT (extract(epoch FROM t."createdAt") * 1000)::bigint AS ms, t."runId"::text AS "runId", t."taskIndex"
        FROM "TaskResult" t
          JOIN "Run" r ON r."id" = t."runId"
          JOIN "Candidate" c ON c."id" = r."candidateId"
        WHERE c."searchId" = ${searchId}::uuid
        ORDER BY ms DESC, t."runId" DESC, t."taskIndex" DESC
        LIMIT 1`
    )[0];
  return r === undefined ? null : { ms: BigInt(r.ms), runId: r.runId, taskIndex: r.taskIndex };
}

/** Searches by state, over all owners (for the metrics). */
export async function searchesByState(db: DbClient): Promise<Map<SearchState, number>> {
  const rows = await db.search.groupBy({ by: ['state'], _count: { _all: true } });
  return new Map(rows.map((r) => [r.state, r._count._all]));
}

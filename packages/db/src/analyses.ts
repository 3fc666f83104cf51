import type { DbClient } from './client.js';
import { mapped, NotFoundError } from './errors.js';
import { Prisma, type ConfigurationAnalysis as AnalysisRow } from './generated/client.js';
import { isId } from './ids.js';
import { taskResults, type SearchTaskResult } from './results.js';

export type AnalysisState = 'PENDING' | 'COMPLETE' | 'FAILED';

/** The analyses of a search's chosen configuration, as asked for and as far as they got. */
export interface StoredAnalysis {
  readonly searchId: string;
  /** Runs of the chosen mask trained again. */
  readonly seeds: number;
  readonly state: AnalysisState;
  /** The ConfigurationAnalysis of @ip2/report (NaN and ±Infinity kept) once COMPLETE, else null. */
  readonly analysis: unknown;
  readonly error: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/**
 * The analysis as JSON text; JSON keeps no NaN or ±Infinity: they are written as {"$number": "NaN"} and
 * restored on reading.
 */
const encode = (value: unknown): string =>
  JSON.stringify(value, (_k, x: unknown) =>
    typeof x === 'number' && !Number.isFinite(x) ? { $number: String(x) } : x,
  );
const decode = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value), (_k, x: unknown) =>
    x !== null && typeof x === 'object' && '$number' in x ? Number((x as { $number: string }).$number) : x,
  );

/**
 * The configuration analyses of completed searches (one per search): the controller asks for one when
 * it fixes a search's configuration, a worker computes it and stores it here (or why it could not).
 */
export class AnalysisRepository {
  constructor(private readonly db: DbClient) {}

  /**
   * Records that the search's analysis is wanted (PENDING). Asking again changes nothing: the first
   * request's row (and whatever became of it) is returned.
   */
  async request(searchId: string, seeds: number): Promise<StoredAnalysis> {
    if (!Number.isInteger(seeds) || seeds < 1) throw new RangeError(`seeds must be a positive integer, got ${seeds}`);
    if (!isId(searchId)) throw new NotFoundError(`no search ${searchId}`);
    await mapped(
      () => this.db.$executeRaw`
        INSERT INTO "ConfigurationAnalysis" ("searchId", "seeds", "updatedAt")
        VALUES (${searchId}::uuid, ${seeds}::int, now())
        ON CONFLICT ("searchId") DO NOTHING`,
    );
    return (await this.get(searchId))!;
  }

  /** Stores the computed analysis (exactly: every double and NaN kept); the state becomes COMPLETE. */
  async complete(searchId: string, analysis: unknown): Promise<StoredAnalysis> {
    if (analysis === null || typeof analysis !== 'object') throw new TypeError('analysis: expected an object');
    return this.update(searchId, 'COMPLETE', analysis, null);
  }

  /** Records why the analysis could not be made (after the job's last attempt). */
  async fail(searchId: string, error: string): Promise<StoredAnalysis> {
    return this.update(searchId, 'FAILED', null, error.slice(0, 2000));
  }

  /** Analyses asked for and not yet made or failed, oldest first (the controller checks their jobs exist). */
  async pending(limit = 100): Promise<StoredAnalysis[]> {
    const rows = await mapped(() =>
      this.db.configurationAnalysis.findMany({
        where: { state: 'PENDING' },
        orderBy: { createdAt: 'asc' },
        take: limit,
      }),
    );
    return rows.map(stored);
  }

  /** The search's analysis row, or null when none was asked for. */
  async get(searchId: string): Promise<StoredAnalysis | null> {
    if (!isId(searchId)) return null;
    const row = await mapped(() => this.db.configurationAnalysis.findUnique({ where: { searchId } }));
    return row === null ? null : stored(row);
  }

  /** Every task result of the search (what the analysis checks its replay against), for any owner. */
  async taskResults(searchId: string): Promise<SearchTaskResult[]> {
    if (!isId(searchId)) throw new NotFoundError(`no search ${searchId}`);
    return taskResults(this.db, searchId);
  }

  private async update(
    searchId: string,
    state: AnalysisState,
    analysis: unknown,
    error: string | null,
  ): Promise<StoredAnalysis> {
    if (!isId(searchId)) throw new NotFoundError(`no analysis of search ${searchId}`);
    // Raw SQL with the text cast to json (not jsonb): every double and the key order are kept as written
    // (Prisma's query API would round the numbers, see jsonb() of ./sql.ts).
    const n = await mapped(
      () => this.db.$executeRaw`
        UPDATE "ConfigurationAnalysis"
        SET "state" = ${state}::"AnalysisState", "analysis" = ${analysis === null ? Prisma.sql`NULL::json` : Prisma.sql`${encode(analysis)}::json`},
          "error" = ${error}, "updatedAt" = now()
        WHERE "searchId" = ${searchId}::uuid`,
    );
    if (n === 0) throw new NotFoundError(`no analysis of search ${searchId} was asked for`);
    return (await this.get(searchId))!;
  }
}

function stored(row: AnalysisRow): StoredAnalysis {
  return {
    searchId: row.searchId,
    seeds: row.seeds,
    state: row.state,
    analysis: row.analysis === null ? null : decode(row.analysis),
    error: row.error,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

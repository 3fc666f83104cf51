import { randomUUID } from 'node:crypto';
import {
  definitionHash,
  parseSearchDefinition,
  runSeed,
  strategyFor,
  type ResultRow,
  type SearchDefinition,
} from '@ip2/search';
import type { DbClient } from './client.js';
import { ActiveLimitError, ConflictError, NotFoundError, mapped, mappedTransaction, toDbError } from './errors.js';
import { Prisma, type Search } from './generated/client.js';
import { checkOwner, isId } from './ids.js';
import { candidateRecords, searchRecord } from './records.js';
import { resultRows, taskResults, type SearchTaskResult } from './results.js';
import { jsonb } from './sql.js';
import {
  SEARCH_STATES,
  TERMINAL_SEARCH_STATES,
  type CandidateRecord,
  type SearchRecord,
  type SearchState,
} from './types.js';

export interface CreateSearchInput {
  /** A search definition (validated and completed with defaults by parseSearchDefinition). */
  readonly definition: unknown;
  /** The same (owner, key) returns the search created first, as long as the definition is the same. */
  readonly idempotencyKey?: string;
  /**
   * Refuse the search (ActiveLimitError) when the owner already has this many unfinished ones. The count
   * and the insert run under a transaction-scoped advisory lock on the owner, so that submissions through
   * any number of processes cannot together pass the limit; a retry with an idempotency key the owner
   * already used returns that search and is never refused.
   */
  readonly maxActive?: number;
}

export interface CreatedSearch {
  readonly search: SearchRecord;
  /** False when an earlier request with the same idempotency key created it. */
  readonly created: boolean;
}

/** A page of the owner's searches: by cursor (the last id of the previous page) or by page number. */
export interface PageQuery {
  readonly limit: number;
  readonly cursor?: string | undefined;
  readonly page?: number | undefined;
  readonly state?: SearchState | undefined;
  readonly family?: string | undefined;
}

export interface SearchPage {
  readonly items: SearchRecord[];
  readonly nextCursor: string | null;
  readonly hasMore: boolean;
  /** With page pagination: the number of matching searches. */
  readonly total?: number;
}

export interface ListOptions {
  readonly state?: SearchState;
  /** At most this many, newest first (default 50, at most 500). */
  readonly limit?: number;
  /** The id of the last search of the previous page. */
  readonly after?: string;
}

const MAX_KEY_LENGTH = 200;
/** First key of the advisory lock that serialises an owner's submissions (the second is hashtext(owner)). */
const OWNER_LOCK = 0x1932;

/**
 * Searches as their owner sees them: every read and write takes the owner, and another owner's search
 * is reported as not found.
 */
export class SearchRepository {
  constructor(private readonly db: DbClient) {}

  /**
   * Creates a search with its candidates (the strategy's masks) and their runs (one per seed, seeded
   * with runSeed(baseSeed, s)), all in one transaction. Idempotent per (owner, idempotencyKey).
   */
  async create(owner: string, input: CreateSearchInput): Promise<CreatedSearch> {
    checkOwner(owner);
    const key = input.idempotencyKey;
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
      throw new TypeError(`idempotencyKey must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`);
    }
    const definition = parseSearchDefinition(input.definition);
    const hash = definitionHash(definition);
    if (key !== undefined) {
      const existing = await this.byKey(owner, key, hash);
      if (existing) return { search: existing, created: false };
    }
    const limit = input.maxActive;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new TypeError('maxActive must be a non-negative integer');
    }
    try {
      const { row: search, created } = await this.db.$transaction(
        async (tx) => {
          if (limit !== undefined) {
            // Held until commit or rollback: one submission per owner at a time, across every process.
            await tx.$executeRaw`SELECT pg_advisory_xact_lock(${OWNER_LOCK}::int, hashtext(${owner}))`;
            if (key !== undefined) {
              const row = await tx.search.findUnique({
                where: { owner_idempotencyKey: { owner, idempotencyKey: key } },
              });
              if (row) return { row, created: false };
            }
            const active = await tx.search.count({
              where: { owner, state: { notIn: [...TERMINAL_SEARCH_STATES] } },
            });
            if (active >= limit) throw new ActiveLimitError(owner, active, limit);
          }
          const id = randomUUID();
          await tx.$executeRaw`${insertSearch(id, owner, key, definition, hash)}`;
          const row = await tx.search.findUniqueOrThrow({ where: { id } });
          const candidates = strategyFor(definition.strategy.kind).candidates(definition);
          const ids = candidates.map(() => randomUUID());
          await tx.candidate.createMany({
            data: candidates.map((c, i) => ({
              id: ids[i]!,
              searchId: row.id,
              bits: c.id,
              keys: [...c.keys],
              role: c.role,
            })),
          });
          const seeds = Array.from({ length: definition.protocol.seeds }, (_, s) =>
            runSeed(definition.protocol.baseSeed, s),
          );
          await tx.run.createMany({
            data: ids.flatMap((candidateId) =>
              seeds.map((seed, seedIndex) => ({ candidateId, seedIndex, seed: BigInt(seed) })),
            ),
          });
          return { row, created: true };
        },
        { timeout: 30_000, maxWait: 10_000 },
      );
      return { search: created ? searchRecord(search) : sameDefinition(search, key!, hash), created };
    } catch (e) {
      const mapped = toDbError(e);
      // Two requests with the same key at once: the loser returns what the winner created.
      if (key !== undefined && mapped instanceof ConflictError) {
        const existing = await this.byKey(owner, key, hash);
        if (existing) return { search: existing, created: false };
      }
      throw mapped ?? e;
    }
  }

  /** The owner's search; NotFoundError when it does not exist or is another owner's. */
  async get(owner: string, id: string): Promise<SearchRecord> {
    return searchRecord(await this.row(owner, id));
  }

  /** The owner's searches, newest first. */
  async list(owner: string, options: ListOptions = {}): Promise<SearchRecord[]> {
    checkOwner(owner);
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), 500);
    if (options.state !== undefined && !SEARCH_STATES.includes(options.state)) {
      throw new TypeError(`state must be one of ${SEARCH_STATES.join(', ')}`);
    }
    if (options.after !== undefined && !isId(options.after)) return [];
    const rows = await mapped(() =>
      this.db.search.findMany({
        where: { owner, ...(options.state ? { state: options.state } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limit,
        ...(options.after ? { cursor: { id: options.after }, skip: 1 } : {}),
      }),
    );
    return rows.map(searchRecord);
  }

  /** How many of the owner's searches are unfinished (queued or running). */
  async activeCount(owner: string): Promise<number> {
    checkOwner(owner);
    return mapped(() => this.db.search.count({ where: { owner, state: { notIn: [...TERMINAL_SEARCH_STATES] } } }));
  }

  /** Whether the owner already submitted a search with this Idempotency-Key. */
  async hasIdempotencyKey(owner: string, key: string): Promise<boolean> {
    checkOwner(owner);
    const row = await mapped(() =>
      this.db.search.findFirst({ where: { owner, idempotencyKey: key }, select: { id: true } }),
    );
    return row !== null;
  }

  /** The owner's searches, newest first, filtered by state and family, by cursor or by page. */
  async page(owner: string, q: PageQuery): Promise<SearchPage> {
    checkOwner(owner);
    const where = { owner, ...(q.state ? { state: q.state } : {}), ...(q.family ? { family: q.family } : {}) };
    const orderBy = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];
    if (q.cursor !== undefined) {
      if (!isId(q.cursor)) return { items: [], nextCursor: null, hasMore: false };
      const anchor = await mapped(() =>
        this.db.search.findFirst({ where: { id: q.cursor!, owner }, select: { id: true } }),
      );
      if (anchor === null) return { items: [], nextCursor: null, hasMore: false };
    }
    const rows = await mapped(() =>
      this.db.search.findMany({
        where,
        orderBy,
        take: q.limit + 1,
        ...(q.cursor !== undefined ? { cursor: { id: q.cursor }, skip: 1 } : {}),
        ...(q.page !== undefined ? { skip: (q.page - 1) * q.limit } : {}),
      }),
    );
    const hasMore = rows.length > q.limit;
    const items = rows.slice(0, q.limit).map(searchRecord);
    const nextCursor = hasMore ? items[items.length - 1]!.id : null;
    if (q.page !== undefined) {
      const total = await mapped(() => this.db.search.count({ where }));
      return { items, nextCursor, hasMore, total };
    }
    return { items, nextCursor, hasMore };
  }

  /**
   * Cancels a queued or running search: its runs that are not finished are cancelled, and a worker's
   * next write to one is refused. Cancelling a cancelled search changes nothing; a finished one is a
   * ConflictError.
   */
  async cancel(owner: string, id: string): Promise<SearchRecord> {
    checkOwner(owner);
    if (!isId(id)) throw notFound(id);
    return mappedTransaction(() =>
      this.db.$transaction(async (tx) => {
        const n = await tx.search.updateMany({
          where: { id, owner, state: { in: ['QUEUED', 'RUNNING'] } },
          data: { state: 'CANCELLED', finishedAt: new Date() },
        });
        const row = await tx.search.findFirst({ where: { id, owner } });
        if (!row) throw notFound(id);
        if (n.count === 0 && row.state !== 'CANCELLED') {
          throw new ConflictError(`search ${id} is ${row.state} and can no longer be cancelled`);
        }
        await tx.run.updateMany({
          where: { candidate: { searchId: id }, state: { in: ['WAITING', 'QUEUED', 'RUNNING'] } },
          data: { state: 'CANCELLED', claimToken: null },
        });
        return searchRecord(row);
      }),
    );
  }

  /**
   * Deletes a finished (complete, failed or cancelled) search with everything recorded for it. A search
   * a fixed configuration was made from is kept as that configuration's evidence (ConflictError).
   */
  async remove(owner: string, id: string): Promise<void> {
    checkOwner(owner);
    if (!isId(id)) throw notFound(id);
    const n = await mapped(() =>
      this.db.search.deleteMany({ where: { id, owner, state: { in: [...TERMINAL_SEARCH_STATES] } } }),
    );
    if (n.count === 0) {
      const row = await this.row(owner, id);
      throw new ConflictError(`search ${id} is ${row.state}: cancel it before deleting it`);
    }
  }

  /** The search's candidates, in mask order, with their runs. */
  async candidates(owner: string, id: string): Promise<CandidateRecord[]> {
    await this.row(owner, id);
    return candidateRecords(this.db, id);
  }

  /** The search's task results as rows of @ip2/search's results table (tableFromRows makes the table). */
  async results(owner: string, id: string): Promise<ResultRow[]> {
    await this.row(owner, id);
    return resultRows(this.db, id);
  }

  /** The search's task results, complete, with the run each belongs to (by candidate, seed, task). */
  async taskResults(owner: string, id: string): Promise<SearchTaskResult[]> {
    await this.row(owner, id);
    return taskResults(this.db, id);
  }

  private async row(owner: string, id: string): Promise<Search> {
    checkOwner(owner);
    if (!isId(id)) throw notFound(id);
    const row = await mapped(() => this.db.search.findFirst({ where: { id, owner } }));
    if (!row) throw notFound(id);
    return row;
  }

  private async byKey(owner: string, key: string, hash: string): Promise<SearchRecord | undefined> {
    const row = await mapped(() =>
      this.db.search.findUnique({ where: { owner_idempotencyKey: { owner, idempotencyKey: key } } }),
    );
    return row ? sameDefinition(row, key, hash) : undefined;
  }
}

/** The search an idempotency key was used for, when it was used with the same definition (else a ConflictError). */
function sameDefinition(row: Search, key: string, hash: string): SearchRecord {
  if (row.definitionHash !== hash) {
    throw new ConflictError(`idempotency key '${key}' was used for search ${row.id} with another definition`, {
      constraint: 'owner,idempotencyKey',
    });
  }
  return searchRecord(row);
}

function notFound(id: string): NotFoundError {
  return new NotFoundError(`no search ${id}`);
}

/** Raw SQL: Prisma's query API would round the numbers of the JSON columns (see jsonb()). */
function insertSearch(
  id: string,
  owner: string,
  key: string | undefined,
  d: SearchDefinition,
  hash: string,
): Prisma.Sql {
  const max = d.budget === undefined ? null : String(d.budget.maxTaskTrainings);
  return Prisma.sql`
    INSERT INTO "Search" ("id", "owner", "idempotencyKey", "family", "space", "strategy", "maxTaskTrainings",
      "protocol", "definition", "definitionHash", "updatedAt")
    VALUES (${id}::uuid, ${owner}, ${key ?? null}, ${d.family}, ${[...d.space]}::text[], ${jsonb(d.strategy)},
      ${max}::bigint, ${jsonb(d.protocol)}, ${jsonb(d)}, ${hash}, now())`;
}

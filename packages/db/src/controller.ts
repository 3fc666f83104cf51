import type { DbClient } from './client.js';
import { ConflictError, NotFoundError, mapped } from './errors.js';
import { float8OrNull } from './sql.js';
import { candidateRecords, searchRecord } from './records.js';
import { isId } from './ids.js';
import {
  CANDIDATE_STATES,
  TERMINAL_SEARCH_STATES,
  type CandidateRecord,
  type CandidateState,
  type ScoreInterval,
  type SearchRecord,
  type SearchState,
} from './types.js';

/** The search states each state may move to. */
const SEARCH_TRANSITIONS: Readonly<Record<SearchState, readonly SearchState[]>> = {
  QUEUED: ['RUNNING', 'COMPLETE', 'FAILED', 'CANCELLED'],
  RUNNING: ['COMPLETE', 'FAILED', 'CANCELLED'],
  COMPLETE: [],
  FAILED: [],
  CANCELLED: [],
};

export interface CandidateUpdate {
  readonly state?: CandidateState;
  /** The highest rung entered; never lowered. */
  readonly rung?: number;
  readonly score?: ScoreInterval | null;
}

/** A run the controller makes when a search asks for it (a validation run, on a fresh seed). */
export interface NewRun {
  /** Mask label of its candidate; the candidate is made too when the search has none (a control a random search did not draw). */
  readonly bits: string;
  readonly keys: readonly string[];
  readonly role: string;
  readonly seedIndex: number;
  /** The run seed (uint32). */
  readonly seed: number;
}

/**
 * What the controller reads and writes: any owner's search by id (the controller acts for every
 * owner), state transitions, candidate rungs, states and scores.
 */
export class ControllerRepository {
  constructor(private readonly db: DbClient) {}

  /** A search by id, whoever owns it. */
  async search(id: string): Promise<SearchRecord> {
    if (!isId(id)) throw new NotFoundError(`no search ${id}`);
    const row = await mapped(() => this.db.search.findUnique({ where: { id } }));
    if (!row) throw new NotFoundError(`no search ${id}`);
    return searchRecord(row);
  }

  /** The search's state alone (a check made at every task boundary); null when there is no such search. */
  async searchState(id: string): Promise<SearchState | null> {
    if (!isId(id)) return null;
    const row = await mapped(() => this.db.search.findUnique({ where: { id }, select: { state: true } }));
    return row?.state ?? null;
  }

  /** Searches in the given states, oldest first (what a restarted controller picks up). */
  async searchesIn(states: readonly SearchState[], limit = 100): Promise<SearchRecord[]> {
    const rows = await mapped(() =>
      this.db.search.findMany({
        where: { state: { in: [...states] } },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: limit,
      }),
    );
    return rows.map(searchRecord);
  }

  async candidates(searchId: string): Promise<CandidateRecord[]> {
    if (!isId(searchId)) throw new NotFoundError(`no search ${searchId}`);
    return candidateRecords(this.db, searchId);
  }

  /**
   * Moves a search QUEUED → RUNNING → COMPLETE | FAILED | CANCELLED (a final state is never left).
   * Setting the state it already has changes nothing. A final state cancels the runs not yet finished.
   */
  async setSearchState(id: string, state: SearchState, error?: string): Promise<SearchRecord> {
    if (!(state in SEARCH_TRANSITIONS)) throw new TypeError(`unknown search state '${state}'`);
    if (!isId(id)) throw new NotFoundError(`no search ${id}`);
    const from = (Object.keys(SEARCH_TRANSITIONS) as SearchState[]).filter((s) =>
      SEARCH_TRANSITIONS[s].includes(state),
    );
    const final = TERMINAL_SEARCH_STATES.includes(state);
    return mapped(() =>
      this.db.$transaction(async (tx) => {
        const n = await tx.search.updateMany({
          where: { id, state: { in: from } },
          data: {
            state,
            ...(error === undefined ? {} : { error }),
            ...(state === 'RUNNING' ? { startedAt: new Date() } : {}),
            ...(final ? { finishedAt: new Date() } : {}),
          },
        });
        const row = await tx.search.findUnique({ where: { id } });
        if (!row) throw new NotFoundError(`no search ${id}`);
        if (n.count === 0 && row.state !== state) {
          throw new ConflictError(`search ${id} is ${row.state}: it cannot become ${state}`);
        }
        if (n.count === 1 && final) {
          await tx.run.updateMany({
            where: { candidate: { searchId: id }, state: { in: ['WAITING', 'QUEUED', 'RUNNING'] } },
            data: { state: 'CANCELLED', claimToken: null },
          });
        }
        return searchRecord(row);
      }),
    );
  }

  /**
   * Makes the runs (and the candidates they belong to) that do not exist yet, as WAITING runs like any
   * other: the validation runs of a search, which are known only once its decision is made. Runs and
   * candidates that exist are left as they are, so asking twice (two controllers, a restart) is harmless.
   * Returns how many runs were made.
   */
  async ensureRuns(searchId: string, runs: readonly NewRun[]): Promise<number> {
    if (!isId(searchId)) throw new NotFoundError(`no search ${searchId}`);
    for (const r of runs) {
      if (!Number.isInteger(r.seedIndex) || r.seedIndex < 0)
        throw new RangeError('seedIndex must be a non-negative integer');
      if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > 0xffffffff) throw new RangeError('seed must be a uint32');
    }
    if (runs.length === 0) return 0;
    return mapped(() =>
      this.db.$transaction(async (tx) => {
        const search = await tx.search.findUnique({ where: { id: searchId }, select: { id: true } });
        if (!search) throw new NotFoundError(`no search ${searchId}`);
        const byBits = new Map(runs.map((r) => [r.bits, r]));
        await tx.candidate.createMany({
          data: [...byBits.values()].map((r) => ({ searchId, bits: r.bits, keys: [...r.keys], role: r.role })),
          skipDuplicates: true,
        });
        const candidates = await tx.candidate.findMany({
          where: { searchId, bits: { in: [...byBits.keys()] } },
          select: { id: true, bits: true },
        });
        const idOf = new Map(candidates.map((c) => [c.bits, c.id]));
        const made = await tx.run.createMany({
          data: runs.map((r) => ({ candidateId: idOf.get(r.bits)!, seedIndex: r.seedIndex, seed: BigInt(r.seed) })),
          skipDuplicates: true,
        });
        return made.count;
      }),
    );
  }

  /**
   * Updates a candidate (by mask label). PRUNED or FAILED also cancels its runs that are not finished,
   * so no worker trains them any further.
   */
  async updateCandidate(searchId: string, bits: string, update: CandidateUpdate): Promise<void> {
    if (update.state !== undefined && !CANDIDATE_STATES.includes(update.state)) {
      throw new TypeError(`unknown candidate state '${update.state}'`);
    }
    if (update.rung !== undefined && (!Number.isInteger(update.rung) || update.rung < 0)) {
      throw new RangeError('rung must be a non-negative integer');
    }
    if (!isId(searchId)) throw new NotFoundError(`no search ${searchId}`);
    await mapped(() =>
      this.db.$transaction(async (tx) => {
        const c = await tx.candidate.findUnique({ where: { searchId_bits: { searchId, bits } } });
        if (!c) throw new NotFoundError(`search ${searchId} has no candidate '${bits}'`);
        await tx.candidate.update({
          where: { id: c.id },
          data: {
            ...(update.state === undefined ? {} : { state: update.state }),
            ...(update.rung === undefined ? {} : { rung: Math.max(c.rung, update.rung) }),
          },
        });
        if (update.score !== undefined) {
          const s = update.score;
          // Raw SQL: a score or bound may be NaN or ±Infinity, which Prisma's query API rejects.
          await tx.$executeRaw`
            UPDATE "Candidate" SET "score" = ${float8OrNull(s?.mean)}, "scoreLo" = ${float8OrNull(s?.lo)},
              "scoreHi" = ${float8OrNull(s?.hi)}, "updatedAt" = now()
            WHERE "id" = ${c.id}::uuid`;
        }
        if (update.state === 'PRUNED' || update.state === 'FAILED') {
          await tx.run.updateMany({
            where: { candidateId: c.id, state: { in: ['WAITING', 'QUEUED', 'RUNNING'] } },
            data: { state: 'CANCELLED', claimToken: null },
          });
        }
      }),
    );
  }
}

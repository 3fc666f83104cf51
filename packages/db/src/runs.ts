import { createHash, randomUUID } from 'node:crypto';
import { decodeCheckpoint, encodeCheckpoint, type RunCheckpoint, type TaskResult } from '@ip2/l2l';
import { storedDefinition, type ResultRow, type SearchDefinition } from '@ip2/search';
import type { DbClient } from './client.js';
import { ClaimLostError, DbError, NotFoundError, mapped } from './errors.js';
import { float8, intOrNaN, nanIfNull } from './sql.js';
import { Prisma } from './generated/client.js';
import { runSummary } from './records.js';
import { resultRows } from './results.js';
import { isId } from './ids.js';
import type { RunSummary } from './types.js';

/** Who claims a run, and with what it computes (recorded on the run). */
export interface WorkerInfo {
  readonly workerId: string;
  readonly host?: string;
  /** Compute engine, e.g. 'fused' or 'tfjs'. */
  readonly engine?: string;
  /** Compute backend, e.g. 'wasm', 'cpu', 'tensorflow'. */
  readonly backend?: string;
}

export interface ClaimOptions {
  /** A RUNNING run whose heartbeat is older than this may be taken over (default 60 s). */
  readonly staleAfterMs?: number;
}

export interface StoredCheckpoint {
  readonly nextTask: number;
  /** encodeCheckpoint() bytes. */
  readonly bytes: Uint8Array;
  readonly sha256: string;
  readonly checkpoint: RunCheckpoint;
}

/** A won claim: everything a worker needs to train the run from where it stands. */
export interface RunClaim {
  readonly runId: string;
  /** Pass it to heartbeat, recordTasks and release; a write with an outdated token is refused. */
  readonly claimToken: string;
  /** 1 for the first claim; a takeover or a later chunk counts up. */
  readonly attempt: number;
  /** True when the claim took the run over from a worker whose heartbeat had stopped. */
  readonly tookOver: boolean;
  readonly searchId: string;
  readonly family: string;
  readonly definition: SearchDefinition;
  readonly candidateId: string;
  /** Mask label of the candidate. */
  readonly candidate: string;
  readonly keys: readonly string[];
  readonly seedIndex: number;
  readonly seed: number;
  readonly tasksDone: number;
  /** The run's latest checkpoint, or null when it starts at task 0. */
  readonly checkpoint: StoredCheckpoint | null;
}

export interface RecordOutcome {
  /** Task indices written by this call. */
  readonly inserted: readonly number[];
  /** Task indices already recorded (left as they were). */
  readonly duplicates: readonly number[];
  /** Duplicates whose stored result differs from this call's in a field other than wallMs. */
  readonly mismatched: readonly number[];
  /** Task results the run has now. */
  readonly tasksDone: number;
}

export type ReleaseState = 'WAITING' | 'COMPLETE' | 'FAILED';

const DEFAULT_STALE_MS = 60_000;
const TX = { timeout: 30_000, maxWait: 10_000 };
const INSERT_BATCH = 1000;

interface ClaimedRow {
  id: string;
  claimToken: string;
  attempts: number;
  previous: string;
}

/**
 * A run's life on the worker side: an atomic claim, heartbeats, task results written with their
 * checkpoint in one transaction, and release. Every write after the claim carries the claim token; a
 * token that is no longer the run's is refused with ClaimLostError.
 */
export class RunRepository {
  constructor(private readonly db: DbClient) {}

  /**
   * Moves the run WAITING/QUEUED → RUNNING, or takes over a RUNNING run whose heartbeat is older than
   * `staleAfterMs`, in one UPDATE: of any number of concurrent claims at most one wins. Returns null
   * when the run is not claimable (held by a live worker, finished, cancelled, or unknown).
   */
  async claim(runId: string, worker: WorkerInfo, options: ClaimOptions = {}): Promise<RunClaim | null> {
    if (typeof worker.workerId !== 'string' || worker.workerId.length === 0) {
      throw new TypeError('workerId must be a non-empty string');
    }
    const staleMs = options.staleAfterMs ?? DEFAULT_STALE_MS;
    if (!Number.isFinite(staleMs) || staleMs < 0) throw new RangeError('staleAfterMs must be a non-negative number');
    if (!isId(runId)) return null;
    const token = randomUUID();
    const claimed = await mapped(() =>
      this.db.$transaction(async (tx) => {
        // The time comparisons use the database's clock, the same for every worker.
        const rows = await tx.$queryRaw<ClaimedRow[]>`
          UPDATE "Run" r SET
            "state" = 'RUNNING', "claimToken" = ${token}::uuid, "attempts" = r."attempts" + 1,
            "workerId" = ${worker.workerId}, "workerHost" = ${worker.host ?? null},
            "engine" = ${worker.engine ?? null}, "backend" = ${worker.backend ?? null},
            "heartbeatAt" = now(), "claimedAt" = now(), "error" = NULL, "updatedAt" = now()
          FROM (SELECT "state"::text AS "previous" FROM "Run" WHERE "id" = ${runId}::uuid) old
          WHERE r."id" = ${runId}::uuid
            AND (r."state" IN ('WAITING', 'QUEUED')
              OR (r."state" = 'RUNNING'
                AND (r."heartbeatAt" IS NULL OR r."heartbeatAt" < now() - ${staleMs}::float8 * interval '1 millisecond')))
          RETURNING r."id", r."claimToken"::text AS "claimToken", r."attempts", old."previous"`;
        const row = rows[0];
        if (row === undefined) return null;
        const run = await tx.run.findUniqueOrThrow({
          where: { id: runId },
          include: { candidate: { include: { search: true } }, checkpoint: true },
        });
        await tx.candidate.updateMany({ where: { id: run.candidateId, state: 'WAITING' }, data: { state: 'RUNNING' } });
        await tx.search.updateMany({
          where: { id: run.candidate.searchId, state: 'QUEUED' },
          data: { state: 'RUNNING', startedAt: new Date() },
        });
        return { row, run };
      }, TX),
    );
    if (claimed === null) return null;
    const { row, run } = claimed;
    const search = run.candidate.search;
    return {
      runId: run.id,
      claimToken: row.claimToken,
      attempt: row.attempts,
      tookOver: row.previous === 'RUNNING',
      searchId: search.id,
      family: search.family,
      // A search stored before model versions ran under version 1 (storedDefinition).
      definition: storedDefinition(search.definition) as unknown as SearchDefinition,
      candidateId: run.candidateId,
      candidate: run.candidate.bits,
      keys: run.candidate.keys,
      seedIndex: run.seedIndex,
      seed: Number(run.seed),
      tasksDone: run.tasksDone,
      checkpoint: run.checkpoint === null ? null : storedCheckpoint(run.id, run.checkpoint),
    };
  }

  /** Proves the worker is alive; ClaimLostError when the claim is gone (the worker must stop). */
  async heartbeat(runId: string, claimToken: string): Promise<void> {
    const n = await mapped(
      () => this.db.$executeRaw`
        UPDATE "Run" SET "heartbeatAt" = now()
        WHERE "id" = ${uuidOrNull(runId)}::uuid AND "claimToken" = ${uuidOrNull(claimToken)}::uuid AND "state" = 'RUNNING'`,
    );
    if (n === 0) throw new ClaimLostError(runId);
  }

  /** Records which engine and backend train the run (only while `claimToken` holds it). */
  async setEngine(runId: string, claimToken: string, engine: { engine: string; backend: string }): Promise<void> {
    await mapped(() =>
      this.db.run.updateMany({
        where: { id: runId, claimToken },
        data: { engine: engine.engine, backend: engine.backend },
      }),
    );
  }

  /**
   * Writes a chunk's task results and the checkpoint after its last task in ONE transaction: either all
   * of it is stored or none. A task result already recorded is left as it is (never duplicated, never
   * overwritten). A checkpoint at `nextTask` requires tasks [0, nextTask) to be recorded, and replaces
   * the run's checkpoint unless that one is further on. Refused with ClaimLostError when `claimToken` is
   * no longer the run's.
   */
  async recordTasks(
    runId: string,
    claimToken: string,
    results: readonly TaskResult[],
    checkpoint: RunCheckpoint | null,
  ): Promise<RecordOutcome> {
    for (const r of results) checkResult(r);
    if (checkpoint !== null && (!Number.isInteger(checkpoint.nextTask) || checkpoint.nextTask < 0)) {
      throw new RangeError('checkpoint nextTask must be a non-negative integer');
    }
    // A copy on a plain ArrayBuffer (what Prisma's Bytes takes).
    const encoded = checkpoint === null ? null : new Uint8Array(encodeCheckpoint(checkpoint));
    return mapped(() =>
      this.db.$transaction(async (tx) => {
        // Taking the run's row lock first serialises every writer of this run until commit.
        const held = await tx.$queryRaw<{ tasks: number }[]>`
          UPDATE "Run" r SET "heartbeatAt" = now()
          FROM "Candidate" c JOIN "Search" s ON s."id" = c."searchId"
          WHERE r."id" = ${uuidOrNull(runId)}::uuid AND r."claimToken" = ${uuidOrNull(claimToken)}::uuid
            AND r."state" = 'RUNNING' AND c."id" = r."candidateId"
          RETURNING (s."protocol"->>'tasks')::int AS "tasks"`;
        const tasks = held[0]?.tasks;
        if (tasks === undefined) throw new ClaimLostError(runId);
        for (const r of results) {
          if (r.taskIndex >= tasks)
            throw new RangeError(`taskIndex ${r.taskIndex} is beyond the search's ${tasks} tasks`);
        }
        const inserted: number[] = [];
        // Batches keep each statement far below PostgreSQL's 65,535 parameters.
        for (let i = 0; i < results.length; i += INSERT_BATCH) {
          const values = results.slice(i, i + INSERT_BATCH).map(
            (r) => Prisma.sql`(${runId}::uuid, ${r.taskIndex}::int, ${float8(r.iterations)}, ${r.totalIterations}::int,
              ${r.converged}, ${r.failure}::"TaskFailure", ${float8(r.finalLoss)}, ${float8(r.accuracy)},
              ${float8(r.heldOutLoss)}, ${float8(r.firingRate)}, ${float8(r.wallMs)},
              ${float8(r.trialsToCriterion)}, ${intOrNaN(r.batchSize)}, ${float8(r.activeNeurons)},
              ${intOrNaN(r.neurons)}, ${float8(r.fractionSilent)})`,
          );
          const rows = await tx.$queryRaw<{ taskIndex: number }[]>`
            INSERT INTO "TaskResult" ("runId", "taskIndex", "iterations", "totalIterations", "converged", "failure",
              "finalLoss", "accuracy", "heldOutLoss", "firingRate", "wallMs", "trialsToCriterion", "batchSize",
              "activeNeurons", "neurons", "fractionSilent")
            VALUES ${Prisma.join(values)}
            ON CONFLICT ("runId", "taskIndex") DO NOTHING
            RETURNING "taskIndex"`;
          for (const r of rows) inserted.push(r.taskIndex);
        }
        inserted.sort((a, b) => a - b);
        const fresh = new Set(inserted);
        const duplicates = [...new Set(results.map((r) => r.taskIndex).filter((t) => !fresh.has(t)))].sort(
          (a, b) => a - b,
        );
        const mismatched = new Set<number>();
        if (duplicates.length > 0) {
          const stored = await tx.taskResult.findMany({ where: { runId, taskIndex: { in: duplicates } } });
          const byIndex = new Map(stored.map((s) => [s.taskIndex, s]));
          for (const r of results) {
            const s = byIndex.get(r.taskIndex);
            if (s && !fresh.has(r.taskIndex) && !sameResult(s, r)) mismatched.add(r.taskIndex);
          }
        }
        const counted = await tx.$queryRaw<{ done: number }[]>`
          UPDATE "Run" SET "tasksDone" = (SELECT count(*) FROM "TaskResult" WHERE "runId" = ${runId}::uuid)::int,
            "updatedAt" = now()
          WHERE "id" = ${runId}::uuid
          RETURNING "tasksDone" AS "done"`;
        const done = counted[0]!.done;
        if (checkpoint !== null && encoded !== null) {
          const k = checkpoint.nextTask;
          if (k > tasks) throw new RangeError(`checkpoint nextTask ${k} is beyond the search's ${tasks} tasks`);
          const prefix = await tx.$queryRaw<{ n: number }[]>`
            SELECT count(*)::int AS "n" FROM "TaskResult" WHERE "runId" = ${runId}::uuid AND "taskIndex" < ${k}::int`;
          const n = prefix[0]!.n;
          if (n !== k) {
            throw new RangeError(`run ${runId}: a checkpoint at task ${k} needs tasks 0..${k - 1} recorded; ${n} are`);
          }
          const existing = await tx.checkpoint.findUnique({ where: { runId }, select: { nextTask: true } });
          if (existing === null || existing.nextTask <= k) {
            const data = { nextTask: k, bytes: encoded, sha256: sha256(encoded) };
            await tx.checkpoint.upsert({ where: { runId }, create: { runId, ...data }, update: data });
          }
        }
        return { inserted, duplicates, mismatched: [...mismatched].sort((a, b) => a - b), tasksDone: done };
      }, TX),
    );
  }

  /**
   * Gives the run up: WAITING (more tasks to train later, e.g. the next rung), COMPLETE or FAILED (with
   * the error). The claim token is cleared; ClaimLostError when it was no longer the run's.
   */
  async release(runId: string, claimToken: string, state: ReleaseState, error?: string): Promise<void> {
    if (state !== 'WAITING' && state !== 'COMPLETE' && state !== 'FAILED') {
      throw new TypeError('state must be WAITING, COMPLETE or FAILED');
    }
    const n = await mapped(
      () => this.db.$executeRaw`
        UPDATE "Run" SET "state" = ${state}::"RunState", "claimToken" = NULL, "error" = ${error ?? null},
          "updatedAt" = now()
        WHERE "id" = ${uuidOrNull(runId)}::uuid AND "claimToken" = ${uuidOrNull(claimToken)}::uuid AND "state" = 'RUNNING'`,
    );
    if (n === 0) throw new ClaimLostError(runId);
  }

  /** The run's latest checkpoint, or null. */
  async checkpoint(runId: string): Promise<StoredCheckpoint | null> {
    if (!isId(runId)) throw new NotFoundError(`no run ${runId}`);
    const row = await mapped(() => this.db.checkpoint.findUnique({ where: { runId } }));
    return row === null ? null : storedCheckpoint(runId, row);
  }

  /**
   * A run's task results in task order, as the inner loop reported them. Fields a row predates
   * (trials to criterion, batch size, firing statistics) read as NaN.
   */
  async results(runId: string): Promise<TaskResult[]> {
    if (!isId(runId)) throw new NotFoundError(`no run ${runId}`);
    const rows = await mapped(() => this.db.taskResult.findMany({ where: { runId }, orderBy: { taskIndex: 'asc' } }));
    return rows.map((r) => ({
      taskIndex: r.taskIndex,
      iterations: r.iterations,
      trialsToCriterion: nanIfNull(r.trialsToCriterion),
      batchSize: nanIfNull(r.batchSize),
      totalIterations: r.totalIterations,
      converged: r.converged,
      failure: r.failure === null ? null : r.failure === 'NAN' ? 'nan' : 'cap',
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

  /** The runs of a search, by candidate and seed. */
  async list(searchId: string): Promise<RunSummary[]> {
    if (!isId(searchId)) return [];
    const rows = await mapped(() =>
      this.db.run.findMany({
        where: { candidate: { searchId } },
        include: { candidate: { select: { bits: true } } },
        orderBy: [{ candidate: { bits: 'asc' } }, { seedIndex: 'asc' }],
      }),
    );
    return rows.map((r) => runSummary(r, r.candidate.bits));
  }

  /** WAITING → QUEUED when a job for the run is enqueued; false when the run was not WAITING. */
  async markQueued(runId: string): Promise<boolean> {
    if (!isId(runId)) return false;
    const n = await mapped(() =>
      this.db.run.updateMany({ where: { id: runId, state: 'WAITING' }, data: { state: 'QUEUED' } }),
    );
    return n.count === 1;
  }

  /**
   * The reaper: RUNNING runs whose heartbeat is older than `staleAfterMs` go back to WAITING (their
   * claim tokens cleared, so their old workers' writes are refused). Returns their ids.
   */
  async reapStale(staleAfterMs: number = DEFAULT_STALE_MS): Promise<string[]> {
    if (!Number.isFinite(staleAfterMs) || staleAfterMs < 0) {
      throw new RangeError('staleAfterMs must be a non-negative number');
    }
    const rows = await mapped(
      () => this.db.$queryRaw<{ id: string }[]>`
        UPDATE "Run" SET "state" = 'WAITING', "claimToken" = NULL, "updatedAt" = now()
        WHERE "state" = 'RUNNING'
          AND ("heartbeatAt" IS NULL OR "heartbeatAt" < now() - ${staleAfterMs}::float8 * interval '1 millisecond')
        RETURNING "id"::text AS "id"`,
    );
    return rows.map((r) => r.id).sort();
  }

  /** The search's task results as @ip2/search result rows (no owner check: for the controller). */
  async resultTable(searchId: string): Promise<ResultRow[]> {
    if (!isId(searchId)) return [];
    return resultRows(this.db, searchId);
  }
}

function storedCheckpoint(
  runId: string,
  row: { nextTask: number; bytes: Uint8Array; sha256: string },
): StoredCheckpoint {
  const bytes = new Uint8Array(row.bytes);
  if (sha256(bytes) !== row.sha256) {
    throw new DbError(`run ${runId}: the stored checkpoint does not match its SHA-256`);
  }
  return { nextTask: row.nextTask, bytes, sha256: row.sha256, checkpoint: decodeCheckpoint(bytes) };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A malformed id matches no row (instead of failing the uuid cast). */
function uuidOrNull(id: string): string | null {
  return isId(id) ? id : null;
}

function checkResult(r: TaskResult): void {
  const at = `task result ${String(r?.taskIndex)}`;
  if (!Number.isInteger(r.taskIndex) || r.taskIndex < 0 || r.taskIndex > 0x7fffffff) {
    throw new RangeError(`${at}: taskIndex must be a non-negative integer`);
  }
  if (!Number.isInteger(r.totalIterations) || r.totalIterations < 0 || r.totalIterations > 0x7fffffff) {
    throw new RangeError(`${at}: totalIterations must be a non-negative integer`);
  }
  if (typeof r.converged !== 'boolean') throw new TypeError(`${at}: converged must be a boolean`);
  if (r.failure !== null && r.failure !== 'nan' && r.failure !== 'cap') {
    throw new TypeError(`${at}: failure must be 'nan', 'cap' or null`);
  }
  for (const k of [
    'iterations',
    'trialsToCriterion',
    'finalLoss',
    'accuracy',
    'heldOutLoss',
    'firingRate',
    'activeNeurons',
    'fractionSilent',
    'wallMs',
  ] as const) {
    if (typeof r[k] !== 'number') throw new TypeError(`${at}: ${k} must be a number (NaN and ±Infinity are kept)`);
  }
  for (const k of ['batchSize', 'neurons'] as const) {
    const v = r[k];
    if (typeof v !== 'number' || !(Number.isNaN(v) || (Number.isInteger(v) && v >= 1 && v <= 0x7fffffff))) {
      throw new RangeError(`${at}: ${k} must be a positive integer (or NaN when not known)`);
    }
  }
}

function sameResult(
  s: {
    iterations: number;
    totalIterations: number;
    converged: boolean;
    failure: string | null;
    finalLoss: number;
    accuracy: number;
    heldOutLoss: number;
    firingRate: number;
    trialsToCriterion: number | null;
    batchSize: number | null;
    activeNeurons: number | null;
    neurons: number | null;
    fractionSilent: number | null;
  },
  r: TaskResult,
): boolean {
  // A field the stored row predates (null) is not compared.
  const same = (stored: number | null, x: number) => stored === null || Object.is(stored, x);
  return (
    Object.is(s.iterations, r.iterations) &&
    s.totalIterations === r.totalIterations &&
    s.converged === r.converged &&
    (s.failure === null ? null : s.failure.toLowerCase()) === r.failure &&
    Object.is(s.finalLoss, r.finalLoss) &&
    Object.is(s.accuracy, r.accuracy) &&
    Object.is(s.heldOutLoss, r.heldOutLoss) &&
    Object.is(s.firingRate, r.firingRate) &&
    same(s.trialsToCriterion, r.trialsToCriterion) &&
    same(s.batchSize, r.batchSize) &&
    same(s.activeNeurons, r.activeNeurons) &&
    same(s.neurons, r.neurons) &&
    same(s.fractionSilent, r.fractionSilent)
  );
}

import { Prisma } from './generated/client.js';

/** Base of the errors this package throws; `isRetryable` says whether the same call may succeed later. */
export class DbError extends Error {
  readonly isRetryable: boolean;
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DbError';
    this.isRetryable = options.retryable ?? false;
  }
}

/**
 * The write conflicts with stored data: a unique key already taken, an immutable row, a state that no
 * longer allows the change. Retryable only for serialisation failures and deadlocks.
 */
export class ConflictError extends DbError {
  /** The violated constraint or unique fields, when the database named them. */
  readonly constraint: string | undefined;
  constructor(message: string, options: { retryable?: boolean; cause?: unknown; constraint?: string } = {}) {
    super(message, options);
    this.name = 'ConflictError';
    this.constraint = options.constraint;
  }
}

/** A worker's claim on a run is gone (taken over after its heartbeat stopped, released, or cancelled). */
export class ClaimLostError extends ConflictError {
  readonly runId: string;
  constructor(runId: string) {
    super(`run ${runId}: the claim is no longer held (taken over, released or cancelled); stop working on it`);
    this.name = 'ClaimLostError';
    this.runId = runId;
  }
}

/** The record does not exist, or belongs to another owner (the two are not told apart). */
export class NotFoundError extends DbError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'NotFoundError';
  }
}

/**
 * The owner already has `limit` unfinished (queued or running) searches, so a new one is refused; counted
 * and refused under a per-owner lock in the database, so that it holds across every process.
 */
export class ActiveLimitError extends DbError {
  constructor(
    readonly owner: string,
    readonly active: number,
    readonly limit: number,
  ) {
    super(`owner ${owner} has ${active} unfinished searches, the limit of ${limit}`);
    this.name = 'ActiveLimitError';
  }
}

/** The database cannot be reached or refused the connection for now. */
export class UnavailableError extends DbError {
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, { retryable: options.retryable ?? true, cause: options.cause });
    this.name = 'UnavailableError';
  }
}

/** True when the error (mapped or not) may go away if the same call is made again later. */
export function isRetryable(e: unknown): boolean {
  return (toDbError(e) ?? { isRetryable: false }).isRetryable;
}

// Prisma error codes: https://www.prisma.io/docs/orm/reference/error-reference
/**
 * Node's error codes for a connection that could not be made or was lost: the server or the network is
 * down (a host cut off the network gets EHOSTUNREACH or ENETUNREACH at once for a new connection), not a
 * fault of the call. Shared by every client that tells an outage from an error of its own.
 */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
]);

const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1011', 'P1017', 'P2024']);
const NOT_FOUND_CODES = new Set(['P2001', 'P2015', 'P2018', 'P2025']);
const UNAVAILABLE_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
]);

/**
 * node-postgres's own errors, which reach us unmapped: its connection and query time-outs
 * (ClientOptions.connectTimeoutMs, queryTimeoutMs), a pool that could not hand out a connection in
 * time, and a connection lost under a query.
 */
const NODE_POSTGRES_OUTAGES = [
  'Connection terminated due to connection timeout',
  'Connection terminated unexpectedly',
  'timeout exceeded when trying to connect',
  'Query read timeout',
];

interface AdapterCause {
  readonly kind?: string;
  readonly code?: string;
  readonly originalCode?: string;
  readonly originalMessage?: string;
  readonly message?: string;
  readonly constraint?: unknown;
}

/** The driver adapter's description of a database error, wherever Prisma put it. */
function adapterCause(e: unknown): AdapterCause | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { name?: unknown; cause?: unknown; meta?: { driverAdapterError?: { cause?: unknown } } };
  if (o.name === 'DriverAdapterError' && typeof o.cause === 'object' && o.cause !== null)
    return o.cause as AdapterCause;
  const c = o.meta?.driverAdapterError?.cause;
  return typeof c === 'object' && c !== null ? (c as AdapterCause) : undefined;
}

function constraintName(c: AdapterCause | undefined, meta: Record<string, unknown> | undefined): string | undefined {
  const k = c?.constraint as { fields?: unknown; index?: unknown } | undefined;
  if (k && Array.isArray(k.fields)) return k.fields.map((f) => String(f).replaceAll('"', '')).join(',');
  if (k && typeof k.index === 'string') return k.index;
  const target = meta?.target;
  if (Array.isArray(target)) return target.join(',');
  if (typeof target === 'string') return target;
  return undefined;
}

/** The DbError an error stands for, or undefined for errors that are not the database's (bugs, bad input). */
export function toDbError(e: unknown): DbError | undefined {
  if (e instanceof DbError) return e;
  const cause = adapterCause(e);
  const sqlState = cause?.originalCode ?? cause?.code;
  const detail = cause?.originalMessage ?? cause?.message;
  if (e instanceof Prisma.PrismaClientKnownRequestError) {
    if (e.code === 'P2002') {
      const on = constraintName(cause, e.meta);
      return new ConflictError(`already exists${on ? ` (unique ${on})` : ''}`, { cause: e, constraint: on });
    }
    if (e.code === 'P2034') return new ConflictError('write conflict or deadlock', { retryable: true, cause: e });
    if (e.code === 'P2003') return foreignKeyError(e, detail);
    if (NOT_FOUND_CODES.has(e.code)) return new NotFoundError('record not found', { cause: e });
    if (e.code === 'P1003') return new UnavailableError('the database does not exist', { cause: e, retryable: false });
    if (UNAVAILABLE_CODES.has(e.code)) return new UnavailableError(`database unavailable (${e.code})`, { cause: e });
    // Every connection of the pool stayed busy for the transaction's maxWait: the same call may succeed later.
    if (e.code === 'P2028' && /Unable to start a transaction in the given time/.test(e.message)) {
      return new UnavailableError('database busy: no connection for the transaction within its maxWait', { cause: e });
    }
  }
  if (e instanceof Prisma.PrismaClientInitializationError) {
    return new UnavailableError(`cannot connect to the database: ${e.message}`, { cause: e });
  }
  if (cause !== undefined) {
    if (cause.kind === 'UniqueConstraintViolation' || sqlState === '23505') {
      const on = constraintName(cause, undefined);
      return new ConflictError(`already exists${on ? ` (unique ${on})` : ''}`, { cause: e, constraint: on });
    }
    if (cause.kind === 'TransactionWriteConflict' || sqlState === '40001' || sqlState === '40P01') {
      return new ConflictError('write conflict or deadlock', { retryable: true, cause: e });
    }
    if (cause.kind === 'DatabaseDoesNotExist') {
      return new UnavailableError('the database does not exist', { cause: e, retryable: false });
    }
    if (
      (cause.kind !== undefined && UNAVAILABLE_KINDS.has(cause.kind)) ||
      sqlState?.startsWith('08') === true ||
      sqlState === '57P01' ||
      sqlState === '57P02' ||
      sqlState === '57P03' ||
      sqlState === '53300'
    ) {
      return new UnavailableError(`database unavailable: ${detail ?? cause.kind ?? sqlState}`, { cause: e });
    }
    if (sqlState === '23503') return foreignKeyError(e, detail);
    if (sqlState?.startsWith('23') === true) {
      return new ConflictError(detail ?? 'integrity constraint violated', { cause: e });
    }
  }
  if (typeof e === 'object' && e !== null) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) {
      return new UnavailableError(`database unavailable (${code})`, { cause: e });
    }
    if (typeof message === 'string' && NODE_POSTGRES_OUTAGES.some((m) => message.startsWith(m))) {
      return new UnavailableError(`database unavailable: ${message}`, { cause: e });
    }
  }
  return undefined;
}

/** A foreign key violation: a write naming a missing record, or a delete of a record still referenced. */
function foreignKeyError(e: unknown, detail: string | undefined): DbError {
  return detail?.startsWith('update or delete') === true
    ? new ConflictError(`still referenced: ${detail}`, { cause: e })
    : new NotFoundError('a referenced record does not exist', { cause: e });
}

/** Maps a database error to a DbError; anything else is returned unchanged. */
export function mapError(e: unknown): unknown {
  return toDbError(e) ?? e;
}

/** Runs `fn`, rethrowing database errors as DbErrors. */
export async function mapped<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw mapError(e);
  }
}

/**
 * `mapped` for a transaction that may lose a write conflict or a deadlock against another process's
 * transaction: PostgreSQL rolls the loser back whole, so it is run again, up to `attempts` times.
 */
export async function mappedTransaction<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await mapped(fn);
    } catch (e) {
      if (!(e instanceof ConflictError && e.isRetryable) || attempt >= attempts) throw e;
    }
  }
}

import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/client.js';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/ip2';

/** How long opening a connection may take before it fails as an outage (node-postgres waits for ever). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/**
 * How long a query may wait for its answer before it fails as an outage: a server that accepts a
 * connection and then never answers (a hung server, a half-open connection after a network cut) would
 * otherwise hold the query, and whatever awaits it, for ever. Far above any query of the service.
 */
export const DEFAULT_QUERY_TIMEOUT_MS = 60_000;

export interface ClientOptions {
  /** PostgreSQL connection string; default `DATABASE_URL`, else DEFAULT_DATABASE_URL. */
  readonly url?: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Connection time-out in ms (default DEFAULT_CONNECT_TIMEOUT_MS). */
  readonly connectTimeoutMs?: number;
  /** Time-out of a query's answer in ms, on the client's side (default DEFAULT_QUERY_TIMEOUT_MS). */
  readonly queryTimeoutMs?: number;
}

/** The generated Prisma client type, for code that needs a transaction client's type. */
export type DbClient = PrismaClient;

/**
 * How long closing a client waits for the queries in progress to finish before it stops waiting
 * for their connections (node-postgres's pool.end() waits for every checked-out connection).
 */
export const DEFAULT_CLOSE_GRACE_MS = 10_000;

/** The node-postgres pool under each client of createClient, for closeClient's count. */
const pools = new WeakMap<DbClient, pg.Pool>();

/** A Prisma client over node-postgres (the driver adapter: no native query engine). */
export function createClient(options: ClientOptions = {}): DbClient {
  const url = options.url ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    query_timeout: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
  });
  dropBrokenConnections(pool);
  // $disconnect() ends the pool, as with a pool of the adapter's own.
  const client = new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
  pools.set(client, pool);
  return client;
}

/** How long a checked-out connection that broke may stay out before the pool drops it (dropBrokenConnections). */
export const BROKEN_CONNECTION_RELEASE_MS = 5_000;

/**
 * Gives the pool back the connections that break while checked out and are never released.
 * @prisma/adapter-pg (6.19) loses a connection that breaks inside an interactive transaction: the
 * engine's ROLLBACK fails on the broken connection and the transaction's release is never called,
 * so the pool counts it as in use for good — the pool shrinks by one at each such break (a network
 * cut, a database restart) until it serves nobody, and pool.end() waits for it for ever. A connection
 * that reports an error while checked out, and is still out BROKEN_CONNECTION_RELEASE_MS later, is
 * released with that error here, which removes it from the pool.
 */
function dropBrokenConnections(pool: pg.Pool): void {
  const out = new Map<pg.PoolClient, (err: Error) => void>();
  pool.on('acquire', (client) => {
    const onError = (err: Error) => {
      setTimeout(() => {
        if (!out.has(client)) return;
        client.release(err);
        // The pool has dropped it for good: a late release by its holder must not count twice (pg-pool
        // throws on a second release, from a callback where nothing could catch it).
        client.release = () => undefined;
      }, BROKEN_CONNECTION_RELEASE_MS).unref();
    };
    out.set(client, onError);
    client.once('error', onError);
  });
  pool.on('release', (_err: Error | undefined, client: pg.PoolClient) => {
    const onError = out.get(client);
    out.delete(client);
    if (onError) client.removeListener('error', onError);
  });
}

export interface CloseOptions {
  /** How long to wait for queries in progress (default DEFAULT_CLOSE_GRACE_MS). */
  readonly graceMs?: number;
  /** Told when the grace passes with connections still in use, and how many. */
  readonly onAbandoned?: (inUse: number) => void;
}

/** Close options that log, on `log`, the connections a close left in use (the line the soak looks for). */
export function closeLogged(log: (line: string) => void): CloseOptions {
  return {
    onAbandoned: (n) => log(`database pool: ${n} connection(s) still in use after the grace: not waiting for them`),
  };
}

/**
 * Disconnects a client and ends its pool, waiting at most the grace for the connections in use
 * (node-postgres's pool.end() waits for every checked-out connection, for ever if its query never
 * ends or work still running in the process holds it). After the grace the close returns without
 * them: its caller is shutting down, and the process's exit closes them.
 */
export async function closeClient(client: DbClient, options: CloseOptions = {}): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), options.graceMs ?? DEFAULT_CLOSE_GRACE_MS);
    timer.unref();
  });
  const closed = await Promise.race([client.$disconnect().then(() => true), grace]);
  clearTimeout(timer);
  if (!closed) {
    const pool = pools.get(client);
    options.onAbandoned?.(pool ? pool.totalCount - pool.idleCount : Number.NaN);
  }
}

import { PrismaPg } from '@prisma/adapter-pg';
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

/** A Prisma client over node-postgres (the driver adapter: no native query engine). */
export function createClient(options: ClientOptions = {}): DbClient {
  const url = options.url ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const adapter = new PrismaPg({
    connectionString: url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    query_timeout: options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
  });
  return new PrismaClient({ adapter });
}

import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.js';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/ip2';

export interface ClientOptions {
  /** PostgreSQL connection string; default `DATABASE_URL`, else DEFAULT_DATABASE_URL. */
  readonly url?: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
}

/** The generated Prisma client type, for code that needs a transaction client's type. */
export type DbClient = PrismaClient;

/** A Prisma client over node-postgres (the driver adapter: no native query engine). */
export function createClient(options: ClientOptions = {}): DbClient {
  const url = options.url ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const adapter = new PrismaPg({ connectionString: url, max: options.poolSize ?? 10 });
  return new PrismaClient({ adapter });
}

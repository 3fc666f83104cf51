import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** Where the fixture's databases are created when neither TEST_DATABASE_URL nor DATABASE_URL is set. */
export const DEFAULT_SERVER_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TestDatabaseOptions {
  /**
   * A connection string to the server, with a role that may create databases; the database named in it
   * is only used to issue CREATE/DROP DATABASE. Default: TEST_DATABASE_URL, else DATABASE_URL, else
   * DEFAULT_SERVER_URL.
   */
  readonly serverUrl?: string;
  /** Folder of Prisma migrations (`<timestamp>_<name>/migration.sql`); default: the repository's. */
  readonly migrationsDir?: string | null;
  /** Apply the migrations (default true); false gives an empty database. */
  readonly migrate?: boolean;
}

export interface TestDatabase {
  /** `ip2_test_<random>` */
  readonly name: string;
  /** Connection string of the new database. */
  readonly url: string;
  /** Names of the migrations applied, in order. */
  readonly migrations: readonly string[];
  /** Drops the database, closing any connection still open to it. */
  drop(): Promise<void>;
}

/**
 * Creates a fresh database `ip2_test_<random>` on a real PostgreSQL server and applies the repository's
 * Prisma migrations to it, recording them in `_prisma_migrations` exactly as `prisma migrate deploy`
 * would (so `prisma migrate status` agrees). Call `drop()` when done, e.g. in `afterAll`.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl =
    options.serverUrl ?? process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? DEFAULT_SERVER_URL;
  const name = `ip2_test_${randomBytes(6).toString('hex')}`;
  const url = withDatabase(serverUrl, name);
  const migrations = options.migrate === false ? [] : readMigrations(options.migrationsDir ?? findMigrationsDir());
  await admin(serverUrl, `CREATE DATABASE "${name}"`);
  const drop = () => admin(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  try {
    if (migrations.length > 0) await applyMigrations(url, migrations);
  } catch (e) {
    await drop().catch(() => undefined);
    throw e;
  }
  return { name, url, migrations: migrations.map((m) => m.name), drop };
}

interface Migration {
  readonly name: string;
  readonly sql: string;
}

/** The migration folders in name (= time) order, as Prisma applies them. */
export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(dir, name, 'migration.sql'), 'utf8') }));
}

/** `prisma/migrations` of the nearest folder above this file that has one. */
export function findMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'prisma', 'migrations');
    if (existsSync(candidate)) return candidate;
    const up = resolve(dir, '..');
    if (up === dir) throw new Error('no prisma/migrations folder above packages/testing; pass migrationsDir');
    dir = up;
  }
}

// The table `prisma migrate deploy` keeps (its checksum is the hex SHA-256 of migration.sql).
const PRISMA_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

async function applyMigrations(url: string, migrations: readonly Migration[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(PRISMA_MIGRATIONS_TABLE);
    for (const m of migrations) {
      // One simple query: PostgreSQL runs a multi-statement script as one transaction.
      try {
        await client.query(m.sql);
      } catch (e) {
        throw new Error(`migration ${m.name} failed: ${(e as Error).message}`, { cause: e });
      }
      await client.query(
        `INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "applied_steps_count")
         VALUES ($1, $2, now(), $3, 1)`,
        [randomUUID(), createHash('sha256').update(m.sql).digest('hex'), m.name],
      );
    }
  } finally {
    await client.end();
  }
}

async function admin(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The same connection string with another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

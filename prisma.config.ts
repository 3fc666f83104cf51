import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { defineConfig } from 'prisma/config';

/**
 * Prisma CLI configuration (generate, migrate). The CLI runs on the JavaScript schema engine through the
 * pg driver adapter, so no native engine binary is needed. The service itself never reads this file: it
 * connects through @ip2/db.
 */

const DEFAULT_URL = 'postgresql://postgres@127.0.0.1:5432/ip2';
// schema.prisma reads env("DATABASE_URL"); with a default, `prisma generate` needs no environment.
process.env.DATABASE_URL ??= DEFAULT_URL;

/**
 * Discrete connection fields instead of a connection string: pg ignores a `database` override when a
 * `connectionString` is given, which would point the shadow database's pool at the main database.
 */
function poolConfig(url: string): pg.PoolConfig {
  const u = new URL(url);
  const ssl = u.searchParams.get('sslmode');
  return {
    host: decodeURIComponent(u.hostname) || '127.0.0.1',
    port: u.port === '' ? 5432 : Number(u.port),
    user: decodeURIComponent(u.username) || undefined,
    password: u.password === '' ? undefined : decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    ssl: ssl === null || ssl === 'disable' ? undefined : { rejectUnauthorized: ssl === 'verify-full' },
    // The CLI exits as soon as it is done instead of waiting for idle connections to time out.
    allowExitOnIdle: true,
    idleTimeoutMillis: 500,
  };
}

// pg_catalog's `name` (oid 19) and `"char"` (oid 18), read during introspection, are not mapped by the
// 6.x adapter ("Column type 'name' could not be deserialized"): `name` is read as text and `"char"` as a
// character (the schema describer reads pg_constraint.contype, e.g. of CHECK constraints, as one).
const PG_CHAR = 18;
const PG_NAME = 19;
const PG_TEXT = 25;
const COLUMN_TYPE_CHARACTER = 6; // ColumnTypeEnum.Character of @prisma/driver-adapter-utils

type PgResult = { fields?: { dataTypeID: number }[]; rows?: unknown[] };
type Queryable = {
  performIO(query: unknown): Promise<PgResult | PgResult[]>;
  queryRaw(query: unknown): Promise<{ columnTypes: number[]; rows: unknown[] }>;
  startTransaction?: (...a: unknown[]) => Promise<object>;
  executeScript?: (script: string) => Promise<void>;
  underlyingDriver?: () => pg.Pool;
  onError(error: unknown): never;
};

function readCatalogTypes<T extends object>(queryable: T): T {
  const q = queryable as unknown as Queryable;
  // queryRaw passes pg's rows array through: it identifies the result whose char columns to retype.
  const charColumns = new WeakMap<unknown[], number[]>();
  const performIO = q.performIO.bind(q);
  q.performIO = async (query) => {
    const result = await performIO(query);
    // A script of several statements gives one result per statement.
    for (const r of Array.isArray(result) ? result : [result]) {
      const chars: number[] = [];
      (r.fields ?? []).forEach((f, i) => {
        if (f.dataTypeID === PG_CHAR) chars.push(i);
        if (f.dataTypeID === PG_NAME || f.dataTypeID === PG_CHAR) f.dataTypeID = PG_TEXT;
      });
      if (chars.length > 0 && r.rows) charColumns.set(r.rows, chars);
    }
    return result;
  };
  const queryRaw = q.queryRaw.bind(q);
  q.queryRaw = async (query) => {
    const result = await queryRaw(query);
    for (const i of charColumns.get(result.rows) ?? []) result.columnTypes[i] = COLUMN_TYPE_CHARACTER;
    return result;
  };
  const pool = q.underlyingDriver?.();
  if (pool !== undefined && typeof q.executeScript === 'function') {
    // The adapter splits scripts at every ';', which breaks dollar-quoted function bodies; PostgreSQL
    // runs a multi-statement simple query as one implicit transaction.
    q.executeScript = async (script) => {
      try {
        await pool.query(script);
      } catch (e) {
        q.onError(e);
      }
    };
  }
  if (typeof q.startTransaction === 'function') {
    const start = q.startTransaction.bind(q);
    q.startTransaction = async (...a) => readCatalogTypes(await start(...a));
  }
  return queryable;
}

class MigrationAdapter extends PrismaPg {
  constructor(private readonly fields: pg.PoolConfig) {
    super(fields);
  }

  override async connect(): ReturnType<PrismaPg['connect']> {
    return readCatalogTypes(await super.connect());
  }

  /** The adapter's own version drops the shadow database while its pool is still connected to it. */
  override async connectToShadowDb(): ReturnType<PrismaPg['connectToShadowDb']> {
    const admin = new pg.Client(this.fields);
    await admin.connect();
    const database = `prisma_migrate_shadow_db_${globalThis.crypto.randomUUID()}`;
    try {
      await admin.query(`CREATE DATABASE "${database}"`);
    } finally {
      await admin.end();
    }
    const shadow = new PrismaPg({ ...this.fields, database });
    const adapter = readCatalogTypes(await shadow.connect());
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      await dispose();
      const c = new pg.Client(this.fields);
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    };
    return adapter;
  }
}

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  async adapter() {
    return new MigrationAdapter(poolConfig(process.env.DATABASE_URL!));
  },
});

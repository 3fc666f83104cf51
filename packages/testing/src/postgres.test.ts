import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createTestDatabase, findMigrationsDir, readMigrations, withDatabase } from './index.js';

async function query<T>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows as T[];
  } finally {
    await c.end();
  }
}

describe('createTestDatabase', () => {
  it('creates a fresh migrated database and drops it', async () => {
    const db = await createTestDatabase();
    expect(db.name).toMatch(/^ip2_test_[0-9a-f]{12}$/);
    expect(db.migrations).toEqual(readMigrations(findMigrationsDir()).map((m) => m.name));
    expect(db.migrations.length).toBeGreaterThan(0);
    const tables = await query<{ table_name: string }>(
      db.url,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(
      expect.arrayContaining(['ApiKey', 'Candidate', 'Checkpoint', 'FixedConfig', 'Run', 'Search', 'TaskResult']),
    );
    const applied = await query<{ migration_name: string; finished_at: Date | null }>(
      db.url,
      `SELECT migration_name, finished_at FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    expect(applied.map((m) => m.migration_name)).toEqual(db.migrations);
    expect(applied.every((m) => m.finished_at !== null)).toBe(true);

    // An open connection does not keep the database alive.
    const held = new pg.Client({ connectionString: db.url });
    await held.connect();
    held.on('error', () => undefined);
    await db.drop();
    const left = await query<{ n: number }>(
      withDatabase(db.url, 'postgres'),
      `SELECT count(*)::int AS n FROM pg_database WHERE datname = '${db.name}'`,
    );
    expect(left[0]!.n).toBe(0);
    await held.end().catch(() => undefined);
  });

  it('gives every call its own database', async () => {
    const [a, b] = await Promise.all([createTestDatabase({ migrate: false }), createTestDatabase({ migrate: false })]);
    try {
      expect(a.name).not.toBe(b.name);
      expect(a.migrations).toEqual([]);
      const tables = await query<{ n: number }>(
        a.url,
        `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      expect(tables[0]!.n).toBe(0);
    } finally {
      await Promise.all([a.drop(), b.drop()]);
    }
  });
});

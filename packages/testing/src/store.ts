// A separate entry (`@ip2/testing/store`): it loads vitest, which the index's users outside a test run
// (bench/ through test/support) need not pay for.
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase, type TestDatabaseOptions } from './postgres.js';

export interface TestStore<S> {
  /** The store `open` returned; read it inside tests and hooks, not while the file is being collected. */
  readonly store: S;
  /** The file's database. */
  readonly db: TestDatabase;
  /** Its connection string, for a second client or store. */
  readonly url: string;
}

export interface UseTestStoreOptions<S> {
  /** How to close the store (default: its `close()`), before the database is dropped. */
  readonly close?: (store: S) => Promise<unknown>;
  /** Passed to createTestDatabase. */
  readonly database?: TestDatabaseOptions;
}

/**
 * The per-file database of a test file: in `beforeAll`, a fresh migrated database (createTestDatabase) and
 * `open(url)` on it; in `afterAll`, the store closed and the database dropped, whichever of them exist.
 * `open` is given rather than imported so that @ip2/db, which tests with this package, is not its
 * dependency; it may also assign the store to a variable of the file, for tests that name it directly.
 */
// The overload with `close` first: TypeScript fixes a callback's parameter types at the first overload tried.
export function useTestStore<S>(
  open: (url: string) => S,
  options: UseTestStoreOptions<S> & { readonly close: (store: S) => Promise<unknown> },
): TestStore<S>;
export function useTestStore<S extends { close(): Promise<unknown> }>(
  open: (url: string) => S,
  options?: UseTestStoreOptions<S>,
): TestStore<S>;
export function useTestStore<S>(open: (url: string) => S, options: UseTestStoreOptions<S> = {}): TestStore<S> {
  const close = options.close ?? ((s: S) => (s as { close(): Promise<unknown> }).close());
  let db: TestDatabase | undefined;
  let store: { readonly value: S } | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(options.database);
    store = { value: open(db.url) };
  });
  afterAll(async () => {
    if (store !== undefined) await close(store.value);
    await db?.drop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useTestStore: the database is made in beforeAll; read it in a test');
    return value;
  };
  return {
    get store() {
      return ready(store).value;
    },
    get db() {
      return ready(db);
    },
    get url() {
      return ready(db).url;
    },
  };
}

import { useTestStore } from '@ip2/testing/store';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ApiKeyRepository } from './api-keys.js';
import { createClient, type DbClient } from './client.js';
import {
  ConflictError,
  isRetryable,
  mapError,
  mappedTransaction,
  NotFoundError,
  toDbError,
  UnavailableError,
} from './errors.js';

let client: DbClient;
const tdb = useTestStore((url) => (client = createClient({ url })), { close: (c) => c.$disconnect() });

const key = (hash: string) => ({ owner: 'o', name: 'n', hash, prefix: 'ip2_x' });
const caught = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('error mapping (real database errors)', () => {
  it('maps a unique violation to ConflictError, from the query API and from raw SQL', async () => {
    const h = 'a'.repeat(64);
    await client.apiKey.create({ data: key(h) });
    const e = mapError(await caught(client.apiKey.create({ data: key(h) })));
    expect(e).toBeInstanceOf(ConflictError);
    expect((e as ConflictError).constraint).toBe('hash');
    expect(isRetryable(e)).toBe(false);
    const raw = mapError(
      await caught(
        client.$executeRaw`INSERT INTO "ApiKey" ("id", "owner", "name", "hash", "prefix")
          VALUES (gen_random_uuid(), 'o', 'n', ${h}, 'p')`,
      ),
    );
    expect(raw).toBeInstanceOf(ConflictError);
  });

  it('maps a missing record and a missing reference to NotFoundError', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    expect(mapError(await caught(client.apiKey.update({ where: { id }, data: { name: 'x' } })))).toBeInstanceOf(
      NotFoundError,
    );
    const fk = await caught(client.candidate.create({ data: { searchId: id, bits: '1', keys: [], role: 'ip-inner' } }));
    expect(mapError(fk)).toBeInstanceOf(NotFoundError);
  });

  it('maps a transaction that gets no connection within maxWait (pool busy) to a retryable UnavailableError', async () => {
    const small = createClient({ url: tdb.url, poolSize: 1 });
    try {
      const holder = small.$transaction(async (tx) => tx.$executeRaw`SELECT pg_sleep(1)`, { timeout: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const e = await caught(small.$transaction(async (tx) => tx.$executeRaw`SELECT 1`, { maxWait: 100 }));
      await holder;
      expect(String(e)).toMatch(/Unable to start a transaction in the given time/);
      const mappedError = mapError(e);
      expect(mappedError).toBeInstanceOf(UnavailableError);
      expect(isRetryable(mappedError)).toBe(true);
    } finally {
      await small.$disconnect();
    }
  });

  it('maps an unreachable server to a retryable UnavailableError, a missing database to a final one', async () => {
    const down = createClient({ url: 'postgresql://postgres@127.0.0.1:1/ip2' });
    try {
      const e = await caught(new ApiKeyRepository(down).list('o'));
      expect(e).toBeInstanceOf(UnavailableError);
      expect(isRetryable(e)).toBe(true);
    } finally {
      await down.$disconnect();
    }
    const missing = createClient({ url: tdb.url.replace(/\/[^/]+$/, '/ip2_no_such_database') });
    try {
      const e = await caught(new ApiKeyRepository(missing).list('o'));
      expect(e).toBeInstanceOf(UnavailableError);
      expect(isRetryable(e)).toBe(false);
    } finally {
      await missing.$disconnect();
    }
  });

  it('turns a server that never answers into a retryable UnavailableError at the client time-outs', async () => {
    // A server that accepts connections and answers nothing (node-postgres alone would wait for ever).
    const sockets = new Set<Socket>();
    const mute = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    const port = (mute.address() as AddressInfo).port;
    const hung = createClient({ url: `postgresql://postgres@127.0.0.1:${port}/ip2`, connectTimeoutMs: 500 });
    try {
      const t = Date.now();
      const e = await caught(new ApiKeyRepository(hung).list('o'));
      expect(Date.now() - t).toBeLessThan(5_000);
      expect(e).toBeInstanceOf(UnavailableError);
      expect(isRetryable(e)).toBe(true);
    } finally {
      await hung.$disconnect();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
    // A query whose answer does not come within the query time-out; the pool serves the next one.
    const slow = createClient({ url: tdb.url, queryTimeoutMs: 300 });
    try {
      const e = mapError(await caught(slow.$queryRawUnsafe('SELECT pg_sleep(3)')));
      expect(e).toBeInstanceOf(UnavailableError);
      expect(isRetryable(e)).toBe(true);
      expect(await slow.$queryRawUnsafe('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await slow.$disconnect();
    }
  });

  it('maps a refused update of an immutable row to ConflictError', async () => {
    const id = '00000000-0000-4000-8000-00000000000a';
    await client.$executeRaw`INSERT INTO "FixedConfig" ("id", "family", "version", "bits", "record", "hash")
      VALUES (${id}::uuid, 'dms', 1, '10', '{}', ${'b'.repeat(64)})`;
    const refused = mapError(await caught(client.fixedConfig.update({ where: { id }, data: { bits: '11' } })));
    expect(refused).toBeInstanceOf(ConflictError);
    expect((refused as Error).message).toMatch(/immutable/);
    expect((await client.fixedConfig.findUniqueOrThrow({ where: { id } })).bits).toBe('10');
  });

  it('maps a connection the network could not make or lost to UnavailableError', () => {
    for (const code of ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE']) {
      const e = mapError(Object.assign(new Error(`connect ${code} 10.0.0.1:5432`), { code }));
      expect(e).toBeInstanceOf(UnavailableError);
      expect(isRetryable(e)).toBe(true);
    }
    expect(toDbError(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBeUndefined();
  });

  it('leaves errors that are not the database’s alone', () => {
    const e = new TypeError('bad input');
    expect(toDbError(e)).toBeUndefined();
    expect(mapError(e)).toBe(e);
    expect(isRetryable(e)).toBe(false);
    expect(isRetryable('nope')).toBe(false);
  });
});

describe('mappedTransaction', () => {
  it('runs a transaction again after a write conflict or deadlock, and gives up after the attempts', async () => {
    let calls = 0;
    const deadlock = () => new ConflictError('write conflict or deadlock', { retryable: true });
    expect(
      await mappedTransaction(async () => {
        if (++calls < 3) throw deadlock();
        return 'done';
      }),
    ).toBe('done');
    expect(calls).toBe(3);
    calls = 0;
    await expect(
      mappedTransaction(async () => {
        calls++;
        throw deadlock();
      }, 2),
    ).rejects.toThrow('write conflict or deadlock');
    expect(calls).toBe(2);
  });

  it('does not repeat a conflict that is not a lost race', async () => {
    let calls = 0;
    await expect(
      mappedTransaction(async () => {
        calls++;
        throw new ConflictError('search is COMPLETE and can no longer be cancelled');
      }),
    ).rejects.toThrow('can no longer be cancelled');
    expect(calls).toBe(1);
  });
});

import type { InjectOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { openStore } from '@ip2/db';
import { fixConfiguration, parseSearchDefinition, powerLawTruth, simulateSearch } from '@ip2/search';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKeysCommand } from './keys.js';
import { auth, buildVariant, createHarness, smallSearch, type Harness } from './test-harness.js';

let h: Harness;
let aliceSearch: string;
let bobSearch: string;
let bobRun: string;

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly secured: boolean;
}

/** Every operation of the OpenAPI document the app serves. */
async function operations(): Promise<Operation[]> {
  const doc = (await h.app.inject('/docs/json')).json<{
    paths: Record<string, Record<string, { security?: unknown[] }>>;
  }>();
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      secured: (op.security ?? []).length > 0,
    })),
  );
}

/** The operation's URL with every path parameter set to the given ids (id, runId). */
const urlOf = (op: Operation, ids: { id: string; runId?: string }) =>
  op.path.replace('{id}', ids.id).replace('{runId}', ids.runId ?? randomUUID());

/** Routes that answer without a key. */
const OPEN = new Set(['GET /healthz', 'GET /readyz', 'GET /metrics']);

beforeAll(async () => {
  h = await createHarness();
  const submit = async (key: string) =>
    (await h.app.inject({ method: 'POST', url: '/v1/searches', headers: auth(key), payload: smallSearch() })).json<{
      id: string;
    }>().id;
  aliceSearch = await submit(h.alice);
  bobSearch = await submit(h.bob);
  bobRun = (await h.store.runs.list(bobSearch))[0]!.id;
  const d = parseSearchDefinition({ family: 'dms', space: ['tauD', 'theta'], protocol: { tasks: 4, seeds: 2 } });
  const { table } = simulateSearch(d, powerLawTruth({ first: { '10': 200 }, noise: 0.1, seed: 4 }));
  await h.store.fixedConfigs.save(fixConfiguration(d, table));
}, 60_000);
afterAll(async () => {
  await h?.close();
});

describe('authentication', () => {
  it('every route except health, readiness, metrics and the docs needs a key (401 problem with a challenge)', async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThanOrEqual(12);
    for (const op of ops) {
      const name = `${op.method} ${op.path}`;
      expect(op.secured, `${name} declares its security in the document`).toBe(!OPEN.has(name));
      const url = urlOf(op, { id: aliceSearch });
      for (const headers of [{}, { authorization: 'Bearer ip2_guess' }, { authorization: `Basic ${h.alice}` }]) {
        const r = await h.app.inject({ method: op.method as 'GET', url, headers });
        if (OPEN.has(name)) {
          expect(r.statusCode, name).toBe(200);
          continue;
        }
        expect(r.statusCode, `${name} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(r.headers['www-authenticate']).toBe('Bearer realm="ip2"');
        expect(r.json().errors[0].path).toBe('headers.authorization');
      }
    }
    for (const url of ['/docs/', '/docs/json']) expect((await h.app.inject(url)).statusCode, url).toBe(200);
  });

  it('METRICS_PUBLIC=false puts the metrics behind a key', async () => {
    const app = await buildVariant(h.store, { metricsPublic: false });
    try {
      const none = await app.inject('/metrics');
      expect(none.statusCode).toBe(401);
      expect(none.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect((await app.inject({ url: '/metrics', headers: auth(h.alice) })).statusCode).toBe(200);
      expect((await app.inject('/healthz')).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('keys are stored as SHA-256 digests only: the key appears nowhere in the database', async () => {
    const created = await runKeysCommand(h.store, ['create', 'dave', 'laptop']);
    const key = created[0]!;
    expect(key).toMatch(/^ip2_[A-Za-z0-9_-]{43}$/);
    const secret = key.slice('ip2_'.length);
    const rows = await h.store.client.$queryRawUnsafe<{ row: string }[]>(
      `SELECT row_to_json(t)::text AS row FROM "ApiKey" t`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    const dump = rows.map((r) => r.row).join('\n');
    // Neither the key nor its random part (nor a base64/hex spelling of it) is stored; only the
    // 12-character display prefix and a digest, which cannot be turned back into the key.
    for (const form of [
      key,
      secret,
      secret.slice(8),
      Buffer.from(key).toString('base64'),
      Buffer.from(key).toString('hex'),
    ]) {
      expect(dump).not.toContain(form);
    }
    const row = await h.store.client.apiKey.findFirstOrThrow({ where: { owner: 'dave' } });
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.prefix).toBe(key.slice(0, 12));
    // The listing shows the prefix only; the key was shown once, at creation.
    const listed = (await runKeysCommand(h.store, ['list', 'dave'])).join('\n');
    expect(listed).toContain(row.prefix);
    expect(listed).not.toContain(secret.slice(8));
    expect((await h.app.inject({ url: '/v1/searches', headers: auth(key) })).statusCode).toBe(200);
  });

  it('keys are compared by digest lookup and timingSafeEqual, never as strings', () => {
    const src = readFileSync(new URL('../../../packages/db/src/api-keys.ts', import.meta.url), 'utf8');
    const body = src.slice(src.indexOf('async authenticate('), src.indexOf('async list('));
    expect(body).toMatch(/const hash = digest\(key\)/);
    expect(body).toMatch(/findUnique\(\{ where: \{ hash: hash\.toString\('hex'\) \} \}\)/);
    expect(body).toMatch(/timingSafeEqual\(stored, hash\)/);
    expect(body).not.toMatch(/===\s*key|key\s*===/);
  });

  it('a revoked key is refused at once (401), other keys of the owner still work', async () => {
    const a = (await runKeysCommand(h.store, ['create', 'erin', 'one']))[0]!;
    const b = (await runKeysCommand(h.store, ['create', 'erin', 'two']))[0]!;
    expect((await h.app.inject({ url: '/v1/searches', headers: auth(a) })).statusCode).toBe(200);
    expect(await runKeysCommand(h.store, ['revoke', a.slice(0, 16)])).toEqual([expect.stringMatching(/^revoked key/)]);
    const r = await h.app.inject({ url: '/v1/searches', headers: auth(a) });
    expect(r.statusCode).toBe(401);
    expect(r.json().detail).toBe('unknown or revoked API key');
    expect((await h.app.inject({ url: '/v1/searches', headers: auth(b) })).statusCode).toBe(200);
  });
});

describe('owner isolation', () => {
  it("key A cannot read, list, watch, download or cancel B's searches: 404, the same as a missing id", async () => {
    const ops = (await operations()).filter((o) => o.path.includes('{id}') && o.path.startsWith('/v1/searches'));
    expect(ops.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining([
        'GET /v1/searches/{id}',
        'DELETE /v1/searches/{id}',
        'GET /v1/searches/{id}/candidates',
        'GET /v1/searches/{id}/runs/{runId}/tasks',
        'GET /v1/searches/{id}/events',
      ]),
    );
    const missing = randomUUID();
    for (const op of ops) {
      const name = `${op.method} ${op.path}`;
      const foreign = await h.app.inject({
        method: op.method as 'GET',
        url: urlOf(op, { id: bobSearch, runId: bobRun }),
        headers: auth(h.alice),
      });
      const none = await h.app.inject({
        method: op.method as 'GET',
        url: urlOf(op, { id: missing, runId: bobRun }),
        headers: auth(h.alice),
      });
      expect(foreign.statusCode, name).toBe(404);
      expect(foreign.headers['content-type']).toMatch(/^application\/problem\+json/);
      // Nothing tells a foreign id from a missing one but the id itself.
      expect(foreign.body.replaceAll(bobSearch, 'ID'), name).toBe(none.body.replaceAll(missing, 'ID'));
      expect(foreign.body).not.toContain('bob');
    }
    // The owner itself sees it, and alice's cancel changed nothing.
    const own = await h.app.inject({ url: `/v1/searches/${bobSearch}`, headers: auth(h.bob) });
    expect(own.statusCode).toBe(200);
    expect(own.json().state).toBe('QUEUED');
    const list = (await h.app.inject({ url: '/v1/searches?limit=100', headers: auth(h.alice) })).json();
    expect(list.items.map((s: { id: string }) => s.id)).toEqual([aliceSearch]);
    const paged = (await h.app.inject({ url: '/v1/searches?page=1', headers: auth(h.alice) })).json();
    expect(paged.total).toBe(1);
    // The same Idempotency-Key under another owner makes a new search, not bob's.
    const same = await h.app.inject({
      method: 'POST',
      url: '/v1/searches',
      headers: { ...auth(h.alice), 'idempotency-key': 'shared' },
      payload: smallSearch(),
    });
    const bobs = await h.app.inject({
      method: 'POST',
      url: '/v1/searches',
      headers: { ...auth(h.bob), 'idempotency-key': 'shared' },
      payload: smallSearch(),
    });
    expect(same.json().id).not.toBe(bobs.json().id);
    expect(bobs.json().owner).toBe('bob');
  });

  it('fixed configurations are the service-wide choice per family: any key reads them, none without one', async () => {
    const list = await h.app.inject({ url: '/v1/configs?family=dms', headers: auth(h.bob) });
    expect(list.statusCode).toBe(200);
    const id = list.json().items[0].id as string;
    for (const key of [h.alice, h.bob]) {
      expect((await h.app.inject({ url: `/v1/configs/${id}`, headers: auth(key) })).statusCode).toBe(200);
    }
    expect((await h.app.inject(`/v1/configs/${id}`)).statusCode).toBe(401);
  });
});

/** Collects the JSON log lines of an app. */
function logSink(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, lines, text };
}

describe('logs', () => {
  it('every request line carries a request id (also sent as X-Request-Id); no key or password is ever logged', async () => {
    const password = `pw-${randomUUID()}`;
    // PostgreSQL here trusts local connections, so a password in the URL is accepted and ignored.
    const url = new URL(h.db.url);
    url.password = password;
    const store = openStore({ url: url.toString(), poolSize: 2 });
    const down = new URL(url);
    down.port = '1';
    const deadStore = openStore({ url: down.toString(), poolSize: 1 });
    const sink = logSink();
    const build = (s: typeof store) => buildVariant(s, { logger: { level: 'debug', stream: sink.stream } });
    const app = await build(store);
    const dead = await build(deadStore);
    try {
      const ids: string[] = [];
      const hit = async (a: typeof app, opts: InjectOptions | string) => {
        const r = await a.inject(opts);
        ids.push(String(r.headers['x-request-id']));
        return r;
      };
      const ok = await hit(app, { url: '/v1/searches', headers: auth(h.alice) });
      expect(ok.statusCode).toBe(200);
      // A failing request with the key in the header, in the URL and in the body.
      const bad = await hit(app, {
        method: 'POST',
        url: `/v1/searches?key=${h.alice}`,
        headers: auth(h.alice),
        payload: { family: h.alice },
      });
      expect(bad.statusCode).toBe(400);
      await hit(app, { url: `/v1/searches/${h.bob}`, headers: auth(h.bob) });
      await hit(app, { url: '/v1/searches', headers: { authorization: `Bearer ${h.bob}x` } });
      // The database is unreachable: errors are logged, with the URL's password nowhere.
      const failed = await hit(dead, { url: '/v1/searches', headers: auth(h.alice) });
      expect(failed.statusCode).toBe(503);
      expect((await hit(dead, '/readyz')).statusCode).toBe(503);

      const lines = sink.lines();
      expect(lines.length).toBeGreaterThan(10);
      const text = sink.text();
      for (const secret of [h.alice, h.bob, h.alice.slice(12), h.bob.slice(12), password]) {
        expect(text).not.toContain(secret);
      }
      // The failing requests were logged (so the check above looked at them).
      expect(lines.some((l) => l.level === 50 && String(l.msg).includes('database unavailable'))).toBe(true);
      expect(text).toContain('ip2_[Redacted]');
      // Request ids: a UUID on every request line, the one the response carried.
      const requestLines = lines.filter((l) => 'req' in l || 'res' in l);
      expect(requestLines.length).toBeGreaterThanOrEqual(2 * ids.length);
      for (const l of requestLines) expect(l.reqId).toMatch(/^[0-9a-f-]{36}$/);
      for (const id of ids) expect(requestLines.some((l) => l.reqId === id)).toBe(true);
    } finally {
      await app.close();
      await dead.close();
      await store.close();
      await deadStore.close();
    }
  }, 60_000);
});

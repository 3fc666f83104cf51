/**
 * Property-based fuzzing of every route of the OpenAPI document against the real app over a fresh
 * PostgreSQL database and real Redis: generated requests with wrong types, missing and extra fields,
 * huge numbers, unicode, bad ids, bad headers, bad query parameters, wrong content types and broken
 * JSON. None may answer 5xx or hang, every refusal is problem+json, and nothing is written except
 * by an accepted submission (checksums of every table before and after each request).
 *
 * IP2_FUZZ_RUNS sets the number of requests (default 1500), IP2_FUZZ_SEED the fast-check seed
 * (default 20261128); a failure prints the seed and the path to replay it.
 */
import { parseSearchDefinition, fixConfiguration, powerLawTruth, simulateSearch } from '@ip2/search';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createHarness, smallSearch, type Harness } from './test-harness.js';

const RUNS = Number(process.env.IP2_FUZZ_RUNS ?? 1500);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`IP2_FUZZ_RUNS must be a positive integer`);
const SEED = Number(process.env.IP2_FUZZ_SEED ?? 20261128);
/** A request that takes longer than this hangs. */
const HANG_MS = 10_000;

let h: Harness;
/** Ids the generator may use: alice's and bob's (cancelled) searches and runs, a fixed configuration. */
let known: { aliceSearch: string; aliceRun: string; bobSearch: string; bobRun: string; config: string };
let revoked: string;
let snapshotSql: string;

beforeAll(async () => {
  h = await createHarness({
    limits: { rateLimitMax: 1_000_000, maxActiveSearches: 1_000_000, bodyLimit: 16 * 1024, maxHidden: 256 },
  });
  const submit = async (key: string) =>
    (await h.app.inject({ method: 'POST', url: '/v1/searches', headers: auth(key), payload: smallSearch() })).json<{
      id: string;
    }>().id;
  const aliceSearch = await submit(h.alice);
  const bobSearch = await submit(h.bob);
  // Cancelled: their event streams end at once, and cancelling them again changes nothing.
  await h.store.searches.cancel('alice', aliceSearch);
  await h.store.searches.cancel('bob', bobSearch);
  const d = parseSearchDefinition({ family: 'dms', space: ['tauD', 'theta'], protocol: { tasks: 4, seeds: 2 } });
  const { table } = simulateSearch(d, powerLawTruth({ first: { '10': 200 }, noise: 0.1, seed: 4 }));
  const saved = await h.store.fixedConfigs.save(fixConfiguration(d, table));
  known = {
    aliceSearch,
    aliceRun: (await h.store.runs.list(aliceSearch))[0]!.id,
    bobSearch,
    bobRun: (await h.store.runs.list(bobSearch))[0]!.id,
    config: saved.config.id,
  };
  const k = await h.store.apiKeys.create('alice', 'old');
  await h.store.apiKeys.revoke('alice', k.id);
  revoked = k.key;
  const tables = await h.store.client.$queryRawUnsafe<{ name: string }[]>(
    `SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename NOT LIKE '\\_%' ORDER BY 1`,
  );
  expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['ApiKey', 'Search', 'Candidate', 'Run']));
  // One row per table: its row count and a digest of all its rows (any insert, update or delete shows).
  snapshotSql = tables
    .map(
      ({ name }) =>
        `SELECT '${name}' AS name, count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS digest FROM "${name}" t`,
    )
    .join(' UNION ALL ');
}, 60_000);

afterAll(async () => {
  await h?.close();
});

async function snapshot(): Promise<string> {
  const rows = await h.store.client.$queryRawUnsafe<{ name: string; n: number; digest: string }[]>(snapshotSql);
  return rows.map((r) => `${r.name}:${r.n}:${r.digest}`).join(' ');
}

// ---------------------------------------------------------------------------------------------------
// Generators

/** Characters a header value may hold (visible Latin-1 and space: what HTTP lets through). */
const headerChar = fc
  .integer({ min: 0x20, max: 0xff })
  .filter((c) => c !== 0x7f && (c < 0x80 || c >= 0xa0))
  .map((c) => String.fromCharCode(c));
const headerValue = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 80 }),
  fc.constantFrom('', ' ', 'null', '0', '-1', '1e400', "' OR '1'='1", 'ip2_', 'x'.repeat(5000)),
);

/** Strings chosen to break parsers and validators. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e309',
    'NaN',
    'Infinity',
    'null',
    'true',
    '[]',
    '{}',
    '../../etc/passwd',
    '%00',
    '\u0000',
    '\uFEFF',
    '\uD800',
    'ñandú',
    '😀'.repeat(50),
    '\'; DROP TABLE "Search"; --',
    '<script>alert(1)</script>',
    '__proto__',
    'constructor',
    'a'.repeat(5000),
    '9'.repeat(400),
    '00000000-0000-0000-0000-000000000000',
  ),
);

const hugeNumber = fc.constantFrom(
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  -Number.MAX_SAFE_INTEGER - 2,
  2 ** 31,
  2 ** 32,
  -0,
  5e-324,
  0.1 + 0.2,
);

/** Any JSON value, with the strings and numbers above mixed in. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: nastyString },
  { weight: 2, arbitrary: hugeNumber },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.constant(null) },
);

const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

interface Operation {
  readonly method: string;
  /** The OpenAPI path, e.g. /v1/searches/{id}. */
  readonly path: string;
  readonly pathParams: readonly string[];
  readonly queryParams: readonly string[];
  readonly headerParams: readonly string[];
  /** Top-level property names of the JSON body, or null without a body. */
  readonly bodyProps: readonly string[] | null;
}

interface OpenApiDoc {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string }[];
        requestBody?: { content: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
      }
    >
  >;
}

function operations(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = op.parameters ?? [];
      const names = (where: string) => params.filter((p) => p.in === where).map((p) => p.name);
      const body = op.requestBody?.content['application/json']?.schema;
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: names('path'),
        queryParams: names('query'),
        headerParams: names('header'),
        bodyProps: body ? Object.keys(body.properties ?? {}) : null,
      });
    }
  }
  return ops;
}

/** A value for a path parameter: a known id (own or foreign), a random UUID, or garbage. */
const pathValue = () =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        known.aliceSearch,
        known.bobSearch,
        known.aliceRun,
        known.bobRun,
        known.config,
        known.aliceSearch.toUpperCase(),
      ),
    },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 3, arbitrary: nastyString.filter((s) => s !== '') },
    // Escapes that are not UTF-8 (overlong, surrogate, stray bytes).
    { weight: 1, arbitrary: fc.constantFrom('%ED%A0%80', '%C0%AF', '%FF', '%E2%82', '%00') },
  );

const queryString = (names: readonly string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant('') },
    {
      weight: 4,
      arbitrary: fc
        .array(
          fc.tuple(
            fc.oneof(fc.constantFrom(...names, 'limit', 'page', 'cursor', 'state', 'family'), nastyString),
            fc.oneof(nastyString, fc.integer().map(String), fc.uuid(), fc.constantFrom('QUEUED', 'sma', '20', '1')),
          ),
          { maxLength: 4 },
        )
        .map((pairs) => {
          const q = new URLSearchParams();
          for (const [k, v] of pairs) q.append(k, v);
          const s = q.toString();
          return s === '' ? '' : `?${s}`;
        }),
    },
    // Raw, possibly broken, percent-encoding.
    { weight: 1, arbitrary: fc.constantFrom('?%', '?%zz=1', '?a=%E0%A4%A', '?&&&=&', '?limit=1&limit=2', '?=') },
  );

const authorization = () =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(`Bearer ${h.alice}`) },
    { weight: 2, arbitrary: fc.constant(`Bearer ${h.bob}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${revoked}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: headerValue.map((v) => `Bearer ${v}`) },
    { weight: 1, arbitrary: fc.constantFrom(`bearer ${h.alice}`, `Bearer  ${h.alice} `, `Basic ${h.alice}`) },
    { weight: 1, arbitrary: headerValue },
  );

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/octet-stream',
      'application/problem+json',
      '*/*',
    ),
  },
  { weight: 1, arbitrary: headerValue },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** Replaces, deletes, adds or wraps the value at one place of a JSON tree. */
type Mutation = { at: number; kind: 'set' | 'delete' | 'add' | 'wrap' | 'null'; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('set', 'set', 'set', 'delete', 'add', 'wrap', 'null'),
  key: fc.oneof(fc.constantFrom('extra', '__proto__', 'constructor', 'family', 'tasks'), nastyString),
  value: anyJson,
});

function mutate(root: unknown, m: Mutation): unknown {
  const holders: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        holders.push({ parent: v, key: i });
        walk(x);
      });
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        holders.push({ parent: v as Record<string, unknown>, key: k });
        walk(x);
      }
    }
  };
  walk(root);
  if (holders.length === 0) return m.value;
  const { parent, key } = holders[m.at % holders.length]!;
  const p = parent as Record<string | number, unknown>;
  switch (m.kind) {
    case 'set':
      p[key] = m.value;
      break;
    case 'null':
      p[key] = null;
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete p[key];
      break;
    case 'wrap':
      p[key] = [p[key]];
      break;
    case 'add': {
      const target = p[key];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
        Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
      } else p[key] = { [m.key]: m.value };
      break;
    }
  }
  return root;
}

/** A valid protocol with big sizes and other strategies, before mutation. */
const validish = fc.record({
  family: fc.constantFrom('sma', 'dms', 'nope'),
  space: fc.subarray(['tauD', 'tauS', 'theta', 'beta', 'tauA'], { minLength: 1, maxLength: 3 }),
  protocol: fc.record({
    tasks: fc.integer({ min: 1, max: 100 }),
    seeds: fc.integer({ min: 1, max: 4 }),
    iterationCap: fc.integer({ min: 10, max: 5000 }),
    criterion: fc.record({ window: fc.integer({ min: 1, max: 10 }) }),
    network: fc.record({ hidden: fc.integer({ min: 1, max: 4096 }) }),
  }),
});

const body = (props: readonly string[] | null) =>
  fc.oneof(
    // A valid (or nearly valid) search definition with up to three mutations.
    {
      weight: 5,
      arbitrary: fc
        .tuple(fc.oneof(fc.constant(smallSearch()), validish), fc.array(mutation, { minLength: 0, maxLength: 3 }))
        .map(([base, ms]) => JSON.stringify(ms.reduce<unknown>((b, m) => mutate(b, m), structuredClone(base)))),
    },
    // An object of the schema's own fields with values of any type.
    {
      weight: 2,
      arbitrary: fc
        .dictionary(fc.oneof(fc.constantFrom(...(props ?? []), 'family'), nastyString), anyJson, { maxKeys: 6 })
        .map((o) => JSON.stringify(o)),
    },
    // Any JSON at all.
    { weight: 1, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? 'null') },
    // Not JSON, truncated JSON, deep nesting, a body over the limit, an empty body.
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.tuple(fc.constant(JSON.stringify(smallSearch())), fc.nat()).map(([s, n]) => s.slice(0, n % s.length)),
        fc.integer({ min: 1, max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
        fc.integer({ min: 1, max: 2000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
        fc.constant(JSON.stringify(smallSearch({ padding: 'x'.repeat(20_000) }))),
        fc.constantFrom('', ' ', 'null', '"', '\u0000', '{"family":"sma"}garbage', '{"family":"sma","family":3}'),
      ),
    },
  );

interface Generated {
  readonly op: Operation;
  readonly request: InjectOptions & { method: string; url: string };
}

const request = (ops: readonly Operation[]): fc.Arbitrary<Generated> =>
  fc.oneof(...ops.map((op) => ({ weight: op.bodyProps ? 6 : 1, arbitrary: fc.constant(op) }))).chain((op) =>
    fc
      .record({
        method: fc.oneof(
          { weight: 9, arbitrary: fc.constant(op.method) },
          { weight: 1, arbitrary: fc.constantFrom(...methods) },
        ),
        params: fc.tuple(...op.pathParams.map(() => pathValue())),
        query: queryString(op.queryParams),
        authorization: authorization(),
        contentType,
        extraHeaders: fc.oneof(
          fc.constant({}),
          fc.dictionary(
            fc.constantFrom(
              ...op.headerParams,
              'idempotency-key',
              'last-event-id',
              'accept',
              'content-encoding',
              'x-forwarded-for',
              'origin',
              'accept-charset',
            ),
            headerValue,
            { maxKeys: 3 },
          ),
        ),
        body: fc.option(body(op.bodyProps), { nil: undefined, freq: op.bodyProps ? 10 : 3 }),
      })
      .map(({ method, params, query, authorization: a, contentType: ct, extraHeaders, body: b }) => {
        let i = 0;
        const url = op.path.replace(/\{[^}]+\}/g, () => pct(params[i++] as string)) + (query as string);
        const headers: Record<string, string> = { ...extraHeaders };
        if (a !== undefined) headers.authorization = a;
        if (b !== undefined && ct !== undefined) headers['content-type'] = ct;
        return {
          op,
          request: { method, url, headers, ...(b === undefined ? {} : { payload: b }) } as Generated['request'],
        };
      }),
  );

/** Percent-encodes the UTF-8 bytes of s (a lone surrogate becomes U+FFFD), or passes a raw escape through. */
function pct(s: string): string {
  if (/^(%[0-9A-F]{2})+$/.test(s)) return s;
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

function withinTime(p: Promise<LightMyRequestResponse>, what: string): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${HANG_MS} ms: ${what}`)), HANG_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Only a submission the API accepted (201, or 200 for an idempotent repeat) may write. */
const mayWrite = (g: Generated, status: number) =>
  g.request.method === 'POST' && g.request.url.split('?')[0] === '/v1/searches' && (status === 201 || status === 200);

describe('fuzzing every route', () => {
  it(`${RUNS} generated requests: no 5xx, no hang, problem+json refusals, nothing written (seed ${SEED})`, async () => {
    // The OpenAPI document the app serves (@fastify/swagger's app.swagger(), inside the API plugin).
    const doc = (await h.app.inject('/docs/json')).json<OpenApiDoc>();
    const ops = operations(doc).filter((o) => !o.path.startsWith('/docs'));
    // The generator covers what the document declares: every route of the API.
    expect(ops.length).toBeGreaterThanOrEqual(12);
    const seen = new Map<string, number>();
    const statuses = new Map<number, number>();
    let state = await snapshot();
    let accepted = 0;
    let tInject = 0;
    let tSnap = 0;

    await fc.assert(
      fc.asyncProperty(request(ops), async (g) => {
        const what = `${g.request.method} ${g.request.url.slice(0, 200)}`;
        const t0 = performance.now();
        const r = await withinTime(h.app.inject(g.request), what);
        tInject += performance.now() - t0;
        expect(r.statusCode, `${what} → ${r.body.slice(0, 500)}`).toBeLessThan(500);
        if (r.statusCode >= 400 && g.request.method !== 'HEAD') {
          expect(r.headers['content-type'], what).toMatch(/^application\/problem\+json/);
          const p = r.json<{ status: number; detail: string }>();
          expect(p.status).toBe(r.statusCode);
          expect(typeof p.detail).toBe('string');
        }
        expect(r.body, what).not.toMatch(/node_modules|\n\s+at |\.ts:\d+|PrismaClient|prisma\./);
        const t1 = performance.now();
        const after = await snapshot();
        tSnap += performance.now() - t1;
        if (!mayWrite(g, r.statusCode)) expect(after, `${what} wrote to the database`).toBe(state);
        else if (after !== state) accepted++;
        state = after;
        const key = `${g.op.method} ${g.op.path}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );

    // Every operation was exercised, and the requests reached both the refusals and the handlers.
    for (const o of ops) expect(seen.get(`${o.method} ${o.path}`) ?? 0, `${o.method} ${o.path}`).toBeGreaterThan(0);
    // With enough requests every kind of answer shows up: accepted, and refused for each reason.
    if (RUNS >= 1000) {
      expect([...statuses.keys()]).toEqual(expect.arrayContaining([200, 201, 400, 401, 404, 413, 415, 422]));
    }
    // The checksums see writes: each accepted submission changed them.
    expect(accepted).toBe(statuses.get(201) ?? 0);
    const counts = JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])));
    process.stdout.write(
      `fuzz: ${RUNS} requests over ${ops.length} operations (inject ${(tInject / 1000).toFixed(1)} s, ` +
        `table checksums ${(tSnap / 1000).toFixed(1)} s); statuses ${counts}\n`,
    );
  }, 600_000);
});

import { randomUUID } from 'node:crypto';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.js';
import { auth, createHarness, REDIS_URL, rowCounts, smallSearch, type Harness } from './test-harness.js';

let h: Harness;
let revoked: string;
let searchId: string;
beforeAll(async () => {
  h = await createHarness({ limits: { maxHidden: 512, maxTaskTrainings: 100_000, bodyLimit: 16 * 1024 } });
  const k = await h.store.apiKeys.create('alice', 'old');
  await h.store.apiKeys.revoke('alice', k.id);
  revoked = k.key;
  const r = await h.app.inject({ method: 'POST', url: '/v1/searches', headers: auth(h.alice), payload: smallSearch() });
  searchId = r.json().id;
});
afterAll(async () => {
  await h?.close();
});

interface Case {
  readonly name: string;
  /** Request, with alice's key unless headers say otherwise. */
  readonly req: () => InjectOptions;
  readonly status: number;
  /** What the problem must name (in `detail` or an error's path). */
  readonly names: string | RegExp;
}

const post =
  (payload: unknown, headers: Record<string, string> = {}): (() => InjectOptions) =>
  () => ({
    method: 'POST',
    url: '/v1/searches',
    headers: { ...auth(h.alice), ...headers },
    payload: payload as InjectOptions['payload'],
  });
const get =
  (url: string, headers?: Record<string, string>): (() => InjectOptions) =>
  () => ({
    method: 'GET',
    url,
    headers: headers ?? auth(h.alice),
  });
const protocol = (p: Record<string, unknown>) =>
  smallSearch({ protocol: { tasks: 4, seeds: 2, iterationCap: 200, criterion: { window: 10 }, ...p } });

const cases: Case[] = [
  { name: 'family of the wrong type', req: post({ family: 3 }), status: 400, names: 'family' },
  { name: 'family missing', req: post({ space: ['tauD'] }), status: 400, names: 'family' },
  { name: 'family with bad characters', req: post({ family: 'SMA!' }), status: 400, names: 'family' },
  { name: 'unknown family', req: post({ family: 'no-such-family' }), status: 422, names: /family.*no-such-family/ },
  {
    name: 'unknown property key',
    req: post(smallSearch({ space: ['tauD', 'tauX'] })),
    status: 400,
    names: /space\.1.*tauX/,
  },
  {
    name: 'duplicate property key',
    req: post(smallSearch({ space: ['tauD', 'tauD'] })),
    status: 400,
    names: /duplicate/,
  },
  { name: 'empty space', req: post(smallSearch({ space: [] })), status: 400, names: 'space' },
  { name: 'space of the wrong type', req: post(smallSearch({ space: 'tauD' })), status: 400, names: 'space' },
  { name: 'unknown top-level field', req: post(smallSearch({ colour: 'red' })), status: 400, names: 'colour' },
  { name: 'unknown nested field', req: post(protocol({ turbo: true })), status: 400, names: /protocol.*turbo/ },
  { name: 'seeds as a string', req: post(protocol({ seeds: '5' })), status: 400, names: 'protocol.seeds' },
  { name: 'zero tasks', req: post(protocol({ tasks: 0 })), status: 400, names: 'protocol.tasks' },
  { name: 'fractional tasks', req: post(protocol({ tasks: 2.5 })), status: 400, names: 'protocol.tasks' },
  { name: 'absurd seeds', req: post(protocol({ seeds: 1e9 })), status: 400, names: 'protocol.seeds' },
  { name: 'negative base seed', req: post(protocol({ baseSeed: -1 })), status: 400, names: 'protocol.baseSeed' },
  { name: 'negative dt', req: post(protocol({ network: { dt: -1 } })), status: 400, names: 'protocol.network.dt' },
  {
    name: 'unknown model version',
    req: post(protocol({ network: { modelVersion: 3 } })),
    status: 400,
    names: 'protocol.network.modelVersion',
  },
  {
    name: 'model version as a string',
    req: post(protocol({ network: { modelVersion: '2' } })),
    status: 400,
    names: 'protocol.network.modelVersion',
  },
  {
    name: 'unknown property optimizer',
    req: post(protocol({ network: { propertyOptimizer: 'rmsprop' } })),
    status: 400,
    names: 'protocol.network.propertyOptimizer',
  },
  {
    name: 'zero property learning rate',
    req: post(protocol({ network: { propertyLr: 0 } })),
    status: 400,
    names: 'protocol.network.propertyLr',
  },
  {
    name: 'unknown readout',
    req: post(protocol({ network: { readout: 'voltage' } })),
    status: 400,
    names: 'protocol.network.readout',
  },
  {
    name: 'hidden over the limit',
    req: post(protocol({ network: { hidden: 4096 } })),
    status: 422,
    names: 'protocol.network.hidden',
  },
  {
    name: 'hidden absurd',
    req: post(protocol({ network: { hidden: 1e7 } })),
    status: 400,
    names: 'protocol.network.hidden',
  },
  {
    name: 'masks × seeds × tasks over the limit',
    req: post(protocol({ tasks: 10_000, seeds: 100, iterationCap: 20_000 })),
    status: 422,
    names: /task trainings/,
  },
  {
    name: 'iteration cap below the window',
    req: post(protocol({ iterationCap: 5 })),
    status: 400,
    names: 'protocol.iterationCap',
  },
  {
    name: 'unknown strategy',
    req: post(smallSearch({ strategy: { kind: 'genetic' } })),
    status: 400,
    names: 'strategy.kind',
  },
  {
    name: 'random strategy with too many masks',
    req: post(smallSearch({ strategy: { kind: 'random', n: 9 } })),
    status: 400,
    names: 'strategy.n',
  },
  {
    name: 'unknown score metric',
    req: post(smallSearch({ score: { metric: 'vibes' } })),
    status: 400,
    names: 'score.metric',
  },
  {
    name: 'bootstrap level out of range',
    req: post(smallSearch({ bootstrap: { level: 1.5 } })),
    status: 400,
    names: 'bootstrap.level',
  },
  {
    name: 'budget below the plan',
    req: post(smallSearch({ budget: { maxTaskTrainings: 3 } })),
    status: 400,
    names: 'budget.maxTaskTrainings',
  },
  { name: 'body is an array', req: post([smallSearch()]), status: 400, names: /object/ },
  {
    name: 'body is null',
    req: () => ({
      ...post(null)(),
      payload: 'null',
      headers: { ...auth(h.alice), 'content-type': 'application/json' },
    }),
    status: 400,
    names: /body|object/,
  },
  {
    name: 'body is not JSON',
    req: () => ({
      ...post(null)(),
      payload: '{"family": "sma",',
      headers: { ...auth(h.alice), 'content-type': 'application/json' },
    }),
    status: 400,
    names: /JSON/,
  },
  {
    name: 'body is not JSON at all (text/plain)',
    req: () => ({
      ...post(null)(),
      payload: 'family=sma',
      headers: { ...auth(h.alice), 'content-type': 'text/plain' },
    }),
    status: 415,
    names: /content-type|media type/i,
  },
  { name: 'oversized body', req: post(smallSearch({ padding: 'x'.repeat(20_000) })), status: 413, names: /body/ },
  {
    name: 'idempotency key too long',
    req: post(smallSearch(), { 'idempotency-key': 'k'.repeat(300) }),
    status: 400,
    names: /Idempotency-Key/,
  },
  {
    name: 'unknown query parameter on submit',
    req: () => ({ ...post(smallSearch())(), url: '/v1/searches?dryRun=1' }),
    status: 400,
    names: 'dryRun',
  },
  {
    name: 'no Authorization header',
    req: post(smallSearch(), { authorization: '' }),
    status: 401,
    names: /Authorization/,
  },
  {
    name: 'not a bearer token',
    req: post(smallSearch(), { authorization: 'Basic YWxpY2U6c2VjcmV0' }),
    status: 401,
    names: /Bearer/,
  },
  {
    name: 'unknown key',
    req: post(smallSearch(), { authorization: 'Bearer ip2_notakey' }),
    status: 401,
    names: /unknown or revoked/,
  },
  { name: 'revoked key', req: () => post(smallSearch(), auth(revoked))(), status: 401, names: /unknown or revoked/ },
  {
    name: 'revoked key on a read',
    req: () => get('/v1/searches', auth(revoked))(),
    status: 401,
    names: /unknown or revoked/,
  },
  { name: 'search id not a UUID', req: get('/v1/searches/42'), status: 400, names: 'id' },
  {
    name: 'run id not a UUID',
    req: () => get(`/v1/searches/${searchId}/runs/run-1/tasks`)(),
    status: 400,
    names: 'runId',
  },
  { name: 'unknown search', req: () => get(`/v1/searches/${randomUUID()}`)(), status: 404, names: /no search/ },
  {
    name: 'cancel with a bad id',
    req: () => ({ method: 'DELETE', url: '/v1/searches/abc', headers: auth(h.alice) }),
    status: 400,
    names: 'id',
  },
  { name: 'limit zero', req: get('/v1/searches?limit=0'), status: 400, names: 'limit' },
  { name: 'limit not a number', req: get('/v1/searches?limit=ten'), status: 400, names: 'limit' },
  { name: 'limit too large', req: get('/v1/searches?limit=100000'), status: 400, names: 'limit' },
  { name: 'page zero', req: get('/v1/searches?page=0'), status: 400, names: 'page' },
  { name: 'cursor not an id', req: get('/v1/searches?cursor=yesterday'), status: 400, names: 'cursor' },
  {
    name: 'cursor and page together',
    req: () => get(`/v1/searches?page=2&cursor=${randomUUID()}`)(),
    status: 400,
    names: /cursor or page/,
  },
  { name: 'unknown state filter', req: get('/v1/searches?state=DONE'), status: 400, names: 'state' },
  { name: 'bad family filter', req: get('/v1/searches?family=Not%20A%20Family'), status: 400, names: 'family' },
  { name: 'unknown list parameter', req: get('/v1/searches?sort=asc'), status: 400, names: 'sort' },
  { name: 'configs without a family', req: get('/v1/configs'), status: 400, names: 'family' },
  {
    name: 'configs of an unknown model version',
    req: get('/v1/configs?family=dms&modelVersion=3'),
    status: 400,
    names: 'modelVersion',
  },
  { name: 'config id not a UUID', req: get('/v1/configs/v1'), status: 400, names: 'id' },
  {
    name: 'bad Last-Event-ID',
    req: () => get(`/v1/searches/${searchId}/events`, { ...auth(h.alice), 'last-event-id': 'yesterday' })(),
    status: 400,
    names: /Last-Event-ID/,
  },
  { name: 'unknown route', req: get('/v2/searches'), status: 404, names: /no route/ },
];

describe('malformed requests', () => {
  it('has at least 30 distinct cases', () => {
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)('$name → $status problem naming it, nothing written', async (c) => {
    const before = { ...(await rowCounts(h.store)), keys: await h.store.client.apiKey.count() };
    const opts = c.req();
    if (opts.headers && (opts.headers as Record<string, string>).authorization === '') {
      delete (opts.headers as Record<string, string>).authorization;
    }
    const r = await h.app.inject(opts);
    expect(r.statusCode, r.body).toBe(c.status);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    const p = r.json() as {
      type: string;
      title: string;
      status: number;
      detail: string;
      errors?: { path: string; message: string }[];
    };
    expect(p.status).toBe(c.status);
    expect(typeof p.type).toBe('string');
    expect(typeof p.title).toBe('string');
    const text = [p.detail, ...(p.errors ?? []).flatMap((e) => [e.path, e.message])].join('\n');
    if (typeof c.names === 'string') expect(text).toContain(c.names);
    else expect(text).toMatch(c.names);
    expect(r.body).not.toMatch(/node_modules|\n\s+at |\.ts:\d+/);
    const after = { ...(await rowCounts(h.store)), keys: await h.store.client.apiKey.count() };
    expect(after).toEqual(before);
  });

  it('rate-limits per key with a 429 problem', async () => {
    const limited = await buildApp({
      store: h.store,
      redisUrl: REDIS_URL,
      queuePrefix: `ip2-api-rate-${randomUUID()}`,
      logger: false,
      limits: { rateLimitMax: 3 },
      onSearchCreated: async () => undefined,
    });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) codes.push((await limited.inject(get('/v1/searches')())).statusCode);
      expect(codes).toEqual([200, 200, 200, 429]);
      const r = await limited.inject(get('/v1/searches')());
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json().detail).toMatch(/rate limit/);
      // Another key has its own allowance.
      expect((await limited.inject(get('/v1/searches', auth(h.bob))())).statusCode).toBe(200);
      // Health needs no key and is not limited.
      expect((await limited.inject('/healthz')).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

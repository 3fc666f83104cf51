import { fixConfiguration, parseSearchDefinition, powerLawTruth, simulateSearch } from '@ip2/search';
import { randomUUID } from 'node:crypto';
import { Queues } from '@ip2/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.js';
import { auth, createHarness, recordResults, REDIS_URL, rowCounts, smallSearch, type Harness } from './test-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

async function submit(
  key: string,
  body: Record<string, unknown> = smallSearch(),
  headers: Record<string, string> = {},
) {
  return h.app.inject({ method: 'POST', url: '/v1/searches', headers: { ...auth(key), ...headers }, payload: body });
}

describe('searches', () => {
  it('creates a search with its candidates and runs, and starts it', async () => {
    const before = await rowCounts(h.store);
    const r = await submit(h.alice);
    expect(r.statusCode).toBe(201);
    const s = r.json();
    expect(s).toMatchObject({ owner: 'alice', family: 'sma', state: 'QUEUED', space: ['tauD', 'theta'] });
    expect(s.plannedTaskTrainings).toBe(4 * 2 * 4);
    expect(s.links.self).toBe(`/v1/searches/${s.id}`);
    expect(r.headers.location).toBe(`/v1/searches/${s.id}`);
    expect(h.started.map((x) => x.id)).toContain(s.id);
    const after = await rowCounts(h.store);
    expect(after.searches - before.searches).toBe(1);
    expect(after.candidates - before.candidates).toBe(4);
    expect(after.runs - before.runs).toBe(8);

    const got = await h.app.inject({ url: s.links.self, headers: auth(h.alice) });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toEqual(s);

    const candidates = await h.app.inject({ url: s.links.candidates, headers: auth(h.alice) });
    expect(candidates.statusCode).toBe(200);
    const items = candidates.json().items;
    expect(items.map((c: { bits: string }) => c.bits)).toEqual(['00', '01', '10', '11']);
    expect(items[0].runs).toHaveLength(2);
  });

  it('an Idempotency-Key makes a retried submission return the same search', async () => {
    const before = await rowCounts(h.store);
    const a = await submit(h.alice, smallSearch(), { 'idempotency-key': 'retry-1' });
    const b = await submit(h.alice, smallSearch(), { 'idempotency-key': 'retry-1' });
    expect(a.statusCode).toBe(201);
    expect(b.statusCode).toBe(200);
    expect(b.json().id).toBe(a.json().id);
    expect((await rowCounts(h.store)).searches - before.searches).toBe(1);
    // The same key with another definition is a conflict; another owner's same key is independent.
    const c = await submit(
      h.alice,
      smallSearch({ protocol: { tasks: 5, seeds: 2, iterationCap: 200, criterion: { window: 10 } } }),
      {
        'idempotency-key': 'retry-1',
      },
    );
    expect(c.statusCode).toBe(409);
    expect(c.headers['content-type']).toContain('application/problem+json');
    const d = await submit(h.bob, smallSearch(), { 'idempotency-key': 'retry-1' });
    expect(d.statusCode).toBe(201);
    expect(d.json().id).not.toBe(a.json().id);
  });

  it('lists with cursor and page pagination, filtered by state and family', async () => {
    const owner = await h.store.apiKeys.create('carol', 'list');
    const key = owner.key;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const family = i % 2 === 0 ? 'sma' : 'dms';
      const r = await submit(
        key,
        smallSearch({ family, protocol: { tasks: 2 + i, seeds: 1, iterationCap: 200, criterion: { window: 10 } } }),
      );
      expect(r.statusCode).toBe(201);
      ids.push(r.json().id);
    }
    const newestFirst = [...ids].reverse();
    const seen: string[] = [];
    let url: string | null = '/v1/searches?limit=2';
    while (url !== null) {
      const page: { statusCode: number; json: () => { items: { id: string }[]; links: { next: string | null } } } =
        await h.app.inject({ url, headers: auth(key) });
      expect(page.statusCode).toBe(200);
      const body: { items: { id: string }[]; links: { next: string | null } } = page.json();
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((s: { id: string }) => s.id));
      url = body.links.next;
    }
    expect(seen).toEqual(newestFirst);

    const p2 = (await h.app.inject({ url: '/v1/searches?limit=2&page=2', headers: auth(key) })).json();
    expect(p2.items.map((s: { id: string }) => s.id)).toEqual(newestFirst.slice(2, 4));
    expect(p2.total).toBe(5);
    expect(p2.page).toBe(2);

    const dms = (await h.app.inject({ url: '/v1/searches?family=dms', headers: auth(key) })).json();
    expect(dms.items.map((s: { id: string }) => s.id)).toEqual([ids[3], ids[1]]);

    await h.app.inject({ method: 'DELETE', url: `/v1/searches/${ids[0]}`, headers: auth(key) });
    const cancelled = (await h.app.inject({ url: '/v1/searches?state=CANCELLED', headers: auth(key) })).json();
    expect(cancelled.items.map((s: { id: string }) => s.id)).toEqual([ids[0]]);
    const queuedSma = (await h.app.inject({ url: '/v1/searches?state=QUEUED&family=sma', headers: auth(key) })).json();
    expect(queuedSma.items.map((s: { id: string }) => s.id)).toEqual([ids[4], ids[2]]);
  });

  it('cancels a search and keeps its results', async () => {
    const s = (await submit(h.alice)).json();
    const run = (await h.store.runs.list(s.id))[0]!;
    await recordResults(h.store, run.id, 0, 2);
    const del = await h.app.inject({ method: 'DELETE', url: `/v1/searches/${s.id}`, headers: auth(h.alice) });
    expect(del.statusCode).toBe(200);
    expect(del.json().state).toBe('CANCELLED');
    const again = await h.app.inject({ method: 'DELETE', url: `/v1/searches/${s.id}`, headers: auth(h.alice) });
    expect(again.statusCode).toBe(200);
    const tasks = await h.app.inject({ url: `/v1/searches/${s.id}/runs/${run.id}/tasks`, headers: auth(h.alice) });
    expect(tasks.statusCode).toBe(200);
    expect(tasks.json().items.map((t: { taskIndex: number }) => t.taskIndex)).toEqual([0, 1]);
    expect(tasks.json().items[0]).toMatchObject({ iterations: 100, converged: true, accuracy: 0.9 });
  });

  it("hides another owner's search everywhere (404, never 403) and from the list", async () => {
    const s = (await submit(h.bob)).json();
    const run = (await h.store.runs.list(s.id))[0]!;
    for (const url of [
      `/v1/searches/${s.id}`,
      `/v1/searches/${s.id}/candidates`,
      `/v1/searches/${s.id}/runs/${run.id}/tasks`,
      `/v1/searches/${s.id}/events`,
    ]) {
      const r = await h.app.inject({ url, headers: auth(h.alice) });
      expect(r.statusCode, url).toBe(404);
      expect(r.headers['content-type']).toContain('application/problem+json');
    }
    const del = await h.app.inject({ method: 'DELETE', url: `/v1/searches/${s.id}`, headers: auth(h.alice) });
    expect(del.statusCode).toBe(404);
    expect((await h.store.searches.get('bob', s.id)).state).toBe('QUEUED');
    const list = (await h.app.inject({ url: '/v1/searches?limit=100', headers: auth(h.alice) })).json();
    expect(list.items.some((x: { id: string }) => x.id === s.id)).toBe(false);
    expect(list.items.every((x: { owner: string }) => x.owner === 'alice')).toBe(true);
    // A run of one's own search asked for under another search is not found either.
    const mine = (await submit(h.alice)).json();
    const r = await h.app.inject({ url: `/v1/searches/${mine.id}/runs/${run.id}/tasks`, headers: auth(h.alice) });
    expect(r.statusCode).toBe(404);
  });
});

describe('starting a search', () => {
  it('by default asks the controller to advance the new search (a search.advance job)', async () => {
    const prefix = `ip2-api-test-${randomUUID()}`;
    const app = await buildApp({ store: h.store, redisUrl: REDIS_URL, queuePrefix: prefix, logger: false });
    const queues = new Queues(REDIS_URL, prefix);
    try {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/searches',
        headers: auth(h.alice),
        payload: smallSearch(),
      });
      expect(r.statusCode).toBe(201);
      const jobs = await queues.control.getJobs(['waiting', 'delayed', 'prioritized']);
      expect(jobs.map((j) => j.data)).toEqual([{ searchId: r.json().id, reason: 'submitted' }]);
    } finally {
      await app.close();
      await queues.control.obliterate({ force: true });
      await queues.close();
    }
  });
});

describe('model settings of a search', () => {
  it('accepts modelVersion, propertyOptimizer, propertyLr and readout, and stores them in the definition', async () => {
    const network = { hidden: 8, modelVersion: 1, propertyOptimizer: 'sgd', propertyLr: 0.02, readout: 'spikes' };
    const r = await submit(
      h.alice,
      smallSearch({ protocol: { tasks: 4, seeds: 2, iterationCap: 200, criterion: { window: 10 }, network } }),
    );
    expect(r.statusCode, r.body).toBe(201);
    expect(r.json().definition.protocol.network).toMatchObject(network);
    expect(r.json().protocol.network).toMatchObject(network);
    const plain = await submit(h.alice);
    expect(plain.statusCode).toBe(201);
    expect(plain.json().definition.protocol.network).toMatchObject({ modelVersion: 2, propertyOptimizer: 'adam' });
    expect(plain.json().definition.protocol.network).not.toHaveProperty('readout');
    expect(plain.json().definition.protocol.network).not.toHaveProperty('propertyLr');
  });
});

describe('fixed configurations', () => {
  it('lists a family and gets one by id', async () => {
    const d = parseSearchDefinition({
      family: 'dms',
      space: ['tauD', 'theta'],
      protocol: { tasks: 4, seeds: 2 },
      bootstrap: { resamples: 50 },
    });
    const { table } = simulateSearch(d, powerLawTruth({ first: { '10': 200 }, noise: 0.1, seed: 4 }));
    const saved = await h.store.fixedConfigs.save(fixConfiguration(d, table));
    const list = await h.app.inject({ url: '/v1/configs?family=dms', headers: auth(h.alice) });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toHaveLength(1);
    expect(list.json().items[0]).toMatchObject({
      id: saved.config.id,
      version: 1,
      modelVersion: 2,
      bits: saved.config.bits,
      verdict: saved.config.record.validation!.verdict,
    });
    // Validated on 3 fresh seeds (the default): the verdict is one of the three, the fixed mask the evidence's.
    expect(['confirmed', 'tie', 'overturned']).toContain(list.json().items[0].verdict);
    expect(saved.config.bits).toBe(saved.config.record.validation!.better.bits);
    const one = await h.app.inject({ url: `/v1/configs/${saved.config.id}`, headers: auth(h.alice) });
    expect(one.statusCode).toBe(200);
    expect(one.json().modelVersion).toBe(2);
    expect(one.json().record.hash).toBe(saved.config.hash);
    expect(one.json().record.model).toEqual(saved.config.record.model);
    // A configuration fixed under model version 1 beside it: listed, told apart, and filtered out per version.
    const v1 = parseSearchDefinition({
      ...d,
      protocol: { ...d.protocol, network: { ...d.protocol.network, modelVersion: 1 } },
    });
    const old = await h.store.fixedConfigs.save(fixConfiguration(v1, table));
    const both = (await h.app.inject({ url: '/v1/configs?family=dms', headers: auth(h.alice) })).json();
    expect(both.items.map((c: { version: number; modelVersion: number }) => [c.version, c.modelVersion])).toEqual([
      [1, 2],
      [2, 1],
    ]);
    const only2 = await h.app.inject({ url: '/v1/configs?family=dms&modelVersion=2', headers: auth(h.alice) });
    expect(only2.statusCode).toBe(200);
    expect(only2.json().items.map((c: { id: string }) => c.id)).toEqual([saved.config.id]);
    const only1 = (await h.app.inject({ url: '/v1/configs?family=dms&modelVersion=1', headers: auth(h.alice) })).json();
    expect(only1.items.map((c: { id: string }) => c.id)).toEqual([old.config.id]);
    const none = await h.app.inject({ url: '/v1/configs?family=sma', headers: auth(h.alice) });
    expect(none.json().items).toEqual([]);
    const missing = await h.app.inject({ url: `/v1/configs/${crypto.randomUUID()}`, headers: auth(h.alice) });
    expect(missing.statusCode).toBe(404);
  });
});

describe('operations', () => {
  it('health, readiness and metrics need no key', async () => {
    expect((await h.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await h.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { postgres: { ok: true }, redis: { ok: true } } });
    const m = await h.app.inject('/metrics');
    expect(m.statusCode).toBe(200);
    expect(m.headers['content-type']).toContain('text/plain');
    expect(m.body).toMatch(/ip2_api_http_requests_total\{method="POST",route="\/v1\/searches",status="201"\} \d+/);
    expect(m.body).toMatch(/ip2_api_http_request_duration_seconds_bucket/);
    expect(m.body).toMatch(/ip2_searches\{state="QUEUED"\} [1-9]\d*/);
    expect(m.body).toMatch(/ip2_searches\{state="CANCELLED"\} [1-9]\d*/);
  });

  it('serves the OpenAPI document with every route, and Swagger UI at /docs', async () => {
    const r = await h.app.inject('/docs/json');
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBeTruthy();
    const paths = doc.paths as Record<string, Record<string, unknown>>;
    const expected: [string, string][] = [
      ['/v1/searches', 'post'],
      ['/v1/searches', 'get'],
      ['/v1/searches/{id}', 'get'],
      ['/v1/searches/{id}', 'delete'],
      ['/v1/searches/{id}/candidates', 'get'],
      ['/v1/searches/{id}/runs/{runId}/tasks', 'get'],
      ['/v1/searches/{id}/events', 'get'],
      ['/v1/configs', 'get'],
      ['/v1/configs/{id}', 'get'],
      ['/healthz', 'get'],
      ['/readyz', 'get'],
      ['/metrics', 'get'],
    ];
    for (const [path, method] of expected) expect(paths[path]?.[method], `${method} ${path}`).toBeDefined();
    const post = paths['/v1/searches']!.post as {
      requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> };
      security: unknown[];
    };
    expect(Object.keys(post.requestBody.content['application/json']!.schema.properties)).toContain('family');
    const body = post.requestBody.content['application/json']!.schema as unknown as {
      properties: { protocol: { properties: { network: { properties: Record<string, Record<string, unknown>> } } } };
    };
    const network = body.properties.protocol.properties.network.properties;
    expect(network.modelVersion).toMatchObject({ default: 2, enum: [1, 2] });
    expect(network.propertyOptimizer).toMatchObject({ default: 'adam', enum: ['adam', 'sgd'] });
    expect(network.propertyLr).toMatchObject({ type: 'number' });
    expect(network.readout).toMatchObject({ enum: ['spikes', 'membrane'] });
    const configs = paths['/v1/configs']!.get as { parameters: { name: string }[] };
    expect(configs.parameters.map((p) => p.name)).toContain('modelVersion');
    expect(doc.components.schemas.FixedConfig.properties).toHaveProperty('modelVersion');
    expect(post.security).toEqual([{ bearer: [] }]);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const ui = await h.app.inject('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toContain('swagger');
    const asset = await h.app.inject('/docs/static/swagger-ui-bundle.js');
    expect(asset.statusCode).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiEnv } from './env.js';
import { auth, createHarness, rowCounts, smallSearch, type Harness } from './test-harness.js';

const LIMITS = { maxTaskTrainings: 200, maxHidden: 64, bodyLimit: 2048, maxActiveSearches: 2 };

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ limits: LIMITS });
});
afterAll(async () => {
  await h?.close();
});

const submit = (key: string, body: unknown, headers: Record<string, string> = {}) =>
  h.app.inject({
    method: 'POST',
    url: '/v1/searches',
    headers: { ...auth(key), ...headers },
    payload: body as Record<string, unknown>,
  });

interface ProblemBody {
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
}

/** The response is a problem+json of this status whose errors name the path; nothing was written. */
async function expectRefused(r: Awaited<ReturnType<typeof submit>>, status: number, path: string) {
  expect(r.statusCode, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  const p = r.json<ProblemBody>();
  expect(p.status).toBe(status);
  expect(p.errors?.map((e) => e.path)).toContain(path);
  return p;
}

const protocol = (p: Record<string, unknown>) =>
  smallSearch({ protocol: { tasks: 4, seeds: 2, iterationCap: 200, criterion: { window: 10 }, ...p } });

describe('limits that protect the cluster', () => {
  it('masks × seeds × tasks: a search planning more task trainings than MAX_TASK_TRAININGS is refused', async () => {
    const before = await rowCounts(h.store);
    // 4 masks × 5 seeds × 20 tasks = 400 > 200
    const p = await expectRefused(await submit(h.bob, protocol({ tasks: 20, seeds: 5 })), 422, 'protocol');
    expect(p.detail).toMatch(/plans \d+ task trainings .*limit of 200/);
    expect(await rowCounts(h.store)).toEqual(before);
  });

  it('network size: protocol.network.hidden over MAX_HIDDEN is refused, at the limit accepted', async () => {
    const p = await expectRefused(
      await submit(h.bob, protocol({ network: { hidden: 65 } })),
      422,
      'protocol.network.hidden',
    );
    expect(p.detail).toMatch(/protocol\.network\.hidden \(65\) exceeds this server's limit of 64/);
    const ok = await submit(h.bob, protocol({ network: { hidden: 64 } }));
    expect(ok.statusCode, ok.body).toBe(201);
    await h.app.inject({ method: 'DELETE', url: `/v1/searches/${ok.json().id}`, headers: auth(h.bob) });
  });

  it('body size: a body over BODY_LIMIT bytes is refused with 413 before it is parsed', async () => {
    const before = await rowCounts(h.store);
    const body = JSON.stringify(smallSearch({ note: 'x'.repeat(LIMITS.bodyLimit) }));
    const r = await h.app.inject({
      method: 'POST',
      url: '/v1/searches',
      headers: { ...auth(h.bob), 'content-type': 'application/json' },
      payload: body,
    });
    const p = await expectRefused(r, 413, 'body');
    expect(p.detail).toContain(`larger than ${LIMITS.bodyLimit} bytes`);
    expect(await rowCounts(h.store)).toEqual(before);
  });

  it('concurrent searches: an owner with MAX_ACTIVE_SEARCHES unfinished searches gets 429 until one ends', async () => {
    const a = await submit(h.alice, smallSearch(), { 'idempotency-key': 'first' });
    const b = await submit(h.alice, smallSearch());
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const before = await rowCounts(h.store);
    const p = await expectRefused(await submit(h.alice, smallSearch()), 429, 'headers.authorization');
    expect(p.detail).toMatch(/2 unfinished searches.*MAX_ACTIVE_SEARCHES = 2/);
    expect(await rowCounts(h.store)).toEqual(before);
    // A retry of an existing submission creates nothing, so it still answers.
    const retry = await submit(h.alice, smallSearch(), { 'idempotency-key': 'first' });
    expect(retry.statusCode).toBe(200);
    expect(retry.json().id).toBe(a.json().id);
    // Another owner has an allowance of its own.
    const other = await submit(h.bob, smallSearch());
    expect(other.statusCode).toBe(201);
    // A cancelled search no longer counts.
    await h.app.inject({ method: 'DELETE', url: `/v1/searches/${a.json().id}`, headers: auth(h.alice) });
    expect((await submit(h.alice, smallSearch())).statusCode).toBe(201);
    expect((await submit(h.alice, smallSearch())).statusCode).toBe(429);
  });

  it('concurrent searches: parallel submissions cannot overshoot the limit', async () => {
    const key = (await h.store.apiKeys.create('carol', 'test')).key;
    const codes = (await Promise.all(Array.from({ length: 8 }, () => submit(key, smallSearch())))).map(
      (r) => r.statusCode,
    );
    expect(codes.filter((c) => c === 201)).toHaveLength(LIMITS.maxActiveSearches);
    expect(codes.filter((c) => c === 429)).toHaveLength(8 - LIMITS.maxActiveSearches);
    expect(await h.store.client.search.count({ where: { owner: 'carol' } })).toBe(LIMITS.maxActiveSearches);
  });

  it('each limit is set by the environment, and a bad value is named', () => {
    const c = parseApiEnv({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/ip2',
      MAX_TASK_TRAININGS: '5000',
      MAX_HIDDEN: '128',
      BODY_LIMIT: '4096',
      MAX_ACTIVE_SEARCHES: '3',
      RATE_LIMIT_MAX: '10',
      METRICS_PUBLIC: 'false',
    });
    expect(c.limits).toMatchObject({
      maxTaskTrainings: 5000,
      maxHidden: 128,
      bodyLimit: 4096,
      maxActiveSearches: 3,
      rateLimitMax: 10,
    });
    expect(c.metricsPublic).toBe(false);
    expect(parseApiEnv({ DATABASE_URL: 'postgresql://x@h/d' }).metricsPublic).toBe(true);
    expect(() =>
      parseApiEnv({
        DATABASE_URL: 'postgresql://x@h/d',
        MAX_ACTIVE_SEARCHES: '0',
        BODY_LIMIT: 'big',
        MAX_TASK_TRAININGS: '-1',
        METRICS_PUBLIC: 'maybe',
      }),
    ).toThrow(
      /MAX_TASK_TRAININGS: must be at least 1\nBODY_LIMIT: must be an integer\n.*MAX_ACTIVE_SEARCHES: must be at least 1\nMETRICS_PUBLIC: must be true or false/s,
    );
  });
});

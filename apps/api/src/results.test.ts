import { parseTasksJson, searchReport, taskFiles } from '@ip2/report';
import { parseSearchDefinition, propertyImportance, tableFromRows } from '@ip2/search';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { auth, createHarness, recordResults, smallSearch, type Harness } from './test-harness.js';

let h: Harness;
let complete: string;
let running: string;

beforeAll(async () => {
  h = await createHarness({ logger: { level: 'error' } });
  const post = async () =>
    (
      await h.app.inject({
        method: 'POST',
        url: '/v1/searches',
        headers: auth(h.alice),
        payload: smallSearch({ strategy: { kind: 'exhaustive' } }),
      })
    ).json().id as string;
  complete = await post();
  running = await post();
  const runs = await h.store.runs.list(complete);
  // One run diverges on its last task (NaN loss): NaN must reach the files as the local mode writes it.
  for (const r of runs.slice(1)) await recordResults(h.store, r.id, 0, 4);
  const first = runs[0]!;
  await recordResults(h.store, first.id, 0, 3);
  const claim = (await h.store.runs.claim(first.id, { workerId: 'w', host: 'h', engine: 'fused', backend: 'js' }))!;
  await h.store.runs.recordTasks(
    first.id,
    claim.claimToken,
    [
      {
        taskIndex: 3,
        iterations: 150,
        trialsToCriterion: 300,
        batchSize: 2,
        totalIterations: 200,
        converged: false,
        failure: 'nan',
        finalLoss: Number.NaN,
        accuracy: 0.25,
        heldOutLoss: Number.POSITIVE_INFINITY,
        firingRate: 0,
        activeNeurons: 0,
        neurons: 40,
        fractionSilent: 1,
        wallMs: 12,
      },
    ],
    null,
  );
  await h.store.runs.release(first.id, claim.claimToken, 'COMPLETE');
  await h.store.controller.setSearchState(complete, 'RUNNING');
  await h.store.controller.setSearchState(complete, 'COMPLETE');
  await recordResults(h.store, (await h.store.runs.list(running))[0]!.id, 0, 2);
});
afterAll(async () => {
  await h?.close();
});

describe('GET /v1/searches/{id}/results', () => {
  it('gives tasks.json of every run, as the local mode writes it (NaN and ±∞ kept), as a download', async () => {
    const r = await h.app.inject({ url: `/v1/searches/${complete}/results?format=json`, headers: auth(h.alice) });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.headers['content-disposition']).toBe(`attachment; filename="search-${complete}-tasks.json"`);
    const records = await h.store.searches.taskResults('alice', complete);
    expect(r.body).toBe(taskFiles(records).json);
    const rows = parseTasksJson(r.body);
    expect(rows).toHaveLength(4 * 2 * 4);
    expect(rows.map((x) => `${x.candidate}/${x.seedIndex}/${x.taskIndex}`)).toEqual(
      [...rows.map((x) => `${x.candidate}/${x.seedIndex}/${x.taskIndex}`)].sort(),
    );
    const diverged = rows.find((x) => !x.converged)!;
    expect(diverged.finalLoss).toBeNaN();
    expect((diverged as unknown as { heldOutLoss: number }).heldOutLoss).toBe(Number.POSITIVE_INFINITY);
    expect((diverged as unknown as { failure: string }).failure).toBe('nan');
    // The default format is json.
    const plain = await h.app.inject({ url: `/v1/searches/${complete}/results`, headers: auth(h.alice) });
    expect(plain.body).toBe(r.body);
  });

  it('gives tasks.csv with format=csv, also while the search runs (the results so far)', async () => {
    const r = await h.app.inject({ url: `/v1/searches/${running}/results?format=csv`, headers: auth(h.alice) });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/csv/);
    expect(r.headers['content-disposition']).toBe(`attachment; filename="search-${running}-tasks.csv"`);
    const lines = r.body.trim().split('\n');
    expect(lines[0]).toBe(
      'candidate,seedIndex,taskIndex,iterations,trialsToCriterion,batchSize,totalIterations,converged,failure,finalLoss,accuracy,heldOutLoss,firingRate,activeNeurons,neurons,fractionSilent',
    );
    expect(lines).toHaveLength(1 + 2);
  });
});

describe('GET /v1/searches/{id}/report', () => {
  it("is the local mode's HTML report made from the stored results", async () => {
    const r = await h.app.inject({ url: `/v1/searches/${complete}/report`, headers: auth(h.alice) });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    const search = await h.store.searches.get('alice', complete);
    const records = await h.store.searches.taskResults('alice', complete);
    const wallSeconds = (search.finishedAt!.getTime() - search.startedAt!.getTime()) / 1000;
    const expected = await searchReport(parseSearchDefinition(search.definition), records, {
      searchId: complete,
      wallSeconds,
    });
    expect(r.body).toBe(expected.html);
    expect(r.body).toMatch(/^<!doctype html>/);
    expect(r.body).toContain('Meta-IP search on <code>sma</code>');
    expect(r.body).toContain(expected.fixed.hash);
    expect(r.body).toContain('engine fused/js');
  });

  it('is a 409 problem while the search is not COMPLETE', async () => {
    const r = await h.app.inject({ url: `/v1/searches/${running}/report`, headers: auth(h.alice) });
    expect(r.statusCode).toBe(409);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json().detail).toMatch(/is RUNNING: its report exists once it is COMPLETE/);
  });

  it('says the analyses are pending while a worker computes them, and why they failed if they did', async () => {
    const get = async () =>
      (await h.app.inject({ url: `/v1/searches/${complete}/report`, headers: auth(h.alice) })).body;
    expect(await get()).toContain('Not computed for this report');
    await h.store.analyses.request(complete, 2);
    const pending = await get();
    expect(pending).toContain('Analyses pending: a worker is training the chosen configuration again on 2 seeds');
    expect(pending).not.toContain('Not computed for this report');
    await h.store.analyses.fail(complete, 'search sma: <lesion> study failed');
    expect(await get()).toContain(
      'The analyses of the chosen configuration failed: search sma: &lt;lesion&gt; study failed',
    );
  });

  it('is made once and served again from memory until the state of its analyses changes', async () => {
    const get = async () =>
      (await h.app.inject({ url: `/v1/searches/${complete}/report`, headers: auth(h.alice) })).body;
    const spy = vi.spyOn(h.store.searches, 'taskResults');
    const builds = () => spy.mock.calls.filter((c) => c[1] === complete).length;
    try {
      await h.store.analyses.fail(complete, 'first reason');
      const first = await get();
      expect(first).toContain('first reason');
      expect(builds()).toBe(1);
      expect(await get()).toBe(first);
      expect(await get()).toBe(first);
      expect(builds()).toBe(1);
      // The analyses changed: made again, once.
      await h.store.analyses.fail(complete, 'second reason');
      const second = await get();
      expect(second).toContain('second reason');
      expect(await get()).toBe(second);
      expect(builds()).toBe(2);
      // Still only for its owner.
      const other = await h.app.inject({ url: `/v1/searches/${complete}/report`, headers: auth(h.bob) });
      expect(other.statusCode).toBe(404);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('GET /v1/searches/{id}/importance', () => {
  it('gives the main effects and the interaction from the factorial over masks, as @ip2/search computes them', async () => {
    const r = await h.app.inject({ url: `/v1/searches/${complete}/importance`, headers: auth(h.alice) });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    const definition = parseSearchDefinition(smallSearch({ strategy: { kind: 'exhaustive' } }));
    const expected = propertyImportance(definition, tableFromRows(await h.store.runs.resultTable(complete)));
    expect(body).toEqual({ searchId: complete, state: 'COMPLETE', importance: expected, unavailable: null });
    expect(body.importance.main.map((e: { keys: string[] }) => e.keys)).toEqual([['tauD'], ['theta']]);
    expect(body.importance.interactions.map((e: { keys: string[] }) => e.keys)).toEqual([['tauD', 'theta']]);
    expect(body.importance).toMatchObject({ metric: 'restricted-mean', direction: 'lower', tasks: 4, seeds: 2 });
  });

  it('says why there is none while the first rung is not measured', async () => {
    const r = await h.app.inject({ url: `/v1/searches/${running}/importance`, headers: auth(h.alice) });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      importance: null,
      unavailable: 'not every mask has its first 4 tasks on every seed yet',
    });
  });
});

describe('outputs: errors and isolation', () => {
  const routes = (id: string) => [
    `/v1/searches/${id}/report`,
    `/v1/searches/${id}/results?format=csv`,
    `/v1/searches/${id}/importance`,
  ];

  it("another key's search is a 404 problem, never its content", async () => {
    for (const url of routes(complete)) {
      const r = await h.app.inject({ url, headers: auth(h.bob) });
      expect(r.statusCode).toBe(404);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json().detail).toBe(`no search ${complete}`);
    }
  });

  it('needs a key, a UUID and a known format', async () => {
    for (const url of routes(complete)) {
      const r = await h.app.inject({ url });
      expect(r.statusCode).toBe(401);
      expect(r.json().errors[0].path).toBe('headers.authorization');
    }
    const badId = await h.app.inject({ url: '/v1/searches/nope/report', headers: auth(h.alice) });
    expect(badId.statusCode).toBe(400);
    expect(badId.json().detail).toMatch(/id must be a UUID/);
    const badFormat = await h.app.inject({
      url: `/v1/searches/${complete}/results?format=xml`,
      headers: auth(h.alice),
    });
    expect(badFormat.statusCode).toBe(400);
    expect(badFormat.json().errors[0]).toMatchObject({ path: 'query.format' });
    expect(badFormat.json().detail).toMatch(/format must be 'json' or 'csv'/);
    const extra = await h.app.inject({ url: `/v1/searches/${complete}/report?x=1`, headers: auth(h.alice) });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().detail).toMatch(/unknown query parameter\(s\) 'x'/);
  });

  it('the routes are in the OpenAPI document, and a search links to them', async () => {
    const doc = (await h.app.inject({ url: '/docs/json' })).json();
    expect(doc.paths['/v1/searches/{id}/importance'].get.responses['200']).toBeDefined();
    expect(doc.components.schemas).toHaveProperty('PropertyImportance');
    expect(doc.paths['/v1/searches/{id}/report'].get.responses).toHaveProperty('409');
    expect(doc.paths['/v1/searches/{id}/results'].get.parameters.map((p: { name: string }) => p.name)).toContain(
      'format',
    );
    const s = (await h.app.inject({ url: `/v1/searches/${complete}`, headers: auth(h.alice) })).json();
    expect(s.links.report).toBe(`/v1/searches/${complete}/report`);
    expect(s.links.results).toBe(`/v1/searches/${complete}/results`);
    expect(s.links.importance).toBe(`/v1/searches/${complete}/importance`);
  });
});

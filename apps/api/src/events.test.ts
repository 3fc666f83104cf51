import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, createHarness, parseSse, recordResults, smallSearch, type Harness, type Sse } from './test-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

async function newSearch(): Promise<{ id: string; runs: string[] }> {
  const r = await h.app.inject({ method: 'POST', url: '/v1/searches', headers: auth(h.alice), payload: smallSearch() });
  const id = r.json().id as string;
  return { id, runs: (await h.store.runs.list(id)).map((x) => x.id) };
}

const taskKey = (e: Sse) => `${String(e.data.runId)}#${String(e.data.taskIndex)}`;
const taskCount = (events: Sse[]) => events.filter((e) => e.event === 'task').length;

/** Polls `cond` every 20 ms until it holds; fails after `ms`. */
async function eventually(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const metricsText = async () => (await h.app.inject('/metrics')).body;

describe('progress events', () => {
  it('streams state, every task result with increasing ids, and the end; resumes after Last-Event-ID', async () => {
    const s = await newSearch();
    await recordResults(h.store, s.runs[0]!, 0, 3);
    await recordResults(h.store, s.runs[1]!, 0, 2);
    await h.app.inject({ method: 'DELETE', url: `/v1/searches/${s.id}`, headers: auth(h.alice) });

    const r = await h.app.inject({ url: `/v1/searches/${s.id}/events`, headers: auth(h.alice) });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/event-stream');
    const events = parseSse(r.body);
    const tasks = events.filter((e) => e.event === 'task');
    expect(tasks.map((e) => e.id)).toEqual(['1', '2', '3', '4', '5']);
    expect(new Set(tasks.map(taskKey)).size).toBe(5);
    expect(tasks[0]!.data).toMatchObject({ converged: true, accuracy: 0.9 });
    expect(events.find((e) => e.event === 'state')!.data).toMatchObject({ state: 'CANCELLED', tasksDone: 5 });
    expect(events.some((e) => e.event === 'candidates')).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { state: 'CANCELLED' } });

    const resumed = parseSse(
      (await h.app.inject({ url: `/v1/searches/${s.id}/events`, headers: { ...auth(h.alice), 'last-event-id': '2' } }))
        .body,
    ).filter((e) => e.event === 'task');
    expect(resumed.map((e) => e.id)).toEqual(['3', '4', '5']);
    expect(resumed.map(taskKey)).toEqual(tasks.slice(2).map(taskKey));

    const past = parseSse(
      (await h.app.inject({ url: `/v1/searches/${s.id}/events`, headers: { ...auth(h.alice), 'last-event-id': '99' } }))
        .body,
    );
    expect(past.filter((e) => e.event === 'task')).toEqual([]);
    expect(past.at(-1)?.event).toBe('end');
  });

  it('gives each task event exactly the fields of the REST task view, firing statistics included', async () => {
    const s = await newSearch();
    await recordResults(h.store, s.runs[0]!, 0, 2);
    const claim = (await h.store.runs.claim(s.runs[0]!, { workerId: 'w', host: 'h' }))!;
    // A failed task of a non-spiking model: NaN firing statistics go out as null, failure in lower case.
    await h.store.runs.recordTasks(
      s.runs[0]!,
      claim.claimToken,
      [
        {
          taskIndex: 2,
          iterations: 250,
          trialsToCriterion: 500,
          batchSize: 2,
          totalIterations: 300,
          converged: false,
          failure: 'cap',
          finalLoss: 0.04,
          accuracy: 0.5,
          heldOutLoss: 0.041,
          firingRate: Number.NaN,
          activeNeurons: Number.NaN,
          neurons: 16,
          fractionSilent: Number.NaN,
          wallMs: 7,
        },
      ],
      null,
    );
    await h.store.runs.release(s.runs[0]!, claim.claimToken, 'WAITING');
    // A row recorded before the trials and firing statistics were kept.
    await h.store.client.$executeRaw`
      INSERT INTO "TaskResult" ("runId", "taskIndex", "iterations", "totalIterations", "converged", "failure",
        "finalLoss", "accuracy", "heldOutLoss", "firingRate", "wallMs")
      VALUES (${s.runs[0]!}::uuid, 3, 80, 130, true, NULL, 0.004, 1, 0.003, 0.01, 9)`;
    await h.app.inject({ method: 'DELETE', url: `/v1/searches/${s.id}`, headers: auth(h.alice) });

    const rest = await h.app.inject({ url: `/v1/searches/${s.id}/runs/${s.runs[0]!}/tasks`, headers: auth(h.alice) });
    expect(rest.statusCode).toBe(200);
    const items = rest.json().items as Record<string, unknown>[];
    expect(items).toHaveLength(4);
    const events = parseSse((await h.app.inject({ url: `/v1/searches/${s.id}/events`, headers: auth(h.alice) })).body)
      .filter((e) => e.event === 'task')
      .sort((a, b) => Number(a.data.taskIndex) - Number(b.data.taskIndex));
    expect(events).toHaveLength(4);
    const run = (await h.store.runs.list(s.id)).find((r) => r.id === s.runs[0]!)!;
    for (const [i, e] of events.entries()) {
      expect(e.data).toEqual({ runId: run.id, candidate: run.candidate, seedIndex: run.seedIndex, ...items[i] });
    }
    expect(items[0]).toMatchObject({ trialsToCriterion: 200, batchSize: 2, activeNeurons: 30, neurons: 40 });
    expect(items[0]!.fractionSilent).toBe(0.25);
    expect(items[0]!.firingRate).toBe(0.25);
    expect(items[2]).toMatchObject({
      failure: 'cap',
      iterations: 250,
      trialsToCriterion: 500,
      firingRate: null,
      activeNeurons: null,
      neurons: 16,
      fractionSilent: null,
    });
    expect(items[3]).toMatchObject({
      iterations: 80,
      firingRate: 0.01,
      trialsToCriterion: null,
      batchSize: null,
      activeNeurons: null,
      neurons: null,
      fractionSilent: null,
    });
  });

  it('delivers results of a running search live, and a reconnecting client misses none', async () => {
    const s = await newSearch();
    const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${address}/v1/searches/${s.id}/events`;

    /** Reads events until `until` says stop, then disconnects. */
    async function read(headers: Record<string, string>, until: (events: Sse[]) => boolean): Promise<Sse[]> {
      const ac = new AbortController();
      const res = await fetch(url, { headers: { ...auth(h.alice), ...headers }, signal: ac.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const deadline = Date.now() + 15_000;
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          const complete = text.slice(0, text.lastIndexOf('\n\n') + 2);
          const events = parseSse(complete);
          if (until(events) || Date.now() > deadline) return events;
        }
        return parseSse(text);
      } finally {
        ac.abort();
      }
    }

    let firstSeen: Sse[] = [];
    const first = read({}, (ev) => taskCount((firstSeen = ev)) >= 3);
    // The stream is open before the results arrive, and has the first two before the next are written.
    await eventually(async () => /^ip2_api_event_streams 1$/m.test(await metricsText()));
    await recordResults(h.store, s.runs[0]!, 0, 2);
    await eventually(() => taskCount(firstSeen) >= 2);
    await recordResults(h.store, s.runs[1]!, 0, 2);
    const got = (await first).filter((e) => e.event === 'task');
    expect(got.slice(0, 3).map((e) => e.id)).toEqual(['1', '2', '3']);
    const lastId = got[2]!.id!;

    // While disconnected: more results, then the search ends.
    await recordResults(h.store, s.runs[2]!, 0, 3);
    let restSeen: Sse[] = [];
    const rest = read({ 'last-event-id': lastId }, (ev) => (restSeen = ev).some((e) => e.event === 'end'));
    // Once the new stream has replayed what it missed and the first one is closed, the open stream is
    // counted in the metrics.
    await eventually(() => taskCount(restSeen) >= 4);
    await eventually(async () => /^ip2_api_event_streams 1$/m.test(await metricsText()));
    const metrics = await metricsText();
    expect(metrics).toMatch(/^ip2_api_event_streams 1$/m);
    expect(metrics).toMatch(/^ip2_api_event_feeds 1$/m);
    expect(metrics).toMatch(/^ip2_api_event_buffered_bytes \d+$/m);
    expect(metrics).toMatch(/^ip2_api_event_streams_dropped_total 0$/m);
    await h.app.inject({ method: 'DELETE', url: `/v1/searches/${s.id}`, headers: auth(h.alice) });
    const after = await rest;
    const tasks = after.filter((e) => e.event === 'task');
    expect(tasks.map((e) => Number(e.id))).toEqual([4, 5, 6, 7]);
    const all = new Set([...got.slice(0, 3), ...tasks].map(taskKey));
    expect(all.size).toBe(7);
    expect(after.at(-1)).toMatchObject({ event: 'end', data: { state: 'CANCELLED' } });
  });
});

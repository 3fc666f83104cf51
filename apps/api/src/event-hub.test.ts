import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EventHub } from './event-hub.js';
import { auth, createHarness, parseSse, recordResults, smallSearch, type Harness, type Sse } from './test-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const taskKeys = (events: Sse[]) =>
  events.filter((e) => e.event === 'task').map((e) => `${e.id}:${String(e.data.runId)}#${String(e.data.taskIndex)}`);

async function newSearch(): Promise<{ id: string; runs: string[] }> {
  const r = await h.app.inject({ method: 'POST', url: '/v1/searches', headers: auth(h.alice), payload: smallSearch() });
  const id = r.json().id as string;
  return { id, runs: (await h.store.runs.list(id)).map((x) => x.id) };
}

const cancel = (id: string) => h.app.inject({ method: 'DELETE', url: `/v1/searches/${id}`, headers: auth(h.alice) });

/** A client that reads everything at once. */
class Collector extends Writable {
  text = '';
  ended = false;
  constructor() {
    super({ decodeStrings: false });
    this.on('finish', () => {
      this.ended = true;
    });
  }
  override _write(chunk: unknown, _enc: BufferEncoding, cb: () => void): void {
    this.text += String(chunk);
    cb();
  }
  get events(): Sse[] {
    return parseSse(this.text);
  }
}

/** A client that reads nothing: what is written to it stays buffered. */
class Stalled extends Writable {
  constructor() {
    super({ highWaterMark: 1, decodeStrings: false });
  }
  override _write(): void {
    // never acknowledges a write
  }
}

/** A client that reads, slowly: each write is taken 2 ms after it arrives. */
class Slow extends Writable {
  text = '';
  ended = false;
  constructor() {
    super({ highWaterMark: 256, decodeStrings: false });
  }
  override _write(chunk: unknown, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.text += String(chunk);
    setTimeout(cb, 2);
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.ended = true;
    cb();
  }
  get events(): Sse[] {
    return parseSse(this.text);
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(20);
  }
}

/** How many times the hub read the search's results since `spy` was set on the store. */
const pollsOf = (spy: { mock: { calls: unknown[][] } }, searchId: string) =>
  spy.mock.calls.filter((c) => c[0] === searchId).length;

/**
 * Until the search's results have been read twice more: at most one read was under way when this was
 * called, so the second began after it and sees what was written before.
 */
async function nextPoll(spy: { mock: { calls: unknown[][] } }, searchId: string): Promise<void> {
  const before = pollsOf(spy, searchId);
  await until(() => pollsOf(spy, searchId) >= before + 2);
}

/** The progress streams open on the app, from its metrics. */
async function openStreams(): Promise<number> {
  const metrics = (await h.app.inject('/metrics')).body;
  return Number(/^ip2_api_event_streams (\d+)$/m.exec(metrics)?.[1]);
}

describe('event hub', () => {
  it('serves many streams of one search from one poll, and every stream gets the same complete sequence', async () => {
    const s = await newSearch();
    const address = await h.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `${address}/v1/searches/${s.id}/events`;
    const spy = vi.spyOn(h.store.monitor, 'resultsAfter');
    const started = Date.now();
    const clients = 12;
    const bodies = Array.from({ length: clients }, async () => {
      const res = await fetch(url, { headers: auth(h.alice) });
      expect(res.status).toBe(200);
      return parseSse(await res.text());
    });
    // Every client follows the feed before the results arrive, each write seen by a poll of its own.
    await until(async () => (await openStreams()) === clients);
    await recordResults(h.store, s.runs[0]!, 0, 3);
    await nextPoll(spy, s.id);
    await recordResults(h.store, s.runs[1]!, 0, 2);
    await nextPoll(spy, s.id);
    await cancel(s.id);
    const all = await Promise.all(bodies);
    const elapsed = Date.now() - started;
    const calls = pollsOf(spy, s.id);
    spy.mockRestore();

    const expected = taskKeys(all[0]!);
    expect(expected).toHaveLength(5);
    expect(expected.map((k) => k.split(':')[0])).toEqual(['1', '2', '3', '4', '5']);
    for (const events of all) {
      expect(taskKeys(events)).toEqual(expected);
      expect(events.at(-1)).toMatchObject({ event: 'end', data: { state: 'CANCELLED' } });
    }
    // One poll every 50 ms for the search, not one per stream: 12 streams polling apart would make
    // about 12 × elapsed / 50 calls.
    expect(calls).toBeLessThanOrEqual(Math.ceil(elapsed / 50) + 3);
    expect(calls).toBeLessThan((clients * elapsed) / 50 / 4);
  });

  it('replays a late or reconnecting subscriber from its Last-Event-ID and joins it to the live feed', async () => {
    const s = await newSearch();
    const hub = new EventHub({ store: h.store, pollMs: 30, graceMs: 0, maxBufferedBytes: 1 << 20 });
    const first = new Collector();
    hub.subscribe('alice', s.id, 0, first);
    await recordResults(h.store, s.runs[0]!, 0, 4);
    await until(() => taskKeys(first.events).length === 4);
    expect(hub.feedsStarted).toBe(1);

    // Results keep arriving while the second subscriber replays 3..4 and then follows the feed.
    const writing = (async () => {
      for (let i = 0; i < 4; i++) {
        await recordResults(h.store, s.runs[1]!, i, i + 1);
        await sleep(15);
      }
    })();
    const second = new Collector();
    hub.subscribe('alice', s.id, 2, second);
    const third = new Collector();
    hub.subscribe('alice', s.id, 0, third);
    await writing;
    await cancel(s.id);
    await until(() => first.ended && second.ended && third.ended);

    const full = taskKeys(first.events);
    expect(full).toHaveLength(8);
    expect(taskKeys(third.events)).toEqual(full);
    expect(taskKeys(second.events)).toEqual(full.slice(2));
    for (const c of [first, second, third]) {
      expect(c.events.filter((e) => e.event === 'state').length).toBeGreaterThan(0);
      expect(c.events.at(-1)).toMatchObject({ event: 'end', data: { state: 'CANCELLED' } });
    }
    // Still one poll for the search; a new one starts only after it ended.
    expect(hub.feedsStarted).toBe(1);
    expect(hub.activeFeeds).toBe(0);
  });

  it('drops a subscriber that does not keep up, without holding up the others', async () => {
    const s = await newSearch();
    const dropped: string[] = [];
    const fast = new Collector();
    const slow = new Stalled();
    const hub = new EventHub({
      store: h.store,
      pollMs: 30,
      graceMs: 0,
      maxBufferedBytes: 2_000,
      onDrop: (id) => dropped.push(id),
    });
    hub.subscribe('alice', s.id, 0, fast);
    hub.subscribe('alice', s.id, 0, slow);
    expect(hub.stats()).toMatchObject({ feeds: 1, streams: 2, dropped: 0 });
    for (let run = 0; run < 3; run++) await recordResults(h.store, s.runs[run]!, 0, 4);
    await until(() => slow.destroyed);
    expect(dropped).toEqual([s.id]);
    expect(hub.stats()).toMatchObject({ streams: 1, dropped: 1 });
    // What the stalled client holds stays near the bound (one event over it at most).
    expect(slow.writableLength).toBeLessThan(2_000 + 1_000);
    await cancel(s.id);
    await until(() => fast.ended);
    expect(taskKeys(fast.events)).toHaveLength(12);
    expect(fast.events.at(-1)).toMatchObject({ event: 'end' });
    expect(hub.activeFeeds).toBe(0);
  });

  it('replays a long history at the pace of a slow client instead of dropping it, and counts what it holds', async () => {
    const s = await newSearch();
    const hub = new EventHub({ store: h.store, pollMs: 20, graceMs: 0, maxBufferedBytes: 2_000 });
    const fast = new Collector();
    hub.subscribe('alice', s.id, 0, fast);
    for (const run of s.runs) await recordResults(h.store, run, 0, 4);
    const total = s.runs.length * 4;
    await until(() => taskKeys(fast.events).length === total);
    // The history (about 10 kB) is five times the bound: written at once, it would close the stream.
    const slow = new Slow();
    hub.subscribe('alice', s.id, 0, slow);
    let held = 0;
    await until(() => {
      held = Math.max(held, hub.stats().bufferedBytes);
      return taskKeys(slow.events).length === total;
    });
    expect(slow.destroyed).toBe(false);
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThanOrEqual(2_000 + 1_000);
    expect(hub.stats().dropped).toBe(0);
    await cancel(s.id);
    await until(() => fast.ended && slow.ended);
    expect(taskKeys(slow.events)).toEqual(taskKeys(fast.events));
    expect(slow.events.at(-1)).toMatchObject({ event: 'end' });
    expect(hub.stats()).toMatchObject({ feeds: 0, streams: 0, bufferedBytes: 0 });
  });

  it('stops polling when the last subscriber leaves', async () => {
    const s = await newSearch();
    const hub = new EventHub({ store: h.store, pollMs: 20, graceMs: 0, maxBufferedBytes: 1 << 20 });
    const spy = vi.spyOn(h.store.monitor, 'resultsAfter');
    const leave = [new Collector(), new Collector()].map((c) => hub.subscribe('alice', s.id, 0, c));
    await nextPoll(spy, s.id);
    expect(hub.activeFeeds).toBe(1);
    leave[0]!();
    await nextPoll(spy, s.id);
    expect(hub.activeFeeds).toBe(1);
    leave[1]!();
    await until(() => hub.activeFeeds === 0);
    const stopped = pollsOf(spy, s.id);
    // While another search's feed on the same hub polls three times, this one's does not poll once.
    const other = await newSearch();
    const leaveOther = hub.subscribe('alice', other.id, 0, new Collector());
    await until(() => pollsOf(spy, other.id) >= 3);
    leaveOther();
    expect(pollsOf(spy, s.id)).toBe(stopped);
    spy.mockRestore();
    await cancel(s.id);
    await cancel(other.id);
  });
});

import { openStore, type Store } from '@ip2/db';
import { useTestStore } from '@ip2/testing/store';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queues } from '@ip2/contracts';
import { tick } from './reaper.js';

/* The timer's analysis pass, against a real, migrated PostgreSQL database and the real Redis (own prefix). */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
let store: Store;
let queues: Queues;

const definition = {
  family: 'sma',
  space: ['tauD'],
  strategy: { kind: 'exhaustive' },
  protocol: { tasks: 2, seeds: 2, baseSeed: 3, network: { hidden: 8 } },
};

useTestStore((url) => (store = openStore({ url, poolSize: 2 })));

beforeAll(() => {
  queues = new Queues(REDIS_URL, `ip2t-reaper-${randomUUID().slice(0, 8)}`);
});

afterAll(async () => {
  await queues?.analysis.obliterate({ force: true });
  await queues?.close();
});

describe('timer: pending analyses', () => {
  it('queues again an analysis whose job is gone, once, and leaves alone those with a job or a result', async () => {
    const logs: string[] = [];
    const ctx = { store, queues, log: (m: string) => logs.push(m) };
    const { search: lost } = await store.searches.create('owner', { definition });
    const { search: done } = await store.searches.create('owner', {
      definition: { ...definition, protocol: { ...definition.protocol, baseSeed: 4 } },
    });
    await store.analyses.request(lost.id, 2);
    await store.analyses.request(done.id, 1);
    await store.analyses.complete(done.id, { candidate: '1', runs: [] });

    // Asked for, but its job never reached the queue (or Redis lost it): queued now.
    expect((await tick(ctx, 60_000)).analyses).toEqual([lost.id]);
    expect(await queues.analyseState({ searchId: lost.id, seeds: 2 })).toBe('waiting');
    const job = (await queues.analysis.getWaiting()).find((j) => j.data.searchId === lost.id)!;
    expect(job.data).toEqual({ searchId: lost.id, seeds: 2 });
    expect(logs.join('\n')).toContain(`reaper: re-queued the analysis of search(es) ${lost.id}`);

    // Its job is waiting: nothing more.
    expect((await tick(ctx, 60_000)).analyses).toEqual([]);
    expect(await queues.analysis.getWaitingCount()).toBe(1);

    // The job vanishes again: queued again.
    await job.remove();
    expect((await tick(ctx, 60_000)).analyses).toEqual([lost.id]);

    // Made: never queued again.
    await store.analyses.complete(lost.id, { candidate: '1', runs: [] });
    await (await queues.analysis.getWaiting())[0]!.remove();
    expect((await tick(ctx, 60_000)).analyses).toEqual([]);
    expect(await queues.analysis.getWaitingCount()).toBe(0);
  });
});

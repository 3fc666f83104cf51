import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followEvents, type FollowResult } from '../support/sse.js';
import { localReference, Stack, tinyDefinition } from '../support/stack.js';

/*
 * The API killed and started again while three clients follow a search's progress (Server-Sent
 * Events): each client reconnects with Last-Event-ID and must end up with exactly the task events of a
 * full replay after the search, in the same order with the same ids (none missed, none twice); the
 * search itself must equal the fault-free local run.
 */

// Long enough that the search is still running when every client has its first events (the API holds
// events back for 2 s), so that the restart happens mid-search: twelve tasks per run, each trained to
// a cap of 1 500 iterations (ε is out of reach).
const tiny = tinyDefinition({ kind: 'exhaustive' }, 11);
const input = {
  ...tiny,
  protocol: { ...tiny.protocol, tasks: 12, iterationCap: 1500, criterion: { window: 10, epsilon: 1e-6 } },
};
let stack: Stack;
let base: string;
let key: string;

beforeAll(async () => {
  stack = await Stack.create();
  stack.start('controller', 'controller');
  stack.start('w1', 'worker', { env: { WORKER_ID: 'w1' } });
  stack.start('w2', 'worker', { env: { WORKER_ID: 'w2' } });
  key = (await stack.store.apiKeys.create('alice', 'faults')).key;
  base = await stack.startApi();
});

afterAll(async () => {
  await stack?.close();
});

const taskEvents = (r: FollowResult) =>
  r.events
    .filter((e) => e.event === 'task')
    .map((e) => {
      const d = JSON.parse(e.data) as { runId: string; taskIndex: number; finalLoss: number | null };
      return { id: e.id, run: d.runId, task: d.taskIndex, finalLoss: d.finalLoss };
    });

describe('the API restarted while clients stream events', { timeout: 120_000 }, () => {
  it('clients reconnect with Last-Event-ID and miss nothing', async () => {
    const auth = { authorization: `Bearer ${key}` };
    const expecting = localReference(input);
    const res = await fetch(`${base}/v1/searches`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(input),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    const url = `${base}/v1/searches/${id}/events`;
    const seen = [0, 0, 0];
    const clients = seen.map((_, i) =>
      followEvents(url, auth, { onEvent: (e) => void (e.event === 'task' && seen[i]!++) }),
    );
    // Every client has some task events, and the search is not over: kill the API and start it again.
    await stack.until('task events at every client', async () => seen.every((n) => n > 0));
    expect((await stack.store.controller.search(id)).state).not.toBe('COMPLETE');
    const before = [...seen];
    await stack.stop('api', 'SIGKILL');
    stack.restart('api');
    await stack.apiReady(base);
    const followed = await Promise.all(clients);

    const replay = taskEvents(await followEvents(url, auth));
    const expected = await stack.expectLikeReference(id, expecting);
    expect(replay).toHaveLength(expected.results.length);
    expect(replay.map((e) => e.id)).toEqual(replay.map((_, i) => String(i + 1)));
    for (const [i, f] of followed.entries()) {
      expect(f.reconnects).toBeGreaterThan(0);
      expect(Number(f.resumedFrom[0])).toBeGreaterThanOrEqual(before[i]!);
      expect(taskEvents(f)).toEqual(replay);
      expect(f.events.at(-1)?.event).toBe('end');
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../apps/cli/src/server/client.js';
import { followEvents as cliFollow } from '../../apps/cli/src/server/follow.js';
import { RoundRobinProxy } from '../support/net.js';
import { followEvents, type FollowResult } from '../support/sse.js';
import { duplicateKeys, Stack, tinyDefinition } from '../support/stack.js';

/*
 * Two API processes on one database, as behind a load balancer: the per-owner limit on unfinished
 * searches holds across both (it is enforced in PostgreSQL), idempotent retries find the same search
 * through either, and a client following a search's events through a round-robin proxy carries on at
 * the other process with Last-Event-ID when its process dies, with every task event exactly once.
 */

const LIMIT = 2;
// Long enough that the search still runs when both clients have their first events (the API holds
// events back for 2 s): six tasks per run, each trained to a cap of 400 iterations (ε out of reach).
const tiny = tinyDefinition({ kind: 'exhaustive' }, 11);
const TASKS = 6;
const long = {
  ...tiny,
  protocol: { ...tiny.protocol, tasks: TASKS, iterationCap: 400, criterion: { window: 10, epsilon: 1e-6 } },
};

let stack: Stack;
let apis: string[];
let proxy: RoundRobinProxy;

beforeAll(async () => {
  stack = await Stack.create();
  const env = { MAX_ACTIVE_SEARCHES: String(LIMIT) };
  const starting = Promise.all([stack.startApi('api1', env), stack.startApi('api2', env)]);
  // Loaded while the first test runs; they have nothing to do before the second.
  stack.start('controller', 'controller');
  stack.start('w1', 'worker', { env: { WORKER_ID: 'w1' } });
  apis = await starting;
  proxy = await RoundRobinProxy.start(apis.map((b) => ({ host: '127.0.0.1', port: Number(new URL(b).port) })));
});

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
});

async function submit(base: string, key: string, body: unknown, idempotencyKey?: string) {
  const res = await fetch(`${base}/v1/searches`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      ...(idempotencyKey === undefined ? {} : { 'idempotency-key': idempotencyKey }),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as { id?: string; detail?: string } };
}

/** Open progress streams of the API process at `base` (its /metrics). */
async function streams(base: string): Promise<number> {
  const text = await fetch(`${base}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  return Number(/^ip2_api_event_streams (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe('two API processes on one database', { timeout: 120_000 }, () => {
  it('the active-search limit holds across both; retries return the same search through either', async () => {
    const key = (await stack.store.apiKeys.create('dave', 'replicas')).key;
    // 8 parallel submissions, each with its own idempotency key, alternating between the processes.
    const tries = await Promise.all(
      Array.from({ length: 8 }, (_, i) => submit(apis[i % 2]!, key, tiny, `k${i}`).then((r) => ({ ...r, i }))),
    );
    const created = tries.filter((t) => t.status === 201);
    const refused = tries.filter((t) => t.status === 429);
    expect(created).toHaveLength(LIMIT);
    expect(refused).toHaveLength(8 - LIMIT);
    for (const r of refused) expect(r.body.detail).toMatch(/2 unfinished searches.*MAX_ACTIVE_SEARCHES = 2/);
    expect(await stack.store.client.search.count({ where: { owner: 'dave' } })).toBe(LIMIT);
    // A retry through the other process (the owner at its limit) returns the search made first.
    for (const c of created) {
      const again = await submit(apis[(c.i + 1) % 2]!, key, tiny, `k${c.i}`);
      expect(again).toMatchObject({ status: 200, body: { id: c.body.id } });
    }
    // A refused submission created nothing: its retry is refused again, through either process.
    for (const base of apis) expect((await submit(base, key, tiny, `k${refused[0]!.i}`)).status).toBe(429);

    // One idempotency key, 8 parallel submissions over both processes: one search, 1 × 201 and 7 × 200.
    const key2 = (await stack.store.apiKeys.create('erin', 'replicas')).key;
    const same = await Promise.all(Array.from({ length: 8 }, (_, i) => submit(apis[i % 2]!, key2, tiny, 'once')));
    expect(same.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(same.map((r) => r.body.id)).size).toBe(1);
    expect(await stack.store.client.search.count({ where: { owner: 'erin' } })).toBe(1);

    // Nothing else is to run them: cancel them.
    for (const id of [...created.map((c) => c.body.id!), same[0]!.body.id!]) {
      const owner = id === same[0]!.body.id ? 'erin' : 'dave';
      await stack.store.searches.cancel(owner, id);
    }
  });

  it('clients following events through a round-robin proxy carry on at the other process when theirs dies', async () => {
    const { key } = await stack.store.apiKeys.create('fay', 'replicas');
    const res = await submit(proxy.url, key, long);
    expect(res.status).toBe(201);
    const id = res.body.id!;

    // Both clients start at api1 (the balancer sends new connections there for now): the CLI's client
    // (as ip2 watch uses it) and the test's EventSource-like client.
    proxy.pin(0);
    const cli: { n: number; task: string }[] = [];
    const cliResumes: (string | undefined)[] = [];
    const cliDone = cliFollow(
      new ApiClient(new URL(proxy.url), key),
      id,
      {
        onTask: (n, t) => cli.push({ n, task: `${t.candidate}/${t.seedIndex}/${t.taskIndex}` }),
        onReconnect: (last) => cliResumes.push(last),
      },
      { retries: 60 },
    );
    let seen = 0;
    const auth = { authorization: `Bearer ${key}` };
    const url = `${proxy.url}/v1/searches/${id}/events`;
    const sse = followEvents(url, auth, { onEvent: (e) => void (e.event === 'task' && seen++) });

    // Both have task events while the search runs: back to round-robin, and api1 dies.
    await stack.until('task events at both clients', async () => cli.length > 0 && seen > 0);
    expect(await Promise.all(apis.map(streams))).toEqual([2, 0]);
    expect((await stack.store.controller.search(id)).state).not.toBe('COMPLETE');
    proxy.pin(null);
    const atKill = { cli: cli.length, sse: seen };
    await stack.stop('api1', 'SIGKILL');
    await stack.until('both streams at api2', async () => (await streams(apis[1]!)) === 2);
    const moved = { cli: cli.length, sse: seen };
    stack.restart('api1');

    const [ended, followed] = await Promise.all([cliDone, sse]);
    expect(ended.state).toBe('COMPLETE');
    // Every task result once in the database (the search itself is compared with the local mode by
    // the other fault tests): 4 masks × 2 seeds × TASKS.
    const stored = await stack.outcome(id);
    expect(duplicateKeys(stored.results)).toEqual([]);
    expect(stored.results).toHaveLength(4 * 2 * TASKS);
    await stack.apiReady(apis[0]!);

    // A full replay after the search, through the proxy: ids 1..N, one per task result.
    const replay = taskEvents(await followEvents(url, auth));
    expect(replay.map((e) => e.task).sort()).toEqual(stored.results.map((r) => r.key).sort());
    expect(replay.map((e) => e.id)).toEqual(replay.map((_, i) => String(i + 1)));
    // Each client got exactly the replay's task events, none missed, none twice, having resumed at
    // api2 from where it was, and events kept coming there (the search was not over at the move).
    expect(taskEvents(followed)).toEqual(replay);
    expect(followed.reconnects).toBeGreaterThanOrEqual(1);
    expect(Number(followed.resumedFrom[0])).toBeGreaterThanOrEqual(atKill.sse);
    expect(cli.map((e) => String(e.n))).toEqual(replay.map((e) => e.id));
    expect(cli.map((e) => e.task)).toEqual(replay.map((e) => e.task));
    expect(cliResumes.length).toBeGreaterThanOrEqual(1);
    expect(Number(cliResumes[0])).toBeGreaterThanOrEqual(atKill.cli);
    expect(Math.min(cli.length - moved.cli, seen - moved.sse)).toBeGreaterThan(0);
    expect(proxy.accepted.every((n) => n > 0)).toBe(true);
  });
});

const taskEvents = (r: FollowResult) =>
  r.events
    .filter((e) => e.event === 'task')
    .map((e) => {
      const d = JSON.parse(e.data) as { candidate: string; seedIndex: number; taskIndex: number };
      return { id: e.id, task: `${d.candidate}/${d.seedIndex}/${d.taskIndex}` };
    });

import { submitSearch } from '@ip2/controller';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netnsUnavailable, TcpProxy, VirtualHosts } from '../support/net.js';
import { localReference, SHARED_REDIS_URL, Stack, tinyDefinition, type SearchOutcome } from '../support/stack.js';

/*
 * A multi-machine sweep: three workers on hosts of their own (Linux network namespaces joined by veth
 * pairs to a bridge, each with its own address), reaching PostgreSQL and Redis on a fourth address (the
 * bridge's, where TCP proxies expose the servers that listen on 127.0.0.1 only). One host is cut off
 * the network in the middle of a task: its run must be detected as stalled and finished by the others,
 * the search must equal the fault-free local run, and when the host comes back, what it writes late
 * must neither add a task result nor change one.
 */

const unavailable = netnsUnavailable();
if (unavailable !== null) {
  console.warn(`test/faults/network.test.ts skipped: network namespaces need root and \`ip netns\` (${unavailable})`);
}

const input = tinyDefinition({ kind: 'exhaustive' }, 11);
let stack: Stack;
let hosts: VirtualHosts;
const proxies: TcpProxy[] = [];
let reference: Promise<SearchOutcome>;

describe.skipIf(unavailable !== null)('multi-machine sweep over network namespaces', { timeout: 150_000 }, () => {
  beforeAll(async () => {
    stack = await Stack.create();
    hosts = new VirtualHosts(3);
    const db = new URL(stack.db.url);
    const redis = new URL(SHARED_REDIS_URL);
    const pg = await TcpProxy.start(hosts.gateway, { host: db.hostname, port: Number(db.port || 5432) });
    const rd = await TcpProxy.start(hosts.gateway, { host: redis.hostname, port: Number(redis.port || 6379) });
    proxies.push(pg, rd);
    reference = localReference(input);
    stack.start('controller', 'controller');
    for (const [i, h] of hosts.hosts.entries()) {
      stack.start(`host${i + 1}`, 'worker', {
        netns: h.ns,
        env: { DATABASE_URL: pg.url(stack.db.url), REDIS_URL: rd.url(SHARED_REDIS_URL), WORKER_ID: `host${i + 1}` },
      });
    }
  });

  afterAll(async () => {
    await stack?.close();
    for (const p of proxies) await p.close();
    hosts?.remove();
  });

  it('a host cut off mid-task: its run is finished elsewhere; its late writes change nothing', async () => {
    const search = await submitSearch(stack, input, 'tester');
    const victim = await stack.freezeWhileHolding(search.id, 'host1', 'host1');
    hosts.link(0, 'down');
    stack.signal('host1', 'SIGCONT');
    const done = await stack.expectLikeReference(search.id, reference);
    const taken = (await stack.store.runs.list(search.id)).find((r) => r.id === victim.id)!;
    expect(taken.workerId).not.toBe('host1');
    expect(taken.state).toBe('COMPLETE');
    expect(stack.logs.get('controller')).toMatch(new RegExp(`reaper: re-queued [^\\n]*${victim.id}`));
    // The workers did reach the servers through the bridge address.
    expect(proxies.every((p) => p.accepted > 0)).toBe(true);

    // The cut-off host's job gives the event loop turns while it trains, so it meets the cut either when it
    // writes (a new connection fails at once: the chunk ends as in any outage, nothing written) or, when
    // its write waits on a connection opened before the cut, once the link is back: its old claim is then
    // refused. Which one comes first is a race; neither may add or change a task result.
    hosts.link(0, 'up');
    await stack.logged(
      'host1',
      new RegExp(`run ${victim.id}: (claim lost|chunk ended (after|at) task \\d+ during an outage)`),
      60_000,
    );
    const after = await stack.outcome(search.id);
    expect(after).toEqual(done);
    const runs = await stack.store.runs.list(search.id);
    expect(runs.every((r) => r.state === 'COMPLETE' && r.tasksDone === 3)).toBe(true);
    expect((await stack.store.controller.search(search.id)).state).toBe('COMPLETE');
  });
});

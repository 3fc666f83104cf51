import { parseControllerEnv, startController, submitSearch } from '@ip2/controller';
import { parseWorkerEnv, startWorker } from '@ip2/worker';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Queues } from '@ip2/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnRedis, TcpProxy } from '../support/net.js';
import { freePort, localReference, sleep, Stack, tinyDefinition, type SearchOutcome } from '../support/stack.js';

/*
 * Faults of the infrastructure during a search: Redis (a server of this test's own, append-only) killed
 * and started again, and PostgreSQL unreachable for a few seconds (every process reaches it through a
 * TCP proxy that the test cuts and restores; the shared server itself is never touched). Each search
 * must end COMPLETE with the task results and decision of the fault-free local run of the same
 * definition: no task result missing, none twice.
 */

const input = tinyDefinition({ kind: 'successive-halving', eta: 2, minTasks: 1 }, 23);
let stack: Stack;
let redis: OwnRedis;
let pg: TcpProxy;
let reference: Promise<SearchOutcome>;

beforeAll(async () => {
  redis = await OwnRedis.start();
  stack = await Stack.create({ redisUrl: redis.url });
  const db = new URL(stack.db.url);
  pg = await TcpProxy.start('127.0.0.1', { host: db.hostname, port: Number(db.port || 5432) });
  reference = localReference(input);
  const env = { DATABASE_URL: pg.url(stack.db.url) };
  stack.start('controller', 'controller', { env });
  stack.start('w1', 'worker', { env: { ...env, WORKER_ID: 'w1' } });
  stack.start('w2', 'worker', { env: { ...env, WORKER_ID: 'w2' } });
});

afterAll(async () => {
  await stack?.close();
  await pg?.close();
  await redis?.stop();
});

/** A TCP server that accepts every connection and never answers (a hung server, a half-open connection). */
class MuteServer {
  accepted = 0;
  private readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<MuteServer> {
    const port = await freePort();
    const server = createServer();
    const mute = new MuteServer(server, port);
    server.on('connection', (s) => {
      mute.accepted++;
      mute.sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    return mute;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Waits until the search has some task results and a run in flight. */
async function midSearch(searchId: string): Promise<void> {
  await stack.until('a task result and a run in flight', async () => {
    const runs = await stack.store.runs.list(searchId);
    return runs.some((r) => r.tasksDone > 0) && runs.some((r) => r.state === 'RUNNING');
  });
}

describe('faults of Redis and PostgreSQL', { timeout: 120_000 }, () => {
  it('Redis killed and restarted from its append-only file mid-search', async () => {
    const search = await submitSearch(stack, input, 'tester');
    await midSearch(search.id);
    const before = await stack.queues.train.getJobCounts();
    await redis.kill();
    await sleep(2000);
    await redis.restart();
    await stack.expectLikeReference(search.id, reference);
    expect(Object.values(before).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('a worker and a controller told to stop while Redis is unreachable close once it is back', async () => {
    // Their own queue prefix (nothing to train) and their own proxy to the test's Redis, cut before the
    // stop: BullMQ's close() waited forever on a connection that was waiting to reconnect.
    const proxy = await TcpProxy.start('127.0.0.1', { host: '127.0.0.1', port: Number(new URL(redis.url).port) });
    const env = {
      DATABASE_URL: stack.db.url,
      REDIS_URL: proxy.url(redis.url),
      QUEUE_PREFIX: `${stack.prefix}-stop`,
      WORKER_ID: 'stopping',
    };
    const worker = startWorker(parseWorkerEnv(env));
    worker.worker.on('error', () => undefined);
    worker.analysis.on('error', () => undefined);
    const controller = await startController(parseControllerEnv(env));
    controller.worker.on('error', () => undefined);
    await Promise.all([
      worker.worker.waitUntilReady(),
      worker.analysis.waitUntilReady(),
      controller.worker.waitUntilReady(),
    ]);
    try {
      await proxy.cut();
      await sleep(1500);
      const closed = Promise.all([worker.close(), controller.close()]);
      await sleep(2000);
      await proxy.restore();
      const back = Date.now();
      await Promise.race([
        closed,
        sleep(20_000).then(() => Promise.reject(new Error('not closed 20 s after Redis was back'))),
      ]);
      expect(Date.now() - back).toBeLessThan(20_000);
    } finally {
      await proxy.close();
    }
  });

  it('a worker and a controller whose PostgreSQL accepts connections but never answers exit within SHUTDOWN_MS', async () => {
    // A server that accepts every connection and answers nothing (a hung server or a half-open
    // connection): a query of the worker's job process, and the controller's timer job, wait on it for
    // ever, and so did their close() after SIGTERM (BullMQ waits for the jobs in progress).
    const mute = await MuteServer.start();
    const db = new URL(stack.db.url);
    db.hostname = '127.0.0.1';
    db.port = String(mute.port);
    const prefix = `${stack.prefix}-mute`;
    const env = { DATABASE_URL: db.toString(), QUEUE_PREFIX: prefix, SHUTDOWN_MS: '3000', REDIS_URL: redis.url };
    const queues = new Queues(redis.url, prefix);
    try {
      // A chunk for the worker: its job process waits on the database when it claims the run.
      await queues.addTrain({
        searchId: randomUUID(),
        runId: randomUUID(),
        candidate: '0',
        seedIndex: 0,
        seed: 1,
        keys: [],
        fromTask: 0,
        toTask: 1,
        rung: 0,
      });
      stack.start('mute-w', 'worker', { env: { ...env, WORKER_ID: 'mute-w' } });
      stack.start('mute-c', 'controller', { env });
      await stack.until('the chunk active and the controller ticking', async () => {
        const train = await queues.train.getJobCounts('active');
        const control = await queues.control.getJobCounts('active');
        return train.active === 1 && (control.active ?? 0) > 0;
      });
      await sleep(500);
      const t = Date.now();
      const codes = await Promise.all([
        stack.stop('mute-w', 'SIGTERM', 15_000, 'main'),
        stack.stop('mute-c', 'SIGTERM', 15_000, 'main'),
      ]);
      // Exit 1: not closed in time. The run was never claimed; a claimed one would go to the reaper.
      expect(codes).toEqual([1, 1]);
      expect(Date.now() - t).toBeLessThan(10_000);
      // Each says what its close was still waiting for: the job that waits on the database.
      expect(stack.logs.get('mute-w')).toMatch(
        /not closed 3 s after SIGTERM \(still closing the queue workers \(jobs in progress: run\.train /,
      );
      expect(stack.logs.get('mute-c')).toMatch(
        /not closed 3 s after SIGTERM \(still closing the queue worker \(jobs in progress: controller\.tick /,
      );
      // The worker's job process ends with it (its watchdog).
      await stack.until('no process of the stopped worker left', async () => !stack.groupAlive('mute-w'), 5_000);
    } finally {
      await queues.close();
      await mute.close();
    }
  });

  it('a controller and an API process told to stop while their start-up waits on a Redis that never answers exit at SHUTDOWN_MS', async () => {
    // The controller's start-up registers its timer job in Redis and the API's connects its queues: both
    // wait for ever on a server that accepts and never answers. The deadline runs from the signal
    // itself (@ip2/contracts/early-signal), before start-up has handed the signal on to exitOnSignal.
    const redisC = await MuteServer.start();
    const redisA = await MuteServer.start();
    const env = { DATABASE_URL: stack.db.url, QUEUE_PREFIX: `${stack.prefix}-mute-redis`, SHUTDOWN_MS: '3000' };
    try {
      stack.start('mute-redis-c', 'controller', { env: { ...env, REDIS_URL: redisC.url } });
      const port = String(await freePort());
      stack.start('mute-redis-a', 'api', { env: { ...env, REDIS_URL: redisA.url, PORT: port, HOST: '127.0.0.1' } });
      // A connection to the mute server: the modules have loaded (the early signal is installed) and
      // start-up is under way.
      await stack.until('both connected to their Redis', async () => redisC.accepted > 0 && redisA.accepted > 0);
      await sleep(1_000);
      const t = Date.now();
      const codes = await Promise.all([
        stack.stop('mute-redis-c', 'SIGTERM', 15_000, 'main'),
        stack.stop('mute-redis-a', 'SIGTERM', 15_000, 'main'),
      ]);
      expect(Date.now() - t).toBeLessThan(10_000);
      // The controller never finished starting: exit 1 at the deadline, counted from the signal.
      expect(codes[0]).toBe(1);
      expect(stack.logs.get('mute-redis-c')).toMatch(/SIGTERM during start-up, which has not finished 3 s later/);
      // The API does not wait on Redis to start nor to close: it closes at once, exit 0.
      expect(codes[1]).toBe(0);
    } finally {
      await redisC.close();
      await redisA.close();
    }
  });

  it('PostgreSQL unreachable for 4 s mid-search: the processes retry, nothing is lost', async () => {
    const search = await submitSearch(stack, input, 'tester');
    await midSearch(search.id);
    await pg.cut();
    expect(pg.dropped).toBeGreaterThan(0);
    await sleep(4000);
    // Nothing got through meanwhile: the test's own connection (not proxied) sees the search unfinished.
    expect((await stack.store.controller.search(search.id)).state).toBe('RUNNING');
    await pg.restore();
    await stack.expectLikeReference(search.id, reference);
  });
});

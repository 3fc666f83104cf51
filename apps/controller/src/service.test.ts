import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JOBS } from '@ip2/contracts';
import { openStore, type Store } from '@ip2/db';
import { fixConfiguration, parseSearchDefinition, type SearchDefinitionInput } from '@ip2/search';
import { createTestDatabase, type TestDatabase } from '@ip2/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLocalSearch } from '../../cli/src/commands/search.js';
import { FileStore } from '../../cli/src/local/store.js';
import { Queues } from './queues.js';
import { submitSearch } from './submit.js';

/*
 * The service across processes: a controller and two workers (real PostgreSQL, real Redis under a fresh
 * queue prefix), compared with the local mode on the same definitions: the results must be identical.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const tiny = (strategy: SearchDefinitionInput['strategy'], baseSeed: number): SearchDefinitionInput => ({
  family: 'sma',
  space: ['tauD', 'theta'],
  strategy,
  protocol: {
    tasks: 3,
    seeds: 2,
    baseSeed,
    criterion: { window: 10, epsilon: 0.05 },
    iterationCap: 150,
    evalBatch: 8,
    network: { hidden: 8, lr: 3e-3 },
  },
});

let db: TestDatabase;
let store: Store;
let queues: Queues;
const prefix = `ip2t-${randomBytes(6).toString('hex')}`;
const procs = new Map<string, ChildProcess>();
const logs = new Map<string, string>();
const temp: string[] = [];

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    HEARTBEAT_MS: '300',
    // The reaper (stale after 1.5 s) acts well before BullMQ's stalled-job check (lock 3 s).
    STALE_MS: '1500',
    LOCK_MS: '3000',
    TICK_MS: '300',
    WORKER_CONCURRENCY: '1',
    ...extra,
  };
}

/** Starts an app from its sources in its own process group (so that a kill takes its children too). */
function start(name: string, app: 'worker' | 'controller', extra: Record<string, string> = {}): ChildProcess {
  const p = spawn(
    process.execPath,
    ['--conditions', '@ip2/source', '--import', 'tsx', join(ROOT, `apps/${app}/src/main.ts`)],
    { cwd: ROOT, env: env(extra), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  logs.set(name, '');
  const keep = (d: Buffer) => logs.set(name, (logs.get(name)! + d.toString()).slice(-20_000));
  p.stdout!.on('data', keep);
  p.stderr!.on('data', keep);
  procs.set(name, p);
  return p;
}

function killGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-p.pid!, signal);
  } catch {
    // already gone
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}\n${[...logs].map(([k, v]) => `--- ${k}\n${v}`).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function local(input: SearchDefinitionInput) {
  const definition = parseSearchDefinition(input);
  const dir = mkdtempSync(join(tmpdir(), 'ip2-service-local-'));
  temp.push(dir);
  const fs = new FileStore(dir);
  fs.writeDefinition(definition);
  await runLocalSearch({ definition, store: fs, workers: 1 });
  const results = fs
    .results()
    .map((r) => ({
      key: `${r.candidate}/${r.seedIndex}/${r.result.taskIndex}`,
      iterations: r.result.iterations,
      totalIterations: r.result.totalIterations,
      converged: r.result.converged,
      finalLoss: r.result.finalLoss,
      accuracy: r.result.accuracy,
    }))
    .sort((a, b) => a.key.localeCompare(b.key));
  return { results, fixed: fixConfiguration(definition, fs.table()) };
}

async function service(searchId: string) {
  const results = [];
  for (const run of await store.runs.list(searchId)) {
    for (const r of await store.runs.results(run.id)) {
      results.push({
        key: `${run.candidate}/${run.seedIndex}/${r.taskIndex}`,
        iterations: r.iterations,
        totalIterations: r.totalIterations,
        converged: r.converged,
        finalLoss: r.finalLoss,
        accuracy: r.accuracy,
      });
    }
  }
  results.sort((a, b) => a.key.localeCompare(b.key));
  const row = await store.client.fixedConfig.findFirst({ where: { searchId } });
  return { results, fixed: row?.record as unknown as ReturnType<typeof fixConfiguration> };
}

/** What the decision is made of: everything but the search id the service records (and the hash over it). */
function decision(f: ReturnType<typeof fixConfiguration>) {
  const { hash: _h, createdFrom, ...rest } = JSON.parse(JSON.stringify(f)) as ReturnType<typeof fixConfiguration>;
  return { ...rest, searchHash: createdFrom.searchHash };
}

async function waitComplete(searchId: string) {
  return until(
    `search ${searchId} COMPLETE`,
    async () => {
      const s = await store.controller.search(searchId);
      if (s.state === 'FAILED' || s.state === 'CANCELLED') throw new Error(`search ${s.state}: ${s.error ?? ''}`);
      return s.state === 'COMPLETE' ? s : null;
    },
    70_000,
  );
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = openStore({ url: db.url, poolSize: 3 });
  queues = new Queues(REDIS_URL, prefix);
  start('controller', 'controller');
  start('w1', 'worker', { WORKER_ID: 'w1' });
  start('w2', 'worker', { WORKER_ID: 'w2' });
});

afterAll(async () => {
  for (const p of procs.values()) killGroup(p, 'SIGKILL');
  await queues?.close();
  await store?.close();
  await db?.drop();
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});

describe('service (controller + 2 workers)', () => {
  it('runs an exhaustive search to COMPLETE with results identical to the local mode', async () => {
    const input = tiny({ kind: 'exhaustive' }, 11);
    const search = await submitSearch({ store, queues }, input, 'tester');
    const [expected] = await Promise.all([local(input), waitComplete(search.id)]);
    const got = await service(search.id);
    expect(got.results).toHaveLength(4 * 2 * 3);
    expect(got.results).toEqual(expected.results);
    expect(got.fixed).toBeDefined();
    expect(got.fixed.mask).toEqual(expected.fixed.mask);
    expect(decision(got.fixed)).toEqual(decision(expected.fixed));
    const runs = await store.runs.list(search.id);
    expect(runs.every((r) => r.state === 'COMPLETE' && r.tasksDone === 3)).toBe(true);
    expect(new Set(runs.map((r) => r.workerId)).size).toBeGreaterThan(0);
    expect(runs.every((r) => r.engine !== null && r.backend !== null && r.workerHost !== null)).toBe(true);
  });

  it('a worker killed mid-search: its run is re-queued by the reaper, the search completes identically', async () => {
    const input = tiny({ kind: 'successive-halving', eta: 2, minTasks: 1 }, 23);
    const search = await submitSearch({ store, queues }, input, 'tester');
    const expecting = local(input);
    const w1 = procs.get('w1')!;
    // Freeze w1 while it holds a run (so that it dies mid-chunk, not between chunks), then kill it.
    const victim = await until('w1 frozen while holding a run', async () => {
      const held = (await store.runs.list(search.id)).find((r) => r.state === 'RUNNING' && r.workerId === 'w1');
      if (!held) return null;
      killGroup(w1, 'SIGSTOP');
      const still = (await store.runs.list(search.id)).find((r) => r.id === held.id);
      if (still?.state === 'RUNNING' && still.workerId === 'w1') return still;
      killGroup(w1, 'SIGCONT');
      return null;
    });
    killGroup(w1, 'SIGKILL');
    const [expected] = await Promise.all([expecting, waitComplete(search.id)]);
    const got = await service(search.id);
    expect(got.results).toEqual(expected.results);
    expect(decision(got.fixed)).toEqual(decision(expected.fixed));
    const after = (await store.runs.list(search.id)).find((r) => r.id === victim.id)!;
    expect(logs.get('controller')).toMatch(new RegExp(`reaper: re-queued \\d+ stale run\\(s\\): [^\\n]*${victim.id}`));
    expect(after.workerId).not.toBe('w1');
    expect(after.attempts).toBeGreaterThan(victim.attempts);
    expect(after.tasksDone).toBeGreaterThan(victim.tasksDone);
    // Restore a second worker for the following tests.
    start('w1b', 'worker', { WORKER_ID: 'w1b' });
  });

  it('an invalid run.train payload fails at once, without retries', async () => {
    const c = JOBS['run.train'];
    const job = await queues.train.add(c.name, { searchId: 'x', runId: 'y', fromTask: 2, toTask: 1 } as never, {
      jobId: 'invalid-payload',
      attempts: 5,
      backoff: { type: 'fixed', delay: 100 },
    });
    const failed = await until('the invalid job to fail', async () =>
      (await queues.train.getJobState(job.id!)) === 'failed' ? queues.train.getJob(job.id!) : null,
    );
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toMatch(/run\.train: .*candidate/);
  });

  it('a worker given SIGTERM closes and exits with code 0', async () => {
    const w2 = procs.get('w2')!;
    const exited = new Promise<number | null>((r) => w2.once('exit', (code) => r(code)));
    w2.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs.get('w2')).toContain('SIGTERM: closing');
  });
});

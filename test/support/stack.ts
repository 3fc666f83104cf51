import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queues } from '@ip2/contracts';
import { openStore, type RunSummary, type Store } from '@ip2/db';
import { fixConfiguration, parseSearchDefinition, type SearchDefinitionInput } from '@ip2/search';
import { createTestDatabase, type TestDatabase } from '@ip2/testing';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { runLocalSearch } from '../../apps/cli/src/commands/search.js';
import { FileStore } from '../../apps/cli/src/local/store.js';

/*
 * The service's processes for tests that span processes: a fresh PostgreSQL database (@ip2/testing), a
 * fresh queue prefix on a real Redis, and the api, controller and workers started from their sources,
 * each in its own process group; plus the local mode in-process as the reference a search must equal.
 */

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SHARED_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export type App = 'api' | 'controller' | 'worker';
export type FixedConfig = ReturnType<typeof fixConfiguration>;

/**
 * A small search: sma, two properties (four masks), 3 tasks, 2 seeds, 8 hidden units, and no validation
 * stage (validation.seeds 0: the fault tests of the search itself stay as small as they were); a test of the
 * validation adds `validation: { seeds: n }` (test/faults/validation.test.ts, apps/controller's service test).
 */
export function tinyDefinition(
  strategy: SearchDefinitionInput['strategy'],
  baseSeed: number,
  network: { hidden?: number; lr?: number; dt?: number } = {},
): SearchDefinitionInput {
  return {
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
      network: { hidden: 8, lr: 3e-3, ...network },
    },
    validation: { seeds: 0 },
  };
}

/** One task result, as compared between the service and the local mode. */
export interface ComparableResult {
  readonly key: string;
  readonly iterations: number;
  readonly totalIterations: number;
  readonly converged: boolean;
  readonly finalLoss: number;
  readonly accuracy: number;
}

export interface SearchOutcome {
  /** Sorted by key (candidate/seed/task). */
  readonly results: ComparableResult[];
  readonly fixed: FixedConfig;
}

const sortByKey = (rs: ComparableResult[]) => rs.sort((a, b) => a.key.localeCompare(b.key));

/** Sources the local mode's numbers depend on: a reference computed with other sources is not reused. */
const REFERENCE_SOURCES = [
  'packages/snn/src',
  'packages/tasks/src',
  'packages/l2l/src',
  'packages/search/src',
  'apps/cli/src/local',
  'apps/cli/src/commands/search.ts',
];

function sourcesHash(): string {
  const h = createHash('sha256');
  const add = (path: string) => {
    const entries = readdirSync(path, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
      .map((e) => join(e.parentPath, e.name))
      .sort();
    for (const f of entries) h.update(f).update(readFileSync(f));
  };
  for (const p of REFERENCE_SOURCES) {
    const abs = join(ROOT, p);
    if (abs.endsWith('.ts')) h.update(abs).update(readFileSync(abs));
    else add(abs);
  }
  return h.digest('hex');
}

/** JSON that keeps NaN and ±Infinity (a failed task's loss is NaN). */
const encode = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? { $number: String(x) } : x));
const decode = <T>(text: string): T =>
  JSON.parse(text, (_k, x: unknown) =>
    x !== null && typeof x === 'object' && '$number' in x ? Number((x as { $number: string }).$number) : x,
  ) as T;

/**
 * The local mode's outcome for the definition (see computeReference), kept in the system's temporary
 * folder under a hash of the definition and of every source file it depends on, so that the test files
 * running the same definition compute it once.
 */
export async function localReference(input: SearchDefinitionInput): Promise<SearchOutcome> {
  const key = createHash('sha256')
    .update(encode(parseSearchDefinition(input)))
    .update(sourcesHash())
    .digest('hex');
  const file = join(tmpdir(), `ip2-reference-${key.slice(0, 32)}.json`);
  try {
    return decode<SearchOutcome>(readFileSync(file, 'utf8'));
  } catch {
    // not computed yet
  }
  const outcome = await computeReference(input);
  const partial = `${file}.${process.pid}`;
  writeFileSync(partial, encode(outcome));
  renameSync(partial, file);
  return outcome;
}

/** Runs the definition with the local mode (one process, files in a temporary folder): the reference. */
export async function computeReference(input: SearchDefinitionInput): Promise<SearchOutcome> {
  const definition = parseSearchDefinition(input);
  const dir = mkdtempSync(join(tmpdir(), 'ip2-reference-'));
  try {
    const fs = new FileStore(dir);
    fs.writeDefinition(definition);
    await runLocalSearch({ definition, store: fs, workers: 1 });
    const results = fs.results().map((r) => ({
      key: `${r.candidate}/${r.seedIndex}/${r.result.taskIndex}`,
      iterations: r.result.iterations,
      totalIterations: r.result.totalIterations,
      converged: r.result.converged,
      finalLoss: r.result.finalLoss,
      accuracy: r.result.accuracy,
    }));
    return { results: sortByKey(results), fixed: fixConfiguration(definition, fs.table()) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the decision is made of: everything but the search id the service records (and the hash over it). */
export function decision(f: FixedConfig) {
  const { hash: _h, createdFrom, ...rest } = JSON.parse(JSON.stringify(f)) as FixedConfig;
  return { ...rest, searchHash: createdFrom.searchHash };
}

/** Keys that occur more than once. */
export function duplicateKeys(results: readonly { key: string }[]): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const r of results) (seen.has(r.key) ? dup : seen).add(r.key);
  return [...dup];
}

/** A TCP port nobody listens on now (on the given address). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function killGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-p.pid!, signal);
  } catch {
    // already gone
  }
}

export interface StackOptions {
  /** Redis for every process (default: the shared one, under a fresh prefix). */
  readonly redisUrl?: string;
  /** Environment given to every process (heartbeat, stale and tick periods are short by default). */
  readonly env?: Record<string, string>;
  /** The PostgreSQL server the fresh database is made on (default: the shared one; see @ip2/testing). */
  readonly serverUrl?: string;
  /** A database to use instead of a fresh one (it is dropped by close()). */
  readonly database?: TestDatabase;
}

export interface StartOptions {
  /** Extra environment of this process. */
  readonly env?: Record<string, string>;
  /** Run it inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
}

/** A database, a queue prefix, and the processes of one test file. */
export class Stack {
  readonly procs = new Map<string, ChildProcess>();
  readonly logs = new Map<string, string>();
  readonly prefix = `ip2t-${randomBytes(6).toString('hex')}`;

  readonly store: Store;
  readonly queues: Queues;

  private constructor(
    readonly db: TestDatabase,
    readonly redisUrl: string,
    private readonly baseEnv: Record<string, string>,
  ) {
    this.store = openStore({ url: db.url, poolSize: 3 });
    this.queues = new Queues(redisUrl, this.prefix);
  }

  static async create(options: StackOptions = {}): Promise<Stack> {
    const db =
      options.database ??
      (await createTestDatabase(options.serverUrl === undefined ? {} : { serverUrl: options.serverUrl }));
    return new Stack(db, options.redisUrl ?? SHARED_REDIS_URL, options.env ?? {});
  }

  /** The environment of a process: short periods, so that faults are noticed within seconds. */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      DATABASE_URL: this.db.url,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix,
      HEARTBEAT_MS: '300',
      // The reaper (stale after 1.5 s) acts well before BullMQ's stalled-job check (lock 3 s).
      STALE_MS: '1500',
      LOCK_MS: '3000',
      TICK_MS: '300',
      WORKER_CONCURRENCY: '1',
      LOG_LEVEL: 'warn',
      ...this.baseEnv,
      ...extra,
    };
  }

  private readonly started = new Map<string, { app: App; options: StartOptions }>();

  /** Starts an app from its sources in its own process group (so that a kill takes its children too). */
  start(name: string, app: App, options: StartOptions = {}): ChildProcess {
    this.started.set(name, { app, options });
    const node = [
      process.execPath,
      '--conditions',
      '@ip2/source',
      '--import',
      'tsx',
      join(ROOT, `apps/${app}/src/main.ts`),
    ];
    const argv = options.netns === undefined ? node : ['ip', 'netns', 'exec', options.netns, ...node];
    const p = spawn(argv[0]!, argv.slice(1), {
      cwd: ROOT,
      env: this.env(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.logs.set(name, '');
    const keep = (d: Buffer) => this.logs.set(name, (this.logs.get(name)! + d.toString()).slice(-20_000));
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    this.procs.set(name, p);
    return p;
  }

  /** Starts the named process again as it was started last (after a stop). */
  restart(name: string): ChildProcess {
    const last = this.started.get(name);
    if (!last) throw new Error(`${name} was never started`);
    return this.start(name, last.app, last.options);
  }

  /**
   * Stops the worker process (SIGSTOP) at a moment when it holds a run of the search, so that a fault
   * lands in the middle of a chunk; the run as it was then. SIGCONT lets it go on.
   */
  async freezeWhileHolding(searchId: string, name: string, workerId: string): Promise<RunSummary> {
    return this.until(`${name} frozen while holding a run`, async () => {
      const held = (await this.store.runs.list(searchId)).find((r) => r.state === 'RUNNING' && r.workerId === workerId);
      if (!held) return null;
      this.signal(name, 'SIGSTOP');
      const still = (await this.store.runs.list(searchId)).find((r) => r.id === held.id);
      if (still?.state === 'RUNNING' && still.workerId === workerId) return still;
      this.signal(name, 'SIGCONT');
      return null;
    });
  }

  /** Waits until the process logs a line matching `pattern`. */
  async logged(name: string, pattern: RegExp, ms = 30_000): Promise<void> {
    await this.until(`${name} to log ${pattern}`, async () => pattern.test(this.logs.get(name) ?? ''), ms);
  }

  signal(name: string, signal: NodeJS.Signals): void {
    const p = this.procs.get(name);
    if (p) killGroup(p, signal);
  }

  /**
   * Sends `signal` to a process and waits for it to exit; its exit code. `to: 'group'` (the default)
   * signals its whole process group, children included, as a terminal or systemd does; `'main'` only
   * the process itself, as a container runtime does.
   */
  async stop(
    name: string,
    signal: NodeJS.Signals = 'SIGKILL',
    ms = 30_000,
    to: 'group' | 'main' = 'group',
  ): Promise<number | null> {
    const p = this.procs.get(name);
    if (!p) return null;
    if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<number | null>((ok, fail) => {
      p.once('exit', (code) => ok(code));
      timer = setTimeout(
        () => fail(new Error(`${name} did not exit within ${ms} ms of ${signal}\n${this.dump()}`)),
        ms,
      );
    });
    if (to === 'group') killGroup(p, signal);
    else p.kill(signal);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether any process of the named process's group (its children included) is still running. */
  groupAlive(name: string): boolean {
    const p = this.procs.get(name);
    if (!p?.pid) return false;
    try {
      process.kill(-p.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** Polls `f` until it gives something truthy; on time-out the error carries every process's log. */
  async until<T>(what: string, f: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${this.dump()}`);
      await sleep(100);
    }
  }

  dump(): string {
    return [...this.logs].map(([k, v]) => `--- ${k}\n${v}`).join('\n');
  }

  async waitComplete(searchId: string, ms = 90_000) {
    return this.until(
      `search ${searchId} COMPLETE`,
      async () => {
        const s = await this.store.controller.search(searchId);
        if (s.state === 'FAILED' || s.state === 'CANCELLED') {
          throw new Error(`search ${s.state}: ${s.error ?? ''}\n${this.dump()}`);
        }
        return s.state === 'COMPLETE' ? s : null;
      },
      ms,
    );
  }

  /**
   * Waits for the search to complete and checks it against the reference: the same task results (none
   * missing, none twice) and the same decision.
   */
  async expectLikeReference(searchId: string, reference: SearchOutcome | Promise<SearchOutcome>) {
    await this.waitComplete(searchId);
    const [got, expected] = await Promise.all([this.outcome(searchId), reference]);
    expect(duplicateKeys(got.results)).toEqual([]);
    expect(got.results.map((r) => r.key)).toEqual(expected.results.map((r) => r.key));
    expect(got.results).toEqual(expected.results);
    expect(got.fixed).toBeDefined();
    expect(decision(got.fixed)).toEqual(decision(expected.fixed));
    return got;
  }

  /** Starts the API on a free port and waits until it answers; its base URL. */
  async startApi(name = 'api', env: Record<string, string> = {}): Promise<string> {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    this.start(name, 'api', { env: { PORT: String(port), HOST: '127.0.0.1', ...env } });
    await this.apiReady(base);
    return base;
  }

  /** Waits until the API at `base` answers /healthz. */
  async apiReady(base: string): Promise<void> {
    await this.until(`the API at ${base} to answer`, async () => {
      try {
        return (await fetch(`${base}/healthz`)).ok;
      } catch {
        return false;
      }
    });
  }

  /** The search's task results (every stored row, duplicates included) and its fixed configuration. */
  async outcome(searchId: string): Promise<SearchOutcome> {
    const results: ComparableResult[] = [];
    for (const run of await this.store.runs.list(searchId)) {
      for (const r of await this.store.runs.results(run.id)) {
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
    const row = await this.store.client.fixedConfig.findFirst({ where: { searchId } });
    return { results: sortByKey(results), fixed: row?.record as unknown as FixedConfig };
  }

  /** Kills every process, drops the database and deletes the queue prefix's keys. */
  async close(): Promise<void> {
    for (const p of this.procs.values()) killGroup(p, 'SIGKILL');
    await this.queues.close();
    await this.store.close();
    await this.db.drop();
    const redis = new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } catch {
      // a test's own Redis may be gone already
    } finally {
      redis.disconnect();
    }
  }
}

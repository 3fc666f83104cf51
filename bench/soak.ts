/**
 * Soak test of the service under overlapping random faults (docs/reliability.md, "Soak"); not part of
 * `npm test`:
 *
 *   npm run bench:soak -- --minutes 60 [--seed 1] [--keys 4] [--interval 8] [--fault-every 12]
 *                         [--max-active 6] [--limit 3] [--drain-minutes 15] [--heap-mib N]
 *                         [--out results/soak/<time>.json]
 *
 * The stack, all of it on loopback and all of it this run's own: a PostgreSQL cluster (initdb in a
 * temporary folder, test/support/postgres.ts), a redis-server with append-only persistence, two API
 * processes behind a round-robin TCP balancer, a controller and three workers, each process reaching
 * PostgreSQL and Redis through a TCP proxy that the schedule can cut. For `--minutes`, clients submit a
 * small search (the tiny preset's protocol, two properties) every `--interval` seconds from `--keys` API
 * keys in turn (each with an Idempotency-Key, retried on any failure; at most `--max-active` unfinished at
 * a time, `--limit` per key as MAX_ACTIVE_SEARCHES), and follow each search's events through the balancer
 * with the CLI's client (ip2 watch's). Meanwhile a fault schedule drawn from `--seed` (the kinds in
 * order, the gaps between them, their targets among those not in a fault already, and how long each
 * lasts) strikes every `--fault-every` seconds on average, without waiting for the last fault to be
 * over: SIGKILL or SIGTERM (to the process group, or to the main process only) of a worker, the
 * controller or an API process, each restarted after 0.5–2 s as a supervisor would; Redis killed and
 * restarted from its append-only file; PostgreSQL killed with SIGKILL (postmaster and backends) and
 * started again, or `pg_ctl restart -m fast`; the connections to PostgreSQL or to Redis cut for 2–6 s;
 * and a search cancelled through the API.
 *
 * Then the schedule stops, everything is brought up, and the run drains (every search ends). It checks:
 * every search COMPLETE, or CANCELLED when the schedule cancelled it; every COMPLETE search equal to the
 * local mode's result for its definition (task results and decision, as test/faults compares them); no
 * task result missing or twice (a CANCELLED search's results are each equal to the local mode's); the
 * searches in the database are exactly those the clients were answered (none lost or doubled by a retry);
 * each follower got task events 1..N, each once, N being the search's stored results; the per-key limit
 * held (sampled each second); and after the shutdown no process of the run is left (each process's
 * environment carries the run's queue prefix: /proc is searched for it). Each process's resident memory
 * (its process group, the worker's job processes included) is sampled every 5 s.
 *
 * Recovery time of a fault, from the moment it strikes: a worker's — until every run it held has a new
 * task result (or ended; when it held none, until it was started again); an API process's — until it
 * answers again (through the balancer the clients do not wait: the other process answers); the others'
 * — until the first task result written after the fault is over (the whole pipeline works again), or
 * the fault's end when nothing was left to train. Printed: searches, task results, faults by kind,
 * recovery times (median, max), the outcome and the memory trend per process; the same as JSON in
 * `--out`. Exit code 0 when every check holds, 1 otherwise. `--heap-mib N` gives every process
 * NODE_OPTIONS=--max-old-space-size=N (docs/operations.md, "Memory"); by default there is no limit.
 */
import { readdirSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import type { SearchDefinitionInput } from '@ip2/search';
import { ApiClient } from '../apps/cli/src/server/client.js';
import { followEvents } from '../apps/cli/src/server/follow.js';
import { PRESETS } from '../apps/cli/src/presets.js';
import { OwnRedis, RoundRobinProxy, TcpProxy } from '../test/support/net.js';
import { OwnPostgres } from '../test/support/postgres.js';
import {
  decision,
  duplicateKeys,
  localReference,
  ROOT,
  sleep,
  Stack,
  type ComparableResult,
  type SearchOutcome,
} from '../test/support/stack.js';
import { median } from './stats.js';

function usage(message: string): never {
  process.stderr.write(`bench:soak: ${message}\n`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        minutes: { type: 'string', default: '60' },
        seed: { type: 'string', default: '1' },
        keys: { type: 'string', default: '4' },
        interval: { type: 'string', default: '8' },
        'fault-every': { type: 'string', default: '12' },
        'max-active': { type: 'string', default: '6' },
        limit: { type: 'string', default: '3' },
        'drain-minutes': { type: 'string', default: '15' },
        'heap-mib': { type: 'string' },
        out: { type: 'string' },
      },
      strict: true,
    });
  } catch (e) {
    usage((e as Error).message);
  }
})();

function num(name: keyof typeof flags, min: number, max: number): number {
  const v = Number(flags[name]);
  if (!Number.isFinite(v) || v < min || v > max)
    usage(`--${name}: a number from ${min} to ${max}, not '${flags[name]}'`);
  return v;
}

const MINUTES = num('minutes', 0.5, 24 * 60);
const SEED = num('seed', 0, 2 ** 31);
const KEYS = Math.trunc(num('keys', 1, 50));
const INTERVAL_S = num('interval', 0.5, 600);
const FAULT_EVERY_S = num('fault-every', 1, 3600);
const MAX_ACTIVE = Math.trunc(num('max-active', 1, 1000));
const LIMIT = Math.trunc(num('limit', 1, 1000));
const DRAIN_MINUTES = num('drain-minutes', 1, 240);
const HEAP_MIB = flags['heap-mib'] === undefined ? undefined : Math.trunc(num('heap-mib', 64, 65536));
const OUT = flags.out ?? join(ROOT, 'results', 'soak', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);

/** Environment of every process (besides DATABASE_URL, REDIS_URL, QUEUE_PREFIX, PORT, WORKER_ID). */
const RUN_ENV: Record<string, string> = {
  MAX_ACTIVE_SEARCHES: String(LIMIT),
  // Followers reconnect often while the schedule runs: the per-key rate limit is not what is measured.
  RATE_LIMIT_MAX: '1000000',
  RATE_LIMIT_WINDOW_MS: '60000',
  WORKER_CONCURRENCY: '1',
  // A little slower than the fault tests' periods: the machine is shared, and a worker late with its
  // heartbeat under load is a takeover (harmless: its late write is refused) rather than a fault.
  HEARTBEAT_MS: '1000',
  STALE_MS: '6000',
  LOCK_MS: '12000',
  TICK_MS: '1000',
  LOG_LEVEL: 'warn',
  ...(HEAP_MIB === undefined ? {} : { NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}` }),
};

const WORKERS = ['w1', 'w2', 'w3'] as const;
const APIS = ['api1', 'api2'] as const;

/** The searches submitted: the tiny preset's protocol on three families, two properties each. */
function definitions(): SearchDefinitionInput[] {
  const t = PRESETS.tiny;
  const make = (family: string, space: SearchDefinitionInput['space'], baseSeed: number): SearchDefinitionInput => ({
    family,
    space,
    strategy: { kind: 'successive-halving', eta: 2, minTasks: t.minTasks },
    protocol: {
      tasks: t.tasks,
      seeds: t.seeds,
      baseSeed,
      criterion: { window: t.window, epsilon: t.epsilon },
      iterationCap: t.cap,
      evalBatch: t.evalBatch,
      network: { hidden: t.hidden, lr: t.lr },
    },
  });
  return [
    make('sma', ['tauD', 'theta'], 101),
    make('dms', ['tauS', 'beta'], 102),
    make('gng2', ['theta', 'tauA'], 103),
  ];
}

/** A seeded generator (mulberry32): the fault schedule is the same for the same --seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
/** The fault schedule's draws: everything about a fault is drawn when it is scheduled, in order. */
const schedule = random(SEED);
/** The submissions' jitter, a stream of its own (so that it does not shift the schedule). */
const jitter = random(SEED + 0x9e3779b9);
/** Two uniform draws of one fault: which target (among the free ones) and how long it lasts. */
interface Draw {
  readonly which: number;
  readonly length: number;
}
const pick = <T>(xs: readonly T[], u: number): T => xs[Math.floor(u * xs.length)]!;
const span = (lo: number, hi: number, u: number) => lo + (hi - lo) * u;

const t0 = Date.now();
const elapsed = () => (Date.now() - t0) / 1000;
const log = (m: string) => process.stdout.write(`[${elapsed().toFixed(1).padStart(7)} s] ${m}\n`);

const KINDS = [
  'worker SIGKILL',
  'worker SIGTERM (group)',
  'worker SIGTERM (main process)',
  'controller SIGKILL',
  'controller SIGTERM',
  'api SIGKILL',
  'api SIGTERM',
  'redis restart',
  'postgres SIGKILL',
  'postgres restart -m fast',
  'postgres connections cut',
  'redis connections cut',
  'search cancelled',
] as const;
type Kind = (typeof KINDS)[number];
/** Relative frequency of each kind in the schedule. */
const WEIGHTS: Record<Kind, number> = {
  'worker SIGKILL': 3,
  'worker SIGTERM (group)': 2,
  'worker SIGTERM (main process)': 2,
  'controller SIGKILL': 2,
  'controller SIGTERM': 1,
  'api SIGKILL': 2,
  'api SIGTERM': 1,
  'redis restart': 2,
  'postgres SIGKILL': 2,
  'postgres restart -m fast': 1,
  'postgres connections cut': 2,
  'redis connections cut': 2,
  'search cancelled': 1,
};

interface Fault {
  readonly kind: Kind;
  readonly target: string;
  readonly at: number;
  /** When the fault was over (the process restarted, the server up, the connection restored). */
  over?: number;
  /** Seconds from `at` until recovered (see the header); null: not within the bound. */
  recovery?: number | null;
  note?: string;
}

interface Submitted {
  readonly id: string;
  readonly owner: string;
  readonly definition: number;
  cancelled: boolean;
  state: string;
  /** Task event ids the follower received, in order. */
  readonly events: number[];
  follower?: Promise<void>;
  followerError?: string;
}

/** One process's resident memory at one time: the app's main process or one of its children. */
interface MemorySample {
  readonly t: number;
  readonly name: string;
  readonly generation: number;
  readonly pid: number;
  readonly main: boolean;
  readonly rssMiB: number;
}

const problems: string[] = [];
const problem = (m: string) => {
  problems.push(m);
  log(`PROBLEM: ${m}`);
};

/** The processes of each process group with their resident set sizes (MiB), from /proc. */
function groupMemory(): Map<number, { pid: number; rss: number }[]> {
  const out = new Map<number, { pid: number; rss: number }[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      const status = readFileSync(`/proc/${d}/status`, 'utf8');
      const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      out.set(pgrp, [...(out.get(pgrp) ?? []), { pid: Number(d), rss: kb / 1024 }]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Processes whose environment carries this run's queue prefix (every process of the service does). */
function processesOfRun(prefix: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${d}/environ`, 'utf8');
      if (!env.split('\0').includes(`QUEUE_PREFIX=${prefix}`)) continue;
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // exited, not reaped yet
      found.push({
        pid: Number(d),
        cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ').slice(0, 120),
      });
    } catch {
      // gone meanwhile, or not readable
    }
  }
  return found;
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return sxx === 0 ? NaN : points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
}

/** Where two outcomes differ (task results, then decision), or null. */
function difference(got: SearchOutcome, expected: SearchOutcome): string | null {
  const dup = duplicateKeys(got.results);
  if (dup.length > 0) return `task results twice: ${dup.join(', ')}`;
  const want = new Map(expected.results.map((r) => [r.key, r]));
  const missing = expected.results.filter((r) => !got.results.some((g) => g.key === r.key)).map((r) => r.key);
  if (missing.length > 0) return `task results missing: ${missing.join(', ')}`;
  for (const r of got.results) {
    const w = want.get(r.key);
    if (!w) return `a task result the local mode has not: ${r.key}`;
    if (!sameResult(r, w)) return `task result ${r.key} differs: ${JSON.stringify(r)} vs ${JSON.stringify(w)}`;
  }
  if (!got.fixed) return 'no fixed configuration';
  if (!isDeepStrictEqual(decision(got.fixed), decision(expected.fixed))) return 'the decision differs';
  return null;
}

/** Equal field by field (NaN equals NaN), in any key order. */
const sameResult = (a: ComparableResult, b: ComparableResult) => isDeepStrictEqual({ ...a }, { ...b });

async function main(): Promise<number> {
  log(
    `soak: ${MINUTES} min, seed ${SEED}, ${KEYS} keys, a search every ${INTERVAL_S} s (≤ ${MAX_ACTIVE} unfinished, ` +
      `${LIMIT} per key), a fault every ${FAULT_EVERY_S} s on average; load average ${loadavg()[0]!.toFixed(1)}`,
  );
  const defs = definitions();
  // The local mode's outcome of each definition first (cached in the temporary folder for later runs).
  const references: SearchOutcome[] = [];
  for (const d of defs) {
    const started = Date.now();
    references.push(await localReference(d));
    log(
      `reference ${d.family}: ${references.at(-1)!.results.length} task results (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }

  const pg = await OwnPostgres.create();
  const redis = await OwnRedis.start();
  const stack = await Stack.create({ serverUrl: pg.serverUrl, redisUrl: redis.url, env: RUN_ENV });
  const pgProxy = await TcpProxy.start('127.0.0.1', { host: '127.0.0.1', port: pg.port });
  const redisProxy = await TcpProxy.start('127.0.0.1', { host: '127.0.0.1', port: Number(new URL(redis.url).port) });
  const env = { DATABASE_URL: pgProxy.url(stack.db.url), REDIS_URL: redisProxy.url(redis.url) };
  // The harness's own queue connections see Redis go away too: quietly (they reconnect by themselves).
  for (const q of [stack.queues.train, stack.queues.control, stack.queues.analysis]) q.on('error', () => undefined);
  log(`postgres :${pg.port} (${pg.bin}), redis ${redis.url}, database ${stack.db.name}, queue prefix ${stack.prefix}`);

  const generation = new Map<string, number>();
  const start = (name: string, app: 'controller' | 'worker', extra: Record<string, string> = {}) => {
    generation.set(name, (generation.get(name) ?? 0) + 1);
    stack.start(name, app, { env: { ...env, ...extra } });
  };
  const restart = (name: string) => {
    generation.set(name, (generation.get(name) ?? 0) + 1);
    stack.restart(name);
  };
  const apiBases = await Promise.all(
    APIS.map((name) => {
      generation.set(name, 1);
      return stack.startApi(name, env);
    }),
  );
  const balancer = await RoundRobinProxy.start(
    apiBases.map((b) => ({ host: '127.0.0.1', port: Number(new URL(b).port) })),
  );
  start('controller', 'controller');
  for (const w of WORKERS) start(w, 'worker', { WORKER_ID: w });
  const keys: { owner: string; key: string }[] = [];
  for (let i = 0; i < KEYS; i++) {
    const owner = `soak-${i + 1}`;
    keys.push({ owner, key: (await stack.store.apiKeys.create(owner, 'soak')).key });
  }
  log(`api ${apiBases.join(', ')} behind ${balancer.url}; controller, ${WORKERS.length} workers`);

  let stopping = false;
  const interrupted = new Promise<void>((resolve) => {
    process.once('SIGINT', () => {
      log('interrupted: shutting down');
      stopping = true;
      problem('interrupted (SIGINT)');
      resolve();
    });
  });

  const searches = new Map<string, Submitted>();
  const answered = { created: 0, again: 0, refused429: 0, failedTries: 0, abandoned: 0, deferred: 0 };
  const faults: Fault[] = [];
  const memory: MemorySample[] = [];
  const maxActiveSeen = new Map<string, number>();
  let inFlightSubmissions = 0;
  const end = Date.now() + MINUTES * 60_000;

  /** A direct read of the database (not through the cut-able proxy); null while it is down. */
  const db = async <T>(f: () => Promise<T>): Promise<T | null> => {
    try {
      return await f();
    } catch {
      return null;
    }
  };
  const resultCount = () =>
    db(async () =>
      Number((await stack.store.client.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM "TaskResult"`)[0]!.n),
    );

  // ---- clients: submissions and followers ----
  const follow = (s: Submitted, key: string) => {
    s.follower = followEvents(
      new ApiClient(new URL(balancer.url), key),
      s.id,
      { onTask: (n) => s.events.push(n) },
      { retries: 600 },
    ).then(
      () => undefined,
      (e: unknown) => {
        s.followerError = e instanceof Error ? e.message : String(e);
      },
    );
  };

  async function submit(seq: number): Promise<void> {
    const { owner, key } = keys[seq % keys.length]!;
    const d = seq % defs.length;
    const idempotencyKey = `soak-${SEED}-${seq}`;
    const deadline = Date.now() + 5 * 60_000;
    inFlightSubmissions++;
    try {
      while (Date.now() < deadline) {
        let status = 0;
        let body: { id?: string } = {};
        try {
          const res = await fetch(`${balancer.url}/v1/searches`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${key}`,
              'content-type': 'application/json',
              'idempotency-key': idempotencyKey,
            },
            body: JSON.stringify(defs[d]),
            signal: AbortSignal.timeout(30_000),
          });
          status = res.status;
          body = (await res.json().catch(() => ({}))) as { id?: string };
        } catch {
          status = 0;
        }
        if ((status === 201 || status === 200) && body.id) {
          if (status === 201) answered.created++;
          else answered.again++;
          if (!searches.has(body.id)) {
            const s: Submitted = { id: body.id, owner, definition: d, cancelled: false, state: 'QUEUED', events: [] };
            searches.set(body.id, s);
            follow(s, key);
          }
          return;
        }
        if (status === 429) {
          answered.refused429++;
          await sleep(3000);
        } else {
          answered.failedTries++;
          await sleep(1000);
        }
      }
      answered.abandoned++;
      log(`submission ${idempotencyKey} abandoned after 5 min of refusals`);
    } finally {
      inFlightSubmissions--;
    }
  }

  const unfinished = () => [...searches.values()].filter((s) => !['COMPLETE', 'FAILED', 'CANCELLED'].includes(s.state));

  const submitter = (async () => {
    let seq = 0;
    const pending: Promise<void>[] = [];
    while (Date.now() < end && !stopping) {
      await sleep(INTERVAL_S * 1000 * span(0.75, 1.25, jitter()));
      if (Date.now() >= end || stopping) break;
      if (unfinished().length + inFlightSubmissions >= MAX_ACTIVE) {
        answered.deferred++;
        continue;
      }
      pending.push(submit(seq++));
    }
    await Promise.all(pending);
  })();

  /** Targets a fault is acting on now (a process being stopped and restarted, a server, a proxy). */
  const busy = new Set<string>();
  const running = new Set<Promise<void>>();

  // ---- monitor: search states, the per-key limit, processes, memory ----
  let monitoring = true;
  const monitor = (async () => {
    let lastMemory = 0;
    while (monitoring) {
      const rows = await db(() =>
        stack.store.client.search.findMany({ select: { id: true, owner: true, state: true } }),
      );
      if (rows) {
        const active = new Map<string, number>();
        for (const r of rows) {
          const s = searches.get(r.id);
          if (s) s.state = r.state;
          if (r.state === 'QUEUED' || r.state === 'RUNNING') active.set(r.owner, (active.get(r.owner) ?? 0) + 1);
        }
        for (const [o, n] of active) maxActiveSeen.set(o, Math.max(maxActiveSeen.get(o) ?? 0, n));
      }
      // A process that ended with no fault on it: reported, and started again as a supervisor would.
      for (const [name, p] of stack.procs) {
        if (busy.has(name) || (p.exitCode === null && p.signalCode === null)) continue;
        problem(
          `${name} exited on its own (${p.exitCode ?? p.signalCode}):\n${(stack.logs.get(name) ?? '').slice(-1500)}`,
        );
        restart(name);
      }
      if (Date.now() - lastMemory >= 5000) {
        lastMemory = Date.now();
        const groups = groupMemory();
        for (const [name, p] of stack.procs) {
          if (p.exitCode !== null || p.signalCode !== null || !p.pid) continue;
          for (const q of groups.get(p.pid) ?? []) {
            const sample = {
              t: elapsed(),
              name,
              generation: generation.get(name) ?? 1,
              pid: q.pid,
              main: q.pid === p.pid,
            };
            memory.push({ ...sample, rssMiB: q.rss });
          }
        }
      }
      await sleep(1000);
    }
  })();

  // ---- the fault schedule ----

  /** Polls `done` until it holds (the recovery time from the fault's start) or 5 minutes pass (null). */
  async function recovered(f: Fault, done: () => Promise<boolean>): Promise<void> {
    const bound = Date.now() + 5 * 60_000;
    while (Date.now() < bound) {
      if (await done().catch(() => false)) {
        f.recovery = (Date.now() - f.at) / 1000;
        return;
      }
      await sleep(250);
    }
    f.recovery = null;
    problem(`${f.kind} of ${f.target} at ${((f.at - t0) / 1000).toFixed(0)} s: not recovered within 5 min`);
  }

  /** Recovered when a task result is written after the fault was over (or nothing is left to train). */
  async function progressAfter(f: Fault): Promise<void> {
    let base: number | null = null;
    for (let i = 0; i < 600 && base === null; i++) {
      base = await resultCount();
      if (base === null) await sleep(250);
    }
    await recovered(f, async () => {
      const n = await resultCount();
      return n !== null && (n > (base ?? 0) || unfinished().length === 0);
    });
  }

  /** Writes the last lines the process logged next to the summary (for a problem); the file's path. */
  function keepLog(name: string): string {
    const file = `${OUT.replace(/\.json$/, '')}.logs/${name}-${((Date.now() - t0) / 1000).toFixed(0)}s.log`;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, stack.logs.get(name) ?? '');
    return file;
  }

  async function stopProcess(
    name: string,
    signal: NodeJS.Signals,
    to: 'group' | 'main',
    f: Fault,
    d: Draw,
  ): Promise<void> {
    try {
      const code = await stack.stop(name, signal, 90_000, to);
      if (signal === 'SIGTERM') f.note = `exit ${code}`;
      if (signal === 'SIGTERM' && code !== 0) {
        problem(`${name} exited ${code} on SIGTERM (${to}); its log: ${keepLog(name)}`);
      } else if (signal === 'SIGTERM' && /still in use after the grace/.test(stack.logs.get(name) ?? '')) {
        // Not a problem (the close is bounded), but work was still holding the database at the close.
        log(`note: ${name} left database connections in use at its close; its log: ${keepLog(name)}`);
      }
    } catch (e) {
      problem(
        `${name} did not exit within 90 s of ${signal} (${to}): ${(e as Error).message.split('\n')[0]}; its log: ${keepLog(name)}`,
      );
      await stack.stop(name, 'SIGKILL');
    }
    // Nothing of it may be left: its job processes go with it.
    const bound = Date.now() + 15_000;
    while (stack.groupAlive(name) && Date.now() < bound) await sleep(100);
    if (stack.groupAlive(name)) {
      problem(`${name}: processes of its group left 15 s after it exited (${signal} to ${to})`);
      stack.signal(name, 'SIGKILL');
    }
    await sleep(span(500, 2000, d.length));
    restart(name);
  }

  async function inject(kind: Kind, d: Draw): Promise<void> {
    const free = (xs: readonly string[]) => xs.filter((x) => !busy.has(x));
    let target: string;
    if (kind.startsWith('worker')) target = pick(free(WORKERS).length > 0 ? free(WORKERS) : [''], d.which);
    else if (kind.startsWith('api')) target = pick(free(APIS).length > 0 ? free(APIS) : [''], d.which);
    else if (kind.startsWith('controller')) target = busy.has('controller') ? '' : 'controller';
    else if (kind === 'redis restart') target = busy.has('redis') ? '' : 'redis';
    else if (kind.startsWith('postgres') && !kind.endsWith('cut')) target = busy.has('postgres') ? '' : 'postgres';
    else if (kind === 'postgres connections cut') target = busy.has('pg-proxy') ? '' : 'pg-proxy';
    else if (kind === 'redis connections cut') target = busy.has('redis-proxy') ? '' : 'redis-proxy';
    else target = 'search';
    if (target === '') return; // everything of that kind is in a fault already
    const f: Fault = { kind, target, at: Date.now() };
    faults.push(f);
    busy.add(target);
    log(`fault: ${kind} (${target})`);
    try {
      switch (kind) {
        case 'worker SIGKILL':
        case 'worker SIGTERM (group)':
        case 'worker SIGTERM (main process)': {
          const held =
            (await db(() => stack.store.client.run.findMany({ where: { state: 'RUNNING', workerId: target } }))) ?? [];
          const signal = kind === 'worker SIGKILL' ? 'SIGKILL' : 'SIGTERM';
          await stopProcess(target, signal, kind.endsWith('(main process)') ? 'main' : 'group', f, d);
          f.over = Date.now();
          f.note = `${f.note ? `${f.note}, ` : ''}held ${held.length} run(s)`;
          await recovered(f, async () => {
            const now = await stack.store.client.run.findMany({ where: { id: { in: held.map((r) => r.id) } } });
            return now.every((r) => {
              const before = held.find((h) => h.id === r.id)!;
              return r.tasksDone > before.tasksDone || !['RUNNING', 'QUEUED', 'WAITING'].includes(r.state);
            });
          });
          break;
        }
        case 'controller SIGKILL':
        case 'controller SIGTERM':
          await stopProcess('controller', kind === 'controller SIGKILL' ? 'SIGKILL' : 'SIGTERM', 'group', f, d);
          f.over = Date.now();
          await progressAfter(f);
          break;
        case 'api SIGKILL':
        case 'api SIGTERM': {
          await stopProcess(target, kind === 'api SIGKILL' ? 'SIGKILL' : 'SIGTERM', 'group', f, d);
          f.over = Date.now();
          const base = apiBases[APIS.indexOf(target as (typeof APIS)[number])]!;
          await recovered(f, async () => (await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) })).ok);
          break;
        }
        case 'redis restart':
          await redis.kill();
          await sleep(span(500, 3000, d.length));
          await redis.restart();
          f.over = Date.now();
          await progressAfter(f);
          break;
        case 'postgres SIGKILL': {
          const logged = pg.log.length;
          await pg.kill();
          await sleep(span(500, 2000, d.length));
          await pg.start();
          f.over = Date.now();
          if (!/automatic recovery in progress/.test(pg.log.slice(logged)))
            problem('postgres started after SIGKILL without crash recovery in its log');
          await progressAfter(f);
          break;
        }
        case 'postgres restart -m fast':
          await pg.restart('fast');
          f.over = Date.now();
          await progressAfter(f);
          break;
        case 'postgres connections cut':
        case 'redis connections cut': {
          const proxy = kind === 'postgres connections cut' ? pgProxy : redisProxy;
          await proxy.cut();
          await sleep(span(2000, 6000, d.length));
          await proxy.restore();
          f.over = Date.now();
          await progressAfter(f);
          break;
        }
        case 'search cancelled': {
          const candidates = unfinished().filter((s) => !s.cancelled);
          if (candidates.length === 0) {
            f.note = 'nothing to cancel';
            break;
          }
          const s = pick(candidates, d.which);
          const key = keys.find((k) => k.owner === s.owner)!.key;
          for (let i = 0; i < 60; i++) {
            const res = await fetch(`${balancer.url}/v1/searches/${s.id}`, {
              method: 'DELETE',
              headers: { authorization: `Bearer ${key}` },
              signal: AbortSignal.timeout(10_000),
            }).catch(() => null);
            if (res?.status === 200) {
              s.cancelled = true;
              f.note = `search ${s.id.slice(0, 8)}`;
              break;
            }
            if (res?.status === 409) {
              f.note = `search ${s.id.slice(0, 8)} had finished`;
              break;
            }
            await sleep(1000);
          }
          f.over = Date.now();
          break;
        }
      }
    } catch (e) {
      problem(`${kind} (${target}) failed: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      busy.delete(target);
    }
  }

  const scheduler = (async () => {
    const total = KINDS.reduce((a, k) => a + WEIGHTS[k], 0);
    await sleep(15_000); // the first searches under way
    while (Date.now() < end && !stopping) {
      let r = schedule() * total;
      const kind = KINDS.find((k) => (r -= WEIGHTS[k]) < 0) ?? KINDS[0];
      const draw = { which: schedule(), length: schedule() };
      const gap = Math.min(4 * FAULT_EVERY_S, Math.max(1, -Math.log(1 - schedule()) * FAULT_EVERY_S));
      const p = inject(kind, draw).finally(() => running.delete(p));
      running.add(p);
      await sleep(gap * 1000);
    }
  })();

  await Promise.race([Promise.all([submitter, scheduler]), interrupted]);
  log(`schedule over: ${faults.length} faults; waiting for the ${running.size} still in progress`);
  await Promise.race([Promise.all([...running]), sleep(10 * 60_000)]);

  // ---- drain: everything up, every search to its end ----
  await pgProxy.restore();
  await redisProxy.restore();
  const drainEnd = Date.now() + DRAIN_MINUTES * 60_000;
  while (!stopping && Date.now() < drainEnd && (unfinished().length > 0 || inFlightSubmissions > 0)) await sleep(1000);
  if (unfinished().length > 0)
    problem(`${unfinished().length} searches unfinished after ${DRAIN_MINUTES} min of draining`);
  log(`drained: ${searches.size} searches`);
  await Promise.race([Promise.all([...searches.values()].map((s) => s.follower)), sleep(120_000)]);
  monitoring = false;
  await monitor;

  // ---- checks ----
  let taskResults = 0;
  let identical = 0;
  let duplicated = 0;
  let missing = 0;
  const states: Record<string, number> = {};
  const inDb = await stack.store.client.search.findMany({
    select: { id: true, owner: true, state: true, error: true },
  });
  if (inDb.length !== searches.size || inDb.some((r) => !searches.has(r.id))) {
    problem(`the database has ${inDb.length} searches, the clients were answered with ${searches.size}`);
  }
  for (const row of inDb) {
    states[row.state] = (states[row.state] ?? 0) + 1;
    const s = searches.get(row.id);
    if (!s) continue;
    const got = await stack.outcome(row.id);
    const ref = references[s.definition]!;
    taskResults += got.results.length;
    duplicated += duplicateKeys(got.results).length;
    if (row.state === 'COMPLETE') {
      const diff = difference(got, ref);
      if (diff === null) identical++;
      else {
        problem(`search ${row.id} (${defs[s.definition]!.family}): ${diff}`);
        missing += ref.results.filter((r) => !got.results.some((g) => g.key === r.key)).length;
      }
    } else if (row.state === 'CANCELLED') {
      if (!s.cancelled) problem(`search ${row.id} CANCELLED, and the schedule did not cancel it`);
      const want = new Map(ref.results.map((r) => [r.key, r]));
      for (const r of got.results)
        if (!want.has(r.key) || !sameResult(r, want.get(r.key)!))
          problem(`cancelled search ${row.id}: result ${r.key} differs from the local mode's`);
    } else {
      problem(`search ${row.id} ended ${row.state}: ${row.error ?? 'no error recorded'}`);
    }
    // The follower: task events 1..N, each once, N the results stored.
    const ids = s.events;
    const contiguous = ids.every((n, i) => n === i + 1);
    if (s.followerError) problem(`follower of ${row.id}: ${s.followerError}`);
    else if (!contiguous || ids.length !== got.results.length) {
      problem(
        `follower of ${row.id}: ${ids.length} task events${contiguous ? '' : ' (not 1..N, each once)'} for ${got.results.length} results`,
      );
    }
  }
  for (const [owner, n] of maxActiveSeen)
    if (n > LIMIT) problem(`${owner} had ${n} unfinished searches at once (limit ${LIMIT})`);

  // ---- shutdown; nothing may be left ----
  const prefix = stack.prefix;
  await Promise.all(
    [...stack.procs.keys()].map((name) => stack.stop(name, 'SIGTERM', 60_000).catch(() => stack.stop(name, 'SIGKILL'))),
  );
  const leakBound = Date.now() + 15_000;
  let leaked = processesOfRun(prefix);
  while (leaked.length > 0 && Date.now() < leakBound) {
    await sleep(250);
    leaked = processesOfRun(prefix);
  }
  for (const l of leaked) {
    problem(`process left after the shutdown: ${l.pid} ${l.cmd}`);
    try {
      process.kill(l.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await balancer.close();
  await stack.close();
  await pgProxy.close();
  await redisProxy.close();
  await redis.stop();
  await pg.close();

  // ---- report ----
  const byKind = new Map<Kind, Fault[]>();
  for (const f of faults) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f]);
  const recoveries = (fs: Fault[]) => fs.flatMap((f) => (typeof f.recovery === 'number' ? [f.recovery] : []));
  const lines: string[] = [];
  const out = (l = '') => lines.push(l);
  out();
  out(
    `soak: ${MINUTES} min of faults (seed ${SEED}), drained in ${((Date.now() - end) / 60_000).toFixed(1)} min; load average at the end ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}`,
  );
  out(
    `searches: ${searches.size} (${Object.entries(states)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}); ${identical} COMPLETE identical to the local mode`,
  );
  out(
    `submissions: ${answered.created} created (201), ${answered.again} answered again after a lost answer (200), ${answered.refused429} × 429 (per-key limit), ${answered.failedTries} failed tries retried, ${answered.abandoned} abandoned, ${answered.deferred} ticks deferred (≥ ${MAX_ACTIVE} unfinished)`,
  );
  out(
    `task results: ${taskResults}; missing ${missing}, duplicated ${duplicated}; followers: ${[...searches.values()].filter((s) => !s.followerError && s.events.every((n, i) => n === i + 1)).length}/${searches.size} got every task event once`,
  );
  out(`largest number of unfinished searches of one key: ${Math.max(0, ...maxActiveSeen.values())} (limit ${LIMIT})`);
  out();
  out('faults by kind                    n   recovery median   max (s)');
  for (const k of KINDS) {
    const fs = byKind.get(k) ?? [];
    if (fs.length === 0) continue;
    const r = recoveries(fs);
    out(
      `  ${k.padEnd(30)} ${String(fs.length).padStart(3)}   ${r.length ? median(r).toFixed(1).padStart(8) : '       —'}   ${
        r.length
          ? Math.max(...r)
              .toFixed(1)
              .padStart(7)
          : '      —'
      }`,
    );
  }
  const all = recoveries(faults.filter((f) => f.kind !== 'search cancelled'));
  out(
    `  ${'all (but cancellations)'.padEnd(30)} ${String(faults.length).padStart(3)}   ${all.length ? median(all).toFixed(1).padStart(8) : '       —'}   ${
      all.length
        ? Math.max(...all)
            .toFixed(1)
            .padStart(7)
        : '      —'
    }`,
  );
  out();
  out("memory, MiB of RSS: each app's process group (its job processes included) in the first and the last minute");
  out(
    '(medians) and at most; then its process with the steepest trend (least squares) over at least a minute after its first minute',
  );
  const trends: Record<string, unknown> = {};
  for (const name of [...new Set(memory.map((m) => m.name))]) {
    const ms = memory.filter((m) => m.name === name);
    const times = [...new Set(ms.map((m) => m.t))];
    const group = times.map((t) => ({ t, rss: ms.filter((m) => m.t === t).reduce((a, m) => a + m.rssMiB, 0) }));
    const first = median(group.filter((g) => g.t < group[0]!.t + 60).map((g) => g.rss));
    const last = median(group.filter((g) => g.t > group.at(-1)!.t - 60).map((g) => g.rss));
    const max = Math.max(...group.map((g) => g.rss));
    const instances = new Set(ms.map((m) => m.generation)).size;
    const processes = Math.max(...times.map((t) => ms.filter((m) => m.t === t).length));
    const perPid = [...new Set(ms.map((m) => m.pid))]
      .map((pid) => ms.filter((m) => m.pid === pid))
      // The first minute of a process is its start (modules, caches, the JIT): its trend is taken after it.
      .map((p) => p.filter((m) => m.t >= p[0]!.t + 60))
      .filter((p) => p.length > 1 && p.at(-1)!.t - p[0]!.t >= 60)
      .map((p) => ({
        pid: p[0]!.pid,
        main: p[0]!.main,
        minutes: (p.at(-1)!.t - p[0]!.t) / 60,
        from: p[0]!.rssMiB,
        to: p.at(-1)!.rssMiB,
        max: Math.max(...p.map((m) => m.rssMiB)),
        slopeMiBPerMin: slope(p.map((m) => ({ x: m.t / 60, y: m.rssMiB }))),
      }))
      .sort((a, b) => b.slopeMiBPerMin - a.slopeMiBPerMin);
    trends[name] = { first, last, max, instances, processes, longLived: perPid };
    const w = perPid[0];
    const steepest = w
      ? `${w.main ? 'main' : 'child'} ${w.pid}, ${w.minutes.toFixed(1)} min: ${w.from.toFixed(0)} → ${w.to.toFixed(0)} (max ${w.max.toFixed(0)}), ${w.slopeMiBPerMin >= 0 ? '+' : ''}${w.slopeMiBPerMin.toFixed(2)} MiB/min`
      : 'no process lived 2 min';
    out(
      `  ${name.padEnd(11)} ${first.toFixed(0).padStart(5)} → ${last.toFixed(0).padStart(5)}, max ${max.toFixed(0).padStart(5)}; ${instances} instance(s), ≤ ${processes} process(es); ${steepest}`,
    );
  }
  out();
  out(problems.length === 0 ? 'outcome: PASS — every check held' : `outcome: FAIL — ${problems.length} problem(s):`);
  for (const p of problems) out(`  - ${p}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(
    OUT,
    JSON.stringify(
      {
        flags: {
          minutes: MINUTES,
          seed: SEED,
          keys: KEYS,
          interval: INTERVAL_S,
          faultEvery: FAULT_EVERY_S,
          maxActive: MAX_ACTIVE,
          limit: LIMIT,
          heapMiB: HEAP_MIB ?? null,
        },
        searches: searches.size,
        states,
        identical,
        taskResults,
        missing,
        duplicated,
        answered,
        maxActiveSeen: Object.fromEntries(maxActiveSeen),
        faults: faults.map((f) => ({
          ...f,
          at: (f.at - t0) / 1000,
          over: f.over === undefined ? null : (f.over - t0) / 1000,
        })),
        memoryTrends: trends,
        memory,
        problems,
      },
      null,
      1,
    ),
  );
  log(`written ${OUT}`);
  return problems.length === 0 ? 0 : 1;
}

// Exit explicitly: everything of the run is stopped by now, but a handle of a client library can keep
// the event loop alive (a finished 15-minute soak was still running 10 minutes after its summary).
process.exit(await main());

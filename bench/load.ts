/**
 * Load test of the service (docs/benchmarks.md, "Service load"), against the real stack started here as
 * separate processes (apps/api, apps/controller, apps/worker from their sources under tsx), each phase on
 * a fresh PostgreSQL database and a fresh BullMQ queue prefix, all removed at the end (also on Ctrl-C):
 *
 *   npm run bench:load -- [--clients 50] [--keys 50] [--submit-seconds 30] [--streams 300] [--stream-seconds 90]
 *                         [--workers 8] [--runs 32] [--tasks 3] [--phases 1,2,3]
 *
 * 1. Submission latency: `--clients` concurrent autocannon connections POST /v1/searches for
 *    `--submit-seconds`, each request a different small definition (its baseSeed counts up), to an API
 *    and a controller (no workers, so that training does not compete for the CPU). The connections
 *    are spread over `--keys` API keys (owners): the API serialises one owner's submissions (its
 *    active-search limit), so one key for all clients measures that queue, not the service.
 * 2. Event streams: `--streams` open GET /v1/searches/{id}/events on two searches being trained (two
 *    workers) while submissions go on at a steady rate; the API's resident memory is sampled each second
 *    from /proc/<pid>/status.
 * 3. Queue overhead: one exhaustive search of `--runs` runs × `--tasks` tasks on `--workers` worker
 *    processes. A job's time on a worker (its `active` to its `completed` event in the queue's event
 *    stream, both stamped by Redis) minus the training time its task results record (`wallMs`, measured
 *    by the worker around each task's training and held-out evaluation) is what the queue, PostgreSQL and
 *    the checkpoints cost; divided by the task results the job wrote, it is the overhead per task result.
 *
 * One key submits everything, so the API's per-key limits are raised for the run (RATE_LIMIT_MAX to
 * 1,000,000 per minute, MAX_ACTIVE_SEARCHES to 1,000,000): otherwise the measurement would be one of
 * 429s; see RUN_ENV below. The other limits keep their defaults.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { Store } from '@ip2/db';
import type { SearchDefinitionInput } from '@ip2/search';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { freePort, sleep, Stack, type App } from '../test/support/stack.js';
import { mean, quantile } from './stats.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Environment of every process of the run (besides DATABASE_URL, REDIS_URL, QUEUE_PREFIX, PORT). */
const RUN_ENV: Record<string, string> = {
  // One key submits everything: the per-key limit is lifted to its maximum (1,000,000 per minute).
  RATE_LIMIT_MAX: '1000000',
  RATE_LIMIT_WINDOW_MS: '60000',
  // Every submitted search stays queued (no workers in phase 1): lift the per-owner ceiling on them.
  MAX_ACTIVE_SEARCHES: '1000000',
  // Sampled during the event-stream phase (the V8 heap) without a key.
  METRICS_PUBLIC: 'true',
  LOG_LEVEL: 'info',
  WORKER_CONCURRENCY: '1',
  HEARTBEAT_MS: '2000',
  LOCK_MS: '30000',
  STALE_MS: '30000',
  TICK_MS: '5000',
};

function usage(message: string): never {
  process.stderr.write(`bench:load: ${message}\n`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        clients: { type: 'string', default: '50' },
        keys: { type: 'string', default: '50' },
        'submit-seconds': { type: 'string', default: '30' },
        streams: { type: 'string', default: '300' },
        'stream-seconds': { type: 'string', default: '90' },
        workers: { type: 'string', default: '8' },
        runs: { type: 'string', default: '32' },
        tasks: { type: 'string', default: '3' },
        phases: { type: 'string', default: '1,2,3' },
        'api-heap-mib': { type: 'string' },
      },
      strict: true,
    });
  } catch (e) {
    usage((e as Error).message);
  }
})();

function positive(name: keyof typeof flags, max: number): number {
  const raw = flags[name];
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > max) usage(`--${name} must be an integer from 1 to ${max} (got '${raw}')`);
  return v;
}

const CLIENTS = positive('clients', 1000);
/** API keys (owners) the submitting clients are spread over: a key's submissions are serialised. */
const KEYS = positive('keys', 1000);
const SUBMIT_S = positive('submit-seconds', 3600);
const STREAMS = positive('streams', 5000);
const STREAM_S = positive('stream-seconds', 3600);
const WORKERS = positive('workers', 64);
const RUNS = positive('runs', 1024);
const TASKS = positive('tasks', 100);
const PHASES = new Set(flags.phases.split(','));
/**
 * The API's V8 old space, capped (--max-old-space-size): memory that is only garbage not yet collected
 * stays under the cap, a leak ends the process with an out-of-memory error. Default: Node's own limit.
 */
const API_HEAP_MIB = flags['api-heap-mib'] === undefined ? null : positive('api-heap-mib', 65_536);
if ([...PHASES].some((p) => !['1', '2', '3'].includes(p))) {
  usage(`--phases must be a comma-separated subset of 1,2,3 (got '${flags.phases}')`);
}
// An exhaustive search over k properties has 2^k candidates: runs = 2^k × seeds.
const SPACE_KEYS = RUNS >= 8 ? 3 : RUNS >= 4 ? 2 : 1;
if (RUNS % 2 ** SPACE_KEYS !== 0) usage(`--runs must be 1, 2 or a multiple of ${2 ** SPACE_KEYS}`);

// ---------------------------------------------------------------------------------------------------
// The stack

/** A small search: the tiny preset's network and protocol. */
function definition(baseSeed: number, o: { keys: number; seeds: number; tasks: number }): SearchDefinitionInput {
  return {
    family: 'sma',
    space: (['tauD', 'theta', 'tauS'] as const).slice(0, o.keys),
    strategy: { kind: 'exhaustive' },
    protocol: {
      tasks: o.tasks,
      seeds: o.seeds,
      baseSeed,
      criterion: { window: 20, epsilon: 0.05 },
      iterationCap: 400,
      evalBatch: 16,
      network: { hidden: 16, lr: 3e-3 },
    },
  };
}

/** A stack of test/support/stack.ts (database, queue prefix, processes) with an API key and the API's address. */
class LoadStack {
  apiKey = '';
  /** The keys the submission clients use, one owner each (`--keys`); the first is `apiKey`. */
  apiKeys: string[] = [];
  base = '';
  private closed = false;

  private constructor(readonly stack: Stack) {}

  static async open(): Promise<LoadStack> {
    const s = new LoadStack(await Stack.create({ redisUrl: REDIS_URL, env: RUN_ENV }));
    s.apiKey = (await s.stack.store.apiKeys.create('load', 'bench')).key;
    s.apiKeys = [s.apiKey];
    return s;
  }

  get store(): Store {
    return this.stack.store;
  }

  /** Creates keys (owners) until there are `n`. */
  async ensureKeys(n: number): Promise<void> {
    while (this.apiKeys.length < n)
      this.apiKeys.push((await this.store.apiKeys.create(`load-${this.apiKeys.length}`, 'bench')).key);
  }

  get prefix(): string {
    return this.stack.prefix;
  }

  private start(name: string, app: App, env: Record<string, string> = {}): ChildProcess {
    const p = this.stack.start(name, app, { env });
    p.on('exit', (code, signal) => {
      if (!this.closed) {
        process.stderr.write(`bench:load: ${name} exited early (${code ?? signal})\n${this.log(name)}\n`);
      }
    });
    return p;
  }

  log(name: string): string {
    return (this.stack.logs.get(name) ?? '').slice(-4000);
  }

  /** Starts the API on a free port and waits until it is ready; its process id. */
  async startApi(): Promise<number> {
    const port = await freePort();
    const p = this.start('api', 'api', {
      PORT: String(port),
      HOST: '127.0.0.1',
      ...(API_HEAP_MIB === null ? {} : { NODE_OPTIONS: `--max-old-space-size=${API_HEAP_MIB}` }),
    });
    this.base = `http://127.0.0.1:${port}`;
    await this.stack.until(
      'the API to be ready',
      () =>
        fetch(`${this.base}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      90_000,
    );
    return p.pid!;
  }

  startController(): void {
    this.start('controller', 'controller');
  }

  /** Starts n workers and waits until each says it is ready. */
  async startWorkers(n: number, concurrency = 1): Promise<void> {
    for (let i = 1; i <= n; i++) {
      this.start(`w${i}`, 'worker', { WORKER_ID: `w${i}`, WORKER_CONCURRENCY: String(concurrency) });
    }
    for (let i = 1; i <= n; i++) await this.stack.logged(`w${i}`, /ready:/, 180_000);
  }

  async submit(body: SearchDefinitionInput): Promise<string> {
    const r = await fetch(`${this.base}/v1/searches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await r.json()) as { id?: string };
    if (r.status !== 201 || json.id === undefined) throw new Error(`submission: ${r.status} ${JSON.stringify(json)}`);
    return json.id;
  }

  async cancel(id: string): Promise<void> {
    await fetch(`${this.base}/v1/searches/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${this.apiKey}` },
    }).catch(() => undefined);
  }

  /** Kills every process (and a worker's sandboxed children), drops the database, deletes the queue keys. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stack.close();
  }
}

const stacks: LoadStack[] = [];
async function newStack(): Promise<LoadStack> {
  const s = await LoadStack.open();
  stacks.push(s);
  return s;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench:load: ${signal}: stopping the stack\n`);
    Promise.allSettled(stacks.map((s) => s.close())).finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------------
// Measurements

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Least-squares slope of y over x. */
const finite = (xs: readonly number[]) => xs.filter((x) => Number.isFinite(x));

function slope(xs: readonly number[], ys: readonly number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

interface Submissions {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly codes: string;
}

/** POST /v1/searches from `connections` clients for `seconds` (at most `rate` requests/s overall if given). */
async function submissions(
  stack: LoadStack,
  o: { connections: number; seconds: number; rate?: number; seedFrom: number },
): Promise<Submissions> {
  let seed = o.seedFrom;
  let nextKey = 0;
  const r = await autocannon({
    url: stack.base,
    connections: o.connections,
    duration: o.seconds,
    ...(o.rate === undefined ? {} : { overallRate: o.rate }),
    requests: [
      {
        method: 'POST',
        path: '/v1/searches',
        headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
        // A different definition each time (no Idempotency-Key either): every request creates a search.
        // Each connection (its context) submits with its own key, the keys dealt round-robin.
        setupRequest: (req, context: { key?: string }) => {
          context.key ??= stack.apiKeys[nextKey++ % stack.apiKeys.length]!;
          return {
            ...req,
            headers: { ...req.headers, authorization: `Bearer ${context.key}` },
            body: JSON.stringify(definition(seed++, { keys: 1, seeds: 1, tasks: 2 })),
          };
        },
      },
    ],
  });
  const codes = Object.entries(r.statusCodeStats ?? {})
    .map(([code, s]) => `${code}: ${(s as { count: number }).count}`)
    .join(', ');
  return {
    requests: r.requests.total,
    perSecond: r.requests.average,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
    codes,
  };
}

interface Stream {
  req: ClientRequest;
  status: number;
  events: number;
  tasks: number;
  ended: boolean;
  closedAt: number | null;
  error: string | null;
}

/** Opens an SSE stream and counts its events. */
function openStream(stack: LoadStack, searchId: string): Stream {
  const s: Stream = {
    req: undefined as never,
    status: 0,
    events: 0,
    tasks: 0,
    ended: false,
    closedAt: null,
    error: null,
  };
  const url = new URL(`/v1/searches/${searchId}/events`, stack.base);
  s.req = httpRequest(
    url,
    { headers: { authorization: `Bearer ${stack.apiKey}`, accept: 'text/event-stream' } },
    (res) => {
      s.status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        // Each complete block (up to a blank line) is one event; the rest waits for the next chunk.
        let from = 0;
        let i: number;
        while ((i = buffer.indexOf('\n\n', from)) >= 0) {
          const at = buffer.indexOf('event: ', from);
          if (at >= 0 && at < i) {
            const event = buffer.slice(at + 7, buffer.indexOf('\n', at));
            s.events += 1;
            if (event === 'task') s.tasks += 1;
            if (event === 'end') s.ended = true;
          }
          from = i + 2;
        }
        buffer = buffer.slice(from);
      });
      res.on('close', () => (s.closedAt ??= Date.now()));
    },
  );
  s.req.on('error', (e) => {
    s.error ??= e.message;
    s.closedAt ??= Date.now();
  });
  s.req.end();
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Phases

async function phaseSubmit(): Promise<Submissions & { stored: number; rss: { start: number; end: number } }> {
  const stack = await newStack();
  const pid = await stack.startApi();
  stack.startController();
  await sleep(2_000);
  await stack.ensureKeys(KEYS);
  // Warm-up (JIT, connection pools), not counted.
  await submissions(stack, { connections: 5, seconds: 3, seedFrom: 1_000_000 });
  const start = rssMiB(pid);
  const r = await submissions(stack, { connections: CLIENTS, seconds: SUBMIT_S, seedFrom: 1 });
  const end = rssMiB(pid);
  const stored = await stack.store.client.search.count();
  await stack.close();
  return { ...r, stored, rss: { start, end } };
}

interface Sample {
  /** Seconds since the streams were open. */
  readonly t: number;
  /** The API's resident memory. */
  readonly mib: number;
  /** Task events received by all streams so far. */
  readonly tasks: number;
  /** Time for GET /metrics (no database), started at t; NaN when it took over 5 s. */
  healthMs: number;
  /** V8 heap in use (ip2_api_nodejs_heap_size_used_bytes of /metrics). */
  heapMiB: number;
  /** Stream output the API holds unread by the clients (ip2_api_event_buffered_bytes). */
  bufferedMiB: number;
  /** Streams the API closed because their client did not keep up, so far. */
  dropped: number;
}

interface StreamPhase {
  readonly opened: number;
  readonly openAtEnd: number;
  /** Streams that got `end` within the window (their search finished): not a failure, but not held. */
  readonly endedEarly: number;
  readonly withTaskEvents: number;
  readonly events: number;
  readonly taskEvents: number;
  readonly endedAfterCancel: number;
  readonly submissions: Submissions;
  readonly samples: readonly Sample[];
  readonly firstThird: number;
  readonly lastThird: number;
  /** Lowest sample of the first and the last third: the floor the garbage collector returns to. */
  readonly firstFloor: number;
  readonly lastFloor: number;
  readonly slopePerMin: number;
  /** Trend of the lowest RSS of each 10 s (what the collector returns to), and of the V8 heap in use. */
  readonly floorSlopePerMin: number;
  readonly heapSlopePerMin: number;
  readonly maxBufferedMiB: number;
  readonly dropped: number;
}

async function phaseStreams(): Promise<StreamPhase> {
  const stack = await newStack();
  const pid = await stack.startApi();
  stack.startController();
  // Two searches of 16 runs × (4 per second of the window, at least 60) tasks each, trained by two
  // workers of two slots: task events flow throughout (they outlast the window, even on a quiet
  // machine, and are cancelled at its end).
  const tasks = Math.max(60, 4 * STREAM_S);
  const watched = [
    await stack.submit(definition(7, { keys: 1, seeds: 8, tasks })),
    await stack.submit(definition(8, { keys: 1, seeds: 8, tasks })),
  ];
  await stack.startWorkers(2, 2);
  const streams = Array.from({ length: STREAMS }, (_, i) => openStream(stack, watched[i % watched.length]!));
  const until = Date.now() + 30_000;
  while (streams.some((s) => s.status === 0 && s.closedAt === null) && Date.now() < until) await sleep(100);
  const opened = streams.filter((s) => s.status === 200).length;

  const samples: Sample[] = [];
  const t0 = Date.now();
  const sampler = setInterval(() => {
    const sample: Sample = {
      t: (Date.now() - t0) / 1000,
      mib: rssMiB(pid),
      tasks: streams.reduce((n, s) => n + s.tasks, 0),
      healthMs: Number.NaN,
      heapMiB: Number.NaN,
      bufferedMiB: Number.NaN,
      dropped: Number.NaN,
    };
    samples.push(sample);
    const asked = performance.now();
    fetch(`${stack.base}/metrics`, { signal: AbortSignal.timeout(5_000) })
      .then((r) => (r.ok ? r.text() : ''))
      .then(
        (text) => {
          const heap = /^ip2_api_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1];
          if (heap === undefined) return;
          sample.healthMs = performance.now() - asked;
          sample.heapMiB = Number(heap) / 2 ** 20;
          const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
          sample.bufferedMiB = metric('ip2_api_event_buffered_bytes') / 2 ** 20;
          sample.dropped = metric('ip2_api_event_streams_dropped_total');
        },
        () => undefined,
      );
  }, 1000);
  // Submissions go on at a steady 20 per second from 10 clients while the streams are held.
  const sub = await submissions(stack, { connections: 10, seconds: STREAM_S, rate: 20, seedFrom: 2_000_000 });
  clearInterval(sampler);
  const openAtEnd = streams.filter((s) => s.status === 200 && s.closedAt === null).length;
  const endedEarly = streams.filter((s) => s.ended).length;
  const withTaskEvents = streams.filter((s) => s.tasks > 0).length;
  const events = streams.reduce((n, s) => n + s.events, 0);
  const taskEvents = streams.reduce((n, s) => n + s.tasks, 0);

  // Cancelling the watched searches ends their streams with an `end` event.
  for (const id of watched) await stack.cancel(id);
  const endBy = Date.now() + 15_000;
  while (streams.some((s) => !s.ended && s.closedAt === null) && Date.now() < endBy) await sleep(200);
  const endedAfterCancel = streams.filter((s) => s.ended).length;
  for (const s of streams) s.req.destroy();
  await stack.close();

  const third = Math.max(1, Math.floor(samples.length / 3));
  const floors: { t: number; mib: number }[] = [];
  for (let i = 0; i < samples.length; i += 10) {
    const b = samples.slice(i, i + 10);
    const low = b.reduce((a, x) => (x.mib < a.mib ? x : a));
    floors.push({ t: low.t, mib: low.mib });
  }
  const heap = samples.filter((s) => Number.isFinite(s.heapMiB));
  return {
    opened,
    openAtEnd,
    endedEarly,
    withTaskEvents,
    events,
    taskEvents,
    endedAfterCancel,
    submissions: sub,
    samples,
    firstThird: mean(samples.slice(0, third).map((s) => s.mib)),
    lastThird: mean(samples.slice(-third).map((s) => s.mib)),
    firstFloor: Math.min(...samples.slice(0, third).map((s) => s.mib)),
    lastFloor: Math.min(...samples.slice(-third).map((s) => s.mib)),
    slopePerMin:
      slope(
        samples.map((s) => s.t),
        samples.map((s) => s.mib),
      ) * 60,
    floorSlopePerMin:
      slope(
        floors.map((f) => f.t),
        floors.map((f) => f.mib),
      ) * 60,
    heapSlopePerMin:
      slope(
        heap.map((s) => s.t),
        heap.map((s) => s.heapMiB),
      ) * 60,
    maxBufferedMiB: Math.max(0, ...finite(samples.map((s) => s.bufferedMiB))),
    dropped: Math.max(0, ...finite(samples.map((s) => s.dropped))),
  };
}

interface OverheadPhase {
  readonly results: number;
  readonly jobs: number;
  readonly trainMs: number;
  readonly jobMsPerTask: number;
  readonly overheadMs: number;
  readonly warmOverheadMs: number;
  readonly coldOverheadMs: number;
  readonly coldJobs: number;
  readonly betweenTasksMs: number;
  readonly betweenTasksCount: number;
  readonly queueWaitMs: number;
  readonly utilisation: number;
  readonly makespanS: number;
  readonly perWorker: string;
}

async function phaseOverhead(): Promise<OverheadPhase> {
  const stack = await newStack();
  await stack.startApi();
  stack.startController();
  await stack.startWorkers(WORKERS, 1);
  const seeds = RUNS / 2 ** SPACE_KEYS;
  const id = await stack.submit(definition(42, { keys: SPACE_KEYS, seeds, tasks: TASKS }));
  const end = Date.now() + 30 * 60_000;
  for (;;) {
    const s = await stack.store.client.search.findUnique({ where: { id }, select: { state: true, error: true } });
    if (s?.state === 'COMPLETE') break;
    if (s?.state === 'FAILED' || s?.state === 'CANCELLED') throw new Error(`search ${s.state}: ${s.error ?? ''}`);
    if (Date.now() > end) throw new Error('the overhead search did not complete in 30 minutes');
    await sleep(500);
  }

  const runs = await stack.store.client.run.findMany({
    where: { candidate: { searchId: id } },
    select: { id: true, workerId: true },
  });
  const worker = new Map(runs.map((r) => [r.id, r.workerId ?? '?']));
  const rows = await stack.store.client.taskResult.findMany({
    where: { run: { candidate: { searchId: id } } },
    select: { runId: true, taskIndex: true, wallMs: true, createdAt: true },
    orderBy: [{ runId: 'asc' }, { taskIndex: 'asc' }],
  });

  // The train queue's event stream: `added`, `active`, `completed` per job, stamped by Redis (ms-seq ids).
  const redis = new Redis(REDIS_URL);
  const entries = await redis.xrange(`${stack.prefix}:ip2-train:events`, '-', '+');
  redis.disconnect();
  const jobs = new Map<string, { added?: number; active?: number; completed?: number; nextTask?: number }>();
  for (const [entryId, fields] of entries) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
    if (f.jobId === undefined) continue;
    const t = Number(entryId.split('-')[0]);
    const j = jobs.get(f.jobId) ?? {};
    if (f.event === 'added' || f.event === 'waiting') j.added ??= t;
    if (f.event === 'active') j.active = t;
    if (f.event === 'completed') {
      j.completed = t;
      j.nextTask = (JSON.parse(f.returnvalue ?? '{}') as { nextTask?: number }).nextTask;
    }
    jobs.set(f.jobId, j);
  }
  await stack.close();

  interface JobStat {
    worker: string;
    active: number;
    busy: number;
    train: number;
    tasks: number;
    wait: number;
  }
  const stats: JobStat[] = [];
  for (const [jobId, j] of jobs) {
    const m = /^run-(.+)-from-(\d+)$/.exec(jobId);
    if (!m || j.active === undefined || j.completed === undefined || j.nextTask === undefined) continue;
    const [, runId, from] = m;
    const mine = rows.filter((r) => r.runId === runId && r.taskIndex >= Number(from) && r.taskIndex < j.nextTask!);
    if (mine.length === 0) continue;
    stats.push({
      worker: worker.get(runId!) ?? '?',
      active: j.active,
      busy: j.completed - j.active,
      train: mine.reduce((a, r) => a + r.wallMs, 0),
      tasks: mine.length,
      wait: j.added === undefined ? Number.NaN : j.active - j.added,
    });
  }
  // A worker's first job also starts its sandboxed child process (a fresh node + tsx + the engine).
  const firstOf = new Map<string, JobStat>();
  for (const s of [...stats].sort((a, b) => a.active - b.active)) if (!firstOf.has(s.worker)) firstOf.set(s.worker, s);
  const cold = stats.filter((s) => firstOf.get(s.worker) === s);
  const warm = stats.filter((s) => firstOf.get(s.worker) !== s);
  const perTask = (ss: JobStat[]) =>
    (ss.reduce((a, s) => a + s.busy - s.train, 0) / ss.reduce((a, s) => a + s.tasks, 0)) as number;

  // Steady state inside a job: from one task result's transaction to the next one's, less the next training.
  const gaps: number[] = [];
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1]!;
    const b = rows[i]!;
    if (a.runId === b.runId && b.taskIndex === a.taskIndex + 1) {
      gaps.push(b.createdAt.getTime() - a.createdAt.getTime() - b.wallMs);
    }
  }
  const tasks = stats.reduce((a, s) => a + s.tasks, 0);
  const train = stats.reduce((a, s) => a + s.train, 0);
  const busy = stats.reduce((a, s) => a + s.busy, 0);
  const first = Math.min(...stats.map((s) => s.active));
  const last = Math.max(...stats.map((s) => s.active + s.busy));
  const perWorker = new Map<string, number>();
  for (const s of stats) perWorker.set(s.worker, (perWorker.get(s.worker) ?? 0) + s.tasks);
  return {
    results: rows.length,
    jobs: stats.length,
    trainMs: train / tasks,
    jobMsPerTask: busy / tasks,
    overheadMs: (busy - train) / tasks,
    warmOverheadMs: warm.length > 0 ? perTask(warm) : Number.NaN,
    coldOverheadMs: perTask(cold),
    coldJobs: cold.length,
    betweenTasksMs: quantile(gaps, 0.5),
    betweenTasksCount: gaps.length,
    queueWaitMs: quantile(
      stats.map((s) => s.wait).filter((w) => Number.isFinite(w)),
      0.5,
    ),
    utilisation: train / (WORKERS * (last - first)),
    makespanS: (last - first) / 1000,
    perWorker: [...perWorker]
      .sort()
      .map(([w, n]) => `${w}:${n}`)
      .join(' '),
  };
}

// ---------------------------------------------------------------------------------------------------

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

async function main(): Promise<void> {
  const model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  console.log(`machine: ${model}, ${cpus().length} CPUs, node ${process.version}, load ${loadavg().map(f1).join(' ')}`);
  console.log(
    `run env: ${Object.entries(RUN_ENV)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}${API_HEAP_MIB === null ? '' : `; API: NODE_OPTIONS=--max-old-space-size=${API_HEAP_MIB}`}`,
  );
  const rows: [string, string][] = [];
  const lines: string[] = [];

  if (PHASES.has('1')) {
    console.log(`\n[1] submissions: ${CLIENTS} clients, ${SUBMIT_S} s`);
    const p1 = await phaseSubmit();
    rows.push(
      [`POST /v1/searches, ${CLIENTS} clients, ${SUBMIT_S} s: requests`, `${p1.requests} (${f1(p1.perSecond)}/s)`],
      ['  latency p50 / p90 / p99 / max (ms)', `${p1.p50} / ${p1.p90} / ${p1.p99} / ${p1.max}`],
      [
        '  non-2xx, errors/timeouts',
        `${p1.non2xx} (${pct(p1.non2xx / Math.max(1, p1.requests))}), ${p1.errors}  [${p1.codes}]`,
      ],
      ['  searches stored', `${p1.stored} (incl. warm-up)`],
      ['  API RSS before / after (MiB)', `${f1(p1.rss.start)} / ${f1(p1.rss.end)}`],
    );
  }
  if (PHASES.has('2')) {
    console.log(`\n[2] event streams: ${STREAMS} streams, ${STREAM_S} s of submissions at 20/s`);
    const p2 = await phaseStreams();
    rows.push(
      [
        `SSE streams opened (200) / open at end of ${STREAM_S} s / ended early`,
        `${p2.opened} / ${p2.openAtEnd} / ${p2.endedEarly} of ${STREAMS}`,
      ],
      ['  streams with task events; events; task events', `${p2.withTaskEvents}; ${p2.events}; ${p2.taskEvents}`],
      ['  streams closed with `end` after cancel', `${p2.endedAfterCancel}`],
      [
        '  submissions meanwhile (20/s): p50 / p99 (ms), non-2xx',
        `${p2.submissions.p50} / ${p2.submissions.p99}, ${p2.submissions.non2xx} of ${p2.submissions.requests}; ${p2.submissions.errors} errors/timeouts`,
      ],
      [
        '  API RSS first third / last third / max (MiB)',
        `${f1(p2.firstThird)} / ${f1(p2.lastThird)} / ${f1(Math.max(...p2.samples.map((s) => s.mib)))}`,
      ],
      ['  API RSS floor (min) first third / last third (MiB)', `${f1(p2.firstFloor)} / ${f1(p2.lastFloor)}`],
      [
        '  API RSS trend (least squares, MiB/min): all samples / lowest of each 10 s',
        `${f1(p2.slopePerMin)} / ${f1(p2.floorSlopePerMin)}`,
      ],
      ['  API V8 heap in use, trend (MiB/min)', f1(p2.heapSlopePerMin)],
      ['  unread stream output held by the API, max (MiB); streams dropped', `${f1(p2.maxBufferedMiB)}; ${p2.dropped}`],
    );
    lines.push(
      'event streams, per 10 s: RSS MiB (mean, min), V8 heap used MiB (mean), unread stream output MiB (mean, max), streams dropped so far, task events delivered, GET /metrics ms (median; no answer in 5 s)',
    );
    for (let from = 0; from < p2.samples.length; from += 10) {
      const b = p2.samples.slice(from, from + 10);
      const before = from === 0 ? 0 : p2.samples[from - 1]!.tasks;
      const ok = b.map((x) => x.healthMs).filter((x) => Number.isFinite(x));
      lines.push(
        `  ${`${from}–${from + b.length} s`.padEnd(10)} ${f1(mean(b.map((x) => x.mib))).padStart(7)} ${f1(Math.min(...b.map((x) => x.mib))).padStart(7)} ${f1(mean(finite(b.map((x) => x.heapMiB)))).padStart(7)} ${f1(mean(finite(b.map((x) => x.bufferedMiB)))).padStart(6)} ${f1(Math.max(...finite(b.map((x) => x.bufferedMiB)))).padStart(6)} ${String(Math.max(0, ...finite(b.map((x) => x.dropped)))).padStart(4)} ${String(b.at(-1)!.tasks - before).padStart(7)} ${f1(quantile(ok, 0.5)).padStart(8)} (${b.length - ok.length})`,
      );
    }
  }
  if (PHASES.has('3')) {
    console.log(`\n[3] queue overhead: ${WORKERS} workers, ${RUNS} runs × ${TASKS} tasks`);
    const p3 = await phaseOverhead();
    rows.push(
      [`${WORKERS} workers: task results, jobs, makespan`, `${p3.results}, ${p3.jobs}, ${f1(p3.makespanS)} s`],
      ['  training per task (wallMs, mean)', `${f1(p3.trainMs)} ms`],
      ['  job time on a worker per task result', `${f1(p3.jobMsPerTask)} ms`],
      [
        '  overhead per task result, all jobs',
        `${f1(p3.overheadMs)} ms = ${pct(p3.overheadMs / p3.trainMs)} of training`,
      ],
      [
        '  overhead per task result, warm / first job of a worker',
        `${f1(p3.warmOverheadMs)} ms (${pct(p3.warmOverheadMs / p3.trainMs)}) / ${f1(p3.coldOverheadMs)} ms (${p3.coldJobs} jobs)`,
      ],
      [
        '  between consecutive tasks of a job, less training (median)',
        `${f1(p3.betweenTasksMs)} ms (${p3.betweenTasksCount} pairs)`,
      ],
      ['  queue wait (median, added → active)', `${f1(p3.queueWaitMs)} ms`],
      ['  worker utilisation (Σ training / workers × makespan)', pct(p3.utilisation)],
      ['  task results per worker', p3.perWorker],
    );
  }

  const w = Math.max(...rows.map(([k]) => k.length));
  console.log('');
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  for (const l of lines) console.log(l);
  console.log(`load after: ${loadavg().map(f1).join(' ')}`);
}

main().then(
  async () => {
    await Promise.allSettled(stacks.map((s) => s.close()));
    process.exit(0);
  },
  async (e: unknown) => {
    process.stderr.write(`bench:load: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    await Promise.allSettled(stacks.map((s) => s.close()));
    process.exit(1);
  },
);

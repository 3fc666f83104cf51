/**
 * The reproduction study's searches run as users run them: through the service.
 *
 *   npm run build && npm run study:service -- [--families dms,cddms,gng2,gng4,sma] [--preset paper]
 *       [--hidden 100] [--tasks 30] [--cap 6000] [--seeds 3] [--validation-seeds 5] [--seed 1]
 *       [--space tauD,tauS,theta] [--property-optimizer adam|sgd] [--property-lr X]
 *       [--workers 2] [--population 4] [--database ip2_study] [--port 3310]
 *       [--out results/reproduction-v2/service] [--server URL --key KEY]
 *
 * Unless --server is given, it starts a local service of its own from the built apps (`npm run start:*`
 * shape: an API process, the controller and --workers workers with WORKER_POPULATION = --population, on
 * the local PostgreSQL database --database, created and migrated when missing, and the local Redis),
 * creates an API key, and stops the service at the end. Per family, in turn:
 *   ip2 submit … --idempotency-key <the family and the flags>   (a rerun gets the same search back)
 *   ip2 watch <id> --quiet                                        (to its decision)
 *   ip2 report <id> --out <out>/<family>/search                   (report.html, tasks.json, fixed-config.json,
 *                                                                  figures; after the analyses: analysis.json)
 * A family whose report is already in --out is not submitted again. What the searches cost is measured
 * on this real workload and written with the decisions to <out>/summary.md and summary.json: wall time,
 * task trainings, network-iterations per second per core, and the queue overhead per task (from the
 * stored task results: the time between a run's consecutive results beyond the task's own training).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openStore } from '@ip2/db';
import { mean, median, positiveFlag, quantile } from './stats.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CLI = join(ROOT, 'apps/cli/dist/main.js');

const { values: flags } = parseArgs({
  options: {
    families: { type: 'string', default: 'dms,cddms,gng2,gng4,sma' },
    preset: { type: 'string', default: 'paper' },
    hidden: { type: 'string', default: '100' },
    tasks: { type: 'string', default: '30' },
    cap: { type: 'string', default: '6000' },
    seeds: { type: 'string', default: '3' },
    'validation-seeds': { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    /** Passed to `ip2 submit` when given (its defaults otherwise): the search space and the properties' optimiser. */
    space: { type: 'string' },
    'property-optimizer': { type: 'string' },
    'property-lr': { type: 'string' },
    workers: { type: 'string', default: '2' },
    population: { type: 'string', default: '4' },
    database: { type: 'string', default: 'ip2_study' },
    port: { type: 'string', default: '3310' },
    out: { type: 'string', default: 'results/reproduction-v2/service' },
    server: { type: 'string' },
    key: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!);
  process.exit(0);
}
const fail = (message: string): never => {
  process.stderr.write(`study:service: ${message}\n`);
  process.exit(2);
};
const int = (flag: keyof typeof flags, max: number) => positiveFlag('study:service', flag, String(flags[flag]), max);
const FAMILIES = String(flags.families)
  .split(',')
  .map((f) => f.trim())
  .filter((f) => f !== '');
if (FAMILIES.length === 0) fail('--families: give at least one family');
const WORKERS = int('workers', 64);
const POPULATION = int('population', 64);
const PORT = int('port', 65_535);
if (!/^\d+$/.test(String(flags['validation-seeds']))) fail('--validation-seeds must be an integer of at least 0');
const searchArgs = [
  '--preset',
  String(flags.preset),
  '--hidden',
  String(int('hidden', 1024)),
  '--tasks',
  String(int('tasks', 1000)),
  '--cap',
  String(int('cap', 1_000_000)),
  '--seeds',
  String(int('seeds', 100)),
  '--validation-seeds',
  String(flags['validation-seeds']),
  '--seed',
  String(int('seed', 2 ** 31)),
  // Only when given, so that the idempotency keys (and searches) of earlier runs stay as they were;
  // `ip2 submit` validates the values and names the flag when one is bad.
  ...(['space', 'property-optimizer', 'property-lr'] as const).flatMap((k) =>
    flags[k] === undefined ? [] : [`--${k}`, String(flags[k])],
  ),
];
if (!/^[a-z_][a-z0-9_]{0,62}$/.test(flags.database)) fail('--database: a lower-case PostgreSQL name');
if ((flags.server === undefined) !== (flags.key === undefined)) fail('--server and --key go together');
if (!existsSync(CLI)) fail(`${CLI} is missing: run 'npm run build' first`);
const OUT = resolve(flags.out);
mkdirSync(join(OUT, 'logs'), { recursive: true });
const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

// ---- the local service ----

const DATABASE_URL = `postgresql://postgres@127.0.0.1:5432/${flags.database}`;
const procs: ChildProcess[] = [];

function run(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function startApp(name: string, app: 'api' | 'controller' | 'worker', env: Record<string, string>): void {
  const p = spawn(process.execPath, [join(ROOT, `apps/${app}/dist/main.js`)], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL, QUEUE_PREFIX: `study-${flags.database}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const file = createWriteStream(join(OUT, 'logs', `${name}.log`), { flags: 'a' });
  p.stdout!.pipe(file);
  p.stderr!.pipe(file);
  p.on('exit', (code, signal) => {
    if (!stopping)
      log(`${name} exited (${code ?? signal}) before the study ended: see ${join(OUT, 'logs', `${name}.log`)}`);
  });
  procs.push(p);
}

let stopping = false;
async function stopService(): Promise<void> {
  stopping = true;
  await Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((ok) => {
          if (p.exitCode !== null || p.signalCode !== null) return ok();
          p.once('exit', () => ok());
          p.kill('SIGTERM');
        }),
    ),
  );
}

async function startService(): Promise<{ server: string; key: string }> {
  // The database: created when missing, migrated.
  const exists = run('psql', [
    '-h',
    '127.0.0.1',
    '-U',
    'postgres',
    '-tAc',
    `SELECT 1 FROM pg_database WHERE datname = '${flags.database}'`,
  ]);
  if (exists.trim() !== '1') run('createdb', ['-h', '127.0.0.1', '-U', 'postgres', flags.database]);
  run(process.execPath, [join(ROOT, 'node_modules/prisma/build/index.js'), 'migrate', 'deploy'], { DATABASE_URL });
  const server = `http://127.0.0.1:${PORT}`;
  startApp('api', 'api', { PORT: String(PORT), HOST: '127.0.0.1' });
  startApp('controller', 'controller', {});
  for (let i = 1; i <= WORKERS; i++)
    startApp(`worker-${i}`, 'worker', { WORKER_ID: `study-w${i}`, WORKER_POPULATION: String(POPULATION) });
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${server}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error(`the API at ${server} did not answer within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const keyFile = join(OUT, 'api-key');
  if (!existsSync(keyFile)) {
    const key = run(process.execPath, [join(ROOT, 'apps/api/dist/keys.js'), 'create', 'study', 'reproduction'], {
      DATABASE_URL,
    }).split('\n')[0]!;
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
  }
  log(`service: ${server} (database ${flags.database}), controller, ${WORKERS} workers × population ${POPULATION}`);
  return { server, key: readFileSync(keyFile, 'utf8').trim() };
}

// ---- the searches ----

/** Runs the CLI, its output shown; the output's text. */
function cli(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((ok, ko) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    p.on('error', ko);
    p.on('exit', (code) => (code === 0 ? ok(out) : ko(new Error(`ip2 ${args.join(' ')} exited ${code}`))));
  });
}

/** Waits (at most 30 min) until the search's analyses are no longer PENDING; none asked for ends it too. */
async function analysesDone(server: string, key: string, id: string): Promise<void> {
  const until = Date.now() + 30 * 60_000;
  for (;;) {
    const res = await fetch(`${server}/v1/searches/${id}/analysis`, { headers: { authorization: `Bearer ${key}` } });
    if (res.status === 404) return;
    const { state } = (await res.json()) as { state: string };
    if (state !== 'PENDING') return;
    if (Date.now() > until) throw new Error(`search ${id}: its analyses are still pending after 30 min`);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
  }
}

/** A row of tasks.json: one task result of one run (search and validation runs alike). */
interface TaskRow {
  readonly totalIterations: number;
}
interface FamilyFigures {
  readonly family: string;
  readonly searchId: string;
  readonly mask: readonly string[];
  readonly bits: string;
  readonly verdict: string;
  readonly wallSeconds: number;
  readonly taskTrainings: number;
  readonly networkIterations: number;
  readonly iterationsPerSecondPerCore: number;
  /** Seconds between a run's consecutive stored results beyond its task's own training: median, p90, mean. */
  readonly queueOverhead: { readonly median: number; readonly p90: number; readonly mean: number; readonly n: number };
}

async function family(f: string, server: string, key: string): Promise<FamilyFigures> {
  const dir = join(OUT, f, 'search');
  const env = { IP2_SERVER: server, IP2_API_KEY: key };
  const idem = `study-${f}-${createHash('sha256').update(searchArgs.join(' ')).digest('hex').slice(0, 16)}`;
  const idFile = join(OUT, f, 'search-id');
  let id = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : '';
  if (!existsSync(join(dir, 'fixed-config.json'))) {
    mkdirSync(join(OUT, f), { recursive: true });
    const out = await cli(['submit', '--family', f, ...searchArgs, '--idempotency-key', idem], env);
    id = out.split('\n')[0]!.trim();
    writeFileSync(idFile, `${id}\n`);
    await cli(['watch', id, '--quiet'], env);
  }
  if (!existsSync(join(dir, 'analysis.json'))) {
    // The analyses of the chosen mask (a worker trains it again after the decision): waited for, so
    // that the report and analysis.json hold them.
    await analysesDone(server, key, id);
    await cli(['report', id, '--out', dir], env);
  }
  const view = (await (
    await fetch(`${server}/v1/searches/${id}`, { headers: { authorization: `Bearer ${key}` } })
  ).json()) as {
    createdAt: string;
    finishedAt: string | null;
  };
  const rows = JSON.parse(readFileSync(join(dir, 'tasks.json'), 'utf8')) as TaskRow[];
  const fixed = JSON.parse(readFileSync(join(dir, 'fixed-config.json'), 'utf8')) as {
    mask: { keys: string[]; bits: string };
    validation?: { verdict?: string };
  };
  const wallSeconds = (Date.parse(view.finishedAt ?? new Date().toISOString()) - Date.parse(view.createdAt)) / 1000;
  const networkIterations = rows.reduce((s, t) => s + t.totalIterations, 0);
  return {
    family: f,
    searchId: id,
    mask: fixed.mask.keys,
    bits: fixed.mask.bits,
    verdict: fixed.validation?.verdict ?? 'unvalidated',
    wallSeconds,
    taskTrainings: rows.length,
    networkIterations,
    iterationsPerSecondPerCore: networkIterations / wallSeconds / cpus().length,
    queueOverhead: await queueOverhead(id),
  };
}

/** Per task after a run's first: the time since the run's previous stored result beyond the task's own wall time. */
async function queueOverhead(searchId: string): Promise<FamilyFigures['queueOverhead']> {
  const store = openStore({ url: DATABASE_URL });
  try {
    const rows = await store.client.$queryRaw<{ gap: number | null }[]>`
      SELECT EXTRACT(EPOCH FROM (t."createdAt" - LAG(t."createdAt") OVER (PARTITION BY t."runId" ORDER BY t."taskIndex"))) * 1000
             - t."wallMs" AS gap
      FROM "TaskResult" t JOIN "Run" r ON r.id = t."runId" JOIN "Candidate" c ON c.id = r."candidateId"
      WHERE c."searchId" = ${searchId}::uuid`;
    const gaps = rows
      .filter((r) => r.gap !== null)
      .map((r) => Number(r.gap) / 1000)
      .filter(Number.isFinite);
    return { median: median(gaps), p90: quantile(gaps, 0.9), mean: mean(gaps), n: gaps.length };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const load0 = loadavg()[0]!;
  const { server, key } = flags.server !== undefined ? { server: flags.server, key: flags.key! } : await startService();
  const figures: FamilyFigures[] = [];
  try {
    for (const f of FAMILIES) {
      log(`${f}: search (${searchArgs.join(' ')})`);
      figures.push(await family(f, server, key));
      writeSummary(figures, started, load0);
    }
  } finally {
    if (flags.server === undefined) await stopService();
  }
}

function writeSummary(figures: readonly FamilyFigures[], started: number, load0: number): void {
  const s = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const md = `# Reproduction v2: the searches, run through the service

Each family's meta-IP search submitted to a local service (an API process, the controller, ${WORKERS} workers with
\`WORKER_POPULATION=${POPULATION}\`) with \`ip2 submit --family F ${searchArgs.join(' ')}\`, followed with \`ip2 watch\`,
downloaded with \`ip2 report\` into \`<family>/search/\` (report.html, tasks.json, fixed-config.json).
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}; load average ${load0.toFixed(1)} at the start of this invocation, ${loadavg()[0]!.toFixed(1)} now; it ran ${((Date.now() - started) / 60000).toFixed(1)} min (finished searches are reused).
Command: \`npm run study:service -- ${process.argv.slice(2).join(' ')}\`.

| family | chosen mask | verdict | wall (min) | task trainings | network-iterations | network-iterations/s per core | queue overhead per task, s: median / p90 / mean |
|---|---|---|---|---|---|---|---|
${figures
  .map(
    (x) =>
      `| ${x.family} | \`${x.bits}\` [${x.mask.join(', ') || '∅'}] | ${x.verdict} | ${s(x.wallSeconds / 60)} | ${x.taskTrainings} | ${x.networkIterations} | ${s(x.iterationsPerSecondPerCore, 0)} | ${s(x.queueOverhead.median, 2)} / ${s(x.queueOverhead.p90, 2)} / ${s(x.queueOverhead.mean, 2)} |`,
  )
  .join('\n')}

Queue overhead per task: for each stored task result after a run's first, the time since the run's
previous result less the task's own wall time: claiming, checkpoints, the wait in the queue and for a
lock-step group, and the controller's rungs between chunks. (A run's first task also waits for a
worker to be free, which measures the queue's length rather than its overhead: it is left out.)
`;
  writeFileSync(join(OUT, 'summary.md'), md);
  writeFileSync(join(OUT, 'summary.json'), `${JSON.stringify({ flags, searchArgs, figures }, null, 2)}\n`);
}

process.once('SIGINT', () => {
  void stopService().then(() => process.exit(130));
});
main().catch(async (e: unknown) => {
  process.stderr.write(`study:service: ${e instanceof Error ? e.message : String(e)}\n`);
  await stopService();
  process.exit(1);
});

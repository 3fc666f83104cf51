/** Phase 3: what the queue, PostgreSQL and the checkpoints cost per task result. */
import { Redis } from 'ioredis';
import { sleep } from '../../test/support/stack.js';
import { quantile } from '../stats.js';
import { REDIS_URL, RUNS, SPACE_KEYS, TASKS, WORKERS } from './options.js';
import { definition, newStack } from './stack.js';

export interface OverheadPhase {
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

export async function phaseOverhead(): Promise<OverheadPhase> {
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

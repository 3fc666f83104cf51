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
 * 429s; see RUN_ENV in options.ts. The other limits keep their defaults.
 *
 * Here: the run and its printout; options.ts the flags; stack.ts the stack; measure.ts the instruments;
 * submit.ts, streams.ts and overhead.ts the phases 1, 2 and 3.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { mean, quantile } from '../stats.js';
import { finite } from './measure.js';
import {
  API_HEAP_MIB,
  CLIENTS,
  PHASES,
  RUN_ENV,
  STREAM_S,
  STREAMS,
  SUBMIT_S,
  TASKS,
  RUNS,
  WORKERS,
} from './options.js';
import { phaseOverhead } from './overhead.js';
import { stacks } from './stack.js';
import { phaseStreams } from './streams.js';
import { phaseSubmit } from './submit.js';

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

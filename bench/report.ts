/**
 * GET /v1/searches/{id}/report: the first request (the report made from the stored task results) against
 * the next ones (served from the API's report cache), on a real, migrated PostgreSQL database. Not part of
 * the tests.
 *
 *   npm run bench:report -- [--tasks 20] [--seeds 4] [--requests 10]
 *
 * The search: `sma`, three properties (8 masks, exhaustive) × seeds × tasks, every task result stored.
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { auth, createHarness, recordResults, smallSearch } from '../apps/api/src/test-harness.js';
import { positiveFlag, upperMedian as median } from './stats.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '20' },
    seeds: { type: 'string', default: '4' },
    requests: { type: 'string', default: '10' },
  },
  strict: true,
});
const positive = (name: keyof typeof values, max: number) => positiveFlag('report', name, String(values[name]), max);
const TASKS = positive('tasks', 1000);
const SEEDS = positive('seeds', 64);
const REQUESTS = positive('requests', 1000);

/** Report request times (ms) on a fresh database and app whose report cache has `cacheBytes`. */
async function measure(cacheBytes: number): Promise<{ ms: number[]; runs: number; bytes: number }> {
  const h = await createHarness({ logger: { level: 'error' }, reportCacheBytes: cacheBytes });
  try {
    const r = await h.app.inject({
      method: 'POST',
      url: '/v1/searches',
      headers: auth(h.alice),
      payload: smallSearch({
        space: ['tauD', 'theta', 'tauS'],
        strategy: { kind: 'exhaustive' },
        protocol: { tasks: TASKS, seeds: SEEDS, iterationCap: 200, criterion: { window: 10 }, network: { hidden: 16 } },
      }),
    });
    const id = r.json().id as string;
    const runs = await h.store.runs.list(id);
    for (const run of runs) await recordResults(h.store, run.id, 0, TASKS);
    await h.store.controller.setSearchState(id, 'RUNNING');
    await h.store.controller.setSearchState(id, 'COMPLETE');
    const ms: number[] = [];
    let bytes = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const t0 = performance.now();
      const res = await h.app.inject({ url: `/v1/searches/${id}/report`, headers: auth(h.alice) });
      ms.push(performance.now() - t0);
      if (res.statusCode !== 200) throw new Error(`report: ${res.statusCode} ${res.body}`);
      bytes = res.body.length;
    }
    return { ms, runs: runs.length, bytes };
  } finally {
    await h.close();
  }
}

const fmt = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(' ');

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const none = await measure(0);
  const cache = await measure(64 * 1024 * 1024);
  const made = median(none.ms.slice(1));
  const cached = median(cache.ms.slice(1));
  console.log(`machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} CPUs, node ${process.version}`);
  console.log(
    `search: ${cache.runs} runs × ${TASKS} tasks = ${cache.runs * TASKS} task results; report ${(cache.bytes / 1024).toFixed(0)} KiB`,
  );
  console.log(
    `REPORT_CACHE_BYTES=0: ${REQUESTS} requests, each made: median of requests 2..${REQUESTS} ${made.toFixed(1)} ms (${fmt(none.ms)})`,
  );
  console.log(
    `default cache: first made in ${cache.ms[0]!.toFixed(1)} ms, then median ${cached.toFixed(1)} ms (${fmt(cache.ms)})`,
  );
  console.log(`ratio (made / cached, medians of requests 2..${REQUESTS}): ${(made / cached).toFixed(1)}×`);
  console.log(`load average (1 min): ${load0.toFixed(1)} → ${loadavg()[0]!.toFixed(1)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

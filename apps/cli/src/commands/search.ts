import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { TaskResult } from '@ip2/l2l';
import { rankForDisplay, searchReportHtml } from '@ip2/report';
import {
  aggregate,
  chunkJob,
  fixConfiguration,
  parseSearchDefinition,
  plannedTaskTrainings,
  searchState,
  SCORE_METRICS,
  STRATEGY_KINDS,
  type SearchDefinition,
  type SearchDefinitionInput,
  type TrainAction,
} from '@ip2/search';
import { ENGINE_NAMES, PAPER_SPACE, parsePropertyKeys, type EngineName } from '@ip2/snn';
import { FAMILY_IDS } from '@ip2/tasks';
import { nonNegativeInt, oneOf, parseFlag, positiveInt, positiveNumber, UsageError } from '../errors.js';
import { ensureWritableDir, toCsv, toJson, writeAtomic } from '../output.js';
import { PRESETS, PRESET_NAMES } from '../presets.js';
import { progressBar } from '../progress.js';
import { TASK_COLUMNS } from './l2l.js';
import { WorkerPool } from '../local/pool.js';
import { FileStore } from '../local/store.js';

export interface SearchFlags {
  family: string;
  space?: string;
  strategy: string;
  seeds?: string;
  tasks?: string;
  seed?: string;
  out: string;
  workers?: string;
  preset: string;
  resume?: boolean;
  eta?: string;
  minTasks?: string;
  masks?: string;
  hidden?: string;
  cap?: string;
  window?: string;
  epsilon?: string;
  lr?: string;
  loss?: string;
  score?: string;
  engine?: string;
  quiet?: boolean;
}

/** The search definition the flags describe (validated; names the flag on error). */
export function definitionFromFlags(f: SearchFlags): SearchDefinitionInput {
  const preset = oneOf('--preset', f.preset, PRESET_NAMES)!;
  const p = PRESETS[preset];
  const family = oneOf('--family', f.family, FAMILY_IDS)!;
  const space = f.space === undefined ? [...PAPER_SPACE] : parseFlag('--space', () => parsePropertyKeys(f.space!));
  if (space.length === 0) throw new UsageError('--space: the search space needs at least one property key');
  const kind = oneOf('--strategy', f.strategy, STRATEGY_KINDS)!;
  const tasks = positiveInt('--tasks', f.tasks, 100_000) ?? p.tasks;
  const strategy =
    kind === 'successive-halving'
      ? {
          kind,
          eta: positiveInt('--eta', f.eta, 64) ?? 3,
          minTasks: positiveInt('--min-tasks', f.minTasks, 100_000) ?? Math.min(tasks, p.minTasks),
        }
      : kind === 'random'
        ? { kind, n: positiveInt('--masks', f.masks, 1 << space.length) ?? Math.min(4, 1 << space.length) }
        : { kind };
  if (kind !== 'successive-halving' && (f.eta !== undefined || f.minTasks !== undefined)) {
    throw new UsageError(`--eta/--min-tasks: only for --strategy successive-halving`);
  }
  if (kind !== 'random' && f.masks !== undefined) throw new UsageError(`--masks: only for --strategy random`);
  const window = positiveInt('--window', f.window, 100_000) ?? p.window;
  const cap = positiveInt('--cap', f.cap, 10_000_000) ?? p.cap;
  if (window > cap) throw new UsageError(`--window: must not exceed --cap (${window} > ${cap})`);
  return {
    family,
    space,
    strategy,
    protocol: {
      tasks,
      seeds: positiveInt('--seeds', f.seeds, 1000) ?? p.seeds,
      baseSeed: nonNegativeInt('--seed', f.seed) ?? 1,
      criterion: { window, epsilon: positiveNumber('--epsilon', f.epsilon) ?? p.epsilon },
      iterationCap: cap,
      batchSize: p.batchSize,
      evalBatch: p.evalBatch,
      network: {
        hidden: positiveInt('--hidden', f.hidden, 8192) ?? p.hidden,
        dt: 20,
        lr: positiveNumber('--lr', f.lr) ?? p.lr,
        loss: oneOf('--loss', f.loss, ['mse', 'xent'] as const) ?? 'mse',
      },
    },
    score: { metric: oneOf('--score', f.score, SCORE_METRICS) ?? 'final-efficiency' },
  };
}

const runKey = (candidate: string, seedIndex: number) => `${candidate}/${seedIndex}`;

export interface LocalSearchOptions {
  readonly definition: SearchDefinition;
  readonly store: FileStore;
  readonly workers: number;
  readonly engine?: EngineName;
  readonly signal?: AbortSignal;
  readonly onResult?: (r: { candidate: string; seedIndex: number; result: TaskResult }) => void;
}

/**
 * Drives a search to its end on this machine: asks the strategy what to train, runs those chunks
 * on the worker pool (never two chunks of one run at once), stores every result and checkpoint as
 * it arrives, and asks again. The strategy keeps no state, so this loop can stop at any point and
 * be started again on the same store.
 */
export async function runLocalSearch(o: LocalSearchOptions): Promise<void> {
  const pool = new WorkerPool(o.workers);
  const inFlight = new Map<string, Promise<void>>();
  let failure: Error | null = null;
  const aborted = abortPromise(o.signal);
  try {
    for (;;) {
      if (o.signal?.aborted) throw new Error('interrupted');
      if (failure) throw failure;
      const state = searchState(o.definition, o.store.table());
      if (state.done && inFlight.size === 0) return;
      const free = o.workers - inFlight.size;
      const trains = state.actions.filter(
        (a): a is TrainAction => a.kind === 'train' && !inFlight.has(runKey(a.candidate, a.seedIndex)),
      );
      for (const a of trains.slice(0, Math.max(0, free))) {
        const key = runKey(a.candidate, a.seedIndex);
        const job = chunkJob(o.definition, a, o.engine);
        const p = pool
          .run(job, o.store.checkpoint(a.candidate, a.seedIndex), {
            onTask: (result, checkpoint, engine) => {
              o.store.record({ candidate: a.candidate, seedIndex: a.seedIndex, result, engine }, checkpoint);
              o.onResult?.({ candidate: a.candidate, seedIndex: a.seedIndex, result });
            },
          })
          .catch((e: unknown) => {
            failure ??= e instanceof Error ? e : new Error(String(e));
          })
          .finally(() => inFlight.delete(key));
        inFlight.set(key, p);
      }
      if (inFlight.size === 0) {
        throw new Error('the strategy asked for nothing to train but the search is not done');
      }
      await Promise.race([...inFlight.values(), aborted]);
    }
  } finally {
    await pool.close();
  }
}

function abortPromise(signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise(() => {});
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export async function runSearch(f: SearchFlags, signal?: AbortSignal): Promise<number> {
  const input = definitionFromFlags(f);
  let definition = parseFlag('search', () => parseSearchDefinition(input));
  const workers = positiveInt('--workers', f.workers, 256) ?? Math.max(1, availableParallelism());
  const engine = oneOf('--engine', f.engine, ENGINE_NAMES);
  if (f.resume && !FileStore.hasSearch(f.out)) throw new UsageError(`--resume: '${f.out}' holds no search to resume`);
  const out = ensureWritableDir('--out', f.out);
  const store = new FileStore(out);
  if (FileStore.hasSearch(out)) {
    if (!f.resume) {
      throw new UsageError(
        `--out: '${f.out}' already holds a search; add --resume to continue it, or choose another folder`,
      );
    }
    definition = parseSearchDefinition(store.readDefinition());
    store.load();
  } else {
    store.writeDefinition(definition);
  }
  const planned = plannedTaskTrainings(definition);
  const startedWith = store.results().length;
  const bar = progressBar(
    planned,
    'search |{bar}| {value}/{total} task trainings | candidates {alive}/{candidates} | runs {runs} | {eta_formatted}',
    f.quiet,
  );
  const started = Date.now();
  const status = () => {
    const s = searchState(definition, store.table());
    const alive = s.progress.filter((c) => c.state !== 'pruned').length;
    return { s, alive };
  };
  let lastLog = 0;
  if (startedWith > 0) bar.log(`resuming: ${startedWith} task results already stored`);
  try {
    await runLocalSearch({
      definition,
      store,
      workers,
      ...(engine ? { engine } : {}),
      ...(signal ? { signal } : {}),
      onResult: () => {
        const { s, alive } = status();
        const done = s.table.measured;
        bar.update(done, {
          alive,
          candidates: s.candidates.length,
          runs: s.candidates.length * definition.protocol.seeds,
        });
        if (Date.now() - lastLog > 5000 || done === planned) {
          lastLog = Date.now();
          const rate = (done - startedWith) / ((Date.now() - started) / 1000);
          const eta = rate > 0 ? (planned - done) / rate : Number.NaN;
          bar.log(
            `${done}/${planned} task trainings, ${alive} candidates alive, rung ${Math.min(s.rung + 1, s.schedule.length)}/${s.schedule.length}, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '?'}`,
          );
        }
      },
    });
  } catch (e) {
    bar.stop();
    if (signal?.aborted) {
      process.stderr.write(
        `ip2: interrupted; ${store.results().length} task results kept in ${out}. Continue with the same command and --resume.\n`,
      );
      return 130;
    }
    throw e;
  }
  bar.stop();
  await writeOutputs(out, definition, store, (Date.now() - started) / 1000);
  return 0;
}

/** Final outputs: sorted task results (byte-identical for the same search), fixed configuration, report. */
async function writeOutputs(
  out: string,
  definition: SearchDefinition,
  store: FileStore,
  seconds: number,
): Promise<void> {
  const table = store.table();
  const fixed = fixConfiguration(definition, table);
  const rows = [...store.results()].sort(
    (a, b) =>
      a.candidate.localeCompare(b.candidate) || a.seedIndex - b.seedIndex || a.result.taskIndex - b.result.taskIndex,
  );
  const flat = rows.map((r) => ({ candidate: r.candidate, seedIndex: r.seedIndex, ...r.result }));
  writeAtomic(join(out, 'tasks.csv'), toCsv(['candidate', 'seedIndex', ...TASK_COLUMNS], flat));
  writeAtomic(join(out, 'tasks.json'), toJson(flat.map(({ wallMs: _w, intrinsic: _i, ...rest }) => rest)));
  writeAtomic(
    join(out, 'timings.csv'),
    toCsv(
      ['candidate', 'seedIndex', 'taskIndex', 'wallMs', 'engine', 'backend'],
      rows.map((r) => ({
        candidate: r.candidate,
        seedIndex: r.seedIndex,
        taskIndex: r.result.taskIndex,
        wallMs: r.result.wallMs.toFixed(1),
        engine: r.engine.engine,
        backend: r.engine.backend,
      })),
    ),
  );
  writeAtomic(join(out, 'fixed-config.json'), JSON.stringify(fixed, null, 2) + '\n');
  const candidates = aggregate(definition, table);
  const state = searchState(definition, table);
  const html = await searchReportHtml({ definition, fixed, candidates, state, results: rows, wallSeconds: seconds });
  writeAtomic(join(out, 'report.html'), html);
  printSummary(definition, fixed, candidates, seconds, out, rows.length);
}

function printSummary(
  d: SearchDefinition,
  fixed: ReturnType<typeof fixConfiguration>,
  candidates: ReturnType<typeof aggregate>,
  seconds: number,
  out: string,
  trainings: number,
): void {
  const ev = fixed.evidence;
  const f = (x: number | null | undefined, digits = 1) =>
    x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);
  const lines = [
    '',
    `meta-IP search on ${d.family}: space [${d.space.join(', ')}], ${d.strategy.kind}, ${d.protocol.seeds} seeds × ${d.protocol.tasks} tasks`,
    '',
    `${'mask'.padEnd(8)}${'keys'.padEnd(24)}${'tasks'.padStart(6)}${'score [CI]'.padStart(30)}${'failures'.padStart(10)}${'speed-up'.padStart(10)}${'slope'.padStart(8)}`,
  ];
  const ranked = rankForDisplay(candidates, ev.best.id, ev.rule.metric === 'speed-up' ? 'higher' : 'lower');
  for (const c of ranked) {
    const mark = c.id === ev.best.id ? '★ ' : '  ';
    lines.push(
      `${(mark + c.id).padEnd(8)}${(c.keys.join(',') || '∅ (rsnn-noip)').padEnd(24)}${String(c.tasks).padStart(6)}` +
        `${` ${f(c.score.mean)} [${f(c.score.lo)}, ${f(c.score.hi)}]`.padStart(30)}${f(c.failures.mean, 2).padStart(10)}${f(c.speedUp.mean, 2).padStart(10)}${f(c.l2lSlope.mean, 2).padStart(8)}`,
    );
  }
  const vs = (k: 'rsnn-noip' | 'ip-inner') => {
    const c = ev.versus[k];
    return c && c.ratio !== null ? `${c.ratio.toFixed(2)}× vs ${k}` : `${k} not measured to the end`;
  };
  lines.push(
    '',
    `chosen mask: ${fixed.mask.bits} = [${fixed.mask.keys.join(', ') || 'none'}]${ev.separable ? '' : '  (NOT separable from the runner-up at this confidence: more seeds or tasks needed)'}`,
    `evidence: ${vs('rsnn-noip')}; ${vs('ip-inner')}; ${ev.taskTrainings.measured} task trainings`,
    `fixed configuration ${fixed.hash.slice(0, 16)}… → ${join(out, 'fixed-config.json')}`,
    `report → ${join(out, 'report.html')}   (${trainings} task results, ${seconds.toFixed(0)} s)`,
    '',
  );
  process.stdout.write(lines.join('\n'));
}

import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { TaskResult } from '@ip2/l2l';
import { importanceSvg, searchReport, taskFiles, toJson, validationSvg } from '@ip2/report';
import {
  chunkJob,
  parseSearchDefinition,
  parseStoredSearchDefinition,
  plannedTaskTrainings,
  searchState,
  type SearchDefinition,
  type TrainAction,
} from '@ip2/search';
import { ENGINE_NAMES, type BackendOptions, type EngineName } from '@ip2/snn';
import { backendOptions, computeFromEnv, type CliCompute } from '../compute.js';
import { definitionFromFlags, type DefinitionFlags } from '../definition.js';
import { nonNegativeInt, oneOf, parseFlag, positiveInt, UsageError } from '../errors.js';
import { ensureWritableDir, writeAtomic } from '../output.js';
import { progressBar } from '../progress.js';
import { summaryLines } from '../summary.js';
import { WorkerPool } from '../local/pool.js';
import { FileStore } from '../local/store.js';

/** The flags of `ip2 search`: the definition's, and how to run it here. */
export interface SearchFlags extends DefinitionFlags {
  out: string;
  workers?: string;
  population?: string;
  resume?: boolean;
  engine?: string;
  quiet?: boolean;
  analysisSeeds?: string;
}

/** Runs per worker thread in lock-step, by default (docs/benchmarks.md, "Population in a search"). */
export const DEFAULT_POPULATION = 4;

const runKey = (candidate: string, seedIndex: number) => `${candidate}/${seedIndex}`;

export interface LocalSearchOptions {
  readonly definition: SearchDefinition;
  readonly store: FileStore;
  readonly workers: number;
  /** Runs a worker thread trains together in lock-step (spiking models on the fused engine); 1: one at a time. */
  readonly population?: number;
  /** The engine of every run and the TensorFlow.js backend of the worker threads (default: the library's). */
  readonly compute?: CliCompute;
  readonly signal?: AbortSignal;
  readonly onResult?: (r: { candidate: string; seedIndex: number; result: TaskResult }) => void;
}

/**
 * Drives a search to its end on this machine: asks the strategy what to train, runs those chunks
 * on the worker pool (never two chunks of one run at once), stores every result and checkpoint as
 * it arrives, and asks again. The chunks are spread over the free worker threads, up to
 * `population` per thread, trained there in lock-step (trainChunks: the same results as one at a
 * time). The strategy keeps no state, so this loop can stop at any point and be started again on
 * the same store.
 */
export async function runLocalSearch(o: LocalSearchOptions): Promise<void> {
  const pool = new WorkerPool(o.workers, o.compute);
  const population = o.population ?? 1;
  const inFlight = new Set<string>();
  const busy = new Set<Promise<void>>();
  let failure: Error | null = null;
  const aborted = abortPromise(o.signal);
  try {
    for (;;) {
      if (o.signal?.aborted) throw new Error('interrupted');
      if (failure) throw failure;
      const state = searchState(o.definition, o.store.table());
      if (state.done && busy.size === 0) return;
      const free = o.workers - busy.size;
      const trains = state.actions.filter(
        (a): a is TrainAction => a.kind === 'train' && !inFlight.has(runKey(a.candidate, a.seedIndex)),
      );
      for (const part of spread(trains, free, population)) {
        const keys = part.map((a) => runKey(a.candidate, a.seedIndex));
        const chunks = part.map((a) => ({
          job: chunkJob(o.definition, a, o.compute?.engine),
          checkpoint: o.store.checkpoint(a.candidate, a.seedIndex),
          callbacks: {
            onTask: (result: TaskResult, checkpoint: Uint8Array, engine: { engine: string; backend: string }) => {
              o.store.record({ candidate: a.candidate, seedIndex: a.seedIndex, result, engine }, checkpoint);
              o.onResult?.({ candidate: a.candidate, seedIndex: a.seedIndex, result });
            },
          },
        }));
        for (const k of keys) inFlight.add(k);
        const p: Promise<void> = pool
          .run(chunks)
          .catch((e: unknown) => {
            failure ??= e instanceof Error ? e : new Error(String(e));
          })
          .finally(() => {
            busy.delete(p);
            for (const k of keys) inFlight.delete(k);
          });
        busy.add(p);
      }
      if (busy.size === 0) {
        throw new Error('the strategy asked for nothing to train but the search is not done');
      }
      await Promise.race([...busy, aborted]);
    }
  } finally {
    await pool.close();
  }
}

/**
 * The chunks to start now, one part per free worker thread: as many threads as there are chunks
 * (up to `free`), with the chunks spread evenly over them and at most `population` on each.
 */
export function spread<T>(items: readonly T[], free: number, population: number): T[][] {
  const threads = Math.min(Math.max(0, free), items.length);
  if (threads === 0) return [];
  const size = Math.min(population, Math.ceil(items.length / threads));
  const parts: T[][] = [];
  for (let i = 0; i < threads; i++) {
    const part = items.slice(i * size, (i + 1) * size);
    if (part.length > 0) parts.push(part);
  }
  return parts;
}

function abortPromise(signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise(() => {});
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export async function runSearch(
  f: SearchFlags,
  signal?: AbortSignal,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const input = definitionFromFlags(f);
  let definition = parseFlag('search', () => parseSearchDefinition(input));
  const workers = positiveInt('--workers', f.workers, 256) ?? Math.max(1, availableParallelism());
  const population = positiveInt('--population', f.population, 256) ?? DEFAULT_POPULATION;
  const engine = oneOf('--engine', f.engine, ENGINE_NAMES);
  const analysisSeeds = nonNegativeInt('--analysis-seeds', f.analysisSeeds, 1000) ?? 2;
  const compute = computeFromEnv(env, engine);
  if (f.resume && !FileStore.hasSearch(f.out)) throw new UsageError(`--resume: '${f.out}' holds no search to resume`);
  const out = ensureWritableDir('--out', f.out);
  const store = new FileStore(out);
  if (FileStore.hasSearch(out)) {
    if (!f.resume) {
      throw new UsageError(
        `--out: '${f.out}' already holds a search; add --resume to continue it, or choose another folder`,
      );
    }
    definition = parseStoredSearchDefinition(store.readDefinition());
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
  let total = planned;
  let stage = searchState(definition, store.table()).stage;
  if (startedWith > 0) bar.log(`resuming: ${startedWith} task results already stored`);
  bar.log(
    `${workers} worker thread${workers === 1 ? '' : 's'}, up to ${population} run${population === 1 ? '' : 's'} each in lock-step`,
  );
  try {
    await runLocalSearch({
      definition,
      store,
      workers,
      population,
      compute,
      ...(signal ? { signal } : {}),
      onResult: () => {
        const { s, alive } = status();
        const done = s.table.measured;
        if (s.planned !== total) {
          total = s.planned;
          bar.setTotal(total);
        }
        bar.update(done, {
          alive,
          candidates: s.candidates.length,
          runs: s.candidates.length * definition.protocol.seeds + s.validation.targets.length * s.validation.seeds,
        });
        if (s.stage !== stage) {
          stage = s.stage;
          if (stage === 'validation') {
            const [chosen, ...others] = s.validation.targets;
            bar.log(
              `decided: ${chosen!.id}; validating it, ${others.map((t) => `${t.id} (${t.as.join(', ')})`).join(', ')} on ${s.validation.seeds} fresh seed(s) × ${definition.protocol.tasks} tasks`,
            );
          }
        }
        if (Date.now() - lastLog > 5000 || done === total) {
          lastLog = Date.now();
          const rate = (done - startedWith) / ((Date.now() - started) / 1000);
          const eta = rate > 0 ? (total - done) / rate : Number.NaN;
          const where =
            s.stage === 'search'
              ? `rung ${Math.min(s.rung + 1, s.schedule.length)}/${s.schedule.length}`
              : `validation ${s.validation.measured}/${s.validation.targets.length * s.validation.seeds * definition.protocol.tasks}`;
          bar.log(
            `${done}/${total} task trainings, ${alive} candidates alive, ${where}, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '?'}`,
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
  await writeOutputs(out, definition, store, (Date.now() - started) / 1000, {
    seeds: analysisSeeds,
    ...(compute.engine ? { engine: compute.engine } : {}),
    tf: backendOptions(compute),
  });
  return 0;
}

/** Final outputs: sorted task results (byte-identical for the same search), fixed configuration, report. */
async function writeOutputs(
  out: string,
  definition: SearchDefinition,
  store: FileStore,
  seconds: number,
  analyse: { readonly seeds: number; readonly engine?: EngineName; readonly tf?: BackendOptions },
): Promise<void> {
  const files = taskFiles(store.results());
  writeAtomic(join(out, 'tasks.csv'), files.csv);
  writeAtomic(join(out, 'tasks.json'), files.json);
  writeAtomic(join(out, 'timings.csv'), files.timings);
  const { fixed, standings, importance, html, analysis } = await searchReport(definition, store.results(), {
    wallSeconds: seconds,
    ...(analyse.seeds > 0 ? { analyse } : {}),
  });
  writeAtomic(join(out, 'fixed-config.json'), JSON.stringify(fixed, null, 2) + '\n');
  if (analysis) writeAtomic(join(out, 'analysis.json'), toJson(analysis));
  // The report's two evidence plots on their own, for documents that cite them.
  if (!('unavailable' in importance)) writeAtomic(join(out, 'importance.svg'), await importanceSvg(importance));
  if (fixed.validation !== undefined && fixed.validation.verdict !== 'unvalidated') {
    writeAtomic(join(out, 'validation.svg'), await validationSvg(fixed.validation));
  }
  writeAtomic(join(out, 'report.html'), html);
  process.stdout.write(
    [
      ...summaryLines(definition, fixed, standings, importance, store.results()),
      `fixed configuration ${fixed.hash.slice(0, 16)}… → ${join(out, 'fixed-config.json')}`,
      ...(analysis
        ? [
            `analyses of the chosen mask (${analysis.runs.length} runs trained again, ${analysis.wallSeconds.toFixed(1)} s) → ${join(out, 'analysis.json')}`,
          ]
        : []),
      `report → ${join(out, 'report.html')}   (${store.results().length} task results, ${seconds.toFixed(0)} s)`,
      '',
    ].join('\n'),
  );
}

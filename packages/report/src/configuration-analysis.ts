import {
  createRunLearner,
  modularityEfficiency,
  nextTaskLesionStudy,
  recurrentModularity,
  runSequence,
  sequenceLearner,
  summarize,
  type Correlation,
  type DistributionSummary,
  type Learner,
  type LesionRow,
  type LesionStudy,
  type ChunkJob,
  type RunLearnerSpec,
  type TaskModularity,
  type TaskResult,
} from '@ip2/l2l';
import { chunkJob, runSeed, type SearchDefinition } from '@ip2/search';

type PropertyKey = SearchDefinition['space'][number];

/*
 * The analyses of SCIENCE.md §8 for a search's chosen configuration: its runs are trained again
 * (training is deterministic, so they reproduce the stored task results, which is checked), this
 * time with the intrinsic values recorded after every task and the recurrent graph's modularity
 * measured around every task, and the final networks go through a lesion study on the next task.
 */

export const ANALYSIS_FORMAT = 'ip2.configuration-analysis/1';

/** Quantiles of the intrinsic distributions kept in an analysis. */
export const ANALYSIS_PROBABILITIES: readonly number[] = [0.1, 0.25, 0.5, 0.75, 0.9];

/** One property across neurons at one point of the sequence. */
export interface IntrinsicPoint {
  /** −1: the initial network; k: after task k. */
  readonly taskIndex: number;
  readonly summary: DistributionSummary;
}

export interface IntrinsicDistribution {
  readonly property: string;
  /** Whether the chosen mask makes it learnable (otherwise it keeps its initial values). */
  readonly learned: boolean;
  /** Neurons of every analysed run pooled, at each point. */
  readonly points: readonly IntrinsicPoint[];
}

/** A lesion study's row without the neuron list (kept small: the group's size is `count`). */
export type LesionGroupRow = Omit<LesionRow, 'neurons'>;

export interface RunLesion extends Pick<LesionStudy, 'property' | 'baseline'> {
  readonly rows: readonly LesionGroupRow[];
}

export interface AnalysedTask extends TaskModularity {
  /** Whether the replay gave the stored result (iterations, outcome, final loss); null: nothing stored. */
  readonly reproduced: boolean | null;
}

export interface AnalysedRun {
  readonly seedIndex: number;
  readonly seed: number;
  readonly tasks: readonly AnalysedTask[];
  /** Lesion studies after the last analysed task, measured on the following task; one per property. */
  readonly lesions: readonly RunLesion[];
  /** Why there is no lesion study (e.g. a diverged network), when there is none. */
  readonly lesionSkipped?: string;
}

export interface ConfigurationAnalysis {
  readonly format: typeof ANALYSIS_FORMAT;
  readonly family: string;
  /** The analysed candidate's mask bits and learnable keys. */
  readonly candidate: string;
  readonly keys: readonly string[];
  readonly hidden: number;
  /** Tasks analysed per run (from the first). */
  readonly tasks: number;
  /** Quantile groups of the lesion study. */
  readonly groups: number;
  readonly engine: string;
  readonly runs: readonly AnalysedRun[];
  readonly intrinsic: readonly IntrinsicDistribution[];
  /** Modularity at a task's start against its iterations to criterion, every analysed task pooled. */
  readonly modularityEfficiency: Correlation;
  readonly wallSeconds: number;
}

/** The stored results the replay is checked against. */
export interface StoredTask {
  readonly candidate: string;
  readonly seedIndex: number;
  readonly result: Pick<TaskResult, 'taskIndex' | 'iterations' | 'converged' | 'finalLoss'>;
}

export interface AnalysisOptions {
  /** Runs analysed: seed indices 0 … seeds − 1 (default min(2, the search's seeds)). */
  readonly seeds?: number;
  /** Tasks per run (default all the search's tasks). */
  readonly tasks?: number;
  /** Quantile groups of the lesion study (default 4). */
  readonly groups?: number;
  /** The engine its app chose (absent: `fused`). */
  readonly engine?: ChunkJob['engine'];
  /** How a `tfjs` engine picks its TensorFlow.js backend (the process's choice, as its app passes it). */
  readonly tf?: RunLearnerSpec['tf'];
  /** The search's results: the replayed tasks are compared with them. */
  readonly records?: readonly StoredTask[];
}

/**
 * Q and community count of the learner's recurrent graph (as sequenceWithModularity measures them);
 * NaN and 0 when a diverged network has non-finite weights, so that one such task does not stop the
 * analysis (the correlation leaves it out).
 */
function modularityOf(learner: Learner): { q: number; count: number } {
  const { w } = learner.recurrentWeights!();
  if (!w.every(Number.isFinite)) return { q: Number.NaN, count: 0 };
  const m = recurrentModularity(learner);
  return { q: m.q, count: m.count };
}

const sameNumber = (a: number, b: number) => a === b || (Number.isNaN(a) && Number.isNaN(b));

function lesionsOf(
  learner: Learner,
  family: string,
  seed: number,
  afterTask: number,
  properties: readonly string[],
  groups: number,
  protocol: { readonly evalBatch: number; readonly dt: number },
): { lesions: RunLesion[]; skipped?: string } {
  const intrinsic = learner.intrinsic!();
  const bad = properties.find((p) => !(intrinsic[p] ?? []).every(Number.isFinite));
  if (bad !== undefined) return { lesions: [], skipped: `${bad} is not finite after task ${afterTask + 1}` };
  const lesions = properties.map((property): RunLesion => {
    const s = nextTaskLesionStudy({ learner, family, seed, afterTask, property, groups, protocol });
    return {
      property,
      baseline: s.baseline,
      rows: s.rows.map(({ neurons: _n, ...row }) => row),
    };
  });
  return { lesions };
}

/**
 * Trains the chosen candidate's first runs again with the analyses of SCIENCE.md §8: per-task
 * intrinsic snapshots, modularity of |W_rec| before and after each task, and a lesion study (quantile
 * groups of each learned property, or of every property when none is learned) after the last task on
 * the next task's held-out batch. Its cost is that of `seeds` runs of `tasks` tasks plus one community
 * detection per task; everything is seeded, so the same search gives the same analysis.
 */
export async function analyseConfiguration(
  definition: SearchDefinition,
  keys: readonly PropertyKey[],
  options: AnalysisOptions = {},
): Promise<ConfigurationAnalysis> {
  const started = performance.now();
  const seeds = Math.min(options.seeds ?? 2, definition.protocol.seeds);
  const tasks = Math.min(options.tasks ?? definition.protocol.tasks, definition.protocol.tasks);
  const groups = options.groups ?? 4;
  if (!Number.isInteger(seeds) || seeds < 1) throw new RangeError(`seeds must be a positive integer, got ${seeds}`);
  if (!Number.isInteger(tasks) || tasks < 1) throw new RangeError(`tasks must be a positive integer, got ${tasks}`);
  const candidate = definition.space.map((k) => (keys.includes(k) ? '1' : '0')).join('');
  const stored = new Map<string, StoredTask['result']>();
  for (const r of options.records ?? []) {
    if (r.candidate === candidate) stored.set(`${r.seedIndex}/${r.result.taskIndex}`, r.result);
  }
  const pooled = new Map<string, Map<number, number[]>>();
  const keep = (snapshot: Readonly<Record<string, ArrayLike<number>>>, taskIndex: number) => {
    for (const [property, values] of Object.entries(snapshot)) {
      const byTask = pooled.get(property) ?? new Map<number, number[]>();
      pooled.set(property, byTask);
      const list = byTask.get(taskIndex) ?? [];
      for (let i = 0; i < values.length; i++) list.push(values[i]!);
      byTask.set(taskIndex, list);
    }
  };
  const runs: AnalysedRun[] = [];
  let engine = '';
  for (let seedIndex = 0; seedIndex < seeds; seedIndex++) {
    const seed = runSeed(definition.protocol.baseSeed, seedIndex);
    const job = chunkJob(definition, { seed, keys, fromTask: 0, toTask: tasks }, options.engine);
    const protocol = { ...job.protocol, snapshots: true };
    const learner = await createRunLearner({ ...job, dt: protocol.dt, ...(options.tf ? { tf: options.tf } : {}) });
    try {
      engine = `${learner.info.engine}/${learner.info.backend}`;
      keep(learner.intrinsic!(), -1);
      const analysed: AnalysedTask[] = [];
      let before = modularityOf(learner);
      for await (const step of runSequence({
        family: job.family,
        seed,
        protocol,
        learner: sequenceLearner(learner),
        endTask: tasks,
      })) {
        const r = step.result;
        if (r.intrinsic) keep(r.intrinsic, r.taskIndex);
        const after = modularityOf(learner);
        const s = stored.get(`${seedIndex}/${r.taskIndex}`);
        analysed.push({
          taskIndex: r.taskIndex,
          iterations: r.iterations,
          converged: r.converged,
          qStart: before.q,
          qEnd: after.q,
          communities: after.count,
          reproduced:
            s === undefined
              ? null
              : s.iterations === r.iterations && s.converged === r.converged && sameNumber(s.finalLoss, r.finalLoss),
        });
        before = after;
      }
      const properties = keys.length > 0 ? [...keys] : Object.keys(learner.intrinsic!());
      const { lesions, skipped } = lesionsOf(learner, job.family, seed, tasks - 1, properties, groups, protocol);
      runs.push({
        seedIndex,
        seed,
        tasks: analysed,
        lesions,
        ...(skipped === undefined ? {} : { lesionSkipped: skipped }),
      });
    } finally {
      learner.dispose();
    }
  }
  const intrinsic = [...pooled.entries()].map(([property, byTask]): IntrinsicDistribution => ({
    property,
    learned: keys.includes(property as PropertyKey),
    points: [...byTask.entries()]
      .sort(([a], [b]) => a - b)
      .map(([taskIndex, values]) => ({
        taskIndex,
        summary: summarize(values, { probabilities: ANALYSIS_PROBABILITIES }),
      })),
  }));
  return {
    format: ANALYSIS_FORMAT,
    family: definition.family,
    candidate,
    keys: [...keys],
    hidden: definition.protocol.network.hidden,
    tasks,
    groups,
    engine,
    runs,
    intrinsic,
    modularityEfficiency: modularityEfficiency(runs.flatMap((r) => r.tasks)),
    wallSeconds: (performance.now() - started) / 1000,
  };
}

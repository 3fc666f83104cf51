/**
 * The fair-testbed study (docs/model.md, "Model version 2"): can the control without intrinsic
 * plasticity learn at the model's defaults, and do the networks fire at initialisation?
 *
 *   npm run study:testbed -- [--parts firing,control] [--families dms,sma] [--sizes 64,100]
 *                            [--seeds 1,2,3] [--tasks 20] [--cap 6000] [--out results/testbed]
 *
 * - firing: the initial firing rate (Hz) of a new network on every family and size, at model
 *   version 2 (calibrated: the default), version 2 without calibration (input scaling alone) and
 *   version 1, on the calibration trials and on a held-out batch of the family's first task.
 * - control: `rsnn-noip` on each family, size and seed for `--tasks` tasks, the protocol of the
 *   reproduction study (lr 3e-3, ε 0.015, window 50, batch = the family's conditions, cap 6 000).
 *   Each finished run is written to <out>/control/<family>-<size>-s<seed>.json and is not run again,
 *   so an interrupted study continues where it stopped.
 * The summary goes to <out>/summary.md and <out>/summary.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  calibrationBatch,
  createLearner,
  failureFreeMetrics,
  parseProtocol,
  runSeeds,
  runSequence,
  sequenceLearner,
  sequenceMetrics,
  spikingNetworkState,
  type TaskResult,
} from '@ip2/l2l';
import {
  FusedEngine,
  parsePropertyKeys,
  rateHz,
  type NetworkConfigInput,
  type PropertyKey,
  type TrialBatch,
} from '@ip2/snn';
import { bandPanelsSpec, renderSvg, survivalCurveSpec, type BandSeries, type SurvivalSeries } from '@ip2/report';
import { createInstance, FAMILY_IDS, heldOutBatch } from '@ip2/tasks';
import { bandSeries, survivalSeries } from './figures.js';
import { mean } from './stats.js';

const { values: flags } = parseArgs({
  options: {
    parts: { type: 'string', default: 'firing,control' },
    // also: 'before' (version-1 runs of claims 1–2) and 'compare' (their table against --after)
    families: { type: 'string', default: 'dms,sma' },
    sizes: { type: 'string', default: '64,100' },
    seeds: { type: 'string', default: '1,2,3' },
    tasks: { type: 'string', default: '20' },
    cap: { type: 'string', default: '6000' },
    lr: { type: 'string', default: '3e-3' },
    epsilon: { type: 'string', default: '0.015' },
    out: { type: 'string', default: 'results/testbed' },
    /** The 'before' part: model version 1 at its own protocol (batch 1), the masks its searches chose. */
    'before-masks': { type: 'string', default: 'dms:tauS+theta;cddms:theta;gng2:tauD+theta;gng4:tauD+theta' },
    'before-tasks': { type: 'string', default: '12' },
    'before-hidden': { type: 'string', default: '64' },
    /** The 'compare' part: a study:reproduction output folder at model version 2. */
    after: { type: 'string', default: 'results/reproduction-v2' },
    /** The 'figures' part writes its SVGs here. */
    figures: { type: 'string', default: 'docs/images' },
    /** The 'fresh' part: version-2 runs on these seeds (disjoint from the searches'). */
    'fresh-seeds': { type: 'string', default: '4,5,6' },
    help: { type: 'boolean', default: false },
  },
});
if (flags.help) {
  console.log(
    'npm run study:testbed -- [--parts firing,control] [--families dms,sma] [--sizes 64,100] [--seeds 1,2,3]',
  );
  process.exit(0);
}

const list = (s: string) => s.split(',').filter((x) => x !== '');
const numbers = (s: string, flag: string) =>
  list(s).map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${flag}: '${x}' is not a positive integer`);
    return n;
  });
const parts = list(flags.parts);
const families = list(flags.families);
for (const f of families)
  if (!FAMILY_IDS.includes(f as never)) throw new RangeError(`--families: unknown family '${f}'`);
const sizes = numbers(flags.sizes, 'sizes');
const seeds = numbers(flags.seeds, 'seeds');
const tasks = numbers(flags.tasks, 'tasks')[0]!;
const cap = numbers(flags.cap, 'cap')[0]!;
const lr = Number(flags.lr);
const epsilon = Number(flags.epsilon);
const out = flags.out;
mkdirSync(join(out, 'control'), { recursive: true });
const DT = 20;
const SPACE = ['tauD', 'tauS', 'theta'] as const;

const VARIANTS: readonly { readonly name: string; readonly network: NetworkConfigInput }[] = [
  { name: 'v2 (default, calibrated to 10 Hz)', network: {} },
  { name: 'v2 without calibration', network: { firingTarget: null } },
  { name: 'v1', network: { modelVersion: 1 } },
];

interface FiringRow {
  readonly family: string;
  readonly hidden: number;
  readonly variant: string;
  /** Hz on the calibration trials and on a held-out batch of the first task; neurons active there. */
  readonly calibrationHz: number;
  readonly heldOutHz: number;
  readonly active: number;
}

function hz(state: ReturnType<typeof spikingNetworkState>, batch: TrialBatch): { hz: number; active: number } {
  const e = FusedEngine.create(state);
  try {
    const ev = e.evaluate(batch);
    return { hz: rateHz(ev.firingRate, DT), active: ev.activeNeurons };
  } finally {
    e.dispose();
  }
}

function firingPart(): FiringRow[] {
  const rows: FiringRow[] = [];
  for (const family of FAMILY_IDS) {
    const instance = createInstance(family, runSeeds(1).tasks, 0);
    const held = heldOutBatch(instance, runSeeds(1).tasks, 32, DT);
    for (const hidden of sizes) {
      for (const v of VARIANTS) {
        const spec = {
          model: 'rsnn-noip',
          nIn: instance.nIn,
          nOut: instance.nOut,
          hidden,
          dt: DT,
          seed: runSeeds(1).network,
          loss: 'mse' as const,
          lr,
        };
        const state = spikingNetworkState(spec, { family, space: [...SPACE], network: v.network });
        const cal = hz(state, calibrationBatch(family, spec.seed, DT));
        const ho = hz(state, held);
        rows.push({ family, hidden, variant: v.name, calibrationHz: cal.hz, heldOutHz: ho.hz, active: ho.active });
        console.log(
          `firing ${family} ${hidden} ${v.name}: ${ho.hz.toFixed(2)} Hz held-out, ${cal.hz.toFixed(2)} Hz calibration, ${ho.active}/${hidden} active`,
        );
      }
    }
  }
  return rows;
}

interface ControlRun {
  readonly family: string;
  readonly hidden: number;
  readonly seed: number;
  readonly tasks: readonly TaskResult[];
  readonly wallS: number;
}

interface SequenceSpec {
  readonly file: string;
  readonly family: string;
  readonly hidden: number;
  readonly seed: number;
  readonly model: string;
  readonly mask: readonly PropertyKey[];
  readonly tasks: number;
  readonly batchSize?: number;
  readonly network?: NetworkConfigInput;
  readonly label: string;
}

function controlRun(family: string, hidden: number, seed: number): Promise<ControlRun> {
  return sequenceRun({
    file: join(out, 'control', `${family}-${hidden}-s${seed}.json`),
    family,
    hidden,
    seed,
    model: 'rsnn-noip',
    mask: [],
    tasks,
    label: 'control',
  });
}

/** One sequence of the study, or its stored result when it already ran. */
async function sequenceRun(spec: SequenceSpec): Promise<ControlRun> {
  const { file, family, hidden, seed } = spec;
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as ControlRun;
  mkdirSync(dirname(file), { recursive: true });
  const protocol = parseProtocol({
    tasks: spec.tasks,
    cap,
    epsilon,
    window: 50,
    dt: DT,
    ...(spec.batchSize === undefined ? {} : { batchSize: spec.batchSize }),
  });
  const instance = createInstance(family, 0, 0);
  const learner = await createLearner(
    {
      model: spec.model,
      nIn: instance.nIn,
      nOut: instance.nOut,
      hidden,
      dt: DT,
      seed: runSeeds(seed).network,
      loss: 'mse',
      lr,
    },
    { family, space: [...SPACE], mask: [...spec.mask], ...(spec.network ? { network: spec.network } : {}) },
  );
  const started = performance.now();
  const results: TaskResult[] = [];
  for await (const step of runSequence({ family, seed, protocol, learner: sequenceLearner(learner) })) {
    const r = step.result;
    results.push(r);
    console.log(
      `${spec.label} ${family} ${spec.model} ${hidden} s${seed} task ${r.taskIndex}: ${r.totalIterations} it, ${r.converged ? 'converged' : 'failed'}, acc ${r.accuracy.toFixed(2)}, ${rateHz(r.firingRate, DT).toFixed(1)} Hz`,
    );
  }
  learner.dispose();
  const run: ControlRun = { family, hidden, seed, tasks: results, wallS: (performance.now() - started) / 1000 };
  writeFileSync(file, JSON.stringify(run, null, 1));
  return run;
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

const summary: Record<string, unknown> = {
  protocol: { tasks, cap, lr, epsilon, window: 50, dt: DT, batch: 'family conditions' },
};
const md: string[] = ['# Fair-testbed study', ''];
md.push(
  `Command: \`npm run study:testbed -- --parts ${parts.join(',')} --families ${families.join(',')} --sizes ${sizes.join(',')} --seeds ${seeds.join(',')} --tasks ${tasks} --cap ${cap}\``,
  '',
);

if (parts.includes('firing')) {
  const rows = firingPart();
  summary.firing = rows;
  md.push('## Firing at initialisation (run seed 1)', '');
  md.push('| family | neurons | model | held-out Hz | calibration Hz | active neurons |', '|---|---|---|---|---|---|');
  for (const r of rows) {
    md.push(
      `| ${r.family} | ${r.hidden} | ${r.variant} | ${f2(r.heldOutHz)} | ${f2(r.calibrationHz)} | ${r.active}/${r.hidden} |`,
    );
  }
  md.push('');
}

if (parts.includes('control')) {
  const runs: ControlRun[] = [];
  for (const family of families) {
    for (const hidden of sizes) for (const seed of seeds) runs.push(await controlRun(family, hidden, seed));
  }
  md.push(`## rsnn-noip at the defaults (${tasks} tasks, cap ${cap}, lr ${lr}, ε ${epsilon}, batch = conditions)`, '');
  md.push(
    '| family | neurons | seed | converged | held-out acc. after converged tasks | final efficiency (censored) | failure-free final eff. | speed-up | Hz at the last task | active at the last task | wall s |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  const groups: Record<string, unknown>[] = [];
  for (const family of families) {
    for (const hidden of sizes) {
      const mine = runs.filter((r) => r.family === family && r.hidden === hidden);
      for (const r of mine) {
        const m = sequenceMetrics(r.tasks);
        const ff = failureFreeMetrics(r.tasks);
        const conv = r.tasks.filter((t) => t.converged);
        const last = r.tasks[r.tasks.length - 1]!;
        md.push(
          `| ${family} | ${hidden} | ${r.seed} | ${conv.length}/${r.tasks.length} | ${f2(mean(conv.map((t) => t.accuracy)))} | ${f1(m.finalEfficiency)} | ${f1(ff.finalEfficiency)} | ${f2(m.speedUp)} | ${f1(rateHz(last.firingRate, DT))} | ${last.activeNeurons ?? '–'} | ${f1(r.wallS)} |`,
        );
      }
      const all = mine.flatMap((r) => r.tasks);
      const conv = all.filter((t) => t.converged);
      groups.push({
        family,
        hidden,
        runs: mine.length,
        convergedShare: conv.length / all.length,
        heldOutAccuracyAfterConverged: mean(conv.map((t) => t.accuracy)),
      });
    }
  }
  md.push(
    '',
    '| family | neurons | runs | tasks converged | held-out accuracy after converged tasks |',
    '|---|---|---|---|---|',
  );
  for (const g of groups) {
    md.push(
      `| ${String(g.family)} | ${String(g.hidden)} | ${String(g.runs)} | ${((g.convergedShare as number) * 100).toFixed(0)}% | ${((g.heldOutAccuracyAfterConverged as number) * 100).toFixed(1)}% |`,
    );
  }
  summary.control = { groups, runs: runs.map((r) => ({ ...r, tasks: r.tasks })) };
}

const MODELS = ['ip2', 'ip-inner', 'rsnn-noip'] as const;
const beforeMasks = new Map(
  list(flags['before-masks'].replaceAll(';', ',')).map((entry) => {
    const [family, keys = ''] = entry.split(':');
    return [family!, parsePropertyKeys(keys.split('+').filter((k) => k !== ''))] as const;
  }),
);
const beforeTasks = numbers(flags['before-tasks'], 'before-tasks')[0]!;
const beforeHidden = numbers(flags['before-hidden'], 'before-hidden')[0]!;
const beforeFamilies = [...beforeMasks.keys()];

async function beforeRuns(): Promise<Map<string, ControlRun[]>> {
  const byCell = new Map<string, ControlRun[]>();
  for (const family of beforeFamilies) {
    for (const model of MODELS) {
      const runs: ControlRun[] = [];
      for (const seed of seeds) {
        runs.push(
          await sequenceRun({
            file: join(out, 'before', family, model, `seed-${seed}.json`),
            family,
            hidden: beforeHidden,
            seed,
            model,
            mask: model === 'ip2' ? beforeMasks.get(family)! : [],
            tasks: beforeTasks,
            batchSize: 1,
            network: { modelVersion: 1 },
            label: 'before',
          }),
        );
      }
      byCell.set(`${family}/${model}`, runs);
    }
  }
  return byCell;
}

/** The version-2 runs of a study:reproduction folder, in the same cells. */
function afterRuns(): Map<string, { mask: string; runs: { tasks: TaskResult[] }[] }> {
  const byCell = new Map<string, { mask: string; runs: { tasks: TaskResult[] }[] }>();
  for (const family of beforeFamilies) {
    const fixed = join(flags.after, family, 'search', 'fixed-config.json');
    if (!existsSync(fixed)) continue;
    const mask = (JSON.parse(readFileSync(fixed, 'utf8')) as { mask: { keys: string[] } }).mask.keys;
    for (const model of MODELS) {
      const runs = seeds
        .map((seed) => join(flags.after, family, 'l2l', model, `seed-${seed}`, 'results.json'))
        .filter((f) => existsSync(f))
        .map((f) => JSON.parse(readFileSync(f, 'utf8')) as { tasks: TaskResult[] });
      byCell.set(`${family}/${model}`, { mask: `[${mask.join(', ')}]`, runs });
    }
  }
  return byCell;
}

interface CellSummary {
  readonly runs: number;
  readonly failures: number;
  readonly converged: number;
  readonly finalEfficiency: number;
  readonly failureFreeFinalEfficiency: number;
  readonly speedUp: number;
  readonly slope: number;
  readonly accuracy: number;
}

function cell(runs: readonly { tasks: readonly TaskResult[] }[]): CellSummary {
  const m = runs.map((r) => sequenceMetrics(r.tasks));
  const ff = runs.map((r) => failureFreeMetrics(r.tasks));
  const all = runs.flatMap((r) => r.tasks);
  return {
    runs: runs.length,
    failures: mean(m.map((x) => x.failures)),
    converged: all.filter((t) => t.converged).length / Math.max(1, all.length),
    finalEfficiency: mean(m.map((x) => x.finalEfficiency)),
    failureFreeFinalEfficiency: mean(ff.map((x) => x.finalEfficiency).filter(Number.isFinite)),
    speedUp: mean(m.map((x) => x.speedUp)),
    slope: mean(m.map((x) => x.l2lSlope)),
    accuracy: mean(all.map((t) => t.accuracy)),
  };
}

if (parts.includes('before') || parts.includes('compare')) {
  const before = await beforeRuns();
  const after = afterRuns();
  md.push(
    '',
    `## Claims 1 and 2 before and after (version 1: batch 1; version 2: balanced batches; ${beforeHidden} neurons, ${beforeTasks} tasks, cap ${cap}, lr ${lr}, ε ${epsilon}, seeds ${seeds.join(', ')})`,
    '',
    'Iterations per task are iterations − window for every task (a failed task counts at cap − window); final efficiency and speed-up over max(10%, 3) tasks; the failure-free final efficiency over converged tasks only.',
    '',
    '| family | model | version | mask | failures (mean of ' +
      beforeTasks +
      ') | tasks converged | final efficiency | failure-free final eff. | speed-up | L2L slope | held-out accuracy |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  const rows: Record<string, unknown>[] = [];
  for (const family of beforeFamilies) {
    for (const model of MODELS) {
      const key = `${family}/${model}`;
      const b = before.get(key)!;
      const a = after.get(key);
      const variants: [string, string, readonly { tasks: readonly TaskResult[] }[]][] = [
        ['1', model === 'ip2' ? `[${beforeMasks.get(family)!.join(', ')}]` : '', b],
      ];
      if (a && a.runs.length > 0) variants.push(['2', model === 'ip2' ? a.mask : '', a.runs]);
      for (const [version, mask, runs] of variants) {
        const c = cell(runs);
        rows.push({ family, model, version, mask, ...c });
        md.push(
          `| ${family} | ${model} | ${version} | ${mask || (model === 'ip-inner' ? 'all' : 'none')} | ${f1(c.failures)} | ${(100 * c.converged).toFixed(0)}% | ${f1(c.finalEfficiency)} | ${f1(c.failureFreeFinalEfficiency)} | ${f2(c.speedUp)}× | ${f2(c.slope)} | ${(100 * c.accuracy).toFixed(1)}% |`,
        );
      }
    }
  }
  summary.beforeAfter = rows;
}

if (parts.includes('fresh')) {
  // Out of sample: the version-2 searched mask, ip-inner and rsnn-noip on seeds the search never saw.
  const fresh = numbers(flags['fresh-seeds'], 'fresh-seeds');
  md.push(
    '',
    `## Version 2 on fresh seeds ${fresh.join(', ')} (not seen by the searches; same protocol as above)`,
    '',
    'AUC: iterations summed over the tasks (a failed task at cap − window). Paired differences: per seed, the searched mask minus the other model, on the same task instances; mean and range over seeds.',
    '',
    '| family | model | mask | failures (mean) | tasks converged | AUC (mean, per seed) | final efficiency | speed-up | held-out accuracy | searched − this model: AUC per seed |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  const rows: Record<string, unknown>[] = [];
  for (const family of beforeFamilies) {
    const fixed = join(flags.after, family, 'search', 'fixed-config.json');
    if (!existsSync(fixed)) continue;
    const mask = parsePropertyKeys((JSON.parse(readFileSync(fixed, 'utf8')) as { mask: { keys: string[] } }).mask.keys);
    const full = mask.length === SPACE.length;
    const byModel = new Map<string, ControlRun[]>();
    for (const model of MODELS) {
      if (model === 'ip2' && full) continue; // the searched mask is ip-inner's
      const runs: ControlRun[] = [];
      for (const seed of fresh) {
        runs.push(
          await sequenceRun({
            file: join(out, 'fresh', family, model, `seed-${seed}.json`),
            family,
            hidden: beforeHidden,
            seed,
            model,
            mask: model === 'ip2' ? mask : [],
            tasks: beforeTasks,
            label: 'fresh',
          }),
        );
      }
      byModel.set(model, runs);
    }
    const searched = byModel.get(full ? 'ip-inner' : 'ip2')!;
    const aucOf = (r: ControlRun) => r.tasks.reduce((a, t) => a + t.iterations, 0);
    for (const [model, runs] of byModel) {
      const c = cell(runs);
      const aucs = runs.map(aucOf);
      const diffs = runs.map((r, i) => aucOf(searched[i]!) - aucOf(r));
      const isSearched = runs === searched;
      rows.push({ family, model, mask: isSearched ? mask : null, ...c, aucs, diffs });
      md.push(
        `| ${family} | ${model} | ${isSearched ? `[${mask.join(', ')}] (searched)` : model === 'ip-inner' ? 'all' : 'none'} | ${f1(c.failures)} | ${(100 * c.converged).toFixed(0)}% | ${mean(aucs).toFixed(0)} (${aucs.join(', ')}) | ${f1(c.finalEfficiency)} | ${f2(c.speedUp)}× | ${(100 * c.accuracy).toFixed(1)}% | ${isSearched ? '–' : `${mean(diffs).toFixed(0)} (${diffs.join(', ')})`} |`,
      );
    }
  }
  summary.fresh = rows;
}

/** The adaptation-speed bands of runs (bench/figures.ts). */
const bands = (label: string, runs: readonly { tasks: readonly TaskResult[] }[]): BandSeries =>
  bandSeries(
    label,
    runs.map((r) => r.tasks),
  );

if (parts.includes('figures')) {
  // Adaptation-speed curves (median and range across seeds) of version 1 and 2 per family, and the
  // share of runs converged by task, written as SVG into --figures.
  const before = await beforeRuns();
  const after = afterRuns();
  mkdirSync(flags.figures, { recursive: true });
  const survival: SurvivalSeries[] = [];
  for (const family of beforeFamilies) {
    const series: BandSeries[] = [];
    for (const model of MODELS) {
      const key = `${family}/${model}`;
      const a = after.get(key);
      const name = model === 'ip2' ? `ip2 ${a?.mask ?? ''}`.trim() : model;
      if (a && a.runs.length > 0) series.push(bands(`v2 ${name}`, a.runs));
      series.push(
        bands(`v1 ${model === 'ip2' ? `ip2 [${beforeMasks.get(family)!.join(', ')}]` : model}`, before.get(key)!),
      );
      if (model === 'rsnn-noip') {
        for (const [v, runs] of [
          ['v1', before.get(key)!],
          ['v2', a?.runs ?? []],
        ] as const) {
          if (runs.length === 0) continue;
          survival.push(
            survivalSeries(
              `${family} rsnn-noip ${v}`,
              runs.map((r) => r.tasks),
            ),
          );
        }
      }
    }
    const file = join(flags.figures, `testbed-${family}.svg`);
    writeFileSync(
      file,
      await renderSvg(
        bandPanelsSpec(series, {
          title: `${family}: iterations to criterion per task (median, quartiles, range over seeds ${seeds.join(', ')}), model version 1 vs 2`,
          columns: 2,
        }),
      ),
    );
    console.log(`wrote ${file}`);
  }
  const file = join(flags.figures, 'testbed-noip-survival.svg');
  writeFileSync(
    file,
    await renderSvg(
      survivalCurveSpec(survival, { title: 'rsnn-noip: share of runs converged by task, version 1 vs 2' }),
    ),
  );
  console.log(`wrote ${file}`);
}

writeFileSync(join(out, 'summary.md'), md.join('\n') + '\n');
writeFileSync(join(out, 'summary.json'), JSON.stringify(summary, null, 1));
console.log(md.join('\n'));

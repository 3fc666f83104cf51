/**
 * Reproduction study of the paper's three claims (docs/reproduction.md), as plain `ip2` commands:
 *   npm run build && npm run study:reproduction -- [flags]
 *
 * 1. Per family: a meta-IP search (`ip2 search`) chooses the mask.
 * 2. Per family and seed, on the same task instances (the run seed fixes them): `ip2 l2l` with the
 *    searched mask (`ip2`), inner-only IP (`ip-inner`) and no IP (`rsnn-noip`), and the random-mask
 *    control (`ip-random`) as a distribution: every mask of the space (`--model ip2 --mask …`; N seeded
 *    draws, --random-draws, when the space has more than 32 masks), the searched mask placed by rank
 *    and percentile among them (one `--model ip-random` run would be one draw): claims 1 and 2.
 * 3. On the baseline families: the searched IP² network against `rnn`, `lstm`, `gru` and
 *    `attn-h1/h2/h4`: claim 3. Each baseline at its default size (`--hidden`) and/or at the spiking
 *    network's parameter count (`--baseline-sizes default,spiking`: `ip2 l2l --params N`, N the chosen
 *    mask's trainable parameters); with `--baseline-lrs`, each (model, size) at the learning rate that
 *    gave the lowest AUC on a tuning seed that is not reported (`--tuning-seed`, `--tuning-tasks`).
 * 4. `--parts goudar`: the `rnn` on `sma` at the paper preset (Goudar et al. 2023: 100 units, ε 0.005,
 *    cap 20 000), 50 tasks per sequence, at batch 1 (Goudar's) and at the balanced batch (2), 3 seeds, at
 *    Goudar's learning rate (1e-4; `--goudar-lrs` takes others, 'preset' for the preset's 2e-3).
 *
 * `--masks-from DIR` takes each family's mask from DIR/<family>/search/fixed-config.json (the searches of
 * `npm run study:service`) instead of running `ip2 search` here.
 *
 * Figures (SVG, into --figures, default <out>/figures): per family, the adaptation-speed curves of claims
 * 1–2 (claims12-<family>.svg) and of claim 3 (claim3-<family>.svg): median, quartiles and range over seeds
 * of the iterations to criterion per task, one panel per model; the share of runs converged by task of
 * every model (survival-<family>.svg); and the Goudar runs (goudar.svg).
 *
 * Every command is printed before it runs and its output folder is kept; a finished run
 * (results.json present) is not run again, so an interrupted study continues where it stopped, and two
 * invocations on the same --out share the steps (a step being run holds a `.running` file with its pid).
 * The summary (mean over seeds with a seeded 95% bootstrap interval; censored metrics, where a failed
 * task counts where it stopped, beside the failure-free ones over converged tasks only) goes to
 * <out>/summary.md and <out>/summary.json.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  bootstrapMean,
  randomMaskDistribution,
  randomMaskSet,
  type Interval,
  type RandomMaskDistribution,
} from '@ip2/search';
import { sequenceMetrics, spikingParameterCount, type SequenceMetrics } from '@ip2/l2l';
import { bandPanelsSpec, renderSvg, survivalCurveSpec } from '@ip2/report';
import { parsePropertyKeys, Rng, type PropertyKey } from '@ip2/snn';
import { bandSeries, survivalSeries } from './figures.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const CLI = join(ROOT, 'apps/cli/dist/main.js');

const { values: flags } = parseArgs({
  options: {
    families: { type: 'string', default: 'dms,cddms,gng2,gng4' },
    seeds: { type: 'string', default: '1,2,3' },
    tasks: { type: 'string', default: '20' },
    hidden: { type: 'string', default: '64' },
    /** The model's defaults (docs/model.md): 2, the current; 1, the first (for before/after tables). */
    'model-version': { type: 'string', default: '2' },
    /** Trials per training iteration; unset: the family's number of conditions. */
    batch: { type: 'string', default: '' },
    lr: { type: 'string', default: '3e-3' },
    epsilon: { type: 'string', default: '0.015' },
    cap: { type: 'string', default: '10000' },
    'baseline-families': { type: 'string', default: 'dms' },
    'baseline-models': { type: 'string', default: 'rnn,lstm,gru,attn-h1,attn-h2,attn-h4' },
    'baseline-seeds': { type: 'string', default: '1' },
    'baseline-tasks': { type: 'string', default: '8' },
    'baseline-cap': { type: 'string', default: '2000' },
    'search-preset': { type: 'string', default: 'quick' },
    'masks-from': { type: 'string', default: '' },
    'baseline-sizes': { type: 'string', default: 'default' },
    'baseline-lrs': { type: 'string', default: '' },
    'tuning-seed': { type: 'string', default: '1000' },
    'tuning-tasks': { type: 'string', default: '10' },
    'random-draws': { type: 'string', default: '32' },
    parts: { type: 'string', default: 'ablation,baselines' },
    'goudar-seeds': { type: 'string', default: '1,2,3' },
    'goudar-tasks': { type: 'string', default: '50' },
    'goudar-batches': { type: 'string', default: '1,2' },
    /** Learning rates of the Goudar runs: Goudar et al.'s 1e-4 by default; 'preset': the paper preset's (2e-3). */
    'goudar-lrs': { type: 'string', default: '1e-4' },
    'summary-only': { type: 'boolean', default: false },
    figures: { type: 'string', default: '' },
    jobs: { type: 'string', default: String(Math.max(1, cpus().length)) },
    out: { type: 'string', default: 'results/reproduction' },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]);
  process.exit(0);
}

function list(flag: string, text: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) fail(`--${flag}: give at least one value`);
  return items;
}
function posInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) fail(`--${flag}: expected a positive integer, got '${text}'`);
  return n;
}
function fail(message: string): never {
  console.error(`reproduction: ${message}`);
  process.exit(2);
}

const seeds = list('seeds', flags.seeds).map((s) => posInt('seeds', s));
const baselineModels = list('baseline-models', flags['baseline-models']);
const baselineSeeds = list('baseline-seeds', flags['baseline-seeds']).map((s) => posInt('baseline-seeds', s));
const jobs = posInt('jobs', flags.jobs);
const randomDraws = posInt('random-draws', flags['random-draws']);
const parts = list('parts', flags.parts);
for (const p of parts)
  if (p !== 'ablation' && p !== 'baselines' && p !== 'goudar')
    fail(`--parts: unknown part '${p}' (ablation, baselines, goudar)`);
const goudarSeeds = parts.includes('goudar')
  ? list('goudar-seeds', flags['goudar-seeds']).map((s) => posInt('goudar-seeds', s))
  : [];
const goudarBatches = list('goudar-batches', flags['goudar-batches']).map((s) => posInt('goudar-batches', s));
const goudarTasks = posInt('goudar-tasks', flags['goudar-tasks']);
const goudarLrs = list('goudar-lrs', flags['goudar-lrs']).map((x) => {
  if (x !== 'preset' && !(Number(x) > 0)) fail(`--goudar-lrs: '${x}' is neither 'preset' nor a positive number`);
  return x;
});
const families = parts.includes('ablation') ? list('families', flags.families) : [];
const baselineFamilies = parts.includes('baselines') ? list('baseline-families', flags['baseline-families']) : [];
const out = resolve(flags.out);
const modelVersion = posInt('model-version', flags['model-version']);
const baselineSizes = list('baseline-sizes', flags['baseline-sizes']);
for (const z of baselineSizes)
  if (z !== 'default' && z !== 'spiking') fail(`--baseline-sizes: unknown size '${z}' (default, spiking)`);
const baselineLrs =
  flags['baseline-lrs'] === ''
    ? []
    : list('baseline-lrs', flags['baseline-lrs']).map((x) => {
        if (!(Number(x) > 0)) fail(`--baseline-lrs: '${x}' is not a positive number`);
        return x;
      });
const tuningSeed = posInt('tuning-seed', flags['tuning-seed']);
const tuningTasks = posInt('tuning-tasks', flags['tuning-tasks']);
if (baselineLrs.length > 0 && baselineSeeds.includes(tuningSeed))
  fail(`--tuning-seed ${tuningSeed} is one of --baseline-seeds: the tuning seed must not be reported`);
const hiddenArgs = ['--hidden', flags.hidden];
const common = [
  '--epsilon',
  flags.epsilon,
  '--quiet',
  // Version 2 is the CLI's default: the flag is passed only for another version, so that commands and
  // folders of earlier studies stay as they were.
  ...(modelVersion === 2 ? [] : ['--model-version', String(modelVersion)]),
  ...(flags.batch === '' ? [] : ['--batch', String(posInt('batch', flags.batch))]),
];

if (!existsSync(CLI)) fail(`${CLI} is missing: run 'npm run build' first`);

/** One `ip2` command and the folder it writes. */
interface Step {
  readonly args: string[];
  readonly dir: string;
  readonly done: string;
}

/**
 * Claims a step for this process: creates `lock` holding the pid, or takes it over when the process
 * that wrote it has ended (a study stopped mid-step). False while another live process holds it, so
 * that two invocations on the same --out share the steps instead of running one twice.
 */
function takeLock(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(lock, 'utf8'));
      try {
        if (Number.isInteger(pid) && pid > 0) {
          process.kill(pid, 0);
          return false;
        }
      } catch (dead) {
        if ((dead as NodeJS.ErrnoException).code !== 'ESRCH') return false;
      }
      rmSync(lock, { force: true });
    }
  }
  return false;
}

async function runSteps(steps: readonly Step[]): Promise<void> {
  const todo = flags['summary-only'] ? [] : steps.filter((s) => !existsSync(join(s.dir, s.done)));
  let next = 0;
  let finished = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const step = todo[next++]!;
      const started = Date.now();
      mkdirSync(step.dir, { recursive: true });
      // Another invocation on the same --out may have finished this step since, or be running it.
      const lock = join(step.dir, '.running');
      if (existsSync(join(step.dir, step.done)) || !takeLock(lock)) {
        finished++;
        console.log(`[${finished}/${todo.length}] skipped (done or running elsewhere)  ip2 ${step.args.join(' ')}`);
        continue;
      }
      try {
        await new Promise<void>((ok, ko) => {
          const child = spawn(process.execPath, [CLI, ...step.args], { stdio: ['ignore', 'ignore', 'inherit'] });
          child.on('error', ko);
          child.on('exit', (code) =>
            code === 0 ? ok() : ko(new Error(`ip2 ${step.args.join(' ')} exited with ${code}`)),
          );
        });
      } finally {
        rmSync(lock, { force: true });
      }
      finished++;
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`[${finished}/${todo.length}] ${secs} s  ip2 ${step.args.join(' ')}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, todo.length) }, worker));
}

interface RunResult {
  readonly wallMs: number;
  /** Trainable parameters (absent in results of older versions). */
  readonly parameters?: number | null;
  readonly engine: { engine: string; backend?: string };
  readonly tasks: { iterations: number; totalIterations?: number; converged: boolean; accuracy?: number }[];
  readonly definition: { mask?: string[]; hidden?: number; lr?: number };
}

const readRun = (dir: string): RunResult => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as RunResult;
/** The metrics of a run, recomputed from its task list (older results.json files hold older metrics). */
const metricsOf = (r: RunResult): SequenceMetrics => sequenceMetrics(r.tasks);

/** `ip2 l2l`; `extra` may set --lr and the size (--params instead of --hidden), else the study's. */
const l2l = (family: string, model: string, seed: number, dir: string, extra: string[]): Step => ({
  args: [
    'l2l',
    '--family',
    family,
    '--model',
    model,
    '--seed',
    String(seed),
    ...common,
    ...(extra.includes('--params') ? [] : hiddenArgs),
    ...(extra.includes('--lr') ? [] : ['--lr', flags.lr]),
    ...extra,
    '--out',
    dir,
  ],
  dir,
  done: 'results.json',
});

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`reproduction study → ${out} (${jobs} parallel commands, ${cpus().length} cores)`);

  // 1. The searched mask, per family.
  const allFamilies = [...new Set([...families, ...baselineFamilies])];
  const searchDir = (f: string) =>
    flags['masks-from'] === '' ? join(out, f, 'search') : join(resolve(flags['masks-from']), f, 'search');
  if (flags['masks-from'] === '') {
    await runSteps(
      allFamilies.map((f) => {
        const dir = searchDir(f);
        const args = ['search', '--family', f, '--preset', flags['search-preset'], '--score', 'auc'];
        const all = [...args, ...common, ...hiddenArgs, '--lr', flags.lr, '--workers', String(jobs), '--out', dir];
        return { args: all, dir, done: 'fixed-config.json' };
      }),
    );
  }
  for (const f of allFamilies) {
    if (!existsSync(join(searchDir(f), 'fixed-config.json')))
      fail(`${join(searchDir(f), 'fixed-config.json')} is missing: the family's search has not finished`);
  }
  const masks = new Map<string, { keys: string[]; bits: string; separable: boolean; space: PropertyKey[] }>();
  for (const f of allFamilies) {
    const fixed = JSON.parse(readFileSync(join(searchDir(f), 'fixed-config.json'), 'utf8')) as {
      space: string[];
      mask: { keys: string[]; bits: string };
      evidence: { separable?: boolean };
    };
    masks.set(f, {
      keys: fixed.mask.keys,
      bits: fixed.mask.bits,
      separable: fixed.evidence.separable ?? false,
      space: parsePropertyKeys(fixed.space),
    });
  }
  const maskArgs = (keys: readonly string[]): string[] => ['--mask', keys.join(',')];
  const ip2Args = (f: string): string[] => maskArgs(masks.get(f)!.keys);

  // 2. Claims 1 and 2: the searched mask against its controls, same instances, in the search's space.
  const ablation = ['ip2', 'ip-inner', 'rsnn-noip'];
  const proto = ['--tasks', flags.tasks, '--cap', flags.cap];
  const steps: Step[] = [];
  const runDir = (f: string, m: string, seed: number) => join(out, f, 'l2l', m, `seed-${seed}`);
  for (const f of families)
    for (const seed of seeds)
      for (const m of ablation)
        steps.push(
          l2l(f, m, seed, runDir(f, m, seed), [
            ...proto,
            '--space',
            masks.get(f)!.space.join(','),
            ...(m === 'ip2' ? ip2Args(f) : []),
          ]),
        );
  // ip-random as a distribution: every mask of the space (or seeded draws from a large one), each on
  // every seed. The searched, empty and full masks are the ip2, rsnn-noip and ip-inner runs above.
  const randomMasks = new Map<
    string,
    { bits: string; keys: string[]; own: boolean; dir: (seed: number) => string }[]
  >();
  for (const f of families) {
    const { space, bits: chosen } = masks.get(f)!;
    const set = randomMaskSet(space, { draws: randomDraws, seed: 20261128 });
    const list = set.masks.map((c) => ({
      bits: c.id,
      keys: [...c.keys],
      own: c.id !== chosen && c.role === 'ip-masked',
      dir: (seed: number) =>
        c.id === chosen
          ? runDir(f, 'ip2', seed)
          : c.role === 'rsnn-noip'
            ? runDir(f, 'rsnn-noip', seed)
            : c.role === 'ip-inner'
              ? runDir(f, 'ip-inner', seed)
              : join(out, f, 'l2l', 'masks', c.id, `seed-${seed}`),
    }));
    randomMasks.set(f, list);
    for (const m of list.filter((x) => x.own))
      for (const seed of seeds)
        steps.push(l2l(f, 'ip2', seed, m.dir(seed), [...proto, '--space', space.join(','), ...maskArgs(m.keys)]));
  }

  // 3. Claim 3: IP² against the non-spiking baselines, at their default size and/or at the spiking
  // network's parameter count, each at the learning rate its tuning seed chose (when swept).
  const bproto = ['--tasks', flags['baseline-tasks'], '--cap', flags['baseline-cap']];
  const sizeArgs = (f: string, size: string): string[] =>
    size === 'spiking'
      ? ['--params', String(spikingParameterCount(f, Number(flags.hidden), masks.get(f)!.keys as PropertyKey[]))]
      : hiddenArgs;
  const cellDir = (f: string, m: string, size: string) =>
    size === 'default' ? join(out, f, 'baselines', m) : join(out, f, 'baselines', `${m}@${size}`);
  const tuningDir = (f: string, m: string, size: string, lr: string) =>
    join(cellDir(f, m, size), 'tuning', `lr-${lr}`, `seed-${tuningSeed}`);
  const cells = baselineFamilies.flatMap((f) =>
    baselineModels.flatMap((m) => baselineSizes.map((size) => ({ f, m, size }))),
  );
  if (baselineLrs.length > 0) {
    await runSteps(
      cells.flatMap(({ f, m, size }) =>
        baselineLrs.map((lr) =>
          l2l(f, m, tuningSeed, tuningDir(f, m, size, lr), [
            '--tasks',
            String(tuningTasks),
            '--cap',
            flags['baseline-cap'],
            '--lr',
            lr,
            ...sizeArgs(f, size),
          ]),
        ),
      ),
    );
  }
  /** The learning rate of a cell: the lowest tuning AUC (failures at the cap) of the sweep, else the study's. */
  const chosenLr = new Map<string, string>();
  for (const { f, m, size } of cells) {
    let best = { lr: flags.lr, auc: Number.POSITIVE_INFINITY };
    for (const lr of baselineLrs) {
      const dir = tuningDir(f, m, size, lr);
      if (!existsSync(join(dir, 'results.json'))) continue;
      const auc = metricsOf(readRun(dir)).auc;
      if (auc < best.auc) best = { lr, auc };
    }
    chosenLr.set(cellDir(f, m, size), best.lr);
  }
  for (const f of baselineFamilies)
    for (const seed of baselineSeeds) {
      steps.push(l2l(f, 'ip2', seed, join(out, f, 'baselines', 'ip2', `seed-${seed}`), [...bproto, ...ip2Args(f)]));
      for (const m of baselineModels)
        for (const size of baselineSizes)
          steps.push(
            l2l(f, m, seed, join(cellDir(f, m, size), `seed-${seed}`), [
              ...bproto,
              '--lr',
              chosenLr.get(cellDir(f, m, size))!,
              ...sizeArgs(f, size),
            ]),
          );
    }
  // 4. Goudar et al. 2023: the rnn on sma at the paper preset, at batch 1 and at the balanced batch.
  // The preset's runs keep the folders they had before other learning rates could be asked for.
  const goudarDir = (batch: number, lr: string, seed: number) =>
    join(out, 'goudar', `batch-${batch}`, ...(lr === 'preset' ? [] : [`lr-${lr}`]), `seed-${seed}`);
  for (const batch of goudarBatches)
    for (const lr of goudarLrs)
      for (const seed of goudarSeeds) {
        const dir = goudarDir(batch, lr, seed);
        const args = ['l2l', '--family', 'sma', '--model', 'rnn', '--preset', 'paper', '--tasks', String(goudarTasks)];
        if (lr !== 'preset') args.push('--lr', lr);
        steps.push({
          args: [...args, '--batch', String(batch), '--seed', String(seed), '--quiet', '--out', dir],
          dir,
          done: 'results.json',
        });
      }
  await runSteps(steps);

  // Summary.
  const rng = Rng.seeded(20261128, 'reproduction-summary');
  const ci = (xs: number[]): Interval => bootstrapMean(xs, rng, {});
  const xsSingle = (i: Interval): boolean => i.lo === i.hi;
  const fmt = (i: Interval, digits = 0): string =>
    !Number.isFinite(i.mean)
      ? '—'
      : xsSingle(i)
        ? i.mean.toFixed(digits)
        : `${i.mean.toFixed(digits)} [${i.lo.toFixed(digits)}, ${i.hi.toFixed(digits)}]`;
  /** A failure-free metric over the seeds where it is defined, saying how many when not all. */
  interface Defined {
    readonly interval: Interval;
    readonly seeds: number;
    readonly of: number;
  }
  const ciDefined = (xs: number[]): Defined => {
    const ok = xs.filter(Number.isFinite);
    return { interval: ci(ok), seeds: ok.length, of: xs.length };
  };
  const fmtDefined = (d: Defined, digits = 0, unit = ''): string =>
    d.seeds === 0 ? '—' : `${fmt(d.interval, digits)}${unit}${d.seeds < d.of ? ` (${d.seeds} of ${d.of} seeds)` : ''}`;

  interface Row {
    family: string;
    model: string;
    seeds: number[];
    failures: Interval;
    convergedShare: Interval;
    finalEfficiency: Interval;
    failureFreeFinalEfficiency: Defined;
    speedUp: Interval;
    failureFreeSpeedUp: Defined;
    l2lSlope: Interval;
    failureFreeL2lSlope: Defined;
    auc: Interval;
    accuracy: number;
    msPerIteration: number;
    curves: number[][];
    engine: string;
    /** Trainable parameters, hidden size and learning rate of the runs (as their results.json record them). */
    parameters: string;
    hidden: string;
    lr: string;
  }
  const summarise = (family: string, model: string, all: { seed: number; dir: string }[]): Row | null => {
    // With --summary-only, runs not finished yet are left out (the row says which seeds it has).
    const dirs = all.filter((d) => existsSync(join(d.dir, 'results.json')));
    if (dirs.length === 0) return null;
    const runs = dirs.map((d) => readRun(d.dir));
    const ms = runs.map(metricsOf);
    const perSeed = new Map(dirs.map((d, i) => [d.seed, ms[i]!]));
    const trained = runs.reduce((s, r) => s + r.tasks.reduce((a, t) => a + (t.totalIterations ?? t.iterations), 0), 0);
    const wall = runs.reduce((s, r) => s + r.wallMs, 0);
    const accs = runs.flatMap((r) => r.tasks.map((t) => t.accuracy ?? NaN)).filter(Number.isFinite);
    const row: Row = {
      family,
      model: model === 'ip2' ? `ip2 [${masks.get(family)!.keys.join(',') || '∅'}]` : model,
      seeds: dirs.map((d) => d.seed),
      failures: ci(ms.map((m) => m.failures)),
      convergedShare: ci(ms.map((m) => 100 * m.convergedShare)),
      finalEfficiency: ci(ms.map((m) => m.finalEfficiency)),
      failureFreeFinalEfficiency: ciDefined(ms.map((m) => m.failureFreeFinalEfficiency)),
      speedUp: ci(ms.map((m) => m.speedUp)),
      failureFreeSpeedUp: ciDefined(ms.map((m) => m.failureFreeSpeedUp)),
      l2lSlope: ci(ms.map((m) => m.l2lSlope)),
      failureFreeL2lSlope: ciDefined(ms.map((m) => m.failureFreeL2lSlope)),
      auc: ci(ms.map((m) => m.auc)),
      accuracy: accs.length ? accs.reduce((a, b) => a + b, 0) / accs.length : NaN,
      msPerIteration: wall / Math.max(1, trained),
      curves: runs.map((r) => r.tasks.map((t) => (t.converged ? t.iterations : -t.iterations))),
      engine: [...new Set(runs.map((r) => `${r.engine.engine}${r.engine.backend ? `/${r.engine.backend}` : ''}`))].join(
        ',',
      ),
      parameters: distinct(runs.map((r) => r.parameters)),
      hidden: distinct(runs.map((r) => r.definition.hidden)),
      lr: distinct(runs.map((r) => r.definition.lr)),
    };
    bySeed.set(row, perSeed);
    return row;
  };
  const present = (r: Row | null): r is Row => r !== null;
  /** Each row's metrics by seed, for the comparisons paired by seed (the same task instances). */
  const bySeed = new WeakMap<Row, Map<number, SequenceMetrics>>();
  function distinct(xs: readonly (number | null | undefined)[]): string {
    const set = [...new Set(xs.map((x) => (x === null || x === undefined ? '?' : String(x))))];
    return set.join('/');
  }
  const ablationRows = families.flatMap((f) =>
    ablation
      .map((m) =>
        summarise(
          f,
          m,
          seeds.map((seed) => ({ seed, dir: runDir(f, m, seed) })),
        ),
      )
      .filter(present),
  );
  const baselineRows = baselineFamilies.flatMap((f) =>
    [{ m: 'ip2', size: 'default' }, ...baselineModels.flatMap((m) => baselineSizes.map((size) => ({ m, size })))]
      .map(({ m, size }) => {
        const dir = m === 'ip2' ? join(out, f, 'baselines', 'ip2') : cellDir(f, m, size);
        const row = summarise(
          f,
          m,
          baselineSeeds.map((seed) => ({ seed, dir: join(dir, `seed-${seed}`) })),
        );
        if (!row || m === 'ip2' || size !== 'spiking') return row;
        const renamed = { ...row, model: `${row.model} @ spiking size` };
        bySeed.set(renamed, bySeed.get(row)!);
        return renamed;
      })
      .filter(present),
  );

  const goudarRows = goudarBatches
    .flatMap((batch) =>
      goudarLrs.map((lr) => {
        const row = summarise(
          'sma',
          'rnn',
          goudarSeeds.map((seed) => ({ seed, dir: goudarDir(batch, lr, seed) })),
        );
        return row && { ...row, model: `rnn, batch ${batch}${lr === 'preset' ? '' : `, lr ${lr}`}` };
      }),
    )
    .filter(present);

  // ip-random: per mask, the mean over its seeds; the distribution over masks; the searched mask in it.
  const RANDOM_METRICS = [
    { key: 'auc', title: 'AUC (iterations)', better: 'lower', digits: 0 },
    { key: 'convergedShare', title: 'converged (%)', better: 'higher', digits: 0 },
    { key: 'finalEfficiency', title: 'final efficiency', better: 'lower', digits: 0 },
    { key: 'failureFreeFinalEfficiency', title: 'final efficiency, converged only', better: 'lower', digits: 0 },
    { key: 'speedUp', title: 'speed-up', better: 'higher', digits: 2 },
  ] as const;
  interface RandomMaskRow {
    family: string;
    /** Masks measured, of the space's; runs per mask. */
    masks: number;
    spaceSize: number;
    perMask: { bits: string; keys: string[]; seeds: number[]; values: Record<string, number> }[];
    distributions: Record<string, RandomMaskDistribution>;
  }
  const randomRows: RandomMaskRow[] = families.flatMap((f) => {
    const list = randomMasks.get(f) ?? [];
    const perMask = list.flatMap((m) => {
      const done = seeds.filter((seed) => existsSync(join(m.dir(seed), 'results.json')));
      if (done.length === 0) return [];
      const ms = done.map((seed) => metricsOf(readRun(m.dir(seed))));
      const values: Record<string, number> = {};
      for (const { key } of RANDOM_METRICS) {
        const xs = ms.map((x) => (key === 'convergedShare' ? 100 * x[key] : x[key])).filter(Number.isFinite);
        values[key] = xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
      }
      return [{ bits: m.bits, keys: m.keys, seeds: done, values }];
    });
    if (perMask.length === 0) return [];
    const chosen = masks.get(f)!.bits;
    const distributions = Object.fromEntries(
      RANDOM_METRICS.map(({ key, better }) => [
        key,
        randomMaskDistribution(Object.fromEntries(perMask.map((m) => [m.bits, m.values[key]!])), chosen, { better }),
      ]),
    );
    const spaceSize = 2 ** masks.get(f)!.space.length;
    return [{ family: f, masks: perMask.length, spaceSize, perMask, distributions }];
  });

  // The searched mask against each other model of its table, paired by seed (each seed fixes the task
  // instances): per seed the other model's metric less the searched mask's (so > 0: the searched mask
  // is better; for the speed-up, the searched mask's less the other's), its mean over the seeds both
  // have, with a 95% bootstrap interval. An interval that excludes 0 is a difference the seeds resolve.
  const PAIRED_METRICS = [
    { key: 'auc', title: 'AUC', better: 'lower', digits: 0 },
    { key: 'finalEfficiency', title: 'final efficiency', better: 'lower', digits: 0 },
    { key: 'l2lSlope', title: 'L2L slope', better: 'lower', digits: 2 },
    { key: 'speedUp', title: 'speed-up', better: 'higher', digits: 1 },
  ] as const;
  interface PairedRow {
    family: string;
    against: string;
    seeds: number[];
    advantages: Record<string, Interval>;
    /** The other model's mean AUC over the paired seeds divided by the searched mask's. */
    aucRatio: number;
  }
  const paired = (rows: readonly Row[]): PairedRow[] =>
    [...new Set(rows.map((r) => r.family))].flatMap((f) => {
      const own = rows.find((r) => r.family === f && r.model.startsWith('ip2 ['));
      if (!own) return [];
      const mine = bySeed.get(own)!;
      return rows
        .filter((r) => r.family === f && r !== own)
        .flatMap((r) => {
          const theirs = bySeed.get(r)!;
          const common = own.seeds.filter((seed) => theirs.has(seed));
          if (common.length === 0) return [];
          const advantages = Object.fromEntries(
            PAIRED_METRICS.map(({ key, better }) => {
              const d = common
                .map((seed) => {
                  const a = mine.get(seed)![key];
                  const b = theirs.get(seed)![key];
                  return better === 'lower' ? b - a : a - b;
                })
                .filter(Number.isFinite);
              return [key, ci(d)];
            }),
          );
          const mean = (m: Map<number, SequenceMetrics>) =>
            common.reduce((s, seed) => s + m.get(seed)!.auc, 0) / common.length;
          return [{ family: f, against: r.model, seeds: common, advantages, aucRatio: mean(theirs) / mean(mine) }];
        });
    });
  const ablationPaired = paired(ablationRows);
  const baselinePaired = paired(baselineRows);
  const pairedHeader = `| family | searched mask against | seeds | ${PAIRED_METRICS.map((m) => `${m.title}: advantage`).join(' | ')} | AUC ratio (other / searched) |\n|---|---|---|${PAIRED_METRICS.map(() => '---|').join('')}---|`;
  const pairedLine = (r: PairedRow): string =>
    `| ${r.family} | ${r.against} | ${r.seeds.join(',')} | ${PAIRED_METRICS.map(({ key, digits }) => fmt(r.advantages[key]!, digits)).join(' | ')} | ${q(r.aucRatio, 2)}× |`;
  const pairedSection = (rows: readonly PairedRow[]): string =>
    rows.length === 0
      ? ''
      : `\n\n### Paired by seed: the searched mask against each model
Per seed (the same task instances), the other model's metric less the searched mask's (the speed-up: the searched mask's less the other's), so an advantage > 0 means the searched mask is better; the mean over the seeds both ran, with a 95% bootstrap interval; an interval that excludes 0 is a difference these seeds resolve.
${pairedHeader}
${rows.map(pairedLine).join('\n')}`;

  const header =
    '| family | model | failures | converged (%) | final efficiency | … converged only | speed-up | … converged only | L2L slope | … converged only | AUC (iterations) | held-out accuracy | ms / iteration | engine |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';
  const line = (r: Row): string =>
    `| ${r.family} | ${r.model} (seeds ${r.seeds.join(',')}) | ${fmt(r.failures, 1)} | ${fmt(r.convergedShare)} | ${fmt(r.finalEfficiency)} | ${fmtDefined(r.failureFreeFinalEfficiency)} | ${fmt(r.speedUp, 1)}× | ${fmtDefined(r.failureFreeSpeedUp, 1, '×')} | ${fmt(r.l2lSlope, 2)} | ${fmtDefined(r.failureFreeL2lSlope, 2)} | ${fmt(r.auc)} | ${(100 * r.accuracy).toFixed(1)}% | ${r.msPerIteration.toFixed(2)} | ${r.engine} |`;
  const q = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '—');
  const randomLine = (r: RandomMaskRow): string =>
    RANDOM_METRICS.map(({ key, title, digits }) => {
      const d = r.distributions[key]!;
      const c = d.chosen;
      const placed = c
        ? `${q(c.score, digits)} | ${c.rank} of ${d.masks} | ${q(c.percentile, 0)} | ${q(100 * c.atLeastAsGood, 0)}%`
        : '— | — | — | —';
      return `| ${r.family} | ${title} (${d.better} is better) | ${q(d.median, digits)} [${q(d.q1, digits)}, ${q(d.q3, digits)}] | ${q(d.min, digits)} – ${q(d.max, digits)} | ${placed} |`;
    }).join('\n');
  const randomHeader =
    '| family | metric (mean over seeds, per mask) | ip-random: median [q1, q3] over masks | min – max | searched mask | its rank | percentile | a random mask as good or better |\n|---|---|---|---|---|---|---|---|';
  const randomMaskLines = (r: RandomMaskRow): string =>
    `- ${r.family} (${r.masks} of ${r.spaceSize} masks): ` +
    r.perMask
      .map(
        (m) =>
          `\`${m.bits}\` [${m.keys.join(',') || '∅'}] AUC ${q(m.values.auc!, 0)}, converged ${q(m.values.convergedShare!, 0)}%${m.bits === masks.get(r.family)!.bits ? ' (searched)' : ''}`,
      )
      .join('; ');
  const curves = (rows: Row[]): string =>
    rows
      .map(
        (r) =>
          `- ${r.family} · ${r.model}: ${r.curves.map((c, i) => `seed ${r.seeds[i]}: ${c.map((v) => (v < 0 ? `${-v}✗` : String(v))).join(' ')}`).join('; ')}`,
      )
      .join('\n');
  const maskLines = allFamilies
    .map((f) => {
      const m = masks.get(f)!;
      return `- ${f}: \`${m.bits}\` = [${m.keys.join(', ') || 'none'}]${m.separable ? '' : ' (not separable from the runner-up)'}`;
    })
    .join('\n');
  const wallMin = ((Date.now() - started) / 60000).toFixed(1);
  const has = (part: string) => parts.includes(part);
  const sections = [
    `# Reproduction study: results

${has('ablation') ? `Protocol (claims 1–2): ${flags.tasks} tasks, hidden ${flags.hidden}, lr ${flags.lr}, ε ${flags.epsilon}, cap ${flags.cap}, seeds ${seeds.join(', ')}.\n` : ''}${has('baselines') ? `Protocol (claim 3): ${flags['baseline-tasks']} tasks, cap ${flags['baseline-cap']}, seeds ${baselineSeeds.join(', ')}, same ε; baseline sizes: ${baselineSizes.join(', ')}.\n` : ''}Intervals: 95% bootstrap of the mean over seeds (seeded; with few seeds they are wide and coarse).
Censored metrics count a failed task where it stopped; "… converged only" is the same metric over the converged tasks alone, over the seeds where it is defined.
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, load average at the end ${loadavg()[0]!.toFixed(2)}; this invocation ran for ${wallMin} min (finished runs are reused).`,
    allFamilies.length === 0
      ? ''
      : `## Masks chosen by the search (${flags['masks-from'] === '' ? `\`ip2 search --preset ${flags['search-preset']} --score auc\`` : `the service's searches in \`${flags['masks-from']}\``})
${maskLines}`,
    !has('ablation')
      ? ''
      : `## Claims 1 and 2
${header}
${ablationRows.map(line).join('\n')}

### ip-random: the distribution over masks
Every mask of the space on the same seeds and tasks (the searched, empty and full masks are the runs above); per mask the mean over seeds, then the distribution over masks. Rank 1 = best; percentile: share of the other masks the searched one beats (ties half); last column: chance that one random draw does as well or better.
${randomHeader}
${randomRows.map(randomLine).join('\n')}

${randomRows.map(randomMaskLines).join('\n')}${pairedSection(ablationPaired)}`,
    !has('baselines')
      ? ''
      : `## Claim 3
Parameters, hidden size and learning rate of each row: ${baselineRows.map((r) => `${r.model}: ${r.parameters} parameters, hidden ${r.hidden}, lr ${r.lr}`).join('; ')}.${baselineLrs.length > 0 ? ` Learning rates of the baselines chosen from ${baselineLrs.join(', ')} by the lowest AUC on tuning seed ${tuningSeed} (${tuningTasks} tasks), which is not reported.` : ''}

${header}
${baselineRows.map(line).join('\n')}${pairedSection(baselinePaired)}`,
    !has('goudar')
      ? ''
      : `## Goudar et al. 2023: \`rnn\` on \`sma\`
The \`paper\` preset (100 units, ε 0.005 over a window of 50, cap 20 000, lr 2e-3 unless the row names another; Goudar et al. train at 1e-4), ${goudarTasks} tasks, seeds ${goudarSeeds.join(', ')}; batch 1 is Goudar's, batch 2 the balanced batch (both stimuli of the instance in every update).
${header}
${goudarRows.map(line).join('\n')}`,
    `## Curves (iterations to criterion per task, ✗ = failed)
${curves([...ablationRows, ...baselineRows, ...goudarRows])}`,
  ];
  const md = `${sections.filter((x) => x !== '').join('\n\n')}\n`;
  writeFileSync(join(out, 'summary.md'), md);
  writeFileSync(
    join(out, 'summary.json'),
    JSON.stringify(
      {
        flags,
        masks: Object.fromEntries(masks),
        ablationRows,
        randomRows,
        ablationPaired,
        baselineRows,
        baselinePaired,
        goudarRows,
      },
      null,
      2,
    ),
  );
  await writeFigures(ablationRows, baselineRows, goudarRows);
  console.log(md);
}

/** The study's figures (see the header), from the rows' per-seed curves. */
async function writeFigures(
  ablationRows: readonly FigureRow[],
  baselineRows: readonly FigureRow[],
  goudarRows: readonly FigureRow[],
): Promise<void> {
  const dir = flags.figures === '' ? join(out, 'figures') : resolve(flags.figures);
  mkdirSync(dir, { recursive: true });
  const runsOf = (r: FigureRow) => r.curves.map((c) => c.map((v) => ({ iterations: Math.abs(v), converged: v >= 0 })));
  const label = (r: FigureRow) => `${r.model} (${r.seeds.length} seed${r.seeds.length === 1 ? '' : 's'})`;
  const write = async (name: string, svg: Promise<string>) => {
    writeFileSync(join(dir, name), await svg);
    console.log(`wrote ${join(dir, name)}`);
  };
  const bandsFigure = (rows: readonly FigureRow[], title: string) =>
    renderSvg(
      bandPanelsSpec(
        rows.map((r) => bandSeries(label(r), runsOf(r))),
        { title, columns: rows.length > 4 ? 3 : 2, ...(rows[0] ? { highlight: label(rows[0]) } : {}) },
      ),
    );
  const per = 'iterations to criterion per task (median, quartiles, range over seeds)';
  for (const f of [...new Set([...ablationRows, ...baselineRows].map((r) => r.family))]) {
    const ablation = ablationRows.filter((r) => r.family === f);
    const baseline = baselineRows.filter((r) => r.family === f);
    if (ablation.length > 0)
      await write(`claims12-${f}.svg`, bandsFigure(ablation, `${f}, claims 1–2: ${per}, cap ${flags.cap}`));
    if (baseline.length > 0)
      await write(`claim3-${f}.svg`, bandsFigure(baseline, `${f}, claim 3: ${per}, cap ${flags['baseline-cap']}`));
    const survival = [
      ...ablation.map((r) => survivalSeries(`${label(r)}, claims 1–2`, runsOf(r))),
      ...baseline.map((r) => survivalSeries(`${label(r)}, claim 3`, runsOf(r))),
    ];
    await write(
      `survival-${f}.svg`,
      renderSvg(survivalCurveSpec(survival, { title: `${f}: share of runs converged by task` })),
    );
  }
  if (goudarRows.length > 0)
    await write('goudar.svg', bandsFigure(goudarRows, `sma, rnn (Goudar et al. 2023): ${per}, cap 20 000`));
}

/** What a figure reads of a summary row: its label, seeds and per-seed curves (negative: failed). */
interface FigureRow {
  readonly family: string;
  readonly model: string;
  readonly seeds: readonly number[];
  readonly curves: readonly (readonly number[])[];
}

main().catch((e: unknown) => {
  console.error(`reproduction: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});

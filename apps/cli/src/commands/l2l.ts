import { join } from 'node:path';
import {
  FIXED_CONFIG_FORMAT,
  fixedConfigDefaultsMatch,
  fixedConfigModelVersion,
  parseSearchDefinition,
  verifyFixedConfig,
  type FixedConfig,
} from '@ip2/search';
import {
  BASELINE_MODELS,
  hiddenForParameters,
  SPIKING_MODELS,
  runSeeds,
  type BaselineModel,
  spikingMask,
  type SpikingModel,
  createRunLearner,
  familyBatchSize,
  modelNames,
  parseProtocol,
  runSequence,
  sequenceLearner,
  sequenceMetrics,
  type RunNetworkSettings,
  type TaskResult,
} from '@ip2/l2l';
import { adaptationCurveSpec, isNearSilent, renderSvg, TASK_COLUMNS } from '@ip2/report';
import { ENGINE_NAMES, PAPER_SPACE, parsePropertyKeys, type EngineName, type PropertyKey } from '@ip2/snn';
import { createInstance, FAMILY_IDS, getFamily } from '@ip2/tasks';
import { modelSettingsFromFlags, type ModelFlags } from '../definition.js';
import { backendOptions, computeFromEnv } from '../compute.js';
import { nonNegativeInt, oneOf, parseFlag, positiveInt, positiveNumber, UsageError } from '../errors.js';
import { readDefinitionFile, readJsonFile } from '../config-file.js';
import { ensureWritableDir, toCsv, toJson, writeAtomic } from '../output.js';
import { PRESETS, PRESET_NAMES, type Preset, type PresetName } from '../presets.js';
import { progressBar } from '../progress.js';

export interface L2lFlags extends ModelFlags {
  family: string;
  model: string;
  mask?: string;
  space?: string;
  tasks?: string;
  seed?: string;
  out: string;
  preset: string;
  hidden?: string;
  params?: string;
  cap?: string;
  window?: string;
  epsilon?: string;
  batch?: string;
  lr?: string;
  loss?: string;
  engine?: string;
  snapshots?: boolean;
  quiet?: boolean;
  fixed?: string;
  config?: string;
}

/** Everything the run needs, validated before anything is written. */
export interface L2lPlan {
  readonly family: string;
  readonly model: string;
  readonly space: PropertyKey[];
  readonly mask: PropertyKey[];
  readonly seed: number;
  readonly hidden: number;
  readonly lr: number;
  readonly loss: 'mse' | 'xent';
  /** Model version, property optimiser and learning rate, readout (each absent one: the version's default). */
  readonly network: RunNetworkSettings;
  readonly engine: EngineName | undefined;
  readonly protocol: ReturnType<typeof parseProtocol>;
  readonly out: string;
  readonly preset: PresetName;
}

/** Flags a fixed configuration decides, so they cannot be given with --fixed. */
const FIXED_DECIDES = [
  'family',
  'model',
  'mask',
  'space',
  'hidden',
  'cap',
  'window',
  'epsilon',
  'batch',
  'lr',
  'loss',
  'modelVersion',
  'propertyOptimizer',
  'propertyLr',
  'readout',
] as const;

/** The command-line spelling of a flag's attribute name ('modelVersion' → '--model-version'). */
const flagName = (attribute: string) => `--${attribute.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Reads a fixed configuration (fixed-config.json of a search) and turns it into flags: the family,
 * its space and chosen mask, and the protocol the search measured it with.
 */
export function flagsFromFixed(f: L2lFlags, given: (flag: string) => boolean): L2lFlags {
  const path = f.fixed!;
  const record = readJsonFile('--fixed', path) as FixedConfig;
  if (!verifyFixedConfig(record) || record.format !== FIXED_CONFIG_FORMAT) {
    throw new UsageError(`--fixed: '${path}' is not a fixed configuration, or its content does not match its hash`);
  }
  for (const flag of FIXED_DECIDES) {
    if (given(flag)) {
      throw new UsageError(`${flagName(flag)}: the fixed configuration decides it; do not give it with --fixed`);
    }
  }
  if (fixedConfigDefaultsMatch(record) === false) {
    process.stderr.write(
      `ip2: warning: --fixed: the defaults of model version ${fixedConfigModelVersion(record)} differ from those '${path}' was fixed under (model.defaultsHash); the run may not reproduce its search\n`,
    );
  }
  const p = record.protocol;
  const n = p.network as Partial<typeof p.network>;
  return {
    ...f,
    family: record.family,
    model: 'ip2',
    space: record.space.join(','),
    mask: record.mask.keys.join(','),
    tasks: f.tasks ?? String(p.tasks),
    hidden: String(p.network.hidden),
    cap: String(p.iterationCap),
    window: String(p.criterion.window),
    epsilon: String(p.criterion.epsilon),
    ...(p.batchSize === undefined ? {} : { batch: String(p.batchSize) }),
    lr: String(p.network.lr),
    loss: p.network.loss,
    // A record fixed before model versions names none: it was measured under version 1.
    modelVersion: String(fixedConfigModelVersion(record)),
    propertyOptimizer: n.propertyOptimizer ?? 'adam',
    propertyLr: n.propertyLr === undefined ? undefined : String(n.propertyLr),
    readout: n.readout,
  };
}

/**
 * The flags with the family, search space and protocol of a --config search definition (the file
 * `ip2 search --config` takes) filled in, except for the flags typed on the command line.
 */
export function flagsFromConfig(f: L2lFlags, given: (flag: string) => boolean): L2lFlags {
  if (f.fixed !== undefined) throw new UsageError('--config: not with --fixed (both give the protocol)');
  if (given('preset')) {
    throw new UsageError('--preset: not with --config (the file gives the protocol; single flags may override it)');
  }
  const d = parseSearchDefinition(readDefinitionFile(f.config!));
  const p = d.protocol;
  const pick = (flag: keyof L2lFlags & string, fromFile: string) => (given(flag) ? f[flag] : fromFile) as string;
  return {
    ...f,
    family: pick('family', d.family),
    space: pick('space', d.space.join(',')),
    tasks: pick('tasks', String(p.tasks)),
    seed: pick('seed', String(p.baseSeed)),
    ...(given('params') ? {} : { hidden: pick('hidden', String(p.network.hidden)) }),
    cap: pick('cap', String(p.iterationCap)),
    window: pick('window', String(p.criterion.window)),
    epsilon: pick('epsilon', String(p.criterion.epsilon)),
    ...(given('batch') || p.batchSize !== undefined ? { batch: pick('batch', String(p.batchSize)) } : {}),
    lr: pick('lr', String(p.network.lr)),
    loss: pick('loss', p.network.loss),
    modelVersion: pick('modelVersion', String(p.network.modelVersion)),
    propertyOptimizer: pick('propertyOptimizer', p.network.propertyOptimizer),
    ...(given('propertyLr') || p.network.propertyLr !== undefined
      ? { propertyLr: pick('propertyLr', String(p.network.propertyLr)) }
      : {}),
    ...(given('readout') || p.network.readout !== undefined ? { readout: pick('readout', p.network.readout!) } : {}),
  };
}

export function planL2l(f: L2lFlags): L2lPlan {
  const preset = oneOf('--preset', f.preset, PRESET_NAMES)!;
  const p: Preset = PRESETS[preset];
  const family = oneOf('--family', f.family, FAMILY_IDS)!;
  const model = oneOf('--model', f.model, modelNames())!;
  const space = f.space === undefined ? [...PAPER_SPACE] : parseFlag('--space', () => parsePropertyKeys(f.space!));
  if (space.length === 0) throw new UsageError('--space: the search space needs at least one property key');
  const mask = f.mask === undefined ? [...space] : parseFlag('--mask', () => parsePropertyKeys(f.mask!, 'mask key'));
  for (const k of mask) {
    if (!space.includes(k)) throw new UsageError(`--mask: '${k}' is not in the search space (${space.join(', ')})`);
  }
  if (f.mask !== undefined && model !== 'ip2' && f.fixed === undefined) {
    throw new UsageError(`--mask: only the ip2 model takes a mask ('${model}' fixes its own)`);
  }
  const protocol = parseFlag('protocol', () =>
    parseProtocol({
      tasks: positiveInt('--tasks', f.tasks, 100_000) ?? p.tasks,
      cap: positiveInt('--cap', f.cap, 10_000_000) ?? p.cap,
      window: positiveInt('--window', f.window, 10_000) ?? p.window,
      epsilon: positiveNumber('--epsilon', f.epsilon) ?? p.epsilon,
      batchSize: positiveInt('--batch', f.batch, 4096) ?? p.batchSize ?? familyBatchSize(family),
      evalBatch: p.evalBatch,
      snapshots: f.snapshots ?? false,
    }),
  );
  return {
    family,
    model,
    space,
    mask,
    seed: nonNegativeInt('--seed', f.seed) ?? 1,
    hidden: hiddenOf(f, model, family) ?? p.hidden,
    lr: positiveNumber('--lr', f.lr) ?? p.lr,
    loss: oneOf('--loss', f.loss, ['mse', 'xent'] as const) ?? 'mse',
    network: modelSettingsFromFlags(f),
    engine: oneOf('--engine', f.engine, ENGINE_NAMES),
    protocol,
    out: f.out,
    preset,
  };
}

/** --hidden, or for a baseline with --params the hidden size whose parameter count is nearest. */
function hiddenOf(f: L2lFlags, model: string, family: string): number | undefined {
  const params = positiveInt('--params', f.params, 1e9);
  if (params === undefined) return positiveInt('--hidden', f.hidden, 8192);
  if (f.hidden !== undefined) throw new UsageError('--params: give --params or --hidden, not both');
  if (!(BASELINE_MODELS as readonly string[]).includes(model)) {
    throw new UsageError(`--params: only the baselines (${BASELINE_MODELS.join(', ')}) take a parameter count`);
  }
  const { nIn, nOut } = createInstance(family, 0, 0);
  return Math.min(8192, hiddenForParameters(model as BaselineModel, params, nIn, nOut));
}

export async function runL2l(
  flags: L2lFlags,
  given: (flag: string) => boolean = () => false,
  env: Record<string, string | undefined> = process.env,
): Promise<void> {
  const f =
    flags.config !== undefined
      ? flagsFromConfig(flags, given)
      : flags.fixed === undefined
        ? flags
        : flagsFromFixed(flags, given);
  const plan = planL2l(f);
  const compute = computeFromEnv(env, plan.engine);
  const out = ensureWritableDir('--out', plan.out);
  const learner = await createRunLearner({
    family: plan.family,
    seed: plan.seed,
    model: plan.model,
    space: plan.space,
    mask: plan.mask,
    hidden: plan.hidden,
    lr: plan.lr,
    loss: plan.loss,
    network: plan.network,
    dt: plan.protocol.dt,
    ...(compute.engine ? { engine: compute.engine } : {}),
    tf: backendOptions(compute),
  });
  const label = plan.model === 'ip2' ? `ip2 [${plan.mask.join(',') || '∅'}]` : plan.model;
  const bar = progressBar(
    plan.protocol.tasks,
    `${label} |{bar}| task {value}/{total} | it {iter} | loss {loss} | {eta_formatted}`,
    f.quiet,
  );
  const results: TaskResult[] = [];
  const started = Date.now();
  try {
    for await (const step of runSequence({
      family: plan.family,
      seed: plan.seed,
      protocol: plan.protocol,
      learner: sequenceLearner(learner),
      onIteration: (k, it, loss) => bar.update(k, { iter: it, loss: loss.toFixed(4) }),
    })) {
      const r = step.result;
      results.push(r);
      bar.update(r.taskIndex + 1, { iter: r.totalIterations, loss: r.finalLoss.toFixed(4) });
      bar.log(
        `task ${r.taskIndex + 1}/${plan.protocol.tasks}: ${r.converged ? `converged in ${r.iterations} iterations` : `FAILED (${r.failure}) after ${r.totalIterations}, counted as ${r.iterations}`} ` +
          `(${r.trialsToCriterion} trials), held-out accuracy ${(r.accuracy * 100).toFixed(0)}%` +
          `${Number.isFinite(r.activeNeurons) ? `, ${((r.firingRate * 1000) / plan.protocol.dt).toFixed(1)} Hz, ${r.activeNeurons}/${r.neurons} neurons active${isNearSilent(r) ? ' (near-silent)' : ''}` : ''}` +
          `, ${(r.wallMs / 1000).toFixed(1)} s`,
      );
    }
  } finally {
    bar.stop();
  }
  const metrics = sequenceMetrics(results);
  const wallMs = Date.now() - started;
  const definition = {
    family: plan.family,
    familyRule: getFamily(plan.family).rule,
    model: plan.model,
    space: plan.space,
    // The learnable set the spiking models used (ip-random's is drawn from the seed).
    mask: (SPIKING_MODELS as readonly string[]).includes(plan.model)
      ? spikingMask(plan.model as SpikingModel, plan.space, runSeeds(plan.seed).network, plan.mask)
      : undefined,
    seed: plan.seed,
    hidden: plan.hidden,
    lr: plan.lr,
    loss: plan.loss,
    network: plan.network,
    preset: plan.preset,
    protocol: plan.protocol,
    ...(f.fixed ? { fixedConfig: f.fixed } : {}),
  };
  const svg = await renderSvg(
    adaptationCurveSpec(
      [
        {
          label,
          points: results.map((r) => ({ task: r.taskIndex, iterations: r.iterations, converged: r.converged })),
        },
      ],
      `${plan.family}: adaptation speed`,
    ),
  );
  writeAtomic(join(out, 'tasks.csv'), toCsv(TASK_COLUMNS, results as unknown as Record<string, unknown>[]));
  writeAtomic(
    join(out, 'timings.csv'),
    toCsv(
      ['taskIndex', 'wallMs'],
      results.map((r) => ({ taskIndex: r.taskIndex, wallMs: r.wallMs.toFixed(1) })),
    ),
  );
  const parameters = learner.parameterCount?.() ?? null;
  writeAtomic(
    join(out, 'results.json'),
    toJson({ definition, engine: learner.info, parameters, metrics, wallMs, tasks: results }),
  );
  writeAtomic(join(out, 'curve.svg'), svg);
  learner.dispose();
  const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : String(x));
  process.stdout.write(
    [
      `${label} on ${plan.family}, ${results.length} tasks, seed ${plan.seed} (${plan.hidden} units, ${parameters ?? '?'} parameters; ${learner.info.engine}/${learner.info.backend}, ${(wallMs / 1000).toFixed(1)} s)`,
      `adaptation curve (iterations to criterion): ${results.map((r) => (r.converged ? r.iterations : `${r.iterations}✗`)).join(' ')}`,
      `failures ${metrics.failures} · final efficiency ${fmt(metrics.finalEfficiency)} · speed-up ${fmt(metrics.speedUp)}× · L2L slope ${fmt(metrics.l2lSlope)} · AUC ${metrics.auc}`,
      `wrote ${join(out, 'results.json')}, tasks.csv, timings.csv, curve.svg`,
      '',
    ].join('\n'),
  );
}

import { Command, Option } from 'commander';
import { PROPERTY_INFO, PROPERTY_KEYS, PAPER_SPACE, parsePropertyKeys } from '@ip2/snn';
import {
  CURRENT_MODEL_VERSION,
  MODEL_VERSIONS,
  PROPERTY_OPTIMIZERS,
  READOUTS,
  DEFAULT_SCORE_METRIC,
  SCORE_METRICS,
  STRATEGY_KINDS,
  type ModelVersion,
  type PropertyOptimizer,
  type Readout,
  type SearchDefinitionInput,
} from '@ip2/search';
import { FAMILY_IDS, listFamilies } from '@ip2/tasks';
import { definitionWithConfig } from './config-file.js';
import { nonNegativeInt, oneOf, parseFlag, positiveInt, positiveNumber, UsageError } from './errors.js';
import { PRESETS, PRESET_NAMES, type Preset } from './presets.js';

/** The flags that describe a search definition: the same for `ip2 search` (here) and `ip2 submit` (a server). */
export interface DefinitionFlags extends ModelFlags {
  family: string;
  space?: string;
  strategy: string;
  preset: string;
  seeds?: string;
  tasks?: string;
  seed?: string;
  eta?: string;
  minTasks?: string;
  masks?: string;
  hidden?: string;
  cap?: string;
  window?: string;
  epsilon?: string;
  batch?: string;
  lr?: string;
  loss?: string;
  score?: string;
  validationSeeds?: string;
  /** --config: a JSON file with a search definition; the flags given explicitly override it. */
  config?: string;
  /** The flags given on the command line (set by addDefinitionOptions' hook). */
  explicit?: string[];
}

/**
 * Adds `--config <file.json>` to a command, and a hook that records in `explicit` which flags were
 * typed on the command line (not defaults): those override the file's fields.
 */
export function addConfigOption(cmd: Command): Command {
  cmd.hook('preAction', (_program, action) => {
    const typed = action.options.map((o) => o.attributeName()).filter((n) => action.getOptionValueSource(n) === 'cli');
    action.setOptionValue('explicit', typed);
  });
  return cmd.option(
    '--config <file.json>',
    'search definition (JSON, as POST /v1/searches takes it); flags given explicitly override its fields',
  );
}

/** Adds the definition flags, each with its default, and --config to a command. */
export function addDefinitionOptions(cmd: Command): Command {
  addConfigOption(cmd)
    .addOption(new Option('--family <id>', 'task family').default('sma'))
    .option('--space <keys>', 'search space: comma-separated property keys (default: tauD,tauS,theta)')
    .addOption(new Option('--strategy <name>', 'search strategy').choices(STRATEGY_KINDS).default('successive-halving'))
    .addOption(new Option('--preset <name>', 'network size and protocol').choices(PRESET_NAMES).default('quick'))
    .option('--seeds <n>', 'runs (seeds) per candidate mask (default: from the preset)')
    .option('--tasks <n>', 'tasks per run (default: from the preset)')
    .option('--seed <n>', 'base seed: every run seed derives from it', '1')
    .option('--eta <n>', 'successive halving: keep the best 1/eta per rung (default 3)')
    .option('--min-tasks <n>', 'successive halving: tasks of the shortest rung (default: from the preset)')
    .option('--masks <n>', 'random strategy: number of masks drawn (default: 4, at most all masks)')
    .option('--hidden <n>', 'neurons (default: from the preset)')
    .option('--cap <n>', 'iteration cap per task (default: from the preset)')
    .option('--window <n>', 'convergence window (default: from the preset)')
    .option('--epsilon <x>', 'convergence threshold (default: from the preset)')
    .option('--batch <n>', "trials per training iteration (default: the family's number of conditions)")
    .option('--lr <x>', 'learning rate of the weights (default: from the preset)')
    .option('--loss <kind>', 'task loss: mse or xent', 'mse');
  return addModelOptions(cmd)
    .option(
      '--score <metric>',
      `ranking metric: ${SCORE_METRICS.join(', ')} (restricted-mean: mean iterations per task, a failure at the cap; failures-first: fewest failures, then failure-free efficiency)`,
      DEFAULT_SCORE_METRIC,
    )
    .option(
      '--validation-seeds <n>',
      'after the decision, train the chosen mask, the runner-up and both controls on this many fresh seeds and record the verdict (confirmed, tie, overturned); 0: no validation (default: from the preset)',
    );
}

/** The flags of the model's settings: the same for ip2 search, submit and l2l. */
export interface ModelFlags {
  modelVersion?: string;
  propertyOptimizer?: string;
  propertyLr?: string;
  readout?: string;
}

/** Largest --property-lr (as the definition's protocol.network.propertyLr). */
const MAX_PROPERTY_LR = 10;

/** Adds --model-version, --property-optimizer, --property-lr and --readout, each with its default. */
export function addModelOptions(cmd: Command): Command {
  return cmd
    .option(
      '--model-version <n>',
      `version of the model's defaults: ${MODEL_VERSIONS.join(' or ')} (2: the revised defaults, spike readout; 1: the first, membrane readout)`,
      String(CURRENT_MODEL_VERSION),
    )
    .option(
      '--property-optimizer <name>',
      `how the learnable intrinsic properties step: ${PROPERTY_OPTIMIZERS.join(' or ')} (sgd: the paper's plain gradient step)`,
      'adam',
    )
    .option(
      '--property-lr <x>',
      `learning rate of the intrinsic properties, at most ${MAX_PROPERTY_LR} (default: the weights' --lr; --model-version 1: 0.01)`,
    )
    .option(
      '--readout <kind>',
      `what the outputs read: ${READOUTS.join(' or ')} (default: the model version's, 2: spikes, 1: membrane)`,
    );
}

/** The model settings the flags give, validated (a UsageError naming the flag); absent ones are left out. */
export function modelSettingsFromFlags(f: ModelFlags): {
  modelVersion?: ModelVersion;
  propertyOptimizer?: PropertyOptimizer;
  propertyLr?: number;
  readout?: Readout;
} {
  const version = oneOf(
    '--model-version',
    f.modelVersion,
    MODEL_VERSIONS.map((v) => String(v)),
  );
  const optimizer = oneOf('--property-optimizer', f.propertyOptimizer, PROPERTY_OPTIMIZERS);
  const lr = positiveNumber('--property-lr', f.propertyLr);
  if (lr !== undefined && lr > MAX_PROPERTY_LR) {
    throw new UsageError(`--property-lr: expected a positive number ≤ ${MAX_PROPERTY_LR}, got '${f.propertyLr}'`);
  }
  const readout = oneOf('--readout', f.readout, READOUTS);
  return {
    ...(version === undefined ? {} : { modelVersion: Number(version) as ModelVersion }),
    ...(optimizer === undefined ? {} : { propertyOptimizer: optimizer }),
    ...(lr === undefined ? {} : { propertyLr: lr }),
    ...(readout === undefined ? {} : { readout }),
  };
}

export const familiesHelp = () =>
  listFamilies()
    .map((f) => `  ${f.id.padEnd(10)} ${f.title}`)
    .join('\n');
export const propertiesHelp = () => PROPERTY_KEYS.map((k) => `  ${k.padEnd(10)} ${PROPERTY_INFO[k].name}`).join('\n');
export const presetsHelp = () =>
  PRESET_NAMES.map((p) => {
    const x = PRESETS[p];
    return `  ${p.padEnd(10)} ${x.description} (hidden ${x.hidden}, tasks ${x.tasks}, cap ${x.cap}, window ${x.window}, ε ${x.epsilon}, validation seeds ${x.validationSeeds})`;
  }).join('\n');

/** The search definition of the flags, over the --config file if one is given (validated; names the flag on error). */
export function definitionFromFlags(f: DefinitionFlags): SearchDefinitionInput {
  const fromFlags = flagsDefinition(f);
  return f.config === undefined ? fromFlags : definitionWithConfig(f.config, fromFlags, f.explicit ?? []);
}

/** The batch size field of a definition's protocol: absent (the family's default) unless one is given. */
const batchOf = (n: number | undefined) => (n === undefined ? {} : { batchSize: n });

/** The search definition the flags alone describe. */
function flagsDefinition(f: DefinitionFlags): SearchDefinitionInput {
  const preset = oneOf('--preset', f.preset, PRESET_NAMES)!;
  const p: Preset = PRESETS[preset];
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
      ...batchOf(positiveInt('--batch', f.batch, 4096) ?? p.batchSize),
      evalBatch: p.evalBatch,
      network: {
        hidden: positiveInt('--hidden', f.hidden, 8192) ?? p.hidden,
        dt: 20,
        lr: positiveNumber('--lr', f.lr) ?? p.lr,
        loss: oneOf('--loss', f.loss, ['mse', 'xent'] as const) ?? 'mse',
        ...modelSettingsFromFlags(f),
      },
    },
    score: { metric: oneOf('--score', f.score, SCORE_METRICS) ?? DEFAULT_SCORE_METRIC },
    validation: { seeds: nonNegativeInt('--validation-seeds', f.validationSeeds, 1000) ?? p.validationSeeds },
  };
}

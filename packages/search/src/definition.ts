import { CURRENT_MODEL_VERSION, MODEL_VERSIONS, PAPER_SPACE, PROPERTY_KEYS, type ModelVersion } from '@ip2/snn';
import { z } from 'zod';
import { halvingSchedule, scheduleCost, singleRung, type Rung } from './schedule.js';

/** Ranking metrics a search can be scored by (SCIENCE.md §6); see score.ts for the exact rules. */
export const SCORE_METRICS = [
  'final-efficiency',
  'auc',
  'speed-up',
  'l2l-slope',
  'restricted-mean',
  'failures-first',
] as const;
export type ScoreMetric = (typeof SCORE_METRICS)[number];

/**
 * The metric a definition without `score.metric` is ranked by: the restricted mean of the iterations to
 * criterion, a failed task counted at the cap (docs/local-mode.md, "Scores": it uses every task of the
 * sequence, has one meaning whatever fails, and is what the validation's intervals are read in).
 */
export const DEFAULT_SCORE_METRIC: ScoreMetric = 'restricted-mean';

/**
 * What the validation on fresh seeds says of the search's choice, judged by the paired interval of its
 * advantage over the runner-up: `confirmed` (the interval lies above 0: the choice holds on new sequences),
 * `tie` (it contains 0: on new sequences the two cannot be told apart), `overturned` (it lies below 0: the
 * runner-up is better on new sequences), or `unvalidated` (validation.seeds 0).
 */
export const VERDICTS = ['confirmed', 'tie', 'overturned', 'unvalidated'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Fresh seeds the validation stage trains each validated mask on, when a definition names none. */
export const DEFAULT_VALIDATION_SEEDS = 3;

/** The validation seeds of a stored definition without `validation`: it was made before validation existed. */
export const STORED_DEFAULT_VALIDATION_SEEDS = 0;

export const STRATEGY_KINDS = ['exhaustive', 'successive-halving', 'random'] as const;
export type StrategyKind = (typeof STRATEGY_KINDS)[number];

/** Optimisers of the learnable intrinsic properties (protocol.network.propertyOptimizer). */
export const PROPERTY_OPTIMIZERS = ['adam', 'sgd'] as const;
export type PropertyOptimizer = (typeof PROPERTY_OPTIMIZERS)[number];

/** What a network's outputs read (protocol.network.readout). */
export const READOUTS = ['spikes', 'membrane'] as const;
export type Readout = (typeof READOUTS)[number];

/** The model versions of @ip2/snn, for the service packages that build on this one. */
export { CURRENT_MODEL_VERSION, MODEL_VERSIONS, type ModelVersion };

/** The model version a stored definition without `protocol.network.modelVersion` was written under. */
export const STORED_DEFAULT_MODEL_VERSION: ModelVersion = 1;

const integer = (field: string, min: number, max: number) =>
  z
    .number({ error: `${field} must be a number` })
    .int({ error: `${field} must be an integer` })
    .min(min, { error: `${field} must be at least ${min}` })
    .max(max, { error: `${field} must be at most ${max}` });

const positive = (field: string, max = Number.MAX_VALUE) =>
  z
    .number({ error: `${field} must be a finite number` })
    .positive({ error: `${field} must be positive` })
    .max(max, { error: `${field} must be at most ${max}` });

const strict = (field: string) => ({
  error: (iss: { code?: string; keys?: readonly string[] }) =>
    iss.code === 'unrecognized_keys'
      ? `${field}: unknown field(s) ${(iss.keys ?? []).map((k) => `'${k}'`).join(', ')}`
      : `${field} must be an object`,
});

const protocolSchema = z
  .object(
    {
      /** Task instances per run (one L2L sequence). */
      tasks: integer('protocol.tasks', 1, 100_000).default(100),
      /** Runs per candidate; run s uses seed deriveSeed(baseSeed, 'run', s) for every candidate. */
      seeds: integer('protocol.seeds', 1, 1000).default(5),
      baseSeed: integer('protocol.baseSeed', 0, 0xffffffff).default(1),
      criterion: z
        .object(
          {
            /** Iterations over which the mean task loss is taken. */
            window: integer('protocol.criterion.window', 1, 100_000).default(50),
            /** Convergence threshold on that mean. */
            epsilon: positive('protocol.criterion.epsilon').default(0.005),
          },
          strict('protocol.criterion'),
        )
        .strict()
        .prefault({}),
      /** Iterations after which a task counts as failed. */
      iterationCap: integer('protocol.iterationCap', 2, 10_000_000).default(20_000),
      /**
       * Trials per training iteration, conditions balanced within each batch. Absent: the family's number
       * of conditions (batchSizeFor of @ip2/l2l), so that every batch holds each condition once.
       */
      batchSize: integer('protocol.batchSize', 1, 4096)
        .optional()
        .describe("Trials per training iteration; default: the family's number of conditions"),
      /** Trials of the held-out batch on which each task's accuracy is measured. */
      evalBatch: integer('protocol.evalBatch', 1, 4096).default(32),
      network: z
        .object(
          {
            hidden: integer('protocol.network.hidden', 1, 8192).default(100),
            /** Time step in ms. */
            dt: positive('protocol.network.dt', 1000).default(20),
            /** Learning rate of the synaptic weights. */
            lr: positive('protocol.network.lr', 1).default(1e-3),
            /** Task loss form. */
            loss: z.enum(['mse', 'xent'], { error: 'protocol.network.loss must be one of mse, xent' }).default('mse'),
            /**
             * Which version of the model's defaults the runs' networks take (@ip2/snn, SCIENCE.md §2–§4): 2, the
             * revised fair testbed; 1, the first. A stored definition without it was written under version 1
             * (parseStoredSearchDefinition).
             */
            modelVersion: z
              .literal(MODEL_VERSIONS, {
                error: `protocol.network.modelVersion must be one of ${MODEL_VERSIONS.join(', ')}`,
              })
              .default(CURRENT_MODEL_VERSION)
              .describe("Version of the model's defaults: 2 (revised), 1 (first); a stored definition without it is 1"),
            /** How the learnable intrinsic properties step: 'adam' (with the weights) or 'sgd' (the paper's P ← P − η ∇P L). */
            propertyOptimizer: z
              .enum(PROPERTY_OPTIMIZERS, {
                error: `protocol.network.propertyOptimizer must be one of ${PROPERTY_OPTIMIZERS.join(', ')}`,
              })
              .default('adam')
              .describe("Optimiser of the learnable intrinsic properties: adam, or sgd (the paper's plain step)"),
            /**
             * η of every learnable property. Absent: the model version's default (version 2: the weights' lr;
             * version 1: 1e-2).
             */
            propertyLr: positive('protocol.network.propertyLr', 10)
              .optional()
              .describe("Learning rate of the intrinsic properties; default: the weights' lr (model version 1: 0.01)"),
            /** What the outputs read. Absent: the model version's default (version 2: 'spikes'; version 1: 'membrane'). */
            readout: z
              .enum(READOUTS, { error: `protocol.network.readout must be one of ${READOUTS.join(', ')}` })
              .optional()
              .describe(
                "Readout: spikes (leaky output units) or membrane; default: the model version's (2: spikes, 1: membrane)",
              ),
          },
          strict('protocol.network'),
        )
        .strict()
        .prefault({}),
    },
    strict('protocol'),
  )
  .strict();

const strategySchema = z.discriminatedUnion(
  'kind',
  [
    z.object({ kind: z.literal('exhaustive') }, strict('strategy')).strict(),
    z
      .object(
        {
          kind: z.literal('successive-halving'),
          /** Keep the best 1/eta of the candidates at each rung. */
          eta: integer('strategy.eta', 2, 64).default(3),
          /** No rung is shorter than this many tasks (nor longer than protocol.tasks). */
          minTasks: integer('strategy.minTasks', 1, 100_000).default(10),
        },
        strict('strategy'),
      )
      .strict(),
    z
      .object(
        {
          kind: z.literal('random'),
          /** Masks drawn without replacement from the 2^K. */
          n: integer('strategy.n', 1, 1 << PROPERTY_KEYS.length),
        },
        strict('strategy'),
      )
      .strict(),
  ],
  { error: `strategy.kind must be one of ${STRATEGY_KINDS.join(', ')}` },
);

/**
 * A meta-IP search (SCIENCE.md §4): which of the space's intrinsic properties should be learnable for
 * a task family. Every field has a default except `family`.
 */
export const searchDefinitionSchema = z
  .object(
    {
      /** Task family id; whether the family exists is checked by the caller. */
      family: z
        .string({ error: 'family must be a string' })
        .min(1, { error: 'family must not be empty' })
        .max(64, { error: 'family must be at most 64 characters' })
        .regex(/^[a-z0-9-]+$/, { error: 'family must use only a-z, 0-9 and -' }),
      /** The properties a mask ranges over, in bit order. */
      space: z
        .array(
          z.enum(PROPERTY_KEYS, {
            error: (iss) =>
              `${(iss.path ?? ['space']).map(String).join('.')}: unknown property '${String(iss.input)}'; valid: ${PROPERTY_KEYS.join(', ')}`,
          }),
          { error: 'space must be an array of property keys' },
        )
        .min(1, { error: 'space must name at least one property' })
        .max(PROPERTY_KEYS.length, { error: `space must name at most ${PROPERTY_KEYS.length} properties` })
        .default([...PAPER_SPACE]),
      protocol: protocolSchema.prefault({}),
      strategy: strategySchema.default({ kind: 'exhaustive' }),
      /** Optional ceiling on the total number of task trainings the strategy may ask for. */
      budget: z
        .object({ maxTaskTrainings: integer('budget.maxTaskTrainings', 1, Number.MAX_SAFE_INTEGER) }, strict('budget'))
        .strict()
        .optional(),
      score: z
        .object(
          {
            metric: z
              .enum(SCORE_METRICS, { error: `score.metric must be one of ${SCORE_METRICS.join(', ')}` })
              .default(DEFAULT_SCORE_METRIC),
            /** Penalty per failed task; the default depends on the metric (score.ts). */
            failurePenalty: z
              .number({ error: 'score.failurePenalty must be a finite number' })
              .nonnegative({ error: 'score.failurePenalty must not be negative' })
              .optional(),
          },
          strict('score'),
        )
        .strict()
        .prefault({}),
      /**
       * After the decision, the chosen mask, the runner-up, `rsnn-noip` and `ip-inner` each train `seeds` more
       * runs on fresh seeds (never one of the search's) for the full protocol; the fixed configuration records
       * the verdict (validation.ts). 0: no validation (verdict `unvalidated`).
       */
      validation: z
        .object(
          {
            seeds: integer('validation.seeds', 0, 1000)
              .default(DEFAULT_VALIDATION_SEEDS)
              .describe('Fresh seeds per validated mask after the decision (0: no validation)'),
          },
          strict('validation'),
        )
        .strict()
        .prefault({}),
      bootstrap: z
        .object(
          {
            resamples: integer('bootstrap.resamples', 10, 1_000_000).default(2000),
            level: z
              .number({ error: 'bootstrap.level must be a number' })
              .gt(0, { error: 'bootstrap.level must be between 0 and 1' })
              .lt(1, { error: 'bootstrap.level must be between 0 and 1' })
              .default(0.95),
          },
          strict('bootstrap'),
        )
        .strict()
        .prefault({}),
    },
    strict('search definition'),
  )
  .strict()
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    for (const [i, k] of d.space.entries()) {
      if (seen.has(k))
        ctx.addIssue({ code: 'custom', path: ['space', i], message: `space.${i}: duplicate property '${k}'` });
      seen.add(k);
    }
    const masks = 2 ** d.space.length;
    if (d.strategy.kind === 'random' && d.strategy.n > masks) {
      ctx.addIssue({
        code: 'custom',
        path: ['strategy', 'n'],
        message: `strategy.n must be at most ${masks} (the masks of a ${d.space.length}-property space)`,
      });
    }
    if (d.protocol.iterationCap <= d.protocol.criterion.window) {
      ctx.addIssue({
        code: 'custom',
        path: ['protocol', 'iterationCap'],
        message: `protocol.iterationCap (${d.protocol.iterationCap}) must exceed protocol.criterion.window (${d.protocol.criterion.window})`,
      });
    }
    if (d.score.metric === 'l2l-slope') {
      if (d.protocol.tasks < 2) {
        ctx.addIssue({
          code: 'custom',
          path: ['protocol', 'tasks'],
          message: 'protocol.tasks must be at least 2 to score by l2l-slope',
        });
      }
      if (d.strategy.kind === 'successive-halving' && d.strategy.minTasks < 2) {
        ctx.addIssue({
          code: 'custom',
          path: ['strategy', 'minTasks'],
          message: 'strategy.minTasks must be at least 2 to score by l2l-slope',
        });
      }
    }
    if (d.budget !== undefined && !(d.strategy.kind === 'random' && d.strategy.n > masks)) {
      const cost = plannedTaskTrainings(d);
      if (cost > d.budget.maxTaskTrainings) {
        const validation = validationTaskTrainings(d);
        ctx.addIssue({
          code: 'custom',
          path: ['budget', 'maxTaskTrainings'],
          message: `budget.maxTaskTrainings (${d.budget.maxTaskTrainings}) is below the ${cost} task trainings the ${d.strategy.kind} strategy needs${validation > 0 ? ` with its validation (${validation}; validation.seeds 0 skips it)` : ''}`,
        });
      }
    }
  });

export type SearchDefinitionInput = z.input<typeof searchDefinitionSchema>;
type Parsed = z.output<typeof searchDefinitionSchema>;

/** A validated search definition with every default filled in, the failure penalty included. */
export type SearchDefinition = Omit<Parsed, 'score'> & {
  readonly score: { readonly metric: ScoreMetric; readonly failurePenalty: number };
};
export type StrategyDefinition = Parsed['strategy'];
export type SearchProtocol = Parsed['protocol'];

export interface DefinitionIssue {
  readonly path: string;
  readonly message: string;
}

export class SearchDefinitionError extends Error {
  readonly issues: readonly DefinitionIssue[];
  constructor(issues: readonly DefinitionIssue[]) {
    super(
      issues
        .map((i) => (i.path === '' || i.message.startsWith(i.path) ? i.message : `${i.path}: ${i.message}`))
        .join('; '),
    );
    this.name = 'SearchDefinitionError';
    this.issues = issues;
  }
}

/**
 * The failure penalty a metric gets when none is given: one iteration cap per failure for the final
 * efficiency and the AUC; none for the restricted mean (a failed task already counts at the cap); for
 * `failures-first`, the cap times the most seeds any of its means is taken over (`seeds`: the larger of
 * protocol.seeds and validation.seeds), so that one failure more over the seeds outweighs any difference
 * in failure-free efficiency (score.ts); 1 for the L2L slope (added) and for the speed-up (divisor 1 + failures).
 */
export function defaultFailurePenalty(metric: ScoreMetric, iterationCap: number, seeds = 1): number {
  switch (metric) {
    case 'final-efficiency':
    case 'auc':
      return iterationCap;
    case 'restricted-mean':
      return 0;
    case 'failures-first':
      return iterationCap * Math.max(1, seeds);
    default:
      return 1;
  }
}

/** Validates a search definition and fills in defaults; throws SearchDefinitionError naming each bad field. */
export function parseSearchDefinition(input: unknown): SearchDefinition {
  const r = searchDefinitionSchema.safeParse(input);
  if (!r.success) {
    throw new SearchDefinitionError(
      r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })),
    );
  }
  const d = r.data;
  return {
    ...d,
    score: {
      metric: d.score.metric,
      failurePenalty:
        d.score.failurePenalty ??
        defaultFailurePenalty(d.score.metric, d.protocol.iterationCap, Math.max(d.protocol.seeds, d.validation.seeds)),
    },
  };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * A stored search protocol as it must be read: one written before `network.modelVersion` existed ran
 * under version 1's defaults, and says so once read. Anything else is returned as it is.
 */
export function storedProtocol<T>(protocol: T): T {
  if (!isObject(protocol)) return protocol;
  const network = protocol.network;
  if (network !== undefined && !isObject(network)) return protocol;
  if (network !== undefined && 'modelVersion' in network) return protocol;
  return { ...protocol, network: { ...network, modelVersion: STORED_DEFAULT_MODEL_VERSION } };
}

/**
 * A stored search definition (the Search row's, the local store's search.json) as it must be read: see
 * storedProtocol. A new definition without `protocol.network.modelVersion` means the current version;
 * a stored one means version 1, the only one that existed before the field. Likewise a stored definition
 * without `validation` was made before the validation stage and is read with `validation.seeds` 0 (its
 * configuration is `unvalidated`), while a new one without it is validated on 3 seeds.
 */
export function storedDefinition<T>(definition: T): T {
  if (!isObject(definition)) return definition;
  const protocol = definition.protocol;
  if (protocol !== undefined && !isObject(protocol)) return definition;
  // A definition stored before the validation stage ran without one, and is read so.
  const validation = 'validation' in definition ? {} : { validation: { seeds: STORED_DEFAULT_VALIDATION_SEEDS } };
  return { ...definition, protocol: storedProtocol(protocol ?? {}), ...validation };
}

/** Validates a stored search definition (storedDefinition) and fills in defaults, as parseSearchDefinition. */
export function parseStoredSearchDefinition(stored: unknown): SearchDefinition {
  return parseSearchDefinition(storedDefinition(stored));
}

/** Number of candidates the definition's strategy evaluates. */
export function candidateCount(d: Pick<Parsed, 'space' | 'strategy'>): number {
  return d.strategy.kind === 'random' ? d.strategy.n : 2 ** d.space.length;
}

/** The rung schedule of the definition's strategy. */
export function scheduleOf(d: Pick<Parsed, 'space' | 'strategy' | 'protocol'>): Rung[] {
  const c = candidateCount(d);
  const s = d.strategy;
  return s.kind === 'successive-halving'
    ? halvingSchedule(c, d.protocol.tasks, s.eta, s.minTasks)
    : singleRung(c, d.protocol.tasks);
}

/**
 * Masks the validation stage trains at most: the chosen one, the runner-up, the empty and the full mask
 * (fewer when they coincide, as in a one-property space or when a control is chosen).
 */
export function validationMaskBound(d: Pick<Parsed, 'space'>): number {
  return Math.min(4, 2 ** d.space.length);
}

/** Task trainings the validation stage costs at most: validationMaskBound × validation.seeds × protocol.tasks. */
export function validationTaskTrainings(d: Pick<Parsed, 'space' | 'protocol' | 'validation'>): number {
  return validationMaskBound(d) * d.validation.seeds * d.protocol.tasks;
}

/**
 * Task trainings the whole search costs from an empty table, its validation included (an upper bound
 * there: see validationMaskBound); what `budget` is checked against.
 */
export function plannedTaskTrainings(d: Pick<Parsed, 'space' | 'strategy' | 'protocol' | 'validation'>): number {
  return scheduleCost(scheduleOf(d), d.protocol.seeds) + validationTaskTrainings(d);
}

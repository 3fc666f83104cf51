/*
 * The HTTP API's schemas: request bodies, parameters and queries as the api validates them, and every view
 * it answers with (the OpenAPI document is generated from these). Browser-safe: zod, the search
 * definition and the model versions only, so the dashboard bundles this module as it is.
 */
import { MODEL_VERSIONS, PROPERTY_KEYS } from '@ip2/snn';
import { SCORE_METRICS, searchDefinitionSchema, VERDICTS, type SearchDefinitionInput } from '@ip2/search/definition';
import { z } from 'zod';

export { VERDICTS, type Verdict } from '@ip2/search/definition';

/** The states of a search, as stored and as sent (QUEUED → RUNNING → COMPLETE | FAILED | CANCELLED). */
export const SEARCH_STATES = ['QUEUED', 'RUNNING', 'COMPLETE', 'FAILED', 'CANCELLED'] as const;
export type SearchState = (typeof SEARCH_STATES)[number];

/** Why a task failed to converge: a non-finite loss, or the iteration cap reached. */
export const TASK_FAILURES = ['nan', 'cap'] as const;
export type TaskFailure = (typeof TASK_FAILURES)[number];

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const uuid = (field: string) =>
  z.string({ error: `${field} must be a string` }).regex(UUID, { error: `${field} must be a UUID` });

/**
 * The example body of POST /v1/searches in the OpenAPI document (what Swagger UI's "Try it out" sends): the
 * CLI's quick preset on family sma, as `ip2 submit --family sma` builds it (apps/cli checks that they agree).
 * A server with the default limits accepts it: 40 neurons, 288 task trainings with the validation.
 */
export const SEARCH_EXAMPLE: SearchDefinitionInput = {
  family: 'sma',
  space: ['tauD', 'tauS', 'theta'],
  strategy: { kind: 'successive-halving', eta: 3, minTasks: 4 },
  protocol: {
    tasks: 12,
    seeds: 3,
    baseSeed: 1,
    criterion: { window: 50, epsilon: 0.015 },
    iterationCap: 4000,
    evalBatch: 32,
    network: { hidden: 40, dt: 20, lr: 0.003, loss: 'mse', modelVersion: 2, propertyOptimizer: 'adam' },
  },
  score: { metric: 'restricted-mean' },
  validation: { seeds: 3 },
};

/**
 * The body of POST /v1/searches: the search definition of @ip2/search, as it is, with SEARCH_EXAMPLE as its
 * example (a JSON Schema `examples`, which @fastify/swagger makes the request body's example).
 */
export const searchBodySchema = searchDefinitionSchema.meta({ examples: [SEARCH_EXAMPLE] });

/**
 * `schema` with its `family` field documented as one of `families`: an OpenAPI `enum`, which Swagger UI
 * offers as a list. Only the document changes: the field keeps its own rules and messages, so that the api
 * still answers a well-formed family it does not run with a 422 naming those it does. The families are the
 * server's (FAMILY_IDS of @ip2/tasks), which this browser-safe module does not import.
 */
export function withFamilies<T extends z.ZodObject<{ family: z.ZodType }>>(schema: T, families: readonly string[]): T {
  const extended = schema.safeExtend({ family: schema.shape.family.meta({ enum: [...families] }) });
  // A new object schema: it keeps the checks but not the metadata (the examples), which it takes over; an id
  // would make it a second component of the same name.
  const { id: _id, ...meta } = z.globalRegistry.get(schema) ?? {};
  return extended.meta(meta) as unknown as T;
}

export const searchParamsSchema = z.object({ id: uuid('id') }).strict();
export const runParamsSchema = z.object({ id: uuid('id'), runId: uuid('runId') }).strict();
export const configParamsSchema = z.object({ id: uuid('id') }).strict();

const FAMILY = /^[a-z0-9-]{1,64}$/;
const familyQuery = z
  .string({ error: (iss) => (iss.input === undefined ? 'family is required' : 'family must be given once') })
  .regex(FAMILY, { error: 'family must be 1–64 characters of a-z, 0-9 and -' });

const intQuery = (field: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${field} must be an integer` })
    .int({ error: `${field} must be an integer` })
    .min(min, { error: `${field} must be at least ${min}` })
    .max(max, { error: `${field} must be at most ${max}` });

export const MAX_PAGE_SIZE = 100;

export const listSearchesQuerySchema = z
  .object(
    {
      limit: intQuery('limit', 1, MAX_PAGE_SIZE).default(20),
      cursor: uuid('cursor').optional().describe('The nextCursor of the previous page'),
      page: intQuery('page', 1, 1_000_000).optional().describe('1-based page number (instead of cursor)'),
      state: z.enum(SEARCH_STATES, { error: `state must be one of ${SEARCH_STATES.join(', ')}` }).optional(),
      family: familyQuery.optional(),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown query parameter(s) ${iss.keys.map((k) => `'${k}'`).join(', ')}`
          : undefined,
    },
  )
  .strict()
  .refine((q) => q.cursor === undefined || q.page === undefined, {
    error: 'give either cursor or page, not both',
    path: ['page'],
  });

export const noQuerySchema = z
  .object(
    {},
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown query parameter(s) ${iss.keys.map((k) => `'${k}'`).join(', ')}`
          : undefined,
    },
  )
  .strict();

export const resultsQuerySchema = z
  .object(
    {
      format: z
        .enum(['json', 'csv'], { error: "format must be 'json' or 'csv'" })
        .default('json')
        .describe('json (tasks.json) or csv (tasks.csv)'),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown query parameter(s) ${iss.keys.map((k) => `'${k}'`).join(', ')}`
          : undefined,
    },
  )
  .strict();

export const configsQuerySchema = z
  .object(
    {
      family: familyQuery,
      modelVersion: z.coerce
        .number({ error: `modelVersion must be one of ${MODEL_VERSIONS.join(', ')}` })
        .pipe(z.literal(MODEL_VERSIONS, { error: `modelVersion must be one of ${MODEL_VERSIONS.join(', ')}` }))
        // The document shows the accepted versions, not the number the query's text is coerced to first.
        .meta({ enum: [...MODEL_VERSIONS] })
        .optional()
        .describe("Only the configurations fixed under this version of the model's defaults"),
    },
    {
      error: (iss) =>
        iss.code === 'unrecognized_keys'
          ? `unknown query parameter(s) ${iss.keys.map((k) => `'${k}'`).join(', ')}`
          : undefined,
    },
  )
  .strict();

export const idempotencyHeaderSchema = z.object({
  'idempotency-key': z
    .string({ error: 'Idempotency-Key must be given once' })
    .min(1, { error: 'Idempotency-Key must not be empty' })
    .max(200, { error: 'Idempotency-Key must be at most 200 characters' })
    .regex(/^[\x21-\x7e]+$/, { error: 'Idempotency-Key must be printable ASCII without spaces' })
    .optional(),
});

export const eventsHeaderSchema = z.object({
  'last-event-id': z.string().max(200, { error: 'Last-Event-ID must be at most 200 characters' }).optional(),
});

const json = z.record(z.string(), z.unknown());
const time = z.string().describe('ISO 8601');
/** A number that may be non-finite in the database; sent as null then. */
const num = z.number().nullable();

export const searchStateSchema = z.enum(SEARCH_STATES);

export const searchViewSchema = z
  .object({
    id: z.string(),
    owner: z.string(),
    state: searchStateSchema,
    family: z.string(),
    space: z.array(z.string()),
    strategy: json,
    protocol: json,
    definition: json,
    maxTaskTrainings: z.number().nullable(),
    plannedTaskTrainings: z.number(),
    idempotencyKey: z.string().nullable(),
    error: z.string().nullable(),
    createdAt: time,
    updatedAt: time,
    startedAt: time.nullable(),
    finishedAt: time.nullable(),
    links: z.object({
      self: z.string(),
      candidates: z.string(),
      events: z.string(),
      report: z.string(),
      results: z.string(),
      importance: z.string(),
    }),
  })
  .meta({ id: 'Search' });

export const searchListSchema = z
  .object({
    items: z.array(searchViewSchema),
    nextCursor: z.string().nullable(),
    page: z.number().optional(),
    total: z.number().optional(),
    links: z.object({ next: z.string().nullable() }),
  })
  .meta({ id: 'SearchList' });

export const runViewSchema = z.object({
  id: z.string(),
  seedIndex: z.number(),
  seed: z.number(),
  state: z.string(),
  tasksDone: z.number(),
  attempts: z.number(),
  heartbeatAt: time.nullable(),
  workerHost: z.string().nullable(),
  engine: z.string().nullable(),
  backend: z.string().nullable(),
  error: z.string().nullable(),
  links: z.object({ tasks: z.string() }),
});

export const candidateViewSchema = z
  .object({
    id: z.string(),
    bits: z.string(),
    keys: z.array(z.string()),
    role: z.string(),
    rung: z.number(),
    state: z.string(),
    score: z.object({ mean: num, lo: num, hi: num }).nullable(),
    runs: z.array(runViewSchema),
  })
  .meta({ id: 'Candidate' });

export const candidateListSchema = z.object({ searchId: z.string(), items: z.array(candidateViewSchema) });

export const taskViewSchema = z
  .object({
    taskIndex: z.number(),
    iterations: num.describe(
      'Iterations to criterion: iterations spent − convergence window, converged or not (censored when failed)',
    ),
    trialsToCriterion: num.describe('iterations × batchSize (null on results recorded before it was)'),
    batchSize: num.describe('Trials per training iteration (null on results recorded before it was)'),
    totalIterations: z.number(),
    converged: z.boolean(),
    failure: z.enum(TASK_FAILURES).nullable(),
    finalLoss: num,
    accuracy: num,
    heldOutLoss: num,
    firingRate: num.describe('Mean spikes per hidden neuron per step on the held-out batch (null: non-spiking)'),
    activeNeurons: num.describe('Hidden neurons that spiked on the held-out batch after the task (null: non-spiking)'),
    neurons: num.describe('Hidden neurons of the network'),
    fractionSilent: num.describe('1 − activeNeurons / neurons (null: non-spiking)'),
    wallMs: num,
  })
  .meta({ id: 'TaskResult' });

export const learningCurveSchema = z.object({
  searchId: z.string(),
  runId: z.string(),
  candidate: z.string(),
  seedIndex: z.number(),
  state: z.string(),
  items: z.array(taskViewSchema),
});

export const fixedConfigViewSchema = z
  .object({
    id: z.string(),
    family: z.string(),
    version: z.number(),
    modelVersion: z
      .number()
      .describe(
        "The version of the model's defaults the configuration was measured under (1 for records that name none)",
      ),
    bits: z.string(),
    verdict: z
      .enum(VERDICTS)
      .describe(
        "The validation of the search's choice on fresh seeds: confirmed, tie, overturned (the configuration then fixes the runner-up), or unvalidated (validation.seeds 0, or a record fixed before validation existed)",
      ),
    hash: z.string(),
    searchId: z.string().nullable(),
    createdAt: time,
    record: json,
  })
  .meta({ id: 'FixedConfig' });

export const fixedConfigListSchema = z.object({ family: z.string(), items: z.array(fixedConfigViewSchema) });

const intervalSchema = z.object({ mean: num, lo: num, hi: num });

const effectSchema = z.object({
  keys: z.array(z.enum(PROPERTY_KEYS)).describe('The property (main effect) or the pair (interaction)'),
  effect: intervalSchema.describe('Mean over seeds with its bootstrap interval'),
  reading: z
    .enum(['helps', 'hurts', 'unclear'])
    .describe('helps: the interval lies on the better side of 0; hurts: on the worse side; unclear: it contains 0'),
});

export const importanceViewSchema = z
  .object({
    searchId: z.string(),
    state: searchStateSchema,
    importance: z
      .object({
        metric: z.enum(SCORE_METRICS).describe('The score the effects are on (the search definition’s score.metric)'),
        direction: z.enum(['lower', 'higher']).describe('Which way the score is better'),
        tasks: z.number().describe("The prefix of tasks every mask was measured on (the first rung's)"),
        seeds: z.number(),
        level: z.number(),
        main: z
          .array(effectSchema)
          .describe('Per property: mean score of the masks where it is learnable minus the mean where it is not'),
        interactions: z
          .array(effectSchema)
          .describe(
            'Per pair (k, l): the main effect of k among the masks where l is learnable minus among those where it is not',
          ),
      })
      .nullable()
      .describe('Null while not every mask has its first rung, or when the strategy does not measure every mask'),
    unavailable: z.string().nullable().describe('Why there is no importance (yet); null when there is'),
  })
  .meta({ id: 'PropertyImportance' });

export interface ProblemIssue {
  readonly path: string;
  readonly message: string;
}

/** RFC 9457 problem details, with the offending fields of a bad request in `errors`. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly errors?: readonly ProblemIssue[];
}

export const PROBLEM_TYPE = 'application/problem+json';

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'application/problem+json (RFC 9457)' });

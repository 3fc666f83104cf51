import { PROPERTY_KEYS } from '@ip2/snn';
import { z } from 'zod';

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1–64 characters of A-Z, a-z, 0-9, _ and -' });
const index = z.number().int().min(0).max(1_000_000);

/** Train tasks [fromTask, toTask) of one run from its last checkpoint (the inner loop). */
export const runTrainPayload = z
  .object({
    searchId: id,
    runId: id,
    candidate: z.string().regex(/^[01]{1,5}$/, { error: 'must be a mask label of 1–5 bits' }),
    seedIndex: index,
    seed: z.number().int().min(0).max(0xffffffff),
    keys: z.array(z.enum(PROPERTY_KEYS)).max(PROPERTY_KEYS.length),
    fromTask: index,
    toTask: index,
    rung: index,
  })
  .strict()
  .refine((p) => p.toTask > p.fromTask, { message: 'toTask must exceed fromTask', path: ['toTask'] });

export const runTrainResult = z
  .object({ tasksWritten: z.number().int().min(0), nextTask: index, engine: z.string(), backend: z.string() })
  .strict();

/** Ask the controller to look at a search again (after a chunk finished, or on a timer). */
export const searchAdvancePayload = z.object({ searchId: id, reason: z.string().max(200) }).strict();
export const searchAdvanceResult = z.object({ enqueued: z.number().int().min(0), done: z.boolean() }).strict();

/** Default runs of the chosen mask that a completed search's analyses train again (as `ip2 search`). */
export const DEFAULT_ANALYSIS_SEEDS = 2;

/** Analyse a completed search's chosen configuration (intrinsic distributions, lesions, modularity). */
export const searchAnalysePayload = z.object({ searchId: id, seeds: z.number().int().min(1).max(1000) }).strict();
export const searchAnalyseResult = z
  .object({
    runs: z.number().int().min(0),
    /** Replayed tasks that gave the stored result, of those compared. */
    reproduced: z.number().int().min(0),
    compared: z.number().int().min(0),
    wallSeconds: z.number().min(0),
  })
  .strict();

export interface JobContract<P extends z.ZodType, R extends z.ZodType> {
  readonly name: string;
  readonly queue: string;
  readonly payload: P;
  readonly result: R;
  readonly attempts: number;
  readonly backoffMs: number;
  /** Deterministic job id: re-submitting the same work is harmless. */
  jobId(payload: z.output<P>): string;
}

/**
 * Every job of the service: name → queue, payload and result schema, retry policy and job id. How long an
 * attempt may run is the worker's lock and its runs' heartbeats (LOCK_MS, STALE_MS), not the job's.
 */
export const JOBS = {
  'run.train': {
    name: 'run.train',
    queue: 'ip2-train',
    payload: runTrainPayload,
    result: runTrainResult,
    attempts: 5,
    backoffMs: 5_000,
    jobId: (p: z.output<typeof runTrainPayload>) => `run-${p.runId}-from-${p.fromTask}`,
  },
  'search.advance': {
    name: 'search.advance',
    queue: 'ip2-control',
    payload: searchAdvancePayload,
    result: searchAdvanceResult,
    attempts: 10,
    backoffMs: 1_000,
    // One pending advance per search is enough: later requests coalesce into it.
    jobId: (p: z.output<typeof searchAdvancePayload>) => `advance-${p.searchId}`,
  },
  'search.analyse': {
    name: 'search.analyse',
    queue: 'ip2-analysis',
    payload: searchAnalysePayload,
    result: searchAnalyseResult,
    attempts: 3,
    backoffMs: 10_000,
    // One analysis per search: the controller asking again (a repeated advance) adds nothing.
    jobId: (p: z.output<typeof searchAnalysePayload>) => `analyse-${p.searchId}`,
  },
} as const satisfies Record<string, JobContract<z.ZodType, z.ZodType>>;

export type JobName = keyof typeof JOBS;
export type JobPayload<N extends JobName> = z.output<(typeof JOBS)[N]['payload']>;
export type JobResult<N extends JobName> = z.output<(typeof JOBS)[N]['result']>;

/** A payload or result that does not match its contract: never worth retrying. */
export class InvalidJobError extends Error {
  constructor(
    readonly job: string,
    message: string,
  ) {
    super(`${job}: ${message}`);
    this.name = 'InvalidJobError';
  }
}

function check<T>(job: string, schema: z.ZodType<T>, data: unknown): T {
  const r = schema.safeParse(data);
  if (!r.success) {
    throw new InvalidJobError(
      job,
      r.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; '),
    );
  }
  return r.data;
}

export function parsePayload<N extends JobName>(name: N, data: unknown): JobPayload<N> {
  const c = JOBS[name] as unknown as JobContract<z.ZodType<JobPayload<N>>, z.ZodType>;
  if (!c) throw new InvalidJobError(String(name), 'unknown job name');
  return check(name, c.payload, data);
}

export function parseResult<N extends JobName>(name: N, data: unknown): JobResult<N> {
  const c = JOBS[name] as unknown as JobContract<z.ZodType, z.ZodType<JobResult<N>>>;
  return check(name, c.result, data);
}

export function jobId<N extends JobName>(name: N, payload: JobPayload<N>): string {
  return (JOBS[name].jobId as (p: JobPayload<N>) => string)(payload);
}

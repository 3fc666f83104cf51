import { parseEnv } from '@ip2/contracts';

export { EnvError } from '@ip2/contracts';
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';

/** An unset or empty variable is undefined (then takes its default, if any). */
const blank = (v: unknown) => (v === '' ? undefined : v);
const int = (min: number, max: number, fallback: number) =>
  z.preprocess((v) => blank(v) ?? fallback, z.coerce.number().int().min(min).max(max));

export const workerEnvSchema = z
  .object({
    REDIS_URL: z.preprocess(
      blank,
      z
        .string()
        .regex(/^rediss?:\/\/\S+$/, { error: 'must be a redis:// or rediss:// URL' })
        .default('redis://127.0.0.1:6379'),
    ),
    DATABASE_URL: z.preprocess(
      blank,
      z.string({ error: 'required' }).regex(/^postgres(ql)?:\/\/\S+$/, {
        error: 'must be a postgresql:// URL',
      }),
    ),
    WORKER_CONCURRENCY: int(1, 1024, availableParallelism()),
    WORKER_POPULATION: int(1, 64, 1),
    WORKER_THREADS: int(0, 256, 0),
    HEARTBEAT_MS: int(50, 3_600_000, 10_000),
    STALE_MS: int(100, 86_400_000, 60_000),
    LOCK_MS: int(1_000, 3_600_000, 30_000),
    QUEUE_PREFIX: z.preprocess(
      blank,
      z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1–64 characters of A-Z, a-z, 0-9, _, . and -' })
        .default('ip2'),
    ),
    WORKER_ID: z.preprocess(blank, z.string().min(1).max(200).optional()),
  })
  .refine((e) => e.STALE_MS > e.HEARTBEAT_MS, {
    message: 'must exceed HEARTBEAT_MS',
    path: ['STALE_MS'],
  });

export interface WorkerConfig {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly concurrency: number;
  /** Runs a job process trains together in lock-step (its job's run and up to population − 1 queued ones). */
  readonly population: number;
  /**
   * Worker threads a lock-step population is spread over (ThreadedPopulation, the same results);
   * 0: the job's process trains it on its own thread (FusedPopulation).
   */
  readonly threads: number;
  readonly heartbeatMs: number;
  readonly staleMs: number;
  readonly lockMs: number;
  readonly queuePrefix: string;
  readonly workerId: string;
  readonly host: string;
}

/** A wrong or missing environment variable; the message names each one. */
/** The worker's configuration from its environment (EnvError naming every wrong variable). */
export function parseWorkerEnv(env: Record<string, string | undefined>): WorkerConfig {
  const e = parseEnv(workerEnvSchema, env);
  const host = hostname();
  return {
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    concurrency: e.WORKER_CONCURRENCY,
    population: e.WORKER_POPULATION,
    threads: e.WORKER_THREADS,
    heartbeatMs: e.HEARTBEAT_MS,
    staleMs: e.STALE_MS,
    lockMs: e.LOCK_MS,
    queuePrefix: e.QUEUE_PREFIX,
    workerId: e.WORKER_ID ?? `${host}-${process.pid}`,
    host,
  };
}

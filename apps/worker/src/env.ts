import { blank, computeEnv, parseEnv, sharedEnv, type ComputeChoice } from '@ip2/contracts';

export { EnvError } from '@ip2/contracts';
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';

const int = (min: number, max: number, fallback: number) =>
  z.preprocess((v) => blank(v) ?? fallback, z.coerce.number().int().min(min).max(max));

export const workerEnvSchema = z
  .object({
    REDIS_URL: sharedEnv.REDIS_URL,
    DATABASE_URL: sharedEnv.DATABASE_URL,
    WORKER_CONCURRENCY: int(1, 1024, availableParallelism()),
    WORKER_POPULATION: int(1, 64, 1),
    WORKER_THREADS: int(0, 256, 0),
    HEARTBEAT_MS: int(50, 3_600_000, 10_000),
    STALE_MS: int(100, 86_400_000, 60_000),
    LOCK_MS: int(1_000, 3_600_000, 30_000),
    QUEUE_PREFIX: sharedEnv.QUEUE_PREFIX,
    SHUTDOWN_MS: sharedEnv.SHUTDOWN_MS,
    WORKER_ID: z.preprocess(blank, z.string().min(1).max(200).optional()),
    ...computeEnv,
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
  /** After SIGTERM or SIGINT, the process exits (code 1) when it has not closed within this (SHUTDOWN_MS). */
  readonly shutdownMs: number;
  readonly workerId: string;
  readonly host: string;
  /** The engine and TensorFlow.js backend every job trains on (IP2_ENGINE, IP2_TF_BACKEND; absent: the library's). */
  readonly compute: ComputeChoice;
  /** Whether a job process says which TensorFlow.js backend it uses (not with IP2_LOG=silent). */
  readonly logBackend: boolean;
}

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
    shutdownMs: e.SHUTDOWN_MS,
    workerId: e.WORKER_ID ?? `${host}-${process.pid}`,
    host,
    compute: {
      ...(e.IP2_ENGINE ? { engine: e.IP2_ENGINE } : {}),
      ...(e.IP2_TF_BACKEND ? { tfBackend: e.IP2_TF_BACKEND } : {}),
    },
    logBackend: e.IP2_LOG !== 'silent',
  };
}

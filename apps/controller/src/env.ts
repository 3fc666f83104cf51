import { blank, DEFAULT_ANALYSIS_SEEDS, parseEnv, sharedEnv } from '@ip2/contracts';

export { EnvError } from '@ip2/contracts';
import { z } from 'zod';

const int = (min: number, max: number, fallback: number) =>
  z.preprocess((v) => blank(v) ?? fallback, z.coerce.number().int().min(min).max(max));

export const controllerEnvSchema = z.object({
  REDIS_URL: sharedEnv.REDIS_URL,
  DATABASE_URL: sharedEnv.DATABASE_URL,
  CONTROLLER_CONCURRENCY: int(1, 256, 4),
  TICK_MS: int(100, 3_600_000, 5_000),
  STALE_MS: int(100, 86_400_000, 60_000),
  LOCK_MS: int(1_000, 3_600_000, 30_000),
  ANALYSIS_SEEDS: int(0, 1000, DEFAULT_ANALYSIS_SEEDS),
  QUEUE_PREFIX: sharedEnv.QUEUE_PREFIX,
  SHUTDOWN_MS: sharedEnv.SHUTDOWN_MS,
});

export interface ControllerConfig {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly concurrency: number;
  /** Period of the timer: reaper, and a look at every unfinished search. */
  readonly tickMs: number;
  /** A RUNNING run whose heartbeat is older than this is re-queued. */
  readonly staleMs: number;
  /**
   * BullMQ lock duration of a control job, and the stalled-job check period: a control job held by a
   * controller that died is taken up again after at most about twice this.
   */
  readonly lockMs: number;
  readonly queuePrefix: string;
  /** After SIGTERM or SIGINT, the process exits (code 1) when it has not closed within this (SHUTDOWN_MS). */
  readonly shutdownMs: number;
  /** Runs of the chosen mask a completed search's analyses train again (a search.analyse job); 0: none. */
  readonly analysisSeeds: number;
}

/** A wrong or missing environment variable; the message names each one. */
export function parseControllerEnv(env: Record<string, string | undefined>): ControllerConfig {
  const e = parseEnv(controllerEnvSchema, env);
  return {
    redisUrl: e.REDIS_URL,
    databaseUrl: e.DATABASE_URL,
    concurrency: e.CONTROLLER_CONCURRENCY,
    tickMs: e.TICK_MS,
    staleMs: e.STALE_MS,
    lockMs: e.LOCK_MS,
    queuePrefix: e.QUEUE_PREFIX,
    shutdownMs: e.SHUTDOWN_MS,
    analysisSeeds: e.ANALYSIS_SEEDS,
  };
}

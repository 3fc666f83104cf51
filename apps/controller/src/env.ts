import { DEFAULT_ANALYSIS_SEEDS, parseEnv } from '@ip2/contracts';

export { EnvError } from '@ip2/contracts';
import { z } from 'zod';

/** An unset or empty variable is undefined (then takes its default, if any). */
const blank = (v: unknown) => (v === '' ? undefined : v);
const int = (min: number, max: number, fallback: number) =>
  z.preprocess((v) => blank(v) ?? fallback, z.coerce.number().int().min(min).max(max));

export const controllerEnvSchema = z.object({
  REDIS_URL: z.preprocess(
    blank,
    z
      .string()
      .regex(/^rediss?:\/\/\S+$/, { error: 'must be a redis:// or rediss:// URL' })
      .default('redis://127.0.0.1:6379'),
  ),
  DATABASE_URL: z.preprocess(
    blank,
    z.string({ error: 'required' }).regex(/^postgres(ql)?:\/\/\S+$/, { error: 'must be a postgresql:// URL' }),
  ),
  CONTROLLER_CONCURRENCY: int(1, 256, 4),
  TICK_MS: int(100, 3_600_000, 5_000),
  STALE_MS: int(100, 86_400_000, 60_000),
  LOCK_MS: int(1_000, 3_600_000, 30_000),
  ANALYSIS_SEEDS: int(0, 1000, DEFAULT_ANALYSIS_SEEDS),
  QUEUE_PREFIX: z.preprocess(
    blank,
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1–64 characters of A-Z, a-z, 0-9, _, . and -' })
      .default('ip2'),
  ),
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
    analysisSeeds: e.ANALYSIS_SEEDS,
  };
}

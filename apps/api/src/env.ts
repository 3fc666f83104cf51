import { blank, parseEnv, sharedEnv } from '@ip2/contracts';

export { EnvError } from '@ip2/contracts';
import { z } from 'zod';

const int = (min: number, max: number, fallback: number) =>
  z.preprocess(
    (v) => blank(v) ?? fallback,
    z.coerce
      .number({ error: 'must be an integer' })
      .int({ error: 'must be an integer' })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );

export const apiEnvSchema = z.object({
  PORT: int(0, 65_535, 3000),
  HOST: z.preprocess(blank, z.string().min(1).default('127.0.0.1')),
  DATABASE_URL: sharedEnv.DATABASE_URL,
  REDIS_URL: sharedEnv.REDIS_URL,
  QUEUE_PREFIX: sharedEnv.QUEUE_PREFIX,
  MAX_TASK_TRAININGS: int(1, Number.MAX_SAFE_INTEGER, 1_000_000),
  MAX_HIDDEN: int(1, 8192, 1024),
  BODY_LIMIT: int(1024, 100 * 1024 * 1024, 64 * 1024),
  RATE_LIMIT_MAX: int(1, 1_000_000, 300),
  RATE_LIMIT_WINDOW_MS: int(1000, 86_400_000, 60_000),
  MAX_ACTIVE_SEARCHES: int(1, 1_000_000, 20),
  METRICS_PUBLIC: z.preprocess(
    (v) => blank(v) ?? 'true',
    z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' }).transform((v) => v === 'true' || v === '1'),
  ),
  DASHBOARD_DIR: z.preprocess(blank, z.string().optional()),
  EVENTS_POLL_MS: int(10, 60_000, 500),
  EVENTS_BUFFER_BYTES: int(4096, 64 * 1024 * 1024, 256 * 1024),
  REPORT_CACHE_BYTES: int(0, 4 * 1024 * 1024 * 1024, 64 * 1024 * 1024),
  LOG_LEVEL: sharedEnv.LOG_LEVEL,
  SHUTDOWN_MS: sharedEnv.SHUTDOWN_MS,
});

export interface ApiLimits {
  /** Ceiling on the task trainings one search may plan (candidates × seeds × tasks, with the strategy's rungs). */
  readonly maxTaskTrainings: number;
  /** Ceiling on protocol.network.hidden. */
  readonly maxHidden: number;
  /** Largest request body in bytes. */
  readonly bodyLimit: number;
  /** Requests per key (or per address without a key) per window. */
  readonly rateLimitMax: number;
  readonly rateLimitWindowMs: number;
  /** Unfinished (queued or running) searches one key owner may have at a time. */
  readonly maxActiveSearches: number;
}

export const DEFAULT_LIMITS: ApiLimits = {
  maxTaskTrainings: 1_000_000,
  maxHidden: 1024,
  bodyLimit: 64 * 1024,
  rateLimitMax: 300,
  rateLimitWindowMs: 60_000,
  maxActiveSearches: 20,
};

export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly queuePrefix: string;
  readonly logLevel: string;
  /** Whether GET /metrics answers without a key. */
  readonly metricsPublic: boolean;
  /** The dashboard's built files; undefined: the default (apps/dashboard/dist next to this app). */
  readonly dashboardDir: string | undefined;
  /** Period of a followed search's database poll (progress streams). */
  readonly eventsPollMs: number;
  /** A progress stream whose client leaves more than this many bytes unread is closed (it resumes with Last-Event-ID). */
  readonly eventsBufferBytes: number;
  /** Memory for the reports of COMPLETE searches made lately; 0: none kept. */
  readonly reportCacheBytes: number;
  readonly limits: ApiLimits;
  /** After SIGTERM or SIGINT, the process exits (code 1) when it has not closed within this (SHUTDOWN_MS). */
  readonly shutdownMs: number;
}

/** A wrong or missing environment variable; the message names each one. */
export function parseApiEnv(env: Record<string, string | undefined>): ApiConfig {
  const e = parseEnv(apiEnvSchema, env);
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    logLevel: e.LOG_LEVEL,
    dashboardDir: e.DASHBOARD_DIR,
    metricsPublic: e.METRICS_PUBLIC,
    eventsPollMs: e.EVENTS_POLL_MS,
    eventsBufferBytes: e.EVENTS_BUFFER_BYTES,
    reportCacheBytes: e.REPORT_CACHE_BYTES,
    limits: {
      maxTaskTrainings: e.MAX_TASK_TRAININGS,
      maxHidden: e.MAX_HIDDEN,
      bodyLimit: e.BODY_LIMIT,
      rateLimitMax: e.RATE_LIMIT_MAX,
      rateLimitWindowMs: e.RATE_LIMIT_WINDOW_MS,
      maxActiveSearches: e.MAX_ACTIVE_SEARCHES,
    },
    shutdownMs: e.SHUTDOWN_MS,
  };
}

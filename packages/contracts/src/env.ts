import { z } from 'zod';

/** A process's environment does not fit its schema; the message names every wrong variable. */
export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
}

/** One line per issue: `VARIABLE: message`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`).join('\n');
}

/** Parses an environment with an app's schema; EnvError naming every wrong variable otherwise. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): z.output<S> {
  const r = schema.safeParse(env);
  if (!r.success) throw new EnvError(formatIssues(r.error));
  return r.data;
}

/** At start-up: the parsed configuration, or the reason on `log` and exit code 2. */
export function configOrExit<T>(log: (line: string) => void, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof EnvError) {
      log(`invalid environment:\n${e.message}`);
      process.exit(2);
    }
    throw e;
  }
}

/** An unset or empty variable is undefined (then takes its default, if any). */
export const blank = (v: unknown) => (v === '' ? undefined : v);

/** The variables every process of the service reads alike; each app's env schema spreads these. */
export const sharedEnv = {
  DATABASE_URL: z.preprocess(
    blank,
    z.string({ error: 'required' }).regex(/^postgres(ql)?:\/\/\S+$/, { error: 'must be a postgresql:// URL' }),
  ),
  REDIS_URL: z.preprocess(
    blank,
    z
      .string()
      .regex(/^rediss?:\/\/\S+$/, { error: 'must be a redis:// or rediss:// URL' })
      .default('redis://127.0.0.1:6379'),
  ),
  /** Prefix of the BullMQ queues (and of the api's rate-limit keys): processes that share it work together. */
  QUEUE_PREFIX: z.preprocess(
    blank,
    z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be 1–64 characters of A-Z, a-z, 0-9, _, . and -' })
      .default('ip2'),
  ),
  LOG_LEVEL: z.preprocess(
    blank,
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  ),
};

/**
 * On SIGTERM or SIGINT (the first one; later ones are ignored): `close`, then exit 0, or 1 with the reason
 * on `log` when closing failed.
 */
export function exitOnSignal(log: (line: string) => void, close: () => Promise<unknown>, what = 'closing'): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    log(`${signal}: ${what}`);
    close().then(
      () => process.exit(0),
      (e: unknown) => {
        log(`close failed: ${String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

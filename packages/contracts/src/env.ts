import { ENGINE_NAMES, TF_BACKENDS, type ComputeOptions, type EngineName, type TfBackendName } from '@ip2/snn';
import { z } from 'zod';
import { DEFAULT_SHUTDOWN_MS, SHUTDOWN_MS_RANGE } from './shutdown.js';

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

export { DEFAULT_SHUTDOWN_MS };

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
  SHUTDOWN_MS: z.preprocess(
    (v) => blank(v) ?? DEFAULT_SHUTDOWN_MS,
    z.coerce
      .number()
      .int()
      .min(SHUTDOWN_MS_RANGE[0], { error: `must be at least ${SHUTDOWN_MS_RANGE[0]}` })
      .max(SHUTDOWN_MS_RANGE[1], { error: `must be at most ${SHUTDOWN_MS_RANGE[1]}` }),
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

/** Names the step a close begins (`waiting for the job in progress`), so that a slow close says where it is. */
export type CloseStep = (what: string) => void;

export interface ExitOnSignalOptions {
  /** What the log line on the signal says the process does. */
  readonly what?: string;
  /**
   * The deadline of the whole shutdown, from the signal on (default DEFAULT_SHUTDOWN_MS): when `close`
   * has not settled by then, the process logs it and exits 1 regardless. Nothing stored is lost: every
   * write is a transaction of its own, the runs the process held are taken back by the reaper once their
   * heartbeat is stale, its BullMQ jobs by the stalled-job check, and its job processes end with it.
   */
  readonly deadlineMs?: number;
  /**
   * Where the process's stop signals come from: `takeStopSignals` of @ip2/contracts/early-signal, for an
   * entry point that imports it first (a signal caught during start-up then starts the shutdown at
   * once); default: listeners on SIGTERM and SIGINT installed by this call.
   */
  readonly signals?: (handler: (signal: NodeJS.Signals, at: number) => void) => void;
}

/**
 * The engine and TensorFlow.js backend that a process which trains networks (worker, CLI) forces for
 * all of them; each unset one leaves the choice to @ip2/snn (`fused`; the first backend that loads).
 * IP2_LOG=silent: the line naming the backend in use is not written. The science packages read no
 * environment: the app parses these once and passes computeOptions in.
 */
export const computeEnv = {
  IP2_ENGINE: z.preprocess(
    blank,
    z
      .enum(ENGINE_NAMES, {
        error: (iss) => `unknown engine '${String(iss.input)}'; valid: ${ENGINE_NAMES.join(', ')}`,
      })
      .optional(),
  ),
  IP2_TF_BACKEND: z.preprocess(
    (v) => blank(typeof v === 'string' ? v.trim() : v),
    z
      .enum(TF_BACKENDS, {
        error: (iss) => `'${String(iss.input)}' is not a backend; valid: ${TF_BACKENDS.join(', ')}`,
      })
      .optional(),
  ),
  IP2_LOG: z.preprocess(blank, z.string().optional()),
};

/** computeEnv alone, for a process that reads nothing else of the service's environment (the CLI). */
export const computeEnvSchema = z.object(computeEnv);

/** What computeEnv parsed: absent ones take the library's choice. */
export interface ComputeChoice {
  readonly engine?: EngineName | undefined;
  readonly tfBackend?: TfBackendName | undefined;
}

/** The options of @ip2/snn (createEngine) and @ip2/l2l for a choice; `log` gets the line naming the backend. */
export function computeOptions(choice: ComputeChoice, log?: (line: string) => void): ComputeOptions {
  return {
    ...(choice.engine ? { engine: choice.engine } : {}),
    tf: {
      ...(choice.tfBackend ? { backend: choice.tfBackend, forcedBy: 'IP2_TF_BACKEND' } : {}),
      ...(log ? { log } : {}),
    },
  };
}

/**
 * On SIGTERM or SIGINT (the first one; later ones are ignored): `close`, then exit 0, or 1 with the reason
 * on `log` when closing failed or did not end within the deadline.
 */
export function exitOnSignal(
  log: (line: string) => void,
  close: (step: CloseStep) => Promise<unknown>,
  options: ExitOnSignalOptions = {},
): void {
  const deadlineMs = options.deadlineMs ?? DEFAULT_SHUTDOWN_MS;
  let closing = false;
  // What the close was doing last (it names each step as it begins): said when the deadline passes.
  let doing = 'closing';
  const step: CloseStep = (what) => {
    doing = what;
  };
  const shutdown = (signal: string, at = Date.now()) => {
    if (closing) return;
    closing = true;
    log(`${signal}: ${options.what ?? 'closing'}`);
    // Every await of a close can meet a server that does not answer (a connection being re-established,
    // a query on a connection that hangs, a job process that does not end): the deadline bounds them all.
    const timer = setTimeout(
      () => {
        log(`not closed ${deadlineMs / 1000} s after ${signal} (still ${doing}): exiting without waiting further`);
        process.exit(1);
      },
      Math.max(0, at + deadlineMs - Date.now()),
    );
    close(step).then(
      () => {
        clearTimeout(timer);
        process.exit(0);
      },
      (e: unknown) => {
        clearTimeout(timer);
        log(`close failed: ${String(e)}`);
        process.exit(1);
      },
    );
  };
  if (options.signals) options.signals(shutdown);
  else {
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  }
}

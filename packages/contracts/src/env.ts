import type { z } from 'zod';

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

/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Wraps a validation failure of one flag into a UsageError naming it. */
export function flagError(flag: string, e: unknown): UsageError {
  const msg = e instanceof Error ? e.message : String(e);
  return new UsageError(`${flag}: ${msg}`);
}

export function parseFlag<T>(flag: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw flagError(flag, e);
  }
}

export function positiveInt(flag: string, value: string | number | undefined, max = 1e9): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > max)
    throw new UsageError(`${flag}: expected a positive integer ≤ ${max}, got '${value}'`);
  return n;
}

export function nonNegativeInt(flag: string, value: string | undefined, max = 0xffffffff): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new UsageError(`${flag}: expected an integer in [0, ${max}], got '${value}'`);
  return n;
}

export function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a positive number, got '${value}'`);
  return n;
}

export function oneOf<T extends string>(flag: string, value: string | undefined, valid: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(valid as readonly string[]).includes(value)) {
    throw new UsageError(`${flag}: unknown value '${value}'; valid: ${valid.join(', ')}`);
  }
  return value as T;
}

import { Prisma } from './generated/client.js';

/**
 * A float as an SQL parameter that keeps NaN, ±Infinity and -0. Prisma's query API and its raw query
 * parameters turn NaN and ±Infinity into null; PostgreSQL's float8 input parses the text forms
 * 'NaN', 'Infinity', '-Infinity' and '-0', and JavaScript's shortest round-trip decimal exactly.
 * Reading a double precision column gives these values back unchanged.
 */
export function float8(x: number): Prisma.Sql {
  if (typeof x !== 'number') throw new TypeError(`expected a number, got ${typeof x}`);
  return Prisma.sql`${Object.is(x, -0) ? '-0' : String(x)}::float8`;
}

/** float8(x), or NULL. */
export function float8OrNull(x: number | null | undefined): Prisma.Sql {
  return x === null || x === undefined ? Prisma.sql`NULL::float8` : float8(x);
}

/** A count as an SQL int parameter: NULL when it is NaN (not recorded). */
export function intOrNaN(x: number): Prisma.Sql {
  if (typeof x !== 'number') throw new TypeError(`expected a number, got ${typeof x}`);
  return Number.isNaN(x) ? Prisma.sql`NULL::int` : Prisma.sql`${x}::int`;
}

/** A nullable column as a number: null (not recorded on older rows) reads as NaN. */
export function nanIfNull(x: number | null | undefined): number {
  return x === null || x === undefined ? Number.NaN : x;
}

/**
 * A JSON value as an SQL parameter, written exactly. Prisma 6's query API writes Json fields with
 * numbers rounded to 15 significant digits (0.30000000000000004 is stored as 0.3), which would change
 * a definition or a hashed record; JSON text cast to jsonb keeps every double. Reading is exact.
 */
export function jsonb(value: unknown): Prisma.Sql {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('not a JSON value');
  return Prisma.sql`${text}::jsonb`;
}

import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers as JSON.stringify
 * writes them (shortest round-trip form; −0 as 0), undefined object members left out. Values JSON
 * cannot hold exactly (NaN, ±Infinity, undefined in arrays, bigint, functions, symbols, non-plain
 * objects) are errors, so two equal values always give the same bytes and a parsed copy hashes alike.
 */
export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(v: unknown, at: string): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`canonical JSON: ${at} is ${v}, not a finite number`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x, i) => write(x, `${at}[${i}]`)).join(',')}]`;
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null)
      throw new TypeError(`canonical JSON: ${at} is not a plain object`);
    const o = v as Record<string, unknown>;
    const parts: string[] = [];
    for (const k of Object.keys(o).sort()) {
      if (o[k] === undefined) continue;
      parts.push(`${JSON.stringify(k)}:${write(o[k], `${at}.${k}`)}`);
    }
    return `{${parts.join(',')}}`;
  }
  throw new TypeError(`canonical JSON: ${at} is a ${typeof v}`);
}

/** Hex SHA-256 of the UTF-8 bytes of a string. */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Hex SHA-256 of a value's canonical JSON. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A number with `digits` decimals; '—' when missing or not finite. */
export const num = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits);

/**
 * A number to `digits` significant digits without exponent clutter (0.0123, 45.6, 1230); '—' when
 * not finite.
 */
export function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const p = Number(x.toPrecision(digits));
  return Math.abs(p) >= 10 ** digits ? p.toFixed(0) : String(p);
}

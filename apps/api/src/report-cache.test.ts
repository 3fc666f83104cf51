import { describe, expect, it } from 'vitest';
import { ReportCache } from './report-cache.js';

describe('ReportCache', () => {
  it('keeps what fits its byte budget, least recently used out first', () => {
    const c = new ReportCache(2 * 30); // 30 characters
    c.set('a', 'x'.repeat(10));
    c.set('b', 'y'.repeat(10));
    c.set('c', 'z'.repeat(10));
    expect(c.size).toBe(3);
    expect(c.get('a')).toBe('x'.repeat(10)); // a is now the most recent
    c.set('d', 'w'.repeat(10)); // over budget: b, the least recently used, goes
    expect(c.get('b')).toBeUndefined();
    expect([c.get('a'), c.get('c'), c.get('d')].every((v) => v !== undefined)).toBe(true);
    c.set('a', 'v'.repeat(25)); // replacing a frees its old size; c and d go to make room
    expect(c.get('a')).toBe('v'.repeat(25));
    expect(c.size).toBe(1);
    c.set('huge', 'h'.repeat(31)); // larger than the whole budget: not kept, nothing evicted
    expect(c.get('huge')).toBeUndefined();
    expect(c.size).toBe(1);
    expect(c.hits).toBeGreaterThan(0);
    expect(c.misses).toBe(2);
  });

  it('keeps nothing with a budget of 0', () => {
    const c = new ReportCache(0);
    c.set('a', 'x');
    expect(c.get('a')).toBeUndefined();
  });
});

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, parseApiEnv } from './env.js';

const DB = 'postgresql://postgres@127.0.0.1:5432/ip2';

describe('environment', () => {
  it('fills in defaults', () => {
    const c = parseApiEnv({ DATABASE_URL: DB, PORT: '' });
    expect(c).toMatchObject({ port: 3000, host: '127.0.0.1', redisUrl: 'redis://127.0.0.1:6379', queuePrefix: 'ip2' });
    expect(c.limits).toEqual(DEFAULT_LIMITS);
  });

  it('coerces numbers and reads the limits', () => {
    const c = parseApiEnv({ DATABASE_URL: DB, PORT: '8080', HOST: '0.0.0.0', MAX_HIDDEN: '256', BODY_LIMIT: '2048' });
    expect(c).toMatchObject({ port: 8080, host: '0.0.0.0', limits: { maxHidden: 256, bodyLimit: 2048 } });
  });

  it('names every bad variable', () => {
    expect(() => parseApiEnv({ PORT: 'http', REDIS_URL: 'localhost', MAX_HIDDEN: '0' })).toThrow(
      'PORT: must be an integer\nDATABASE_URL: required\nREDIS_URL: must be a redis:// or rediss:// URL\nMAX_HIDDEN: must be at least 1',
    );
  });

  it('main exits 2 with the message on a bad environment', () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--conditions', '@ip2/source', '--import', 'tsx', main], {
      env: { PATH: process.env.PATH, PORT: '70000', DATABASE_URL: DB },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('ip2-api: invalid environment:\nPORT: must be at most 65535\n');
    expect(r.status).toBe(2);
  });
});

import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EnvError, parseControllerEnv } from './env.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DB = 'postgresql://postgres@127.0.0.1:5432/ip2';

describe('controller environment', () => {
  it('fills in the defaults and coerces numbers', () => {
    expect(parseControllerEnv({ DATABASE_URL: DB })).toEqual({
      redisUrl: 'redis://127.0.0.1:6379',
      databaseUrl: DB,
      concurrency: 4,
      tickMs: 5000,
      staleMs: 60_000,
      lockMs: 30_000,
      queuePrefix: 'ip2',
      analysisSeeds: 2,
      shutdownMs: 45_000,
    });
    expect(parseControllerEnv({ DATABASE_URL: DB, TICK_MS: '250', STALE_MS: '', ANALYSIS_SEEDS: '0' })).toMatchObject({
      tickMs: 250,
      staleMs: 60_000,
      analysisSeeds: 0,
    });
    expect(() => parseControllerEnv({ DATABASE_URL: DB, ANALYSIS_SEEDS: '-1' })).toThrow(/ANALYSIS_SEEDS/);
  });

  it('names every missing or wrong variable', () => {
    expect(() => parseControllerEnv({ TICK_MS: '-1', QUEUE_PREFIX: 'a b' })).toThrow(EnvError);
    try {
      parseControllerEnv({ TICK_MS: '-1', QUEUE_PREFIX: 'a b' });
    } catch (e) {
      const m = (e as Error).message;
      expect(m).toMatch(/^DATABASE_URL: required$/m);
      expect(m).toMatch(/^TICK_MS: /m);
      expect(m).toMatch(/^QUEUE_PREFIX: must be 1–64 characters/m);
    }
  });

  it('main exits with code 2 and says what is wrong', () => {
    const env = { ...process.env, DATABASE_URL: 'mysql://x' };
    const r = spawnSync(
      process.execPath,
      ['--conditions', '@ip2/source', '--import', 'tsx', join(ROOT, 'apps/controller/src/main.ts')],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('DATABASE_URL: must be a postgresql:// URL');
  });
});

import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EnvError, parseWorkerEnv } from './env.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DB = 'postgresql://postgres@127.0.0.1:5432/ip2';

describe('worker environment', () => {
  it('fills in the defaults', () => {
    const c = parseWorkerEnv({ DATABASE_URL: DB, WORKER_CONCURRENCY: '' });
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.databaseUrl).toBe(DB);
    expect(c.concurrency).toBeGreaterThanOrEqual(1);
    expect(c.population).toBe(1);
    expect(c.threads).toBe(0);
    expect(c.heartbeatMs).toBe(10_000);
    expect(c.staleMs).toBe(60_000);
    expect(c.queuePrefix).toBe('ip2');
    expect(c.workerId).toMatch(/-\d+$/);
  });

  it('coerces numbers and keeps explicit values', () => {
    const c = parseWorkerEnv({
      DATABASE_URL: DB,
      REDIS_URL: 'redis://redis:6380/1',
      WORKER_CONCURRENCY: '3',
      WORKER_POPULATION: '4',
      WORKER_THREADS: '2',
      HEARTBEAT_MS: '500',
      STALE_MS: '2000',
      QUEUE_PREFIX: 'test-1',
      WORKER_ID: 'gpu-box-1',
    });
    expect(c).toMatchObject({
      concurrency: 3,
      population: 4,
      threads: 2,
      heartbeatMs: 500,
      staleMs: 2000,
      queuePrefix: 'test-1',
      workerId: 'gpu-box-1',
    });
  });

  it('names every missing or wrong variable', () => {
    let message = '';
    try {
      parseWorkerEnv({
        REDIS_URL: 'http://x',
        WORKER_CONCURRENCY: 'many',
        WORKER_POPULATION: '0',
        HEARTBEAT_MS: '5000',
        STALE_MS: '1000',
      });
    } catch (e) {
      expect(e).toBeInstanceOf(EnvError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/^DATABASE_URL: required$/m);
    expect(message).toMatch(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL$/m);
    expect(message).toMatch(/^WORKER_CONCURRENCY: /m);
    expect(message).toMatch(/^WORKER_POPULATION: /m);
    expect(() => parseWorkerEnv({ DATABASE_URL: DB, HEARTBEAT_MS: '5000', STALE_MS: '1000' })).toThrow(
      /STALE_MS: must exceed HEARTBEAT_MS/,
    );
  });

  it('parses the engine and TensorFlow.js backend once, for every job', () => {
    expect(parseWorkerEnv({ DATABASE_URL: DB })).toMatchObject({ compute: {}, logBackend: true });
    expect(parseWorkerEnv({ DATABASE_URL: DB, IP2_ENGINE: '', IP2_TF_BACKEND: ' ' }).compute).toEqual({});
    expect(
      parseWorkerEnv({ DATABASE_URL: DB, IP2_ENGINE: 'tfjs', IP2_TF_BACKEND: ' wasm ', IP2_LOG: 'silent' }),
    ).toMatchObject({ compute: { engine: 'tfjs', tfBackend: 'wasm' }, logBackend: false });
  });

  it('names IP2_ENGINE and IP2_TF_BACKEND when they hold no engine or backend', () => {
    expect(() => parseWorkerEnv({ DATABASE_URL: DB, IP2_ENGINE: 'cuda' })).toThrow(
      /^IP2_ENGINE: unknown engine 'cuda'; valid: fused, tfjs$/m,
    );
    expect(() => parseWorkerEnv({ DATABASE_URL: DB, IP2_TF_BACKEND: 'metal' })).toThrow(
      /^IP2_TF_BACKEND: 'metal' is not a backend; valid: tensorflow, wasm, cpu$/m,
    );
    let message = '';
    try {
      parseWorkerEnv({ DATABASE_URL: DB, IP2_ENGINE: 'gpu', IP2_TF_BACKEND: 'webgl' });
    } catch (e) {
      expect(e).toBeInstanceOf(EnvError);
      message = (e as Error).message;
    }
    expect(message.split('\n').map((l) => l.split(':')[0])).toEqual(['IP2_ENGINE', 'IP2_TF_BACKEND']);
  });

  it('main exits with code 2 and says what is wrong', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, WORKER_CONCURRENCY: '0' };
    delete env.DATABASE_URL;
    const r = spawnSync(
      process.execPath,
      ['--conditions', '@ip2/source', '--import', 'tsx', join(ROOT, 'apps/worker/src/main.ts')],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('DATABASE_URL: required');
    expect(r.stderr).toMatch(/WORKER_CONCURRENCY: /);
  });
});

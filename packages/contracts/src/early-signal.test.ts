import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { earlyDeadlineMs } from './early-signal.js';
import { DEFAULT_SHUTDOWN_MS } from './shutdown.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/stop-signal.ts', import.meta.url));

/** Runs the fixture in its own process; its exit code, output and wall time. */
function run(
  mode: string,
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string; ms: number }> {
  const t0 = Date.now();
  const child = spawn(process.execPath, ['--conditions', '@ip2/source', '--import', 'tsx', FIXTURE, mode], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((ok) => child.on('exit', (code) => ok({ code, out, ms: Date.now() - t0 })));
}

describe('early-signal', { timeout: 30_000 }, () => {
  it('hands a signal that came during start-up on to the shutdown, also one still pending at the hand-over', async () => {
    // Node drops a pending signal whose listeners were all removed before its event fired, even when
    // new ones were added in the same turn: one listener for the life of the process keeps it.
    const r = await run('handover');
    expect(r.out).toBe('handled SIGTERM\n');
    expect(r.code).toBe(0);
  });

  it('exits 1 at SHUTDOWN_MS from the signal when start-up never hands it on', async () => {
    const r = await run('never', { SHUTDOWN_MS: '1000' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/SIGTERM during start-up, which has not finished 1 s later/);
    expect(r.ms).toBeLessThan(8_000);
  });

  it('reads SHUTDOWN_MS as the environment schemas do, else takes the default', () => {
    expect(earlyDeadlineMs('2500')).toBe(2500);
    for (const bad of [undefined, '', ' ', 'soon', '999', '600001', '1.5'])
      expect(earlyDeadlineMs(bad), String(bad)).toBe(DEFAULT_SHUTDOWN_MS);
  });
});

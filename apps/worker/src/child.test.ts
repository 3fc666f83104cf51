import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const WATCHDOG = new URL('./child-watchdog.ts', import.meta.url).href;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/*
 * A parent forks a child with the watchdog preloaded, as the worker forks its job processes; the child
 * spins in a synchronous loop (as during a task's training), where no event of its own can be handled.
 * The parent then exits on its own.
 */
describe('job processes end with their worker', () => {
  it('a child busy in synchronous work ends soon after its parent is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ip2-watchdog-'));
    writeFileSync(
      join(dir, 'child.mjs'),
      `process.send('ready');\nconst t0 = Date.now();\nwhile (Date.now() - t0 < 60_000) {}\n`,
    );
    writeFileSync(
      join(dir, 'parent.mjs'),
      `import { fork } from 'node:child_process';
const c = fork(${JSON.stringify(join(dir, 'child.mjs'))}, {
  execArgv: ['--import', 'tsx', '--import', ${JSON.stringify(WATCHDOG)}],
});
c.on('message', () => { process.stdout.write(String(c.pid)); process.exit(0); });
`,
    );
    const parent = spawn(process.execPath, [join(dir, 'parent.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((resolve) => parent.on('exit', resolve));
    const child = Number(out);
    expect(child).toBeGreaterThan(0);
    const deadline = Date.now() + 10_000;
    while (alive(child) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const gone = !alive(child);
    if (!gone) process.kill(child, 'SIGKILL');
    expect(gone).toBe(true);
  }, 30_000);
});

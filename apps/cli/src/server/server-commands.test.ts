import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../main.js';
import { flagOf } from './client.js';

let stderr = '';
let stdout = '';
beforeEach(() => {
  stderr = '';
  stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  delete process.env.IP2_SERVER;
  delete process.env.IP2_API_KEY;
});
afterEach(() => vi.restoreAllMocks());

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

const ID = '0b0e5b4e-2a43-4d3c-9a53-3f1f7a0c2f00';

describe('ip2 submit / watch / report without a server: bad input', () => {
  const cases: [string[], RegExp][] = [
    [['submit', '--preset', 'tiny'], /^ip2: --key: no API key; give --key <key> or set IP2_API_KEY$/],
    [['watch', ID], /^ip2: --key: no API key/],
    [['report', ID], /^ip2: --key: no API key/],
    [['submit', '--key', 'k', '--server', 'not a url'], /^ip2: --server: 'not a url' is not a URL/],
    [['watch', ID, '--key', 'k', '--server', 'ftp://host'], /^ip2: --server: 'ftp:\/\/host' must be an http/],
    [['submit', '--key', 'k', '--family', 'xyz'], /^ip2: --family: unknown value 'xyz'/],
    [['submit', '--key', 'k', '--hidden', '0'], /^ip2: --hidden: expected a positive integer/],
    [['submit', '--key', 'k', '--idempotency-key', 'a b'], /^ip2: --idempotency-key: 1–200 printable ASCII/],
    [['submit', '--key', 'k', '--retries', '-1'], /^ip2: --retries: expected a positive integer/],
    [['watch', 'nope', '--key', 'k'], /^ip2: <id>: 'nope' is not a search id/],
    [['report', '1234', '--key', 'k'], /^ip2: <id>: '1234' is not a search id/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ')} → exit 2, one line`, async () => {
      expect(await main(args)).toBe(2);
      expect(stderr.trim()).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    });
  }

  it('IP2_SERVER and IP2_API_KEY stand for --server and --key; an unreachable server exits 1 in one line', async () => {
    const server = `http://127.0.0.1:${await closedPort()}`;
    process.env.IP2_SERVER = server;
    process.env.IP2_API_KEY = 'ip2_whatever';
    const out = mkdtempSync(join(tmpdir(), 'ip2-report-'));
    expect(await main(['report', ID, '--out', join(out, 'r')])).toBe(1);
    expect(stderr.trim()).toBe(
      `ip2: error: cannot reach the server at ${server} (ECONNREFUSED); check --server or IP2_SERVER`,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('--help explains every flag with its default', async () => {
    expect(await main(['submit', '--help'])).toBe(0);
    for (const flag of ['--server', '--key', '--watch', '--idempotency-key', '--retries', '--config', '--family']) {
      expect(stdout).toContain(flag);
    }
    expect(stdout).toMatch(/default: \$IP2_SERVER, else\s+http:\/\/127\.0\.0\.1:3000/);
    expect(stdout).toMatch(/API key \(default:\s+\$IP2_API_KEY\)/);
    stdout = '';
    expect(await main(['report', '--help'])).toBe(0);
    expect(stdout).toMatch(/--out <dir>\s+output folder \(default: results\/<id>\)/);
  });

  it("maps the server's problem paths to the flags of ip2 submit", () => {
    expect(flagOf('protocol.network.hidden')).toBe('--hidden');
    expect(flagOf('strategy.minTasks')).toBe('--min-tasks');
    expect(flagOf('strategy.kind')).toBe('--strategy');
    expect(flagOf('protocol.criterion.epsilon')).toBe('--epsilon');
    expect(flagOf('headers.authorization')).toBe('--key');
    expect(flagOf('params.id')).toBeUndefined();
  });
});

import { mkdtempSync, readdirSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureOutput, type Captured } from '../capture.js';
import { main } from '../main.js';
import { connect, flagOf } from './client.js';
import { followEvents } from './follow.js';

let io: Captured;
beforeEach(() => {
  io = captureOutput();
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
      expect(io.stderr.trim()).toMatch(message);
      expect(io.stderr.trim().split('\n')).toHaveLength(1);
    });
  }

  it('IP2_SERVER and IP2_API_KEY stand for --server and --key; an unreachable server exits 1 in one line', async () => {
    const server = `http://127.0.0.1:${await closedPort()}`;
    process.env.IP2_SERVER = server;
    process.env.IP2_API_KEY = 'ip2_whatever';
    const out = mkdtempSync(join(tmpdir(), 'ip2-report-'));
    expect(await main(['report', ID, '--out', join(out, 'r')])).toBe(1);
    expect(io.stderr.trim()).toBe(
      `ip2: error: cannot reach the server at ${server} (ECONNREFUSED); check --server or IP2_SERVER`,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('--help explains every flag with its default', async () => {
    expect(await main(['submit', '--help'])).toBe(0);
    for (const flag of ['--server', '--key', '--watch', '--idempotency-key', '--retries', '--config', '--family']) {
      expect(io.stdout).toContain(flag);
    }
    expect(io.stdout).toMatch(/default: \$IP2_SERVER, else\s+http:\/\/127\.0\.0\.1:3000/);
    expect(io.stdout).toMatch(/API key \(default:\s+\$IP2_API_KEY\)/);
    io.stdout = '';
    expect(await main(['report', '--help'])).toBe(0);
    expect(io.stdout).toMatch(/--out <dir>\s+output folder \(default: results\/<id>\)/);
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

describe('followEvents: the event stream of a search', () => {
  it('reconnects after a dropped connection with Last-Event-ID and the server’s retry delay, missing and repeating nothing', async () => {
    const seen: (string | undefined)[] = [];
    const server = createHttpServer((req, res) => {
      seen.push(req.headers['last-event-id'] as string | undefined);
      if (seen.length === 2) {
        res.writeHead(503); // the server restarting
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (seen.length === 1) {
        res.write(
          'retry: 20\n\nid: 1\nevent: task\ndata: {"taskIndex":0}\n\nid: 2\nevent: task\ndata: {"taskIndex":1}\n\n',
        );
        setTimeout(() => res.destroy(), 20); // the connection drops mid-search
      } else {
        res.end('id: 3\nevent: task\ndata: {"taskIndex":2}\n\nevent: end\ndata: {"state":"COMPLETE"}\n\n');
      }
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const port = (server.address() as { port: number }).port;
      const client = connect({ server: `http://127.0.0.1:${port}`, key: 'ip2_k' });
      const tasks: number[] = [];
      const reconnects: (string | undefined)[] = [];
      const end = await followEvents(client, ID, {
        onTask: (n) => tasks.push(n),
        onReconnect: (last, _reason, delay) => {
          expect(delay).toBe(20);
          reconnects.push(last);
        },
      });
      expect(end).toEqual({ state: 'COMPLETE' });
      expect(tasks).toEqual([1, 2, 3]);
      expect(seen).toEqual([undefined, '2', '2']);
      expect(reconnects).toEqual(['2', '2']);
    } finally {
      server.close();
    }
  });

  it('gives up after --retries reconnections without an event (exit 1), and stops at once on a 4xx', async () => {
    const server = createHttpServer((req, res) => {
      if (req.headers.authorization === 'Bearer bad') {
        res.writeHead(401, { 'content-type': 'application/problem+json' });
        res.end(JSON.stringify({ status: 401, detail: 'unknown or revoked API key' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('retry: 1\n\n');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      await expect(followEvents(connect({ server: url, key: 'k' }), ID, {}, { retries: 3 })).rejects.toThrow(
        /lost the event stream of search .* gave up after 3 reconnections/,
      );
      await expect(followEvents(connect({ server: url, key: 'bad' }), ID, {})).rejects.toThrow(
        /--key: the server at .* refused the key \(unknown or revoked API key\)/,
      );
    } finally {
      server.close();
    }
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureOutput, type Captured } from '../../apps/cli/src/capture.js';
import { FileStore } from '../../apps/cli/src/local/store.js';
import { main } from '../../apps/cli/src/main.js';
import { toJson } from '@ip2/report';
import { decision, freePort, Stack, type FixedConfig } from '../support/stack.js';

/*
 * End to end over HTTP, across processes: the API, a controller and two workers (real PostgreSQL, real
 * Redis under a fresh queue prefix), driven by the ip2 command (submit, watch, report) and compared with
 * the local mode (ip2 search) on the same flags: the results and the decision must be identical.
 */

const FLAGS = [
  ['--family', 'sma'],
  ['--space', 'tauD,theta'],
  ['--strategy', 'exhaustive'],
  ['--preset', 'tiny'],
  ['--tasks', '3'],
  ['--seeds', '2'],
  ['--seed', '11'],
  ['--hidden', '8'],
  ['--cap', '150'],
  ['--window', '10'],
  ['--epsilon', '0.05'],
  ['--validation-seeds', '1'],
].flat();

/** Task trainings of the search (4 masks × 2 seeds × 3 tasks) and at most of its validation (4 masks × 1 seed × 3). */
const SEARCH_TRAININGS = 24;
const PLANNED = SEARCH_TRAININGS + 4 * 3;

let stack: Stack;
let server: string;
let alice: string;
let bob: string;
/** A key of its own for the last test (the earlier tests' polling counts against alice's rate limit). */
let carol: string;
const temp: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'ip2-e2e-'));
  temp.push(d);
  return d;
};

let io: Captured;
beforeEach(() => {
  io = captureOutput();
});
afterEach(() => vi.restoreAllMocks());

/** Runs the ip2 command in this process; its exit code. */
const ip2 = (...args: string[]) => main(args);
const as = (key: string) => ['--server', server, '--key', key];

beforeAll(async () => {
  stack = await Stack.create();
  const port = await freePort();
  server = `http://127.0.0.1:${port}`;
  stack.start('api', 'api', { env: { PORT: String(port), HOST: '127.0.0.1' } });
  stack.start('controller', 'controller');
  stack.start('w1', 'worker', { env: { WORKER_ID: 'w1' } });
  stack.start('w2', 'worker', { env: { WORKER_ID: 'w2' } });
  alice = (await stack.store.apiKeys.create('alice', 'e2e')).key;
  bob = (await stack.store.apiKeys.create('bob', 'e2e')).key;
  carol = (await stack.store.apiKeys.create('carol', 'e2e')).key;
  await apiUp();
});

afterAll(async () => {
  await stack?.close();
  for (const d of temp) rmSync(d, { recursive: true, force: true });
});

async function apiUp(): Promise<void> {
  await stack.until(
    'the API to answer',
    async () => {
      try {
        return (await fetch(`${server}/healthz`)).ok;
      } catch {
        return false;
      }
    },
    120_000,
  );
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/m;
let searchId: string;
let localDir: string;

describe('ip2 submit / watch / report against the service', () => {
  it('a search submitted over HTTP completes with the local mode’s results and decision, in PostgreSQL and in the downloads', async () => {
    localDir = dir();
    const local = ip2('search', ...FLAGS, '--workers', '1', '--quiet', '--out', localDir);
    const remote = ip2('submit', ...FLAGS, ...as(alice), '--watch');
    const [localCode, submitCode] = await Promise.all([local, remote]);
    expect(localCode).toBe(0);
    expect(submitCode, io.stderr + stack.dump()).toBe(0);
    searchId = UUID.exec(io.stdout)![0];
    expect(io.stdout).toContain(`${server}/v1/searches/${searchId}/report`);
    expect((await stack.store.controller.search(searchId)).state).toBe('COMPLETE');

    // PostgreSQL holds exactly the local mode's task results (every field but the wall time) and decision.
    const files = new FileStore(localDir);
    files.load();
    const key = (c: string, s: number, t: number) => `${c}/${s}/${t}`;
    const expected = files
      .results()
      .map((r) => {
        const { wallMs: _w, intrinsic: _i, ...rest } = r.result;
        return { key: key(r.candidate, r.seedIndex, r.result.taskIndex), ...rest };
      })
      .sort((a, b) => a.key.localeCompare(b.key));
    const stored = (await stack.store.searches.taskResults('alice', searchId))
      .map((r) => {
        const { wallMs: _w, ...rest } = r.result;
        return { key: key(r.candidate, r.seedIndex, r.result.taskIndex), ...rest };
      })
      .sort((a, b) => a.key.localeCompare(b.key));
    const localFixed = JSON.parse(readFileSync(join(localDir, 'fixed-config.json'), 'utf8')) as FixedConfig;
    const storedFixed = (await stack.store.fixedConfigs.bySearch(searchId))!.record;
    // The search's runs, then the validation's: one fresh seed for each validated mask.
    const total = SEARCH_TRAININGS + storedFixed.validation!.candidates.length * 3;
    expect(stored).toHaveLength(total);
    expect(stored.filter((r) => r.key.endsWith('/2/0'))).toHaveLength(storedFixed.validation!.candidates.length);
    expect(stored).toEqual(expected);
    expect(io.stderr).toContain(`${total}/${PLANNED} task trainings`);
    expect(io.stderr).not.toMatch(new RegExp(`\\b(${total + 1}|${total + 2}|${total + 3})/${PLANNED} task trainings`));
    expect(decision(storedFixed)).toEqual(decision(localFixed));
    expect(storedFixed.createdFrom).toEqual({ ...localFixed.createdFrom, searchId });

    // --watch ended at the decision and printed it with its verdict and the importance table, as ip2 search does.
    const chosen = `fixed mask: ${localFixed.mask.bits} = [${localFixed.mask.keys.join(', ') || 'none'}]`;
    expect(io.stdout.split(chosen)).toHaveLength(3);
    const verdict = `validation on 1 fresh seed × 3 tasks (cap 150): ${localFixed.validation!.verdict.toUpperCase()}`;
    expect(io.stdout.split(verdict)).toHaveLength(3);
    expect(io.stdout.split('property importance (every mask on its first 3 tasks × 2 seeds')).toHaveLength(3);

    // ip2 report downloads the files the local mode wrote: byte-identical task files and figures, the same decision.
    const out = dir();
    expect(await ip2('report', searchId, ...as(alice), '--out', out), io.stderr).toBe(0);
    for (const f of ['tasks.json', 'tasks.csv', 'importance.svg', 'validation.svg']) {
      expect(readFileSync(join(out, f), 'utf8'), f).toBe(readFileSync(join(localDir, f), 'utf8'));
    }
    const downloaded = JSON.parse(readFileSync(join(out, 'fixed-config.json'), 'utf8')) as FixedConfig;
    expect(downloaded).toEqual(storedFixed);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain(storedFixed.hash);
    expect(html).toContain(`mask <code>${localFixed.mask.bits}</code>`);
  });

  it('the served report gains the analyses a worker computed after completion, identical to the local mode’s analysis.json', async () => {
    // The controller asked for them (ANALYSIS_SEEDS defaults to 2, as --analysis-seeds) when it fixed the mask.
    const row = await stack.until(
      'the analyses to be stored',
      async () => {
        const a = await stack.store.analyses.get(searchId);
        return a !== null && a.state !== 'PENDING' && a;
      },
      60_000,
    );
    expect(row, stack.dump()).toMatchObject({ state: 'COMPLETE', seeds: 2, error: null });
    // Everything but the wall time, with NaN and ±Infinity written alike.
    const text = (a: object) => toJson({ ...a, wallSeconds: 0 });
    const localAnalysis = JSON.parse(readFileSync(join(localDir, 'analysis.json'), 'utf8')) as object;
    expect(text(row.analysis as object)).toBe(text(localAnalysis));

    const res = await fetch(`${server}/v1/searches/${searchId}/report`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(res.status).toBe(200);
    const section = (html: string) =>
      html
        .slice(html.indexOf('<h2>Analyses of the chosen configuration</h2>'), html.indexOf('</body>'))
        .replace(/(modularity measured before each )\([^)]*\)/, '$1(wall time)');
    const served = section(await res.text());
    expect(served).toContain('<h3>Intrinsic values across tasks</h3>');
    expect(served).not.toContain('pending');
    expect(served).toBe(section(readFileSync(join(localDir, 'report.html'), 'utf8')));

    // ip2 report now also writes analysis.json: the local mode's but for the wall time.
    const out = dir();
    expect(await ip2('report', searchId, ...as(alice), '--out', out), io.stderr).toBe(0);
    expect(io.stdout).toContain(
      `analyses of the chosen configuration (2 runs trained again) → ${join(out, 'analysis.json')}`,
    );
    const downloaded = JSON.parse(readFileSync(join(out, 'analysis.json'), 'utf8')) as object;
    expect(text(downloaded)).toBe(text(localAnalysis));
    // The route behind it: owner-isolated, with its state.
    const mine = await fetch(`${server}/v1/searches/${searchId}/analysis`, {
      headers: { authorization: `Bearer ${alice}` },
    });
    expect(mine.status).toBe(200);
    expect(await mine.json()).toMatchObject({ searchId, state: 'COMPLETE', seeds: 2, error: null });
    const theirs = await fetch(`${server}/v1/searches/${searchId}/analysis`, {
      headers: { authorization: `Bearer ${bob}` },
    });
    expect(theirs.status).toBe(404);
  });

  it('ip2 watch on a finished search replays its stream and prints the decision', async () => {
    expect(await ip2('watch', searchId, ...as(alice)), io.stderr).toBe(0);
    expect(io.stderr).toContain(`following search ${searchId}`);
    expect(io.stderr).toMatch(new RegExp(`\\b\\d+/${PLANNED} task trainings`));
    expect(io.stdout).toMatch(/fixed mask: [01]{2} = \[/);
    expect(io.stdout).toMatch(/validation on 1 fresh seed × 3 tasks \(cap 150\): (CONFIRMED|TIE|OVERTURNED)/);
    expect(io.stdout).toContain(`ip2 report ${searchId}`);
  });

  it('refusals are one line naming the flag or quoting the server, exit 2; an unreachable server exits 1', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const cases: [string[], number, RegExp][] = [
      [
        ['watch', searchId, ...as('ip2_not-a-key')],
        2,
        /^ip2: --key: the server at .* refused the key \(unknown or revoked API key\)$/,
      ],
      [['report', searchId, ...as(bob)], 2, new RegExp(`^ip2: no search ${searchId} on ${server}$`)],
      [['watch', searchId, ...as(bob)], 2, new RegExp(`^ip2: no search ${searchId} on ${server}$`)],
      [
        ['submit', ...FLAGS, '--hidden', '5000', ...as(alice)],
        2,
        /^ip2: --hidden: .*hidden \(5000\) exceeds this server's limit of 1024$/,
      ],
      [['report', 'not-an-id', ...as(alice)], 2, /^ip2: <id>: 'not-an-id' is not a search id/],
      [
        ['watch', searchId, '--server', closed, '--key', alice],
        1,
        new RegExp(
          `^ip2: error: cannot reach the server at ${closed} \\(ECONNREFUSED\\); check --server or IP2_SERVER$`,
        ),
      ],
    ];
    for (const [args, code, message] of cases) {
      io.stderr = '';
      const out = dir();
      expect(await ip2(...args, ...(args[0] === 'report' ? ['--out', join(out, 'r')] : [])), args.join(' ')).toBe(code);
      expect(io.stderr.trim()).toMatch(message);
      expect(io.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('ip2 report refuses a search that is not complete, and writes nothing', async () => {
    io.stdout = '';
    expect(await ip2('submit', ...FLAGS, '--seed', '12', ...as(carol))).toBe(0);
    const id = UUID.exec(io.stdout)![0];
    const cancelled = await fetch(`${server}/v1/searches/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${carol}` },
    });
    expect(cancelled.status, await cancelled.text()).toBe(200);
    const out = join(dir(), 'r');
    expect(await ip2('report', id, ...as(carol), '--out', out)).toBe(2);
    expect(io.stderr).toMatch(new RegExp(`search ${id} is CANCELLED: its report exists once it completes`));
    expect(() => readFileSync(join(out, 'report.html'))).toThrow();
    expect(await ip2('watch', id, ...as(carol), '--quiet')).toBe(1);
    expect(io.stderr).toMatch(new RegExp(`search ${id} ended CANCELLED`));
  });
});

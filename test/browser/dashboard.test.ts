import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoundRobinProxy } from '../support/net.js';
import { freePort, ROOT, Stack, tinyDefinition } from '../support/stack.js';

/*
 * The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core) against the
 * real service: the api serving the freshly built dashboard, a controller and a worker as processes,
 * a fresh database and queue prefix. Screenshots go to test-artifacts/dashboard/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = join(ROOT, 'test-artifacts', 'dashboard');
const MAX_HIDDEN = 64;

let stack: Stack;
let browser: Browser;
let page: Page;
let base: string;
let base2: string;
let key: string;
const outDir = mkdtempSync(join(tmpdir(), 'ip2-dashboard-'));

const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** Builds the dashboard as its sources are now, into a folder only this test reads. */
function buildDashboard(): Promise<void> {
  return new Promise((ok, fail) => {
    const vite = spawn(
      process.execPath,
      [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
      { cwd: join(ROOT, 'apps/dashboard'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    vite.stdout.on('data', (d: Buffer) => (log += d.toString()));
    vite.stderr.on('data', (d: Buffer) => (log += d.toString()));
    vite.on('error', fail);
    vite.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`vite build failed (${code}):\n${log}`))));
  });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  mkdirSync(SHOTS, { recursive: true });
  stack = await Stack.create();
  key = (await stack.store.apiKeys.create('dashboard-test', 'browser')).key;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  // The processes load while the dashboard is built (the api serves the folder's files as they are now).
  stack.start('api', 'api', {
    env: { PORT: String(port), DASHBOARD_DIR: outDir, MAX_HIDDEN: String(MAX_HIDDEN) },
  });
  // A second api process on the same database, for the failover case at the end.
  base2 = `http://127.0.0.1:${await freePort()}`;
  stack.start('api2', 'api', { env: { PORT: new URL(base2).port, DASHBOARD_DIR: outDir } });
  stack.start('controller', 'controller');
  stack.start('worker', 'worker');
  const launching = chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  launching.catch(() => {}); // awaited below, where a failure is thrown
  await buildDashboard();
  await stack.until('the api to answer', async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok, 30_000);
  browser = await launching;
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  rmSync(outDir, { recursive: true, force: true });
});

describe('dashboard', () => {
  it('is served without a key next to the API, which still asks for one', async () => {
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard/');
    const index = await fetch(`${base}/dashboard/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="key">');
    expect((await fetch(`${base}/v1/searches`)).status).toBe(401);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/docs/json`)).status).toBe(200);
    expect((await fetch(`${base}/dashboard/nothing-here.js`)).status).toBe(404);
  });

  it('takes a key, refuses bad input with the schema’s and the API’s messages next to the field', async () => {
    await page.goto(`${base}/`);
    await page.locator('#api-key').waitFor();
    await shot('01-key');
    await page.fill('#api-key', key);
    await page.click('.key-form button[type=submit]');
    await page.locator('text=No searches yet').waitFor();
    expect(await page.evaluate('sessionStorage.getItem("ip2.apiKey")')).toBe(key);

    await page.click('header nav a[href="#/new"]');
    await page.locator('#search-form').waitFor();
    // The schema, in the browser: nothing is sent.
    await page.fill('#f-protocol-tasks', '0');
    await page.click('#search-form button[type=submit]');
    await expect
      .poll(() => page.textContent('[data-error-for="protocol.tasks"]'))
      .toBe('protocol.tasks must be at least 1');
    // Valid for the schema, beyond this server's limit: the API's problem+json message.
    await page.fill('#f-protocol-tasks', '3');
    await page.fill('#f-protocol-network-hidden', String(MAX_HIDDEN + 36));
    await page.click('#search-form button[type=submit]');
    await expect
      .poll(() => page.textContent('[data-error-for="protocol.network.hidden"]'))
      .toBe(`protocol.network.hidden (${MAX_HIDDEN + 36}) exceeds this server's limit of ${MAX_HIDDEN}`);
    expect(await page.textContent('[data-error-for="protocol.tasks"]')).toBe('');
    await shot('02-form-errors');
    expect(await stack.store.client.search.count()).toBe(0);
  });

  it('submits a search, draws its curves live, shows the decision and opens the report', async () => {
    await page.fill('#f-family', 'sma');
    for (const k of ['tauS', 'beta', 'tauA']) await page.uncheck(`input[name=space][value=${k}]`);
    const fields: Record<string, string> = {
      'protocol-tasks': '3',
      'protocol-seeds': '2',
      'protocol-baseSeed': '7',
      'protocol-iterationCap': '150',
      'protocol-criterion-window': '10',
      'protocol-criterion-epsilon': '0.05',
      'protocol-network-hidden': '8',
      'protocol-network-lr': '0.003',
      'protocol-evalBatch': '8',
    };
    for (const [id, v] of Object.entries(fields)) await page.fill(`#f-${id}`, v);
    await page.click('#search-form button[type=submit]');
    await page.waitForURL(/#\/searches\/[0-9a-f-]{36}$/);
    const id = page.url().split('/').pop()!;
    const search = await stack.store.controller.search(id);
    expect(search.family).toBe('sma');
    expect(search.definition.protocol.network.hidden).toBe(8);
    // The form's model settings at their defaults: version 2 (sent as a number), adam, the rest left out.
    expect(search.definition.protocol.network).toMatchObject({ modelVersion: 2, propertyOptimizer: 'adam' });
    expect(search.definition.protocol.network).not.toHaveProperty('readout');

    // Four candidates (two properties), each with a curve in the chart's legend.
    await expect.poll(() => page.locator('#candidates tbody tr').count(), { timeout: 15_000 }).toBe(4);
    await page.locator('#curves canvas').waitFor();
    expect(await page.locator('#curves .u-legend .u-series').count()).toBe(5);
    // Results arrive over the stream while the search runs.
    await expect
      .poll(
        async () => {
          const cells = await page.locator('#candidates tbody tr td:nth-child(6)').allTextContents();
          return cells.reduce((n, c) => n + Number(c), 0);
        },
        { timeout: 40_000, interval: 250 },
      )
      .toBeGreaterThan(0);
    await shot('03-search-live');

    await page.locator('#decision .verdict').waitFor({ timeout: 45_000 });
    const fixed = await stack.store.client.fixedConfig.findFirst({ where: { searchId: id } });
    expect(fixed).not.toBeNull();
    expect(await page.textContent('#decision .verdict')).toContain(`Chosen mask ${fixed!.bits}`);
    expect(await page.textContent(`#candidates tr[data-mask="${fixed!.bits}"] .badge`)).toBe('chosen');
    // Every task result of every candidate reached the table: 4 masks × 2 seeds × 3 tasks.
    const cells = await page.locator('#candidates tbody tr td:nth-child(6)').allTextContents();
    expect(cells.reduce((n, c) => n + Number(c), 0)).toBe(await stack.store.client.taskResult.count());
    expect(await page.textContent('#stream-status')).toContain('closed');
    await shot('04-search-decided');
    // The top of the page (head, curves, candidates), as docs/dashboard.md shows it.
    await page.screenshot({
      path: join(SHOTS, 'search.png'),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height: 980 },
    });

    // Downloads and the report go through fetch with the key.
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('a[data-path$="format=csv"]')]);
    expect(csv.suggestedFilename()).toBe(`search-${id}.csv`);
    const [report] = await Promise.all([page.context().waitForEvent('page'), page.click('a[data-path$="/report"]')]);
    await report.waitForLoadState();
    await expect.poll(() => report.locator('body').textContent(), { timeout: 10_000 }).toContain(fixed!.bits);
    await report.screenshot({ path: join(SHOTS, '05-report.png'), fullPage: true });
    await report.close();

    await page.click('header nav a[href="#/searches"]');
    await page.locator(`#searches a[href="#/searches/${id}"]`).waitFor();
    expect(await page.textContent('#searches .badge')).toBe('complete');
    await shot('06-searches');

    await page.click('header nav a[href="#/configs"]');
    await page.locator('#configs').waitFor();
    expect(await page.textContent('#configs tbody tr td:nth-child(2)')).toBe(fixed!.bits);
    await shot('07-configs');
  }, 90_000);
});

/** What the page's event-stream fetches received: per connection, the Last-Event-ID sent and the text. */
interface Recorded {
  readonly last: string | null;
  readonly text: string;
}

/**
 * A script for the page, run before its own: the key in sessionStorage, and fetch wrapped so that each
 * event-stream response is read by the dashboard as usual while a copy of it (tee) is recorded with the
 * Last-Event-ID the request carried, in `window.__streams`.
 */
function recordStreams(key: string): string {
  return `
    sessionStorage.setItem('ip2.apiKey', ${JSON.stringify(key)});
    window.__streams = [];
    const original = window.fetch.bind(window);
    window.fetch = async (input, init) => {
      const response = await original(input, init);
      const headers = new Headers(init && init.headers);
      if (headers.get('accept') !== 'text/event-stream' || response.body === null) return response;
      const rec = { last: headers.get('last-event-id'), text: '' };
      window.__streams.push(rec);
      const [mine, copy] = response.body.tee();
      (async () => {
        const reader = copy.pipeThrough(new TextDecoderStream()).getReader();
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            rec.text += value;
          }
        } catch {
          // the connection broke: what arrived is recorded
        }
      })();
      return new Response(mine, { status: response.status, statusText: response.statusText, headers: response.headers });
    };`;
}

/** The task events' ids of one connection's text, as a fresh parser (a new connection) dispatches them. */
function taskIds(text: string): string[] {
  const ids: string[] = [];
  const parser = createParser({ onEvent: (e) => void (e.event === 'task' && ids.push(e.id ?? '')) });
  parser.feed(text);
  return ids;
}

/** Open progress streams of the api process at `url` (its /metrics). */
async function streams(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  return Number(/^ip2_api_event_streams (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe('dashboard behind a round-robin balancer over two api processes', () => {
  it('the search page follows the stream to the other process when its process dies: every task event once', async () => {
    await stack.until('api2 to answer', async () => (await fetch(`${base2}/healthz`).catch(() => null))?.ok, 30_000);
    const proxy = await RoundRobinProxy.start(
      [base, base2].map((b) => ({ host: '127.0.0.1', port: Number(new URL(b).port) })),
    );
    try {
      // A search long enough to be running when the page has its first events (see test/faults/replicas).
      const tiny = tinyDefinition({ kind: 'exhaustive' }, 5);
      const definition = {
        ...tiny,
        protocol: { ...tiny.protocol, tasks: 6, iterationCap: 400, criterion: { window: 10, epsilon: 1e-6 } },
      };
      const res = await fetch(`${proxy.url}/v1/searches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(definition),
      });
      expect(res.status).toBe(201);
      const { id } = (await res.json()) as { id: string };

      // The page, loaded through the balancer (pinned to the first process for now), with its key, and
      // every event-stream response it reads recorded next to the dashboard's own reader.
      proxy.pin(0);
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.addInitScript({ content: recordStreams(key) });
      const failover = await context.newPage();
      await failover.goto(`${proxy.url}/dashboard/#/searches/${id}`);
      const recorded = async () => (await failover.evaluate('window.__streams')) as Recorded[];
      await stack.until(
        'task events in the page',
        async () => (await recorded()).some((r) => taskIds(r.text).length > 0),
        45_000,
      );
      expect((await stack.store.controller.search(id)).state).not.toBe('COMPLETE');
      expect([await streams(base), await streams(base2)]).toEqual([1, 0]);

      // Back to round-robin; the process holding the page's stream dies.
      proxy.pin(null);
      await stack.stop('api', 'SIGKILL');
      // A second connection of the page: with the first process dead, it can only be api2's. (Not api2's
      // open-stream gauge: when the search ends before the page reconnects, the new stream replays the
      // missed events and closes at once, and a poll of the gauge can miss it.)
      await stack.until('the page streaming from api2', async () => (await recorded()).length >= 2, 30_000);
      stack.restart('api');
      await failover.locator('#decision .verdict').waitFor({ timeout: 60_000 });
      await expect.poll(() => failover.textContent('#stream-status'), { timeout: 10_000 }).toContain('closed');
      await failover.screenshot({ path: join(SHOTS, '08-failover.png'), fullPage: true });

      // Each connection resumed after the last complete event of the one before, and together they
      // carried task events 1..N, each once, N being every task result of the search.
      const connections = await recorded();
      expect(connections.length).toBeGreaterThanOrEqual(2);
      expect(connections[0]!.last).toBeNull();
      const ids: string[] = [];
      for (const [i, c] of connections.entries()) {
        if (i > 0) expect(c.last).toBe(ids.at(-1) ?? null);
        ids.push(...taskIds(c.text));
      }
      const runs = await stack.store.runs.list(id);
      const total = (await Promise.all(runs.map((r) => stack.store.runs.results(r.id)))).flat().length;
      expect(total).toBe(4 * 2 * 6);
      expect(ids).toEqual(Array.from({ length: total }, (_, i) => String(i + 1)));
      // Events reached the page after the move too, and the page counted each result once.
      expect(taskIds(connections.at(-1)!.text).length).toBeGreaterThan(0);
      const cells = await failover.locator('#candidates tbody tr td:nth-child(6)').allTextContents();
      expect(cells.reduce((n, c) => n + Number(c), 0)).toBe(total);
      await context.close();
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

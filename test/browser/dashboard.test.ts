import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, ROOT, Stack } from '../support/stack.js';

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

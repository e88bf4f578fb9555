// The dashboard page in a real browser (Debian Chromium through playwright-core), served with the
// extension's own HTML and CSP: the script runs under the nonce CSP with no violation and no
// remote request, draws a real run, posts a typed requeue request, shows the host's reply, and a
// reloaded page redraws from its saved state before the host sends anything.
//   node --import tsx --test test/e2e/dashboard/webview-page.test.ts
// Screenshots go to test-results/dashboard/ (or $SWARM_ARTIFACTS_DIR).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { HostMessage, WebviewMessage } from '../../../src/shared/dashboardProtocol';
import { findChromium } from '../../harness/launcher/browser';
import { requireE2eTools } from '../support/workbench';
import { bundleWebview, DARK_THEME, LIGHT_THEME, ROOT, runFixture, servePage, type PageServer, type RunFixture } from './page-fixture';

/** In the page: the codicon font face exists (its stylesheet loaded) and its font file loaded. */
const CODICON_LOADED = `(() => { let loaded = false; document.fonts.forEach((face) => { if (face.family.replace(/"/g, '') === 'codicon' && face.status === 'loaded') loaded = true; }); return loaded; })()`;
const ARTIFACTS = process.env.SWARM_ARTIFACTS_DIR ?? path.join(ROOT, 'test-results', 'dashboard');

let browser: Browser;
let server: PageServer;
let fixture: RunFixture;
let bundleDir: string;

/**
 * Stands in for VS Code's webview bridge: records posts, keeps state across reloads of the tab.
 * A string, not a function: tsx's transpiled functions reference helpers the page does not have.
 */
function bridgeScript(theme: Record<string, string>): string {
  return `
    window.__posted = [];
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (event) => window.__violations.push(event.violatedDirective + ' ' + event.blockedURI));
    window.acquireVsCodeApi = () => ({
      postMessage: (message) => window.__posted.push(message),
      getState: () => { const saved = sessionStorage.getItem('state'); return saved ? JSON.parse(saved) : undefined; },
      setState: (state) => sessionStorage.setItem('state', JSON.stringify(state)),
    });
    document.addEventListener('DOMContentLoaded', () => {
      for (const [name, value] of Object.entries(${JSON.stringify(theme)})) document.documentElement.style.setProperty(name, value);
    });`;
}

async function posted(page: Page): Promise<WebviewMessage[]> {
  return page.evaluate(() => (window as unknown as { __posted: WebviewMessage[] }).__posted);
}

async function sendToPage(page: Page, message: HostMessage): Promise<void> {
  await page.evaluate((data) => window.postMessage(data, '*'), message);
}

async function openPage(theme: Record<string, string> = DARK_THEME): Promise<{ page: Page; remote: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1100 } });
  const remote: string[] = [];
  const errors: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(server.origin) && !request.url().startsWith('data:')) remote.push(request.url());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.addInitScript(bridgeScript(theme));
  await page.goto(server.url);
  return { page, remote, errors };
}

describe('dashboard page in Chromium', () => {
  before(async () => {
    requireE2eTools([]); // bundles the page itself
    bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-dashboard-bundle-'));
    server = await servePage(await bundleWebview(bundleDir));
    fixture = await runFixture();
    browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    fixture?.cleanup();
    if (bundleDir) fs.rmSync(bundleDir, { recursive: true, force: true });
  });

  it('says ready, draws a real run under the CSP, and requeues through a typed request', async () => {
    const { page, remote, errors } = await openPage();
    await page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    assert.deepEqual((await posted(page))[0], { type: 'ready', version: 1 });

    await sendToPage(page, { type: 'update', update: fixture.update });
    const row = page.locator(`table.dlq tr[data-task-id="${fixture.deadTaskId}"]`);
    await row.waitFor();
    assert.equal(await row.locator('td').first().textContent(), fixture.deadTitle, 'titles are text, never markup');

    const figure = (label: string) => page.locator('.figure', { has: page.locator('.label', { hasText: new RegExp(`^${label}$`) }) }).locator('.value');
    assert.equal(await figure('Done').textContent(), String(fixture.update.metrics!.summary.done));
    assert.equal(await figure('Dead').textContent(), '1');
    assert.match((await figure('Average parallelism').textContent()) ?? '', /^\d\.\d\d$/);
    assert.equal(await page.locator('svg.chart rect.attempt').count(), fixture.attempts, 'one timeline bar per attempt');
    assert.equal(await page.locator('svg.chart rect.attempt.outcome-dead').count(), 1);
    assert.equal(await page.locator('svg[aria-label="CPU per agent chart"] path.line').count(), 3);
    assert.equal(await page.locator('svg[aria-label="Memory per agent chart"] path.line').count(), 3);
    assert.ok((await page.locator('svg[aria-label="Throughput chart"] rect.bar.done').count()) > 0);
    // The codicon font loaded from the extension's resources.
    await page.waitForFunction(CODICON_LOADED);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-page-dark.png'), fullPage: true });

    await row.locator('button').click();
    const request = (await posted(page)).find((message) => message.type === 'request');
    assert.ok(request && request.type === 'request');
    assert.deepEqual(request.request, { kind: 'requeue', taskId: fixture.deadTaskId });
    assert.ok(Number.isInteger(request.requestId));
    assert.equal(await row.locator('button').isDisabled(), true, 'disabled until the host replies');
    await sendToPage(page, { type: 'update', update: fixture.update }); // updates keep coming meanwhile
    assert.equal(await row.locator('button').isDisabled(), true, 'still disabled after a redraw');
    await row.locator('button').click({ force: true });
    assert.equal((await posted(page)).filter((message) => message.type === 'request').length, 1, 'no second request while one is pending');

    await sendToPage(page, { type: 'reply', requestId: request.requestId, ok: false, error: 'Task is pending, not dead.' });
    await page.locator('.status-line.error', { hasText: 'Task is pending, not dead.' }).waitFor();
    assert.equal(await row.locator('button').isDisabled(), false);

    // Keyboard focus and the chosen window survive the redraws of incoming updates.
    await page.locator('button[data-focus-key="requeueAll"]').focus();
    await sendToPage(page, { type: 'update', update: fixture.update });
    await page.waitForTimeout(100);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-focus-key')), 'requeueAll');

    const violations = await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);
    assert.deepEqual(violations, [], 'no CSP violation');
    assert.deepEqual(remote, [], 'no request leaves the extension origin');
    assert.deepEqual(errors, [], 'no script error');
    await page.close();
  });

  it('redraws from saved state after a reload, and keeps the chosen time window', async () => {
    const { page } = await openPage();
    await sendToPage(page, { type: 'update', update: fixture.update });
    await page.locator('table.dlq tr').nth(1).waitFor();
    await page.selectOption('#window', '30');
    await page.reload(); // what VS Code does to a hidden, non-retained webview when it is shown again
    await page.locator(`table.dlq tr[data-task-id="${fixture.deadTaskId}"]`).waitFor({ timeout: 5_000 });
    assert.equal(await page.locator('#window').inputValue(), '30');
    assert.deepEqual((await posted(page))[0], { type: 'ready', version: 1 }, 'asks the host for fresh data after the reload');
    await page.close();
  });

  it('draws in a light theme too (screenshot artifact)', async () => {
    const { page, errors } = await openPage(LIGHT_THEME);
    await sendToPage(page, { type: 'update', update: fixture.update });
    await page.locator('svg[aria-label="Agent timeline"]').waitFor();
    await page.waitForFunction(CODICON_LOADED);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-page-light.png'), fullPage: true });
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('ships the codicons of the installed @vscode/codicons', () => {
    for (const name of ['codicon.css', 'codicon.ttf']) {
      const shipped = fs.readFileSync(path.join(ROOT, 'media', 'dashboard', 'codicons', name));
      const installed = fs.readFileSync(path.join(ROOT, 'node_modules', '@vscode', 'codicons', 'dist', name));
      assert.ok(shipped.equals(installed), `media/dashboard/codicons/${name} differs from @vscode/codicons: copy it again (see the README there)`);
    }
  });

  it('redraws from saved state right after its first update', async () => {
    const { page } = await openPage();
    await sendToPage(page, { type: 'update', update: fixture.update });
    await page.locator(`table.dlq tr[data-task-id="${fixture.deadTaskId}"]`).waitFor();
    await page.reload();
    await page.locator(`table.dlq tr[data-task-id="${fixture.deadTaskId}"]`).waitFor({ timeout: 5_000 });
    await page.close();
  });

  it('explains the empty state when the workspace has no board', async () => {
    const { page } = await openPage();
    await sendToPage(page, { type: 'update', update: {} });
    await page.locator('.empty', { hasText: 'There is no Swarm board in this workspace yet.' }).waitFor();
    await page.close();
  });

  it('ignores messages that do not follow the protocol', async () => {
    const { page, errors } = await openPage();
    await page.evaluate(() => {
      window.postMessage({ type: 'update' }, '*');
      window.postMessage('not an object', '*');
      window.postMessage({ type: 'reply', requestId: 'x' }, '*');
    });
    await page.waitForTimeout(200);
    assert.equal(await page.locator('.empty', { hasText: 'Waiting for the extension' }).count(), 1);
    assert.deepEqual(errors, []);
    await page.close();
  });
});

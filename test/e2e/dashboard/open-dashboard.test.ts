// End to end, as a person does it: a real VS Code (code-server) in Chromium on a workspace whose
// board has done and dead tasks; "Swarm: Open Dashboard" from the command palette; the dashboard
// draws the run inside its real webview; clicking Requeue on the dead task requeues it on the
// board (the whole round trip: page → webview bridge → extension → board → page), and after a
// window reload the panel comes back by itself.
// Screenshots: test-results/dashboard/ (or $SWARM_ARTIFACTS_DIR).
//   node --import tsx --test test/e2e/dashboard/open-dashboard.test.ts   (needs `npm run build`)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as fs from 'fs';
import * as path from 'path';
import { ensureCodeServer } from '../../../scripts/vscode/install-code-server';
import { FileBoard } from '../../../src/core/board';
import { launchBrowser, type LaunchedBrowser } from '../../harness/launcher/browser';
import { startCodeServer } from '../../harness/launcher/code-server';
import { ProcessTracker } from '../../harness/launcher/processes';
import { makeScratch, prepareWorkspace, removeQuietly, ROOT } from '../../harness/launcher/workspace';
import { requireE2eTools, runFromPalette, waitForStoredEditorState } from '../support/workbench';

/** In the page: the codicon font face exists (its stylesheet loaded) and its font file loaded. */
const CODICON_LOADED = `(() => { let loaded = false; document.fonts.forEach((face) => { if (face.family.replace(/"/g, '') === 'codicon' && face.status === 'loaded') loaded = true; }); return loaded; })()`;
const ARTIFACTS = process.env.SWARM_ARTIFACTS_DIR ?? path.join(ROOT, 'test-results', 'dashboard');
const log = (line: string) => process.stderr.write(`[e2e dashboard] ${line}\n`);

/**
 * A board with a short run that ended a minute ago: two agents worked through five tasks side by
 * side (40-70 s each), one task failed once and was retried, one is dead.
 */
function seedBoard(workspace: string): { deadId: string } {
  const root = path.join(workspace, '.swarm');
  fs.rmSync(root, { recursive: true, force: true }); // this scenario needs its own board state
  const clock = { now: Date.now() - 6 * 60_000 };
  const board = FileBoard.open({ root, now: () => clock.now, retry: { baseMs: 1_000, jitter: 0 } });
  try {
    board.postMany([
      { title: 'Fix lint warnings in src/app.ts' },
      { title: 'Add tests for the parser' },
      { title: 'Update the README' },
      { title: 'Flaky: rename the config loader', maxAttempts: 3 },
    ]);
    const dead = board.post({ title: 'Migrate the legacy config', maxAttempts: 1 });
    const agents = ['agent-1', 'agent-2'];
    let failedOnce = false;
    for (let round = 0; round < 4; round++) {
      const claims = agents.map((agent) => board.claim({ agent })).filter((claim) => claim !== undefined);
      for (const [i, claim] of claims.entries()) {
        clock.now += 20_000 + i * 15_000;
        if (claim.task.id === dead.id) board.fail(claim, 'TypeError: cannot read properties of undefined (reading "plugins")', { permanent: true });
        else if (claim.task.title.startsWith('Flaky') && !failedOnce) {
          failedOnce = true;
          board.fail(claim, 'Test failed: expected 3 loaders, got 2');
        } else board.complete(claim, { summary: 'done', executor: 'command', durationMs: 1, files: [] });
      }
      clock.now += 5_000;
      board.promoteDelayed();
    }
    assert.equal(board.get(dead.id)?.status, 'dead');
    return { deadId: dead.id };
  } finally {
    board.close();
  }
}

describe('e2e: Swarm: Open Dashboard', () => {
  const tracker = new ProcessTracker();
  let scratch: string;
  let workspace: string;
  let browser: LaunchedBrowser | undefined;
  let deadId: string;
  let entry: string;

  before(async () => {
    requireE2eTools(['dist/extension.js', 'dist/webview/dashboard.js']);
    ({ entry } = await ensureCodeServer({ log }));
    scratch = makeScratch('e2e-dashboard');
    workspace = prepareWorkspace(scratch, { fixture: 'basic' });
    ({ deadId } = seedBoard(workspace));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    const left = await tracker.killAll();
    tracker.dispose();
    if (scratch) removeQuietly(scratch);
    assert.deepEqual(left, [], 'every process the scenario started has ended');
  });

  it('opens from the palette, draws the run, and requeues the dead task on the board', { timeout: 240_000 }, async () => {
    const server = await startCodeServer({ entry, workspace, scratch, trusted: true, tracker, log });
    browser = await launchBrowser(tracker);
    const page = await browser.browser.newPage({ viewport: { width: 1400, height: 950 } });
    await page.goto(server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: ROOT }));
    await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });

    await runFromPalette(page, 'Swarm: Open Dashboard');
    const dashboard = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    const deadRow = dashboard.locator(`table.dlq tr[data-task-id="${deadId}"]`);
    await deadRow.waitFor({ timeout: 60_000 });
    const figure = (label: string) => dashboard.locator('.figure', { has: dashboard.locator('.label', { hasText: new RegExp(`^${label}$`) }) }).locator('.value');
    assert.equal(await figure('Done').textContent(), '4');
    assert.equal(await figure('Dead').textContent(), '1');
    assert.equal(await figure('Retries').textContent(), '1');
    assert.equal(await dashboard.locator('svg.chart rect.attempt').count(), 6);
    // The codicon font loaded from the extension's own resources under the webview's CSP.
    const body = dashboard.locator('body');
    for (let tries = 0; !(await body.evaluate(CODICON_LOADED)); tries++) {
      assert.ok(tries < 100, 'the codicon font loaded');
      await page.waitForTimeout(100);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'workbench-dashboard.png') });

    // Toasts from other parts of the workbench may cover the table's buttons.
    await runFromPalette(page, 'Notifications: Clear All Notifications');
    await deadRow.locator('button').click();
    await dashboard.locator('.status-line', { hasText: 'Requeued "Migrate the legacy config".' }).waitFor({ timeout: 30_000 });
    const board = FileBoard.open({ root: path.join(workspace, '.swarm') });
    try {
      assert.notEqual(board.get(deadId)?.status, 'dead', 'the click requeued the task on the board');
    } finally {
      board.close();
    }
    await dashboard.locator('table.dlq').waitFor({ state: 'detached', timeout: 30_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'workbench-dashboard-requeued.png') });

    // A window reload: VS Code restores the panel through the extension's serializer and the
    // page redraws, without anyone running the command again. The web workbench writes its editor
    // state to storage a while after a change: reload once the dashboard is in it.
    await waitForStoredEditorState(page, /agentSwarm\.dashboard/);
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
    const restored = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    await restored.locator('.figure .label', { hasText: /^Done$/ }).waitFor({ timeout: 90_000 });
    assert.equal(await restored.locator('table.dlq').count(), 0, 'the requeued task stays out of the dead letters');
    await page.screenshot({ path: path.join(ARTIFACTS, 'workbench-dashboard-restored.png') });
  });
});

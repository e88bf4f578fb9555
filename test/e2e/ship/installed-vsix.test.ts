// The extension as users install it: `npm run package` builds the .vsix, code-server installs it
// with --install-extension (no extension development path), and the main path runs against the
// installed copy: the extension activates on the workspace's board (status bar shows 1/2 done) and
// the dashboard draws the board.
//   node --import tsx --test test/e2e/ship/installed-vsix.test.ts
// Note: packaging rebuilds dist/ with the production build (minified, no source maps).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import * as fs from 'fs';
import * as path from 'path';
import { ensureCodeServer } from '../../../scripts/vscode/install-code-server';
import { FileBoard } from '../../../src/core/board';
import { launchBrowser, type LaunchedBrowser } from '../../harness/launcher/browser';
import { startCodeServer } from '../../harness/launcher/code-server';
import { ProcessTracker } from '../../harness/launcher/processes';
import { makeScratch, prepareWorkspace, removeQuietly, ROOT } from '../../harness/launcher/workspace';
import { requireE2eTools, runFromPalette } from '../support/workbench';

const log = (line: string) => process.stderr.write(`[e2e ship] ${line}\n`);
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; publisher: string; version: string };

describe('e2e: the installed .vsix', () => {
  const tracker = new ProcessTracker();
  let scratch: string;
  let workspace: string;
  let vsix: string;
  let entry: string;
  let browser: LaunchedBrowser | undefined;

  before(async () => {
    requireE2eTools([]); // builds its own package below
    ({ entry } = await ensureCodeServer({ log }));
    scratch = makeScratch('e2e-ship');
    workspace = prepareWorkspace(scratch, { fixture: 'basic' });
    const boardRoot = path.join(workspace, '.swarm');
    fs.rmSync(boardRoot, { recursive: true, force: true });
    const board = FileBoard.open({ root: boardRoot });
    try {
      board.postMany([{ title: 'Installed: first' }, { title: 'Installed: second' }]);
      const claim = board.claim({ agent: 'e2e' });
      assert.ok(claim);
      board.complete(claim, { summary: 'done', executor: 'command', durationMs: 1, files: [] });
    } finally {
      board.close();
    }
    vsix = path.join(scratch, `${manifest.name}-${manifest.version}.vsix`);
    execFileSync(process.execPath, ['esbuild.js', '--production'], { cwd: ROOT, stdio: 'inherit' });
    execFileSync(process.execPath, [require.resolve('@vscode/vsce/vsce'), 'package', '--no-dependencies', '--out', vsix], { cwd: ROOT, stdio: 'inherit' });
  });

  after(async () => {
    await browser?.close();
    const left = await tracker.killAll();
    tracker.dispose();
    if (scratch) removeQuietly(scratch);
    assert.deepEqual(left, [], 'every process the scenario started has ended');
  });

  it('installs with --install-extension and runs from the installed copy', { timeout: 300_000 }, async () => {
    const extensionsDir = path.join(scratch, 'extensions');
    fs.mkdirSync(extensionsDir, { recursive: true });
    execFileSync(process.execPath, [entry, '--extensions-dir', extensionsDir, '--user-data-dir', path.join(scratch, 'user-data'), '--install-extension', vsix], { stdio: 'inherit', env: { ...process.env, XDG_CONFIG_HOME: path.join(scratch, 'xdg-config'), XDG_DATA_HOME: path.join(scratch, 'xdg-data') } });
    const installed = path.join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`);
    assert.ok(fs.existsSync(path.join(installed, 'dist', 'extension.js')), `installed into ${installed}`);
    assert.ok(!fs.existsSync(path.join(installed, 'src')), 'sources are not packaged');
    assert.deepEqual(fs.readdirSync(path.join(installed, 'dist')).filter((name) => name.endsWith('.map')), [], 'no source maps in the package');

    const server = await startCodeServer({ entry, workspace, scratch, trusted: true, tracker, log });
    browser = await launchBrowser(tracker);
    const page = await browser.browser.newPage({ viewport: { width: 1400, height: 950 } });
    await page.goto(server.workbenchUrl({ folder: workspace }));
    await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
    // The installed extension activates on the board (workspaceContains:.swarm/board.json) and reads it.
    const status = page.locator('.statusbar-item', { hasText: /1\/2/ }).first();
    await status.waitFor({ timeout: 120_000 });
    await runFromPalette(page, 'Swarm: Open Dashboard');
    const dashboard = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
    const done = dashboard.locator('.figure', { has: dashboard.locator('.label', { hasText: /^Done$/ }) }).locator('.value');
    await done.waitFor({ timeout: 60_000 });
    assert.equal(await done.textContent(), '1');
  });
});

// The dashboard and Export Report inside a real VS Code extension host: the command opens one
// panel whose page runs under the nonce CSP (its `ready` handshake arrives), the HTML loads nothing
// remote, board changes reach the page, a requeue request from the page requeues on the board, and
// the report command writes Markdown and HTML.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import type { DashboardProbe } from '../../../src/extension/dashboard/panel';
import type { HostMessage } from '../../../src/shared/dashboardProtocol';
import { waitFor, workspaceRoot } from '../support/workspace';

const EXTENSION_ID = 'agent-swarm.agent-swarm';
const OPEN = 'agentSwarm.openDashboard';
const EXPORT = 'agentSwarm.exportReport';
const PROBE = 'agentSwarm.internal.dashboardProbe';
const MESSAGE = 'agentSwarm.internal.dashboardMessage';

async function probe(): Promise<DashboardProbe | undefined> {
  return vscode.commands.executeCommand<DashboardProbe | undefined>(PROBE);
}

function dashboardTabs(): vscode.Tab[] {
  return vscode.window.tabGroups.all
    .flatMap((group) => group.tabs)
    .filter((tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.endsWith('agentSwarm.dashboard'));
}

/** cspSource may hold several sources with `*` wildcards; a URL must fall under one of them. */
function underCspSource(url: string, cspSource: string): boolean {
  return cspSource.split(/\s+/).some((source) => {
    const pattern = new RegExp(`^${source.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`);
    return pattern.test(url);
  });
}

suite('Dashboard', function () {
  this.timeout(90_000);
  let board: FileBoard;

  suiteSetup(async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `${EXTENSION_ID} is loaded`);
    await extension.activate();
    board = FileBoard.open({ root: path.join(workspaceRoot(), '.swarm') });
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    board?.close();
  });

  test('Open Dashboard opens one panel whose page runs under the CSP', async () => {
    await vscode.commands.executeCommand(OPEN);
    // The page says `ready` only if its nonce script loaded and ran inside the webview.
    const opened = await waitFor('the dashboard page to say ready', async () => {
      const state = await probe();
      return state && state.readyCount > 0 ? state : undefined;
    });
    assert.strictEqual(opened.visible, true);
    await vscode.commands.executeCommand(OPEN);
    assert.strictEqual(dashboardTabs().length, 1, 'a second Open Dashboard reveals the same panel');
  });

  test('the page has a strict CSP with a nonce and loads nothing remote', async () => {
    await vscode.commands.executeCommand(OPEN);
    const { html } = (await probe())!;
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    assert.ok(csp, 'a CSP meta tag');
    assert.match(csp, /^default-src 'none'; /);
    const nonce = /script-src 'nonce-([A-Za-z0-9_-]{16,})'/.exec(csp)?.[1];
    assert.ok(nonce, 'scripts are allowed by nonce only');
    assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), 'no unsafe sources');
    const scripts = [...html.matchAll(/<script\b([^>]*)>/g)].map((match) => match[1]);
    assert.strictEqual(scripts.length, 1);
    assert.ok(scripts[0].includes(`nonce="${nonce}"`), 'the one script carries the nonce');
    const cspSource = /style-src ([^;]+)/.exec(csp)![1];
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    assert.ok(urls.length >= 3, 'script, stylesheet and codicons are linked');
    for (const url of urls) assert.ok(underCspSource(url, cspSource), `${url} is a webview resource of the extension, not remote content`);
  });

  test('a dead task reaches the page, and a requeue request from the page requeues it on the board', async () => {
    await vscode.commands.executeCommand(OPEN);
    const task = board.post({ title: 'integration: dashboard requeue', maxAttempts: 1 });
    const claim = board.findClaim(task.id, 'itest') ?? board.claim({ agent: 'itest' });
    assert.ok(claim && claim.task.id === task.id, 'the test claimed its own task');
    board.fail(claim, 'fails on purpose', { permanent: true });

    await waitFor('the dead task in the dashboard update', async () => {
      const letters = (await probe())?.lastUpdate?.metrics?.deadLetters ?? [];
      return letters.some((letter) => letter.taskId === task.id) ? true : undefined;
    });

    const ignored = await vscode.commands.executeCommand<HostMessage | undefined>(MESSAGE, { type: 'request', requestId: 1, request: { kind: 'requeue', taskId: '../../etc' } });
    assert.strictEqual(ignored, undefined, 'a malformed request is dropped');
    assert.strictEqual(board.get(task.id)?.status, 'dead');

    const reply = await vscode.commands.executeCommand<HostMessage | undefined>(MESSAGE, { type: 'request', requestId: 2, request: { kind: 'requeue', taskId: task.id } });
    assert.deepStrictEqual(reply, { type: 'reply', requestId: 2, ok: true, message: 'Requeued "integration: dashboard requeue".' });
    assert.notStrictEqual(board.get(task.id)?.status, 'dead');

    const again = await vscode.commands.executeCommand<HostMessage | undefined>(MESSAGE, { type: 'request', requestId: 3, request: { kind: 'requeue', taskId: task.id } });
    assert.ok(again && again.type === 'reply' && !again.ok && /not dead/.test(again.error), 'a second requeue is refused with the reason');

    await waitFor('the requeued task to leave the dead letters', async () => {
      const letters = (await probe())?.lastUpdate?.metrics?.deadLetters;
      return letters && !letters.some((letter) => letter.taskId === task.id) ? true : undefined;
    });
    board.cancel(task.id); // leave nothing for a running pool to pick up
  });

  test('closing the panel disposes it', async () => {
    await vscode.commands.executeCommand(OPEN);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await waitFor('the panel to be gone', async () => ((await probe()) === undefined ? true : undefined));
    assert.strictEqual(dashboardTabs().length, 0);
  });
});

suite('Export Report', function () {
  this.timeout(60_000);

  test('writes a Markdown report and an HTML report to the given files', async () => {
    const dir = fs.mkdtempSync(path.join(workspaceRoot(), 'reports-'));
    try {
      const markdown = vscode.Uri.file(path.join(dir, 'run.md'));
      const written = await vscode.commands.executeCommand<vscode.Uri | undefined>(EXPORT, markdown, { open: false });
      assert.strictEqual(written?.fsPath, markdown.fsPath);
      const text = fs.readFileSync(markdown.fsPath, 'utf8');
      assert.ok(text.startsWith('# Agent Swarm run report'), text.slice(0, 200));
      assert.match(text, /## Summary/);

      const html = vscode.Uri.file(path.join(dir, 'run.html'));
      await vscode.commands.executeCommand(EXPORT, html, { open: true });
      const page = fs.readFileSync(html.fsPath, 'utf8');
      assert.ok(page.startsWith('<!DOCTYPE html>'));
      assert.ok(!/<script/i.test(page));
      await waitFor('the report to open in an editor', async () =>
        vscode.window.visibleTextEditors.some((editor) => editor.document.uri.fsPath === html.fsPath) ? true : undefined,
      );
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

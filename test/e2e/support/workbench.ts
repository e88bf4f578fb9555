// Helpers for e2e scenarios: a real VS Code (code-server) in headless Chromium on a throwaway copy
// of a fixture workspace, driven like a person would (palette, views, notifications).
//
//   const bench = await openWorkbench({ name: 'my-area-scenario', fixture: 'basic' });
//   try {
//     await bench.runCommand('Swarm: Show Board');
//     await bench.waitForNotification(/Posted 3 tasks/);
//     await bench.screenshot('after-post');
//   } finally {
//     await bench.close(); // screenshots + Playwright trace in test-results/e2e/<name>/ on failure
//   }
//
// Artifacts: test-results/e2e/<name>/ (or $SWARM_ARTIFACTS_DIR/<name>). With E2E_SCREENSHOTS=1
// screenshots and the trace are kept for passing scenarios too. See docs/testing.md.
import * as fs from 'fs';
import * as path from 'path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { ensureCodeServer } from '../../../scripts/vscode/install-code-server';
import { findChromium, launchBrowser, type LaunchedBrowser } from '../../harness/launcher/browser';
import { startCodeServer, type CodeServer } from '../../harness/launcher/code-server';
import { ProcessTracker } from '../../harness/launcher/processes';
import { keepScratch, makeScratch, prepareWorkspace, removeQuietly, ROOT } from '../../harness/launcher/workspace';

export { ROOT };

export interface WorkbenchOptions {
  /** Names the artifacts folder and scratch dir: use `<area>-<scenario>`. */
  name: string;
  /** A folder under test/fixtures/ copied as the workspace (default `basic`). */
  fixture?: string;
  /** Make the workspace a git repository with one commit. */
  git?: boolean;
  /** false: Restricted Mode (workspace trust on, folder untrusted). Default true. */
  trusted?: boolean;
  /** User settings on top of the harness defaults. */
  settings?: Record<string, unknown>;
  /** Called with the workspace path before VS Code starts (seed a board, write files). */
  prepare?: (workspace: string) => void | Promise<void>;
  viewport?: { width: number; height: number };
}

export interface Workbench {
  page: Page;
  workspace: string;
  server: CodeServer;
  artifactsDir: string;
  /** Runs a command from the command palette by its title (e.g. `Swarm: Show Board`). */
  runCommand(title: string, timeoutMs?: number): Promise<void>;
  /** Waits for a notification toast whose text matches; returns its locator. */
  waitForNotification(text: string | RegExp, timeoutMs?: number): Promise<Locator>;
  /** Closes all notification toasts (they can cover buttons). */
  clearNotifications(): Promise<void>;
  /** Waits until a view (sidebar/panel pane) with this title is visible; returns the pane. */
  waitForView(title: string | RegExp, timeoutMs?: number): Promise<Locator>;
  /** Clicks an activity-bar entry by its label (e.g. the Swarm container). */
  openActivity(label: string | RegExp): Promise<void>;
  /** Saves test-results/e2e/<name>/<label>.png (always; cheap). Returns the file. */
  screenshot(label: string): Promise<string>;
  /** Pass the test outcome: on failure (or E2E_SCREENSHOTS=1) keeps a screenshot and the trace. */
  close(outcome?: { failed: boolean }): Promise<void>;
}

/**
 * Throws, naming what to install or run, when this machine cannot run e2e scenarios. Never a skip:
 * ./scripts/test.sh installs everything, so a missing tool is a failure that says which.
 */
export function requireE2eTools(built: string[] = ['dist/extension.js']): void {
  if (!findChromium()) {
    throw new Error('Chromium is not installed; e2e scenarios drive it. Install it with apt-get install -y chromium (./scripts/test.sh installs everything the tests need), or set SWARM_CHROMIUM.');
  }
  for (const file of built) {
    if (!fs.existsSync(path.join(ROOT, file))) throw new Error(`${file} is missing: build the extension first (npm run build; npm run test:e2e builds it).`);
  }
}

export function artifactsDirFor(name: string): string {
  const base = process.env.SWARM_ARTIFACTS_DIR ?? path.join(ROOT, 'test-results', 'e2e');
  return path.join(base, name);
}

const keepAlways = () => process.env.E2E_SCREENSHOTS === '1';

export async function openWorkbench(options: WorkbenchOptions): Promise<Workbench> {
  requireE2eTools();
  const log = (line: string) => process.stderr.write(`[e2e ${options.name}] ${line}\n`);
  const tracker = new ProcessTracker();
  const scratch = makeScratch(`e2e-${options.name}`);
  const artifactsDir = artifactsDirFor(options.name);
  let browser: LaunchedBrowser | undefined;
  let context: BrowserContext | undefined;
  const teardown = async (): Promise<string[]> => {
    await browser?.close().catch(() => undefined);
    const left = await tracker.killAll();
    tracker.dispose();
    if (!keepScratch()) removeQuietly(scratch);
    return left.map(String);
  };
  try {
    const { entry } = await ensureCodeServer({ log });
    const workspace = prepareWorkspace(scratch, { fixture: options.fixture ?? 'basic', git: options.git });
    await options.prepare?.(workspace);
    const server = await startCodeServer({ entry, workspace, scratch, trusted: options.trusted ?? true, settings: options.settings, tracker, log });
    browser = await launchBrowser(tracker);
    context = await browser.browser.newContext({ viewport: options.viewport ?? { width: 1400, height: 900 } });
    await context.tracing.start({ screenshots: true, snapshots: true });
    const page = await context.newPage();
    await page.goto(server.workbenchUrl({ folder: workspace, extensionDevelopmentPath: ROOT }));
    await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
    return makeWorkbench({ page, context, workspace, server, artifactsDir, teardown });
  } catch (error) {
    await teardown();
    throw error;
  }
}

interface Parts {
  page: Page;
  context: BrowserContext;
  workspace: string;
  server: CodeServer;
  artifactsDir: string;
  teardown: () => Promise<string[]>;
}

function makeWorkbench({ page, context, workspace, server, artifactsDir, teardown }: Parts): Workbench {
  const screenshot = async (label: string) => {
    fs.mkdirSync(artifactsDir, { recursive: true });
    const file = path.join(artifactsDir, `${label}.png`);
    await page.screenshot({ path: file });
    return file;
  };
  return {
    page,
    workspace,
    server,
    artifactsDir,
    runCommand: (title, timeoutMs) => runFromPalette(page, title, timeoutMs),
    async waitForNotification(text, timeoutMs = 60_000) {
      const toast = page.locator('.notification-toast', { hasText: text }).first();
      await toast.waitFor({ timeout: timeoutMs });
      return toast;
    },
    async clearNotifications() {
      await runFromPalette(page, 'Notifications: Clear All Notifications').catch(() => undefined);
    },
    async waitForView(title, timeoutMs = 60_000) {
      const header = page.locator('.pane-header', { hasText: title }).first();
      await header.waitFor({ timeout: timeoutMs });
      return header.locator('xpath=..');
    },
    async openActivity(label) {
      await page.locator('.activitybar .action-item a', { hasText: label }).or(page.getByRole('tab', { name: label })).first().click();
    },
    screenshot,
    async close(outcome = { failed: false }) {
      const keep = outcome.failed || keepAlways();
      try {
        if (keep) {
          await screenshot(outcome.failed ? 'failure' : 'final').catch(() => undefined);
          await context.tracing.stop({ path: path.join(artifactsDir, 'trace.zip') }).catch(() => undefined);
        } else {
          await context.tracing.stop().catch(() => undefined);
        }
      } finally {
        const left = await teardown();
        // A process left behind fails the scenario even when closing the browser failed first.
        // eslint-disable-next-line no-unsafe-finally
        if (left.length > 0) throw new Error(`processes still alive after the scenario: ${left.join(', ')}`);
      }
    },
  };
}

/**
 * Runs a command from the palette by its title. The palette lists only what is registered when it
 * opens, and the extension loads a little after the workbench: close and try again until it is there.
 */
export async function runFromPalette(page: Page, title: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  for (;;) {
    await page.keyboard.press('F1');
    await input.waitFor();
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ timeout: 5_000 });
      await input.press('Enter');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await page.keyboard.press('Escape');
    }
  }
}

/**
 * Waits until the web workbench has written its editor layout to the browser's storage with an
 * editor whose state matches `pattern` (e.g. a webview's view type), so a reload restores it. The
 * workbench stores state in IndexedDB a while after a change; a reload before that loses it.
 */
export async function waitForStoredEditorState(page: Page, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stored = (await page.evaluate(READ_EDITOR_STATE)) as string[];
    if (stored.some((value) => pattern.test(value))) return;
    if (Date.now() > deadline) throw new Error(`the workbench did not store an editor state matching ${pattern} within ${timeoutMs} ms (stored: ${stored.join(' | ').slice(0, 400) || 'nothing'})`);
    await page.waitForTimeout(200);
  }
}

/**
 * In the page: the editor-part state of every VS Code web state database. A string, not a function:
 * tsx's transpiled functions can reference helpers the page does not have.
 */
const READ_EDITOR_STATE = `(async () => {
  const open = (name) => new Promise((resolve, reject) => { const r = indexedDB.open(name); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  const get = (db) => new Promise((resolve, reject) => { const r = db.transaction('ItemTable', 'readonly').objectStore('ItemTable').get('memento/workbench.parts.editor'); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  const values = [];
  for (const info of await indexedDB.databases()) {
    if (!(info.name || '').startsWith('vscode-web-state-db')) continue;
    const db = await open(info.name);
    try {
      if (!db.objectStoreNames.contains('ItemTable')) continue;
      const value = await get(db);
      if (value !== undefined) values.push(typeof value === 'string' ? value : new TextDecoder().decode(value));
    } finally {
      db.close();
    }
  }
  return values;
})()`;

// End to end, a person's whole path through Agent Swarm in a real VS Code (code-server) in headless
// Chromium, on a git copy of test/fixtures/path (a JavaScript file the built-in TypeScript server
// flags):
//   1. open the Swarm container (Tasks and Pool views)                       → panel.png
//   2. open src/total.js, click the "Fix with swarm" code lens above the type error
//                                                                            → code-lens.png
//   3. the task shows in Tasks (Pending, status bar 0/1); click "Start Swarm" in the notification;
//      while the agent works in its own git worktree: Running in Tasks, "0/1 · 1 busy" in the status
//      bar, "1/2 busy" in Pool                                                → progress.png
//      then the status bar reaches 1/1 and the task lands in Done             → done.png
//   4. Swarm: Open Dashboard from the palette, the webview draws the run   → dashboard.png
//   5. click the task in Tasks: the diff editor shows the result            → diff.png
//   6. click Apply in the review notification: the fix is in the user's file on disk (and was not
//      before: the agent worked in a git worktree); the file's tab shows it and the lens is gone
//                                                                            → applied.png
// Screenshots: test-results/e2e/path-fix-review-apply/ (or $SWARM_ARTIFACTS_DIR/path-fix-review-apply),
// kept on success too; on failure also failure.png and trace.zip (by the workbench support).
//   npm run build && node --import tsx --test test/e2e/path/fix-review-apply.test.ts
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { artifactsDirFor, openWorkbench, type Workbench } from '../support/workbench';

const NAME = 'path-fix-review-apply';
const FILE = 'src/total.js';
const BROKEN_LINE = 'const label = sum;';
const FIXED_LINE = 'const label = String(sum);';
const AGENT_SECONDS = 10;

const settings = {
  // A real fix without an API key: the agent's command edits the task's file in its worktree (sed's
  // basic regular expressions: the parentheses and the semicolon are literal). The sleep keeps the
  // task running long enough for a person (and the test) to watch the progress.
  'agentSwarm.executor': { type: 'command', command: `sleep ${AGENT_SECONDS} && sed -i 's/${BROKEN_LINE}/${FIXED_LINE}/' {file}` },
  'agentSwarm.pool.maxAgents': 2,
  'agentSwarm.isolation': 'worktree',
};

/** The machine is shared (2 cores, other test runs): every wait is generous. */
const TS_SERVER_MS = 240_000;
const STEP_MS = 120_000;

const readFile = (workspace: string) => fs.readFileSync(path.join(workspace, FILE), 'utf8');

/** The repository's worktrees (the main one first), as `git worktree list` reports them. */
function worktrees(workspace: string): string[] {
  const out = execFileSync('git', ['worktree', 'list', '--porcelain'], { cwd: workspace, encoding: 'utf8' });
  return out.split('\n').filter((line) => line.startsWith('worktree ')).map((line) => line.slice('worktree '.length));
}

/** Opens a file the way a person does: Quick Open (Ctrl+P), type its name, Enter. */
async function quickOpen(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: path.basename(name) }).first().waitFor({ timeout: 30_000 });
  await input.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: path.basename(name) }).waitFor({ timeout: 30_000 });
}

/** The dashboard's inner document (the webview iframe, then its active frame). */
function dashboardFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

/** A tree row of the Tasks view whose text matches. */
function taskRow(tasks: Locator, text: string | RegExp): Locator {
  return tasks.locator('.monaco-list-row', { hasText: text }).first();
}

/**
 * Waits until nothing matches the locator for `stableMs` in a row. A single "detached" is not
 * enough: VS Code redraws code lenses (and shows cached ones on reopening a file) before it asks the
 * providers again.
 */
async function staysAbsent(page: Page, locator: Locator, stableMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let absentSince: number | undefined;
  for (;;) {
    const now = Date.now();
    if ((await locator.count()) === 0) {
      absentSince ??= now;
      if (now - absentSince >= stableMs) return;
    } else absentSince = undefined;
    assert.ok(now < deadline, `still shown after ${timeoutMs} ms: ${locator}`);
    await page.waitForTimeout(250);
  }
}

async function statusBarShows(bench: Workbench, text: RegExp): Promise<void> {
  await bench.page.locator('.statusbar-item', { hasText: text }).first().waitFor({ timeout: STEP_MS });
}

describe('e2e: a person fixes a problem with the swarm, reviews the diff and applies it', () => {
  it('panel → code lens → progress → dashboard → diff → apply', { timeout: 900_000 }, async () => {
    const started = Date.now();
    // Screenshots of an earlier run must not pass for this run's.
    fs.rmSync(artifactsDirFor(NAME), { recursive: true, force: true });
    const bench = await openWorkbench({ name: NAME, fixture: 'path', git: true, settings });
    const { page, workspace } = bench;
    const original = readFile(workspace);
    assert.ok(original.includes(BROKEN_LINE), 'the fixture starts broken');
    const step = (name: string) => process.stderr.write(`[e2e path] ${((Date.now() - started) / 1000).toFixed(1)}s ${name}\n`);
    let failed = true;
    try {
      // 1. The Swarm panel: the container with its Tasks and Pool views.
      step('open the Swarm container');
      await bench.openActivity(/Swarm/);
      const tasks = await bench.waitForView(/^\s*Tasks/, STEP_MS);
      const pool = await bench.waitForView(/^\s*Pool/, STEP_MS);
      await bench.screenshot('panel');

      // 2. The code lens above the problem line, from the TypeScript server's diagnostic.
      step('open the file and wait for the code lens');
      await quickOpen(page, FILE);
      const lens = page.locator('.codelens-decoration a', { hasText: /^Fix with swarm/ }).first();
      await lens.waitFor({ state: 'visible', timeout: TS_SERVER_MS });
      await bench.screenshot('code-lens');
      step('click the code lens');
      await lens.click();

      // 3. The task is posted; start the swarm from the notification and watch it run and finish.
      const offer = await bench.waitForNotification(/Posted "Fix src\/total\.js:\d+: .*The swarm is not running/, STEP_MS);
      await taskRow(tasks, /^\s*Pending \(1\)/).waitFor({ timeout: STEP_MS });
      await taskRow(tasks, /Fix src\/total\.js:\d+: Type 'number' is not assignable to type 'string'/).waitFor({ timeout: STEP_MS });
      await statusBarShows(bench, /\b0\/1\b/);
      step('start the swarm from the notification');
      await offer.getByRole('button', { name: 'Start Swarm' }).click();
      // While the agent works (it sleeps first): Running in Tasks, one busy agent in the status bar and Pool.
      await taskRow(tasks, /^\s*Running \(1\)/).waitFor({ timeout: STEP_MS });
      await statusBarShows(bench, /\b0\/1 · 1 busy\b/);
      await pool.getByText(/1\/2 busy/).first().waitFor({ timeout: STEP_MS });
      assert.ok(worktrees(workspace).length > 1, `the agent works in a git worktree of its own: ${worktrees(workspace).join(', ')}`);
      await bench.screenshot('progress');
      step('agent running');
      await statusBarShows(bench, /\b1\/1\b/);
      await taskRow(tasks, /^\s*Done \(1\)/).waitFor({ timeout: STEP_MS });
      step('task done');
      assert.equal(readFile(workspace), original, 'the agent worked in a worktree: the user\'s file is untouched before Apply');
      await bench.screenshot('done');

      // 4. The dashboard from the palette, drawn in its webview.
      step('open the dashboard');
      await bench.runCommand('Swarm: Open Dashboard');
      const dashboard = dashboardFrame(page);
      const doneFigure = dashboard.locator('.figure', { has: dashboard.locator('.label', { hasText: /^Done$/ }) }).locator('.value');
      await doneFigure.waitFor({ timeout: STEP_MS });
      assert.equal((await doneFigure.textContent())?.trim(), '1', 'the dashboard counts the finished task');
      await bench.screenshot('dashboard');

      // 5. Review: a click on the done task opens the diff editor on its result.
      step('review the result');
      await bench.clearNotifications();
      await taskRow(tasks, /Fix src\/total\.js/).click();
      const diff = page.locator('.monaco-diff-editor').first();
      await diff.waitFor({ state: 'visible', timeout: STEP_MS });
      await diff.locator('.modified-in-monaco-diff-editor .view-lines', { hasText: FIXED_LINE }).waitFor({ timeout: STEP_MS });
      await diff.locator('.original-in-monaco-diff-editor .view-lines', { hasText: BROKEN_LINE }).waitFor({ timeout: STEP_MS });
      const review = await bench.waitForNotification(/apply it to your files or discard it/, STEP_MS);
      await bench.screenshot('diff');
      assert.equal(readFile(workspace), original, 'reviewing does not change the user\'s file');

      // 6. Apply from the review notification: the fix lands in the user's file on disk.
      step('apply');
      await review.getByRole('button', { name: 'Apply' }).click();
      const deadline = Date.now() + STEP_MS;
      while (!readFile(workspace).includes(FIXED_LINE) && Date.now() < deadline) await page.waitForTimeout(500);
      const applied = readFile(workspace);
      assert.ok(applied.includes(FIXED_LINE), `after Apply ${FILE} holds the fix:\n${applied}`);
      assert.ok(!applied.includes(BROKEN_LINE), `after Apply the broken line is gone:\n${applied}`);
      assert.equal(applied, original.replace(BROKEN_LINE, FIXED_LINE), 'Apply changed exactly the fixed line');
      // What the person sees afterwards: the file's own tab holds the fix, the TypeScript server has
      // nothing left to report there, so the code lens is gone (and stays gone).
      await page.locator('.tabs-container .tab', { hasText: path.basename(FILE) }).first().click();
      await page.locator('.editor-instance .view-lines', { hasText: FIXED_LINE }).first().waitFor({ timeout: STEP_MS });
      await staysAbsent(page, page.locator('.codelens-decoration a', { hasText: /^Fix with swarm/ }), 3_000, TS_SERVER_MS);
      await bench.screenshot('applied');
      step('done');
      failed = false;
    } finally {
      await bench.close({ failed });
    }
  });
});

// Issue 14 with the real bwrap: the tester's escapes (absolute path into the checkout, ../ to the
// workspace root, git config into the shared .git/config, a write into $HOME, a write into another
// worktree, a forged task on the board) are refused, each named in the task's log, while the same
// attempt's edit, git commit and npm install (a local tarball, no network) succeed. Run the way the
// extension runs it (the pool API) and the way the CLI does (dist/cli.js run). Without a sandbox the
// escapes into the checkout and the repository's config are flagged on the result.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { Task } from '../../src/core/board/types';
import { AgentPool, type TaskResult } from '../../src/core/pool';
import { agentBundle } from '../unit/pool/helpers';
import { requireBwrap } from '../unit/sandbox/helpers';
import { git } from '../unit/worktree/helpers';
import { escapeScene, escapeTargets, type EscapeScene } from './sandbox-helpers';

const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');

before(() => {
  requireBwrap();
  assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)');
});

function logOf(task: Task | undefined): string {
  const logFile = (task?.result as TaskResult | undefined)?.logFile ?? '';
  return fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '(no log)';
}

function assertWalled(scene: EscapeScene, task: Task | undefined): void {
  const log = logOf(task);
  assert.equal(task?.status, 'done', `${JSON.stringify(scene.board.errors(task?.id ?? ''))}\n${log}`);
  const targets = escapeTargets(scene);
  for (const [name, target] of Object.entries(targets)) {
    assert.ok(log.includes(`The sandbox refused a write to ${target} (outside this task's worktree).`), `${name}: ${target} named as refused in the log:\n${log}`);
    if (name !== 'config') assert.equal(fs.existsSync(target), false, `${name}: ${target} was not written`);
  }
  assert.match(log, /allowWrite/);
  assert.equal(spawnSync('git', ['config', '--get', 'core.hooksPath'], { cwd: scene.checkout }).status, 1, 'the shared config is untouched');
  assert.equal(git(scene.checkout, ['status', '--porcelain']), '', 'the checkout is untouched');
  assert.match(log, /^committed$/m, 'git commit in the worktree works');
  assert.match(log, /^installed$/m, 'npm install into the worktree works');
  const result = task?.result as TaskResult;
  assert.deepEqual(result.files.map((file) => file.path).sort(), ['legit.txt', 'package-lock.json']);
  assert.equal(result.warnings, undefined);
  assert.deepEqual(fs.readdirSync(path.join(scene.boardRoot, 'quarantine')).filter((name) => name.includes('forged')), []);
}

test('pool API (as the extension runs it): every escape is refused and named, the legitimate work succeeds', { timeout: 180_000 }, async () => {
  const scene = await escapeScene();
  try {
    const task = scene.board.post({ title: 'escape and work' });
    const pool = new AgentPool({ board: scene.board, workspaceRoot: scene.checkout, executor: { type: 'command', command: 'sh escape.sh' }, env: scene.env, maxAgents: 1, untilEmpty: true, agentScript: agentBundle() });
    const sandboxEvents: unknown[] = [];
    pool.onEvent((event) => event.type === 'sandbox' && sandboxEvents.push(event.status));
    await pool.start();
    await pool.whenDone();
    assert.deepEqual(sandboxEvents, [{ mode: 'auto', active: true, tool: 'bwrap', network: true }]);
    assertWalled(scene, scene.board.get(task.id));
  } finally {
    scene.cleanup();
  }
});

test('swarm run (dist/cli.js): every escape is refused and named, the legitimate work succeeds', { timeout: 180_000 }, async () => {
  const scene = await escapeScene();
  try {
    const task = scene.board.post({ title: 'escape and work' });
    const run = spawnSync(process.execPath, [cli, 'run', '--agents', '1', '--exec', 'sh escape.sh', '--until-empty', '--sandbox', 'required'], {
      cwd: scene.checkout,
      encoding: 'utf8',
      env: { ...process.env, ...scene.env },
      timeout: 170_000,
    });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /^Sandbox: bubblewrap, network on/m);
    assertWalled(scene, scene.board.get(task.id));
  } finally {
    scene.cleanup();
  }
});

test('without a sandbox the escapes into the checkout and the shared git config are flagged on the result', { timeout: 180_000 }, async () => {
  const scene = await escapeScene();
  try {
    const task = scene.board.post({ title: 'escape unsandboxed' });
    const env = { ...scene.env, BOARD: '' }; // a forged task would be claimed by this very pool
    const pool = new AgentPool({ board: scene.board, workspaceRoot: scene.checkout, executor: { type: 'command', command: 'sh escape.sh' }, env, sandbox: { mode: 'off' }, maxAgents: 1, untilEmpty: true, agentScript: agentBundle() });
    const finished: Array<{ warnings?: string[] }> = [];
    pool.onEvent((event) => event.type === 'task-finished' && finished.push(event));
    await pool.start();
    await pool.whenDone();
    const done = scene.board.get(task.id);
    assert.equal(done?.status, 'done', logOf(done));
    const warnings = (done?.result as TaskResult).warnings ?? [];
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0], /^Files in your checkout .* changed while this task ran without a sandbox: escaped-absolute\.txt, escaped-relative\.txt, escaped-slot\.txt\./);
    assert.equal(git(scene.checkout, ['config', 'core.hooksPath']), '/tmp/evil-hooks', 'unsandboxed, the escape happened (and was flagged)');
    assert.match(warnings[1], /git configuration .* changed while this task ran without a sandbox/);
    assert.deepEqual(finished[0]?.warnings, warnings, 'the event carries them for the CLI and the views');
    assert.match(logOf(done), /^warning: Files in your checkout/m, 'and the task log');
  } finally {
    scene.cleanup();
  }
});

// A workspace board that a build of the older format (1) still uses is refused (the newer build
// would otherwise mark it format 2 under it); once that build stops, the views open it by
// themselves, though its marker never changed (they used to wait for board.json to change).
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { FileBoardEngine } from '../../../src/core/board';
import type { Board } from '../../../src/core/board/interface';
import type { SwarmExtensionApi } from '../../../src/extension/extension';
import { extensionApi as api, waitFor, workspaceRoot } from '../support/workspace';

/** The older build's pool: a live process and its host record as that build writes it (no boardFormat). */
function olderPool(boardDir: string): { exited: Promise<unknown>; stop: () => void; kill: () => void } {
  const older = spawn('sleep', ['600'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => older.once('exit', resolve));
  const record = path.join(boardDir, 'hosts', `${older.pid}.json`);
  fs.mkdirSync(path.dirname(record), { recursive: true });
  fs.writeFileSync(record, JSON.stringify({ hostPid: older.pid, host: os.hostname(), workspaceRoot: '/elsewhere', updatedAt: Date.now(), expiresAt: Date.now() + 110_000, agents: [] }));
  return { exited, kill: () => older.kill('SIGKILL'), stop: () => (older.kill('SIGKILL'), fs.rmSync(record, { force: true })) };
}

/** Marks a board format 1, as a build of format 1 left it. */
function markFormatOne(boardDir: string): void {
  const marker = JSON.parse(fs.readFileSync(path.join(boardDir, 'board.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(boardDir, 'board.json'), JSON.stringify({ ...marker, version: 1 }, null, 2) + '\n');
}

function markerVersion(boardDir: string): number {
  return (JSON.parse(fs.readFileSync(path.join(boardDir, 'board.json'), 'utf8')) as { version: number }).version;
}

/** With the board refused (still format 1): the older build stops, and the views open the board by themselves. */
async function stopOlderAndSeeViewsOpen(swarm: SwarmExtensionApi, older: ReturnType<typeof olderPool>, boardDir: string): Promise<void> {
  assert.equal(markerVersion(boardDir), 1);
  let opened: Board | undefined;
  // As a view does: read the board again whenever the session says it changed.
  const listening = swarm.session.onDidChangeBoard(() => void swarm.session.viewBoard().then((board) => (opened ??= board)));
  try {
    older.kill();
    await older.exited;
    await waitFor('the views to open the board by themselves once the older build stopped', () => opened, 60_000);
  } finally {
    listening.dispose();
  }
  assert.equal(markerVersion(boardDir), 2);
}

suite('A board an older build still uses', () => {
  test('the views refuse it while that build runs, then open it by themselves once it stops', async function () {
    this.timeout(120_000);
    const swarm = await api();
    await swarm.session.ensureViewBoard();
    const boardDir = path.join(workspaceRoot(), '.swarm');
    const older = olderPool(boardDir);
    try {
      markFormatOne(boardDir);
      await swarm.session.setBoardPassword(undefined); // closes the views' board and has them read it again
      assert.equal(await swarm.session.viewBoard(), undefined, 'refused while the older build runs');
      await stopOlderAndSeeViewsOpen(swarm, older, boardDir);
    } finally {
      older.stop();
    }
  });

  test('the same for a folder board named by agentSwarm.board', async function () {
    this.timeout(120_000);
    const swarm = await api();
    const boardDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'older-build-')), 'board');
    FileBoardEngine.open({ root: boardDir }).close(); // a board, then marked as a build of format 1 left it
    markFormatOne(boardDir);
    const older = olderPool(boardDir);
    try {
      await vscode.workspace.getConfiguration('agentSwarm').update('board', boardDir, vscode.ConfigurationTarget.Global);
      await waitFor('the refusal', () => swarm.session.boardProblem?.includes('older Agent Swarm'));
      await stopOlderAndSeeViewsOpen(swarm, older, boardDir);
    } finally {
      older.stop();
      await vscode.workspace.getConfiguration('agentSwarm').update('board', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});

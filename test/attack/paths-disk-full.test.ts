// Disk full while applying: the workspace, its repository and its board on a small tmpfs. A write
// that runs out of space half-way puts every file back and says so in one line; when even the undo
// record cannot be saved, nothing is written at all. Needs root (mount); fails, never skips, without.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../src/core/board';
import { SwarmUserError } from '../../src/core/errors';
import { applyRecord, applyTaskPatch } from '../../src/core/patch';
import { createWorktreeIsolation } from '../../src/core/worktree';
import { git } from '../unit/worktree/helpers';
import { runTasks, type Workspace } from '../unit/patch/helpers';
import { placeOf } from '../unit/patch/place';

const mounts: string[] = [];
let mount = '';

function mountTmpfs(dir: string, size: string): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  } catch (error) {
    throw new Error(`These tests need to mount a small tmpfs (run as root): ${(error as Error).message}`, { cause: error });
  }
  mounts.push(dir);
}

before(() => {
  mount = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-full-'));
  mountTmpfs(mount, '4m');
});
after(() => {
  for (const dir of mounts.splice(0).reverse()) execFileSync('umount', [dir]);
  if (mount) fs.rmdirSync(mount);
});

/** A workspace on the tmpfs; `boardSize` puts its board on a tmpfs of its own. */
function workspaceOnTmpfs(name: string, boardSize?: string): Workspace {
  const root = path.join(mount, name);
  fs.mkdirSync(root);
  if (boardSize) {
    fs.mkdirSync(path.join(root, '.swarm'));
    mountTmpfs(path.join(root, '.swarm'), boardSize);
  }
  git(root, ['init', '-q', '-b', 'main']);
  fs.writeFileSync(path.join(root, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(root, 'b.txt'), 'b\n');
  git(root, ['add', '-A']);
  git(root, ['commit', '-q', '-m', 'initial']);
  const board = FileBoard.open({ root: path.join(root, '.swarm'), durable: false });
  const isolation = createWorktreeIsolation({ workspaceRoot: root, include: [] });
  return {
    root,
    board,
    isolation,
    write: (rel, content) => fs.writeFileSync(path.join(root, rel), content),
    read: (rel) => fs.readFileSync(path.join(root, rel), 'utf8'),
    cleanup: () => board.close(),
  };
}

/** Fills the file system of `dir` up to `leaveBytes` of free space; returns the filler to remove later. */
function fill(dir: string, leaveBytes: number): string {
  const filler = path.join(dir, `filler-${Date.now()}`);
  const stats = fs.statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free - leaveBytes)));
  return filler;
}

function leftoverTempFiles(root: string): string[] {
  return fs.readdirSync(root).filter((name) => /^\.swarm-[0-9a-f]+\.tmp$/.test(name));
}

describe('apply on a full disk', () => {
  it('a write that runs out of space puts every file back, with a clear message', async () => {
    const ws = workspaceOnTmpfs('half');
    try {
      const [task] = await runTasks(ws, [
        {
          edit: (cwd) => {
            fs.writeFileSync(path.join(cwd, 'a.txt'), 'A\n');
            fs.writeFileSync(path.join(cwd, 'b.txt'), Buffer.alloc(600_000, 'x'));
          },
        },
      ]);
      const filler = fill(mount, 200_000);
      await assert.rejects(applyTaskPatch({ ...placeOf(ws.board, ws.root), taskId: task.id }), (error: unknown) => {
        assert.match((error as Error).message, /^Writing the result failed \(ENOSPC[^)]*\); your files were put back as they were\. Fix the cause \(free some disk space/);
        return true;
      });
      assert.equal(ws.read('a.txt'), 'a\n');
      assert.equal(ws.read('b.txt'), 'b\n');
      assert.deepEqual(leftoverTempFiles(ws.root), []);
      assert.equal(applyRecord(placeOf(ws.board), task.id), undefined, 'no apply recorded');
      fs.rmSync(filler);
      const outcome = await applyTaskPatch({ ...placeOf(ws.board, ws.root), taskId: task.id });
      assert.equal(outcome.status, 'applied', outcome.message);
      assert.equal(ws.read('a.txt'), 'A\n');
      assert.equal(fs.statSync(path.join(ws.root, 'b.txt')).size, 600_000);
    } finally {
      ws.cleanup();
    }
  });

  it('when the undo record cannot be saved, nothing is written at all', async () => {
    const ws = workspaceOnTmpfs('none', '256k');
    try {
      const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'A\n') }]);
      const filler = fill(ws.board.root, 0);
      // A user error of the machine (the CLI exits 1 with this one line), not a bug.
      await assert.rejects(applyTaskPatch({ ...placeOf(ws.board, ws.root), taskId: task.id }), (error: unknown) => {
        assert.ok(error instanceof SwarmUserError && error.kind === 'environment', String(error));
        assert.match(error.message, /^Saving your current files for undo failed \(ENOSPC[^)]*\), so nothing was written\./);
        return true;
      });
      assert.equal(ws.read('a.txt'), 'a\n');
      assert.deepEqual(fs.readdirSync(ws.board.artifactsDir(task.id)).filter((name) => name !== 'result.patch'), [], 'no half-saved record, no temp file');
      fs.rmSync(filler);
    } finally {
      ws.cleanup();
    }
  });
});

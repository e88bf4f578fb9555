// A result that replaces a folder with a file, or a file with a folder: `swarm apply` writes it,
// `swarm undo` puts the folder (or the file) back exactly, a kill -9 half-way is finished by the
// next undo, and nothing made after the apply (or before it, in the folder's way) is overwritten.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { fingerprint, git } from '../worktree/helpers';
import { makeWorkspace, runSwarm, runTasks, type Workspace } from './helpers';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

const swarm = (ws: Workspace, args: string[], fault = '') => runSwarm(ws.root, args, { SWARM_FAULT: fault });

/** A workspace whose folder `d` holds a text file, an executable and a nested folder, and a task that makes `d` a file. */
async function folderToFile(): Promise<{ ws: Workspace; taskId: string; original: string }> {
  const ws = makeWorkspace({ 'd/x.txt': 'x\n', 'd/run.sh': '#!/bin/sh\necho hi\n', 'd/y/z.txt': 'z\n', 'keep.txt': 'k\n' });
  made.push(ws);
  fs.chmodSync(path.join(ws.root, 'd/run.sh'), 0o755);
  git(ws.root, ['commit', '-q', '-am', 'executable']);
  const [task] = await runTasks(ws, [
    {
      edit: (cwd) => {
        fs.rmSync(path.join(cwd, 'd'), { recursive: true });
        fs.writeFileSync(path.join(cwd, 'd'), 'now a file\n');
      },
    },
  ]);
  return { ws, taskId: task.id, original: fingerprint(ws.root) };
}

/** A workspace whose file `d` a task makes a folder with two files, one in a nested folder. */
async function fileToFolder(): Promise<{ ws: Workspace; taskId: string; original: string }> {
  const ws = makeWorkspace({ d: 'a file\n', 'keep.txt': 'k\n' });
  made.push(ws);
  const [task] = await runTasks(ws, [
    {
      edit: (cwd) => {
        fs.rmSync(path.join(cwd, 'd'));
        fs.mkdirSync(path.join(cwd, 'd/y'), { recursive: true });
        fs.writeFileSync(path.join(cwd, 'd/x.txt'), 'x\n');
        fs.writeFileSync(path.join(cwd, 'd/y/z.txt'), 'z\n');
      },
    },
  ]);
  return { ws, taskId: task.id, original: fingerprint(ws.root) };
}

/**
 * A workspace whose `d` is a committed link to a folder outside it (holding `outsideFiles`), and a
 * task that replaces the link with a real folder holding d/x.txt.
 */
async function linkReplacedByFolder(outsideFiles: Record<string, string>): Promise<{ ws: Workspace; outside: string; task: { id: string } }> {
  const ws = makeWorkspace({ 'keep.txt': 'k\n' });
  made.push(ws);
  const outside = fs.mkdtempSync(path.join(path.dirname(ws.root), 'outside-'));
  for (const [name, content] of Object.entries(outsideFiles)) fs.writeFileSync(path.join(outside, name), content);
  fs.symlinkSync(outside, path.join(ws.root, 'd'));
  git(ws.root, ['add', 'd']);
  git(ws.root, ['commit', '-q', '-m', 'link']);
  const [task] = await runTasks(ws, [
    {
      edit: (cwd) => {
        fs.rmSync(path.join(cwd, 'd'));
        fs.mkdirSync(path.join(cwd, 'd'));
        fs.writeFileSync(path.join(cwd, 'd/x.txt'), 'x\n');
      },
    },
  ]);
  return { ws, outside, task };
}

function succeeds(ws: Workspace, args: string[]): string {
  const run = swarm(ws, args);
  assert.equal(run.code, 0, `swarm ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.stdout;
}

describe('a folder swapped for a file: apply and undo', () => {
  it('folder → file: apply writes the file, undo restores the folder and its files exactly (modes too)', async () => {
    const { ws, taskId, original } = await folderToFile();
    succeeds(ws, ['apply', taskId]);
    assert.equal(ws.read('d'), 'now a file\n');
    succeeds(ws, ['undo', taskId]);
    assert.equal(fingerprint(ws.root), original, 'the folder, its files and their modes are back');
    assert.equal(fs.statSync(path.join(ws.root, 'd/run.sh')).mode & 0o777, 0o755);
  });

  it('file → folder: apply writes the folder, undo restores the file exactly', async () => {
    const { ws, taskId, original } = await fileToFolder();
    succeeds(ws, ['apply', taskId]);
    assert.deepEqual([ws.read('d/x.txt'), ws.read('d/y/z.txt')], ['x\n', 'z\n']);
    succeeds(ws, ['undo', taskId]);
    assert.equal(fingerprint(ws.root), original);
    assert.equal(ws.read('d'), 'a file\n');
  });

  it('folder → file: an edit of the new file after the apply refuses the undo and changes nothing', async () => {
    const { ws, taskId } = await folderToFile();
    succeeds(ws, ['apply', taskId]);
    fs.writeFileSync(path.join(ws.root, 'd'), 'edited by me\n');
    const edited = fingerprint(ws.root);
    const undo = swarm(ws, ['undo', taskId]);
    assert.equal(undo.code, 1, undo.stderr);
    assert.match(undo.stderr, /Cannot undo task .*: d changed after the apply\. Nothing was restored/);
    assert.equal(fingerprint(ws.root), edited, 'nothing was touched');
  });

  it('file → folder: a file added to the folder, or one of its files edited, refuses the undo and changes nothing', async () => {
    const { ws, taskId, original } = await fileToFolder();
    succeeds(ws, ['apply', taskId]);
    fs.writeFileSync(path.join(ws.root, 'd/mine.txt'), 'mine\n');
    fs.mkdirSync(path.join(ws.root, 'd/empty'));
    const added = fingerprint(ws.root);
    const refused = swarm(ws, ['undo', taskId]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /Cannot undo task .*: d\/(empty\/|mine\.txt), d\/(empty\/|mine\.txt) changed after the apply\. Nothing was restored/);
    assert.equal(fingerprint(ws.root), added, 'nothing was touched');

    fs.rmSync(path.join(ws.root, 'd/mine.txt'));
    fs.rmdirSync(path.join(ws.root, 'd/empty'));
    fs.writeFileSync(path.join(ws.root, 'd/y/z.txt'), 'z edited\n');
    const edited = swarm(ws, ['undo', taskId]);
    assert.equal(edited.code, 1, edited.stderr);
    assert.match(edited.stderr, /d\/y\/z\.txt changed after the apply/);
    assert.equal(ws.read('d/y/z.txt'), 'z edited\n');

    fs.writeFileSync(path.join(ws.root, 'd/y/z.txt'), 'z\n');
    succeeds(ws, ['undo', taskId]);
    assert.equal(fingerprint(ws.root), original);
  });

  it('folder → file: a file of yours in the folder that the task does not remove is a conflict; nothing is written', async () => {
    const { ws, taskId } = await folderToFile();
    fs.writeFileSync(path.join(ws.root, 'd/untracked.txt'), 'mine\n');
    const before = fingerprint(ws.root);
    const apply = swarm(ws, ['apply', taskId]);
    assert.equal(apply.code, 1, apply.stderr);
    assert.match(apply.stdout + apply.stderr, /conflict/);
    assert.equal(fingerprint(ws.root), before, 'nothing was written');
    assert.equal(ws.read('d/untracked.txt'), 'mine\n');
  });

  it('a symbolic link replaced by a folder: the folder is made real, nothing is written through the link, undo puts the link back', async () => {
    const { ws, outside, task } = await linkReplacedByFolder({});
    const original = fingerprint(ws.root);
    succeeds(ws, ['apply', task.id]);
    assert.ok(fs.lstatSync(path.join(ws.root, 'd')).isDirectory(), 'a real folder, not the link');
    assert.equal(ws.read('d/x.txt'), 'x\n');
    assert.deepEqual(fs.readdirSync(outside), [], 'nothing written through the link');
    succeeds(ws, ['undo', task.id]);
    assert.equal(fs.readlinkSync(path.join(ws.root, 'd')), outside);
    assert.equal(fingerprint(ws.root), original);
    assert.deepEqual(fs.readdirSync(outside), []);
  });

  it('a link the change removes is not read through: a file of its target is neither "ours" in the plan nor "before" in the undo record', async () => {
    const { ws, outside, task } = await linkReplacedByFolder({ 'x.txt': 'secret outside the workspace\n' });
    const original = fingerprint(ws.root);
    const applied = succeeds(ws, ['apply', task.id]);
    assert.doesNotMatch(applied, /conflict/i, 'd/x.txt is new in the workspace: the target\'s x.txt is not in the way');
    assert.equal(ws.read('d/x.txt'), 'x\n');
    const records = spawnSync('grep', ['-rl', 'secret outside', ws.root], { encoding: 'utf8' });
    assert.equal(records.stdout, '', 'no record in the workspace or its board holds the target\'s file');
    succeeds(ws, ['undo', task.id]);
    assert.equal(fingerprint(ws.root), original);
    assert.equal(fs.readFileSync(path.join(outside, 'x.txt'), 'utf8'), 'secret outside the workspace\n');
  });

  for (const [name, make] of [['folder → file', folderToFile], ['file → folder', fileToFolder]] as const) {
    it(`${name}: undo killed half-way, then undo again, restores everything; an apply killed at each step is undone, or finished by applying again`, async () => {
      const { ws, taskId, original } = await make();
      succeeds(ws, ['apply', taskId]);
      const applied = fingerprint(ws.root);
      const killed = swarm(ws, ['undo', taskId], 'undo:after-a-file');
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      assert.notEqual(fingerprint(ws.root), applied, 'the undo had begun');
      succeeds(ws, ['undo', taskId]);
      assert.equal(fingerprint(ws.root), original);

      for (const step of ['apply:after-records', 'apply:after-a-file']) {
        const half = swarm(ws, ['apply', taskId], step);
        assert.equal(half.signal, 'SIGKILL', `${step}: ${half.stderr}`);
        succeeds(ws, ['undo', taskId]);
        assert.equal(fingerprint(ws.root), original, `undo of an apply killed at ${step} goes all the way back`);
      }
      // Killed half-way, then applied again: the apply finishes, and undo still goes all the way back.
      assert.equal(swarm(ws, ['apply', taskId], 'apply:after-a-file').signal, 'SIGKILL');
      succeeds(ws, ['apply', taskId]);
      assert.notEqual(fingerprint(ws.root), original);
      succeeds(ws, ['undo', taskId]);
      assert.equal(fingerprint(ws.root), original, 'undo after a finished re-apply restores the original');
    });
  }
});

// A named pipe where a result writes, or where an undo puts a file back (made there by the user or
// by any process since): reading one waits for a writer that never comes, and `swarm apply` used
// to read every file it replaces (to compare it, then to save it for undo), so it hung there, and
// the editor's host with it. Now apply and undo end at once, refuse with one line naming the path,
// write nothing, and leave the pipe as it is.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { makeWorkspace, runSwarm, runTasks, type Workspace } from '../unit/patch/helpers';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

/** Far under the helper's default: a hang fails the test in seconds, not minutes. */
const ENDS_WITHIN_MS = 20_000;

function makePipe(file: string): void {
  fs.rmSync(file, { force: true });
  assert.equal(spawnSync('mkfifo', [file]).status, 0, 'mkfifo');
}

/** A workspace and a done task that changes a.txt and b.txt and adds new.txt. */
async function changedThreeFiles(): Promise<{ ws: Workspace; taskId: string }> {
  const ws = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
  made.push(ws);
  const [task] = await runTasks(ws, [
    {
      edit: (cwd) => {
        fs.writeFileSync(path.join(cwd, 'a.txt'), 'A\n');
        fs.writeFileSync(path.join(cwd, 'b.txt'), 'B\n');
        fs.writeFileSync(path.join(cwd, 'new.txt'), 'new\n');
      },
    },
  ]);
  return { ws, taskId: task.id };
}

function refusedAtOnce(ws: Workspace, args: string[], pipe: string): void {
  const result = runSwarm(ws.root, args, {}, ENDS_WITHIN_MS);
  assert.equal(result.signal, null, `swarm ${args.join(' ')} did not end: ${result.stderr}`);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.match(result.stderr, new RegExp(`${pipe.replace('.', '\\.')} is a named pipe \\(FIFO\\), not a file`));
  assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
  assert.ok(fs.lstatSync(path.join(ws.root, pipe)).isFIFO(), 'the pipe is left as it is');
}

describe('a named pipe where a result writes', { skip: process.platform === 'win32' && 'no named pipes in the file system' }, () => {
  for (const [where, pipe] of [
    ['at a file the result adds', 'new.txt'],
    ['at a file the result changes', 'b.txt'],
  ]) {
    it(`${where}: apply and apply --all-done refuse it at once and write nothing`, async () => {
      const { ws, taskId } = await changedThreeFiles();
      makePipe(path.join(ws.root, pipe));
      for (const args of [['apply', taskId], ['apply', '--all-done']]) {
        refusedAtOnce(ws, args, pipe);
        assert.equal(ws.read('a.txt'), 'a\n', 'nothing of the result is written');
      }
    });
  }

  it('at a file the apply wrote: undo refuses it at once and restores nothing', async () => {
    const { ws, taskId } = await changedThreeFiles();
    assert.equal(runSwarm(ws.root, ['apply', taskId]).code, 0);
    makePipe(path.join(ws.root, 'new.txt'));
    refusedAtOnce(ws, ['undo', taskId], 'new.txt');
    assert.equal(ws.read('a.txt'), 'A\n', 'nothing restored');
  });
});

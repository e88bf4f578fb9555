// kill -9 in the middle of `swarm apply` and `swarm undo` (SWARM_FAULT kills the process at a named
// step, exactly as a crash would). Afterwards every file is either as it was or as the result has
// it, `swarm undo` goes all the way back, and `swarm apply` again finishes the job.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { fingerprint } from '../unit/worktree/helpers';
import { makeWorkspace, runSwarm, runTasks, type Workspace } from '../unit/patch/helpers';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

const swarm = (ws: Workspace, args: string[], fault?: string) => runSwarm(ws.root, args, { SWARM_FAULT: fault ?? '' });

const BEFORE: Record<string, string | undefined> = { 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.txt': undefined, 'd.txt': 'd\n', 'e.txt': 'e\n' };
const AFTER: Record<string, string | undefined> = { 'a.txt': 'A\n', 'b.txt': 'B\n', 'c.txt': 'new\n', 'd.txt': undefined, 'e.txt': 'E\n' };

function contentOf(ws: Workspace, relPath: string): string | undefined {
  return fs.existsSync(path.join(ws.root, relPath)) ? ws.read(relPath) : undefined;
}

function assertEachFileBeforeOrAfter(ws: Workspace, label: string): void {
  for (const relPath of Object.keys(BEFORE)) {
    const now = contentOf(ws, relPath);
    assert.ok(now === BEFORE[relPath] || now === AFTER[relPath], `${label}: ${relPath} is neither as it was nor as planned: ${JSON.stringify(now)}`);
  }
}

async function workspaceWithResult(): Promise<{ ws: Workspace; taskId: string; original: string }> {
  const ws = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n', 'd.txt': 'd\n', 'e.txt': 'e\n' });
  made.push(ws);
  const [task] = await runTasks(ws, [
    {
      edit: (cwd) => {
        for (const [relPath, content] of Object.entries(AFTER)) {
          if (content === undefined) fs.rmSync(path.join(cwd, relPath));
          else fs.writeFileSync(path.join(cwd, relPath), content);
        }
      },
    },
  ]);
  return { ws, taskId: task.id, original: fingerprint(ws.root) };
}

describe('kill -9 during apply and undo', () => {
  for (const step of ['apply:after-records', 'apply:after-a-file']) {
    it(`apply killed at ${step}: undo goes all the way back, apply again finishes`, async () => {
      const { ws, taskId, original } = await workspaceWithResult();
      const killed = swarm(ws, ['apply', taskId], step);
      assert.equal(killed.signal, 'SIGKILL', killed.stderr);
      assertEachFileBeforeOrAfter(ws, 'after the kill');
      const undo = swarm(ws, ['undo', taskId]);
      assert.equal(undo.code, 0, undo.stderr);
      assert.equal(fingerprint(ws.root), original, 'undo restored every file');

      // Killed again, then applied again instead of undone: the apply finishes, and undo still goes all the way back.
      assert.equal(swarm(ws, ['apply', taskId], step).signal, 'SIGKILL');
      const again = swarm(ws, ['apply', taskId]);
      assert.equal(again.code, 0, again.stderr);
      for (const [relPath, content] of Object.entries(AFTER)) assert.equal(contentOf(ws, relPath), content, relPath);
      const back = swarm(ws, ['undo', taskId]);
      assert.equal(back.code, 0, back.stderr);
      assert.equal(fingerprint(ws.root), original, 'undo after a finished re-apply restores the original files');
    });
  }

  it('undo killed half-way: undo again completes it', async () => {
    const { ws, taskId, original } = await workspaceWithResult();
    assert.equal(swarm(ws, ['apply', taskId]).code, 0);
    const killed = swarm(ws, ['undo', taskId], 'undo:after-a-file');
    assert.equal(killed.signal, 'SIGKILL', killed.stderr);
    assertEachFileBeforeOrAfter(ws, 'after the kill');
    assert.notEqual(fingerprint(ws.root), original, 'the kill came before the undo finished');
    const undo = swarm(ws, ['undo', taskId]);
    assert.equal(undo.code, 0, undo.stderr);
    assert.equal(fingerprint(ws.root), original);
  });
});

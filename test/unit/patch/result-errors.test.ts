// Asking for something a result cannot do (apply a discarded result, undo twice, undo over later
// edits, act on an unknown task) is the user's to act on: a SwarmUserError of a kind, so the MCP
// server returns the message and the extension shows it instead of logging a bug.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { applyTaskPatch, discardTaskPatch, patchFileVersions, undoTaskApply } from '../../../src/core/patch';
import { rejectsAsUserError } from '../worktree/helpers';
import { makeWorkspace, runTasks, type Workspace } from './helpers';
import { placeOf } from './place';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

async function workspaceWithResult(): Promise<{ ws: Workspace; taskId: string }> {
  const ws = makeWorkspace({ 'a.txt': 'a\n' });
  made.push(ws);
  const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n') }]);
  return { ws, taskId: task.id };
}

describe('results: what cannot be done is a user error of a kind', () => {
  it('unknown task, undo without an apply, a discarded result, undo over later edits', async () => {
    const { ws, taskId } = await workspaceWithResult();
    await rejectsAsUserError(applyTaskPatch({ ...placeOf(ws.board, ws.root), taskId: 'tnope' }), 'input', /no patch to apply/);
    await rejectsAsUserError(discardTaskPatch(placeOf(ws.board), 'tnope'), 'input', /No task tnope/);
    await rejectsAsUserError(undoTaskApply({ ...placeOf(ws.board, ws.root), taskId }), 'input', /nothing to undo/);

    await applyTaskPatch({ ...placeOf(ws.board, ws.root), taskId });
    fs.writeFileSync(path.join(ws.root, 'a.txt'), 'edited since\n');
    await rejectsAsUserError(undoTaskApply({ ...placeOf(ws.board, ws.root), taskId }), 'refused', /changed after the apply/);
    assert.equal(ws.read('a.txt'), 'edited since\n', 'a refused undo changes nothing');

    const other = await workspaceWithResult();
    await discardTaskPatch(placeOf(other.ws.board), other.taskId);
    await rejectsAsUserError(applyTaskPatch({ ...placeOf(other.ws.board, other.ws.root), taskId: other.taskId }), 'refused', /discarded/);
    assert.equal(other.ws.read('a.txt'), 'a\n');
  });
});

describe('results: file versions', () => {
  it('a patch without a base snapshot cannot show its file versions: refused, pointing at swarm diff', async () => {
    const ws = makeWorkspace({ 'a.txt': 'a\n' });
    made.push(ws);
    const text = 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n';
    const patch = { taskId: 'tlegacy', text, files: [{ path: 'a.txt', status: 'modified' as const, additions: 1, deletions: 1 }] };
    await rejectsAsUserError(patchFileVersions(ws.root, patch, 'a.txt'), 'refused', /^The patch of task tlegacy has no base snapshot.*see its diff with `swarm diff tlegacy`\.$/);
  });
});

// A workspace that is a folder inside a bigger repository (a monorepo package): paths in results
// are relative to the workspace, and applying never reaches outside it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { applyTaskPatch, patchFileVersions, readTaskPatch, UnsafePatchPathError } from '../../../src/core/patch';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { makeRepo } from '../worktree/helpers';
import { placeOf } from './place';

const repo = makeRepo({ 'packages/app/src/a.txt': 'a\n', 'packages/lib/b.txt': 'b\n', 'README.md': 'r\n' });
after(() => repo.cleanup());

describe('workspace in a subfolder of the repository', () => {
  it('collects workspace-relative paths and applies them inside the workspace only', async () => {
    const workspace = path.join(repo.root, 'packages', 'app');
    const board = FileBoard.open({ root: path.join(workspace, '.swarm'), durable: false });
    try {
      repo.write('packages/app/src/a.txt', 'a (uncommitted)\n');
      const isolation = createWorktreeIsolation({ workspaceRoot: workspace, include: [] });
      board.post({ title: 'edit' });
      const claim = board.claim({ agent: 'x' });
      assert.ok(claim);
      const prepared = await isolation.prepare(claim.task, '1', board.artifactsDir(claim.task.id));
      assert.equal(path.basename(prepared.cwd), 'app');
      assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/a.txt'), 'utf8'), 'a (uncommitted)\n');
      fs.appendFileSync(path.join(prepared.cwd, 'src/a.txt'), 'agent\n');
      fs.writeFileSync(path.join(prepared.cwd, 'src/new.txt'), 'n\n');
      fs.appendFileSync(path.join(prepared.cwd, '..', 'lib', 'b.txt'), 'outside the workspace\n');
      const changes = await isolation.collect(claim.task, '1', prepared, board.artifactsDir(claim.task.id));
      assert.deepEqual(changes.files.map((f) => f.path), ['src/a.txt', 'src/new.txt'], 'changes outside the workspace folder are not part of the result');
      board.complete(claim, { summary: 'ok', ...changes });
      const patch = (await readTaskPatch(placeOf(board), claim.task.id));
      assert.ok(patch);
      const versions = await patchFileVersions(workspace, patch, 'src/a.txt');
      assert.equal(versions.original, 'a (uncommitted)\n');
      assert.equal(versions.proposed, 'a (uncommitted)\nagent\n');
      const outcome = await applyTaskPatch({ ...placeOf(board, workspace), taskId: claim.task.id });
      assert.equal(outcome.status, 'applied', outcome.message);
      assert.equal(repo.read('packages/app/src/a.txt'), 'a (uncommitted)\nagent\n');
      assert.equal(repo.read('packages/app/src/new.txt'), 'n\n');
      assert.equal(repo.read('packages/lib/b.txt'), 'b\n');
      // A hand-edited patch that climbs out of the workspace is refused.
      fs.writeFileSync(patch.patchFile!, patch.text.replaceAll('a/src/a.txt', 'a/../lib/b.txt').replaceAll('b/src/a.txt', 'b/../lib/b.txt'));
      await assert.rejects(applyTaskPatch({ ...placeOf(board, workspace), taskId: claim.task.id }), UnsafePatchPathError);
    } finally {
      board.close();
    }
  });
});

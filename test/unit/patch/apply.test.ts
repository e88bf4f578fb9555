import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import {
  aggregateChildPatches,
  applyTaskPatch,
  discardTaskPatch,
  findPatchConflicts,
  patchFileVersions,
  readTaskPatch,
  readUndoRecord,
  undoTaskApply,
  UnsafePatchPathError,
} from '../../../src/core/patch';
import { fingerprint, git } from '../worktree/helpers';
import { makeWorkspace, runTasks, type Workspace } from './helpers';

const made: Workspace[] = [];
function workspace(files?: Record<string, string | Buffer>): Workspace {
  const ws = makeWorkspace(files);
  made.push(ws);
  return ws;
}
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

const lines = (n: number, tag = 'line') => Array.from({ length: n }, (_, i) => `${tag} ${i + 1}`).join('\n') + '\n';
const binary = (seed: number) => Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * seed + 7) % 256));

describe('patches: collect, review, apply', () => {
  it('round-trips binary files, renames, deletions and mode changes', async () => {
    const ws = workspace({ 'img.bin': binary(3), 'old/name.txt': lines(30), 'gone.txt': 'bye\n', 'run.sh': 'echo hi\n', 'keep.txt': 'k\n' });
    const [task] = await runTasks(ws, [
      {
        edit: (cwd) => {
          fs.writeFileSync(path.join(cwd, 'img.bin'), binary(5));
          fs.writeFileSync(path.join(cwd, 'new.bin'), binary(11));
          fs.mkdirSync(path.join(cwd, 'new'), { recursive: true });
          fs.renameSync(path.join(cwd, 'old/name.txt'), path.join(cwd, 'new/name.txt'));
          fs.rmSync(path.join(cwd, 'gone.txt'));
          fs.chmodSync(path.join(cwd, 'run.sh'), 0o755);
        },
      },
    ]);
    const patch = readTaskPatch(ws.board, task.id);
    assert.ok(patch);
    const byPath = new Map(patch.files.map((f) => [f.path, f]));
    assert.equal(byPath.get('img.bin')?.binary, true);
    assert.equal(byPath.get('new.bin')?.status, 'added');
    assert.equal(byPath.get('new/name.txt')?.status, 'renamed');
    assert.equal(byPath.get('new/name.txt')?.from, 'old/name.txt');
    assert.equal(byPath.get('gone.txt')?.status, 'deleted');
    const before = fingerprint(ws.root);
    const outcome = await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: task.id });
    assert.equal(outcome.status, 'applied', outcome.message);
    assert.deepEqual(fs.readFileSync(path.join(ws.root, 'img.bin')), binary(5));
    assert.deepEqual(fs.readFileSync(path.join(ws.root, 'new.bin')), binary(11));
    assert.equal(ws.read('new/name.txt'), lines(30));
    assert.ok(!fs.existsSync(path.join(ws.root, 'old')), 'renamed-away folder is gone');
    assert.ok(!fs.existsSync(path.join(ws.root, 'gone.txt')));
    assert.ok(fs.statSync(path.join(ws.root, 'run.sh')).mode & 0o100);
    // The same result as git itself would produce: the user's tree equals snapshot + patch.
    assert.equal(git(ws.root, ['status', '--porcelain', '--untracked-files=all']).split('\n').filter((l) => !l.includes('.swarm')).length, 6);
    const again = await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: task.id });
    assert.equal(again.status, 'already-applied');
    const undone = await undoTaskApply({ workspaceRoot: ws.root, board: ws.board, taskId: task.id });
    assert.equal(undone.files.length, 6);
    assert.equal(fingerprint(ws.root), before, 'undo restores every byte');
  });

  it('one undo file per apply, and records of the older layout (a folder with a file per saved copy) still undo', async () => {
    const ws = workspace({ 'a.txt': 'a\n', 'b.txt': binary(2).toString('latin1') });
    const [task] = await runTasks(ws, [
      {
        edit: (cwd) => {
          fs.writeFileSync(path.join(cwd, 'a.txt'), 'A\n');
          fs.writeFileSync(path.join(cwd, 'b.txt'), binary(9));
          fs.writeFileSync(path.join(cwd, 'c.txt'), 'new\n');
        },
      },
    ]);
    const before = fingerprint(ws.root);
    await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: task.id });
    const artifacts = ws.board.artifactsDir(task.id);
    const undo = readUndoRecord(ws.board, task.id);
    assert.ok(undo);
    assert.deepEqual(fs.readdirSync(artifacts).sort(), ['apply.json', path.basename(undo.file), 'result.patch'].sort(), 'the apply created two records, not one per file');
    // The same record as an older version wrote it: undo/<id>/undo.json, each saved copy a file.
    const legacy = path.join(artifacts, 'undo', undo.record.id);
    fs.mkdirSync(legacy, { recursive: true });
    const entries = undo.record.entries.map((entry, index) => {
      if (!entry.before?.data) return entry;
      fs.writeFileSync(path.join(legacy, `before-${index}`), Buffer.from(entry.before.data, 'base64'));
      return { ...entry, before: { blob: `before-${index}`, mode: entry.before.mode } };
    });
    fs.writeFileSync(path.join(legacy, 'undo.json'), JSON.stringify({ ...undo.record, entries }, null, 2));
    fs.rmSync(undo.file);
    await undoTaskApply({ workspaceRoot: ws.root, board: ws.board, taskId: task.id });
    assert.equal(fingerprint(ws.root), before, 'every byte restored from the older layout');
  });

  it('applies three-way when the user edited other lines of the file since the snapshot', async () => {
    const ws = workspace({ 'a.txt': lines(40) });
    const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(40).replace('line 35\n', 'line 35 fixed by the agent\n')) }]);
    ws.write('a.txt', lines(40).replace('line 2\n', 'line 2 edited by the user\n'));
    const outcome = await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: task.id });
    assert.equal(outcome.status, 'applied-3way', outcome.message);
    const text = ws.read('a.txt');
    assert.match(text, /line 2 edited by the user/);
    assert.match(text, /line 35 fixed by the agent/);
    const versions = await patchFileVersions(ws.root, readTaskPatch(ws.board, task.id)!, 'a.txt');
    assert.equal(versions.original, lines(40));
    assert.equal(versions.proposed, lines(40).replace('line 35\n', 'line 35 fixed by the agent\n'));
  });

  it('two parallel fixes of the same lines: flagged before apply, the second apply reports the conflict and writes nothing', async () => {
    const ws = workspace({ 'a.txt': lines(10), 'b.txt': lines(10, 'b') });
    const [first, second, third] = await runTasks(ws, [
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(10).replace('line 5\n', 'line 5 by first\n')) },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(10).replace('line 5\n', 'line 5 by second\n')) },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'b.txt'), lines(10, 'b').replace('b 1\n', 'b 1 by third\n')) },
    ]);
    assert.deepEqual(findPatchConflicts(ws.board), [{ taskIds: [first.id, second.id], files: ['a.txt'] }]);
    assert.equal((await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: first.id })).status, 'applied');
    const before = fingerprint(ws.root);
    const outcome = await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: second.id });
    assert.equal(outcome.status, 'conflict');
    assert.deepEqual(outcome.conflicts, ['a.txt']);
    assert.match(outcome.message, /Nothing was written/);
    assert.equal(fingerprint(ws.root), before, 'the workspace is untouched on conflict');
    assert.equal((await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: third.id })).status, 'applied');
    const markers = await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: second.id, mode: 'markers' });
    assert.equal(markers.status, 'conflict');
    assert.match(ws.read('a.txt'), /<<<<<<< a\.txt \(yours\)[\s\S]*line 5 by first[\s\S]*=======[\s\S]*line 5 by second[\s\S]*>>>>>>> a\.txt \(task\)/);
    await undoTaskApply({ workspaceRoot: ws.root, board: ws.board, taskId: second.id });
    assert.equal(ws.read('a.txt'), lines(10).replace('line 5\n', 'line 5 by first\n'));
  });

  it('refuses patches that escape the workspace, enter .git or go through a symlink', async () => {
    const ws = workspace({ 'a.txt': 'a\n' });
    const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n') }]);
    const patchFile = readTaskPatch(ws.board, task.id)!.patchFile;
    const original = fs.readFileSync(patchFile, 'utf8');
    const attempts: Array<[string, RegExp]> = [
      [original.replaceAll('a/a.txt', 'a/../outside.txt').replaceAll('b/a.txt', 'b/../outside.txt'), /"\.\.\/outside\.txt" contains "\.\."/],
      [original.replaceAll('a/a.txt', 'a/.git/hooks/pre-commit').replaceAll('b/a.txt', 'b/.git/hooks/pre-commit'), /inside a \.git directory/],
      [original.replaceAll('a/a.txt', '"a/\\056git/config"').replaceAll('b/a.txt', '"b/\\056git/config"'), /"\.git\/config" is inside a \.git directory/],
      [original.replaceAll('a/a.txt', 'a//etc/passwd').replaceAll('b/a.txt', 'b//etc/passwd'), /absolute path/],
      [original.replaceAll('a/a.txt', 'a/link/a.txt').replaceAll('b/a.txt', 'b/link/a.txt'), /symbolic link "link"/],
    ];
    fs.symlinkSync(path.join(ws.root, '..'), path.join(ws.root, 'link'));
    const before = fingerprint(ws.root);
    for (const [text, message] of attempts) {
      fs.writeFileSync(patchFile, text);
      await assert.rejects(applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: task.id }), (error: unknown) => {
        assert.ok(error instanceof UnsafePatchPathError || (error instanceof Error && /git/.test(error.message)), String(error));
        assert.match((error as Error).message, message);
        return true;
      });
    }
    assert.equal(fingerprint(ws.root), before);
  });

  it('only reads a patch from the task\'s own artifacts folder, whatever the board result says', async () => {
    const ws = workspace({ 'a.txt': 'a\n' });
    ws.board.post({ title: 'forged' });
    const claim = ws.board.claim({ agent: 'x' });
    assert.ok(claim);
    const outside = path.join(ws.root, '..', 'elsewhere.patch');
    fs.writeFileSync(outside, 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+pwned\n');
    ws.board.complete(claim, { summary: 'ok', patchFile: outside, files: [] });
    assert.equal(readTaskPatch(ws.board, claim.task.id), undefined);
    await assert.rejects(applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: claim.task.id }), /has no patch/);
    assert.equal(ws.read('a.txt'), 'a\n');
  });

  it('discard: the result can no longer be applied', async () => {
    const ws = workspace({ 'a.txt': 'a\n' });
    const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n') }]);
    discardTaskPatch(ws.board, task.id);
    await assert.rejects(applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: task.id }), /discarded/);
    assert.equal(ws.read('a.txt'), 'a\n');
    assert.deepEqual(findPatchConflicts(ws.board), []);
  });

  it('fix all: a map task combines its children\'s patches into one reviewable, appliable result', async () => {
    const ws = workspace({ 'x.txt': lines(5, 'x'), 'y.txt': lines(5, 'y') });
    const { parent, children } = ws.board.map({ title: 'fix all' }, [{ title: 'fix x', files: ['x.txt'] }, { title: 'fix y', files: ['y.txt'] }]);
    for (const [index, child] of children.entries()) {
      const claim = ws.board.claim({ agent: `a${index}` });
      assert.ok(claim);
      const file = claim.task.files[0];
      const prepared = await ws.isolation.prepare(claim.task, '1', ws.board.artifactsDir(claim.task.id));
      fs.appendFileSync(path.join(prepared.cwd, file), `fixed ${file}\n`);
      const changes = await ws.isolation.collect(claim.task, '1', prepared, ws.board.artifactsDir(claim.task.id));
      ws.board.complete(claim, { summary: 'ok', executor: 'test', durationMs: 1, ...changes });
      void child;
    }
    const aggregate = aggregateChildPatches(ws.board, parent.id);
    assert.ok(aggregate);
    assert.deepEqual(aggregate.patch.files.map((f) => f.path).sort(), ['x.txt', 'y.txt']);
    assert.equal(aggregate.progress.percent, 100);
    assert.deepEqual(aggregate.conflicts, []);
    assert.ok(fs.existsSync(aggregate.patch.patchFile));
    const outcome = await applyTaskPatch({ workspaceRoot: ws.root, board: ws.board, taskId: parent.id });
    assert.equal(outcome.status, 'applied', outcome.message);
    assert.match(ws.read('x.txt'), /fixed x\.txt/);
    assert.match(ws.read('y.txt'), /fixed y\.txt/);
  });
});

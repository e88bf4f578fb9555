// Planning an apply without writing: the editor's unsaved text as "ours", one file of a result,
// and an apply written by someone else (the editor) recorded so that undo restores it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { applyRecord, hashVersion, planTaskApply, plannedVersions, readWorkspaceFile, recordTaskApply, undoTaskApply } from '../../../src/core/patch';
import { makeWorkspace, runTasks, type Workspace } from './helpers';
import { placeOf } from './place';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});
function workspace(files: Record<string, string>): Workspace {
  const ws = makeWorkspace(files);
  made.push(ws);
  return ws;
}
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n') + '\n';

describe('planTaskApply', () => {
  it('merges against unsaved editor text instead of the file on disk, and writes nothing', async () => {
    const ws = workspace({ 'a.txt': lines(40) });
    const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(40).replace('line 35\n', 'line 35 fixed\n')) }]);
    const unsaved = lines(40).replace('line 2\n', 'line 2 typed but not saved\n');
    const plan = await planTaskApply({ ...placeOf(ws.board, ws.root), taskId: task.id, readOurs: (p) => (p === 'a.txt' ? { content: Buffer.from(unsaved), mode: '100644' } : undefined) });
    assert.equal(plan.outcome.status, 'applied-3way');
    const result = plannedVersions(plan.writable).get('a.txt')?.content?.toString('utf8');
    assert.equal(result, unsaved.replace('line 35\n', 'line 35 fixed\n'));
    assert.equal(ws.read('a.txt'), lines(40), 'planning writes nothing');
    assert.equal(applyRecord(placeOf(ws.board), task.id), undefined);
  });

  it('reports a conflict with unsaved text on the same lines and offers nothing to write', async () => {
    const ws = workspace({ 'a.txt': lines(10) });
    const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(10).replace('line 5\n', 'agent 5\n')) }]);
    const plan = await planTaskApply({ ...placeOf(ws.board, ws.root), taskId: task.id, readOurs: () => ({ content: Buffer.from(lines(10).replace('line 5\n', 'user 5\n')), mode: '100644' }) });
    assert.equal(plan.outcome.status, 'conflict');
    assert.deepEqual(plan.outcome.conflicts, ['a.txt']);
    assert.equal(plan.writable.length, 0);
  });

  it('plans one file of a result when asked, and refuses a file the result does not change', async () => {
    const ws = workspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const [task] = await runTasks(ws, [
      {
        edit: (cwd) => {
          fs.writeFileSync(path.join(cwd, 'a.txt'), 'A\n');
          fs.writeFileSync(path.join(cwd, 'b.txt'), 'B\n');
        },
      },
    ]);
    const plan = await planTaskApply({ ...placeOf(ws.board, ws.root), taskId: task.id, paths: ['b.txt'] });
    assert.deepEqual(plan.outcome.files, ['b.txt']);
    assert.deepEqual([...plannedVersions(plan.writable).keys()], ['b.txt']);
    await assert.rejects(planTaskApply({ ...placeOf(ws.board, ws.root), taskId: task.id, paths: ['c.txt'] }), /does not change c\.txt/);
  });

  it('records an apply written elsewhere so that swarm undo restores the previous bytes', async () => {
    const ws = workspace({ 'a.txt': 'old\n' });
    const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'new\n') }]);
    const before = readWorkspaceFile(ws.root, 'a.txt');
    const plan = await planTaskApply({ ...placeOf(ws.board, ws.root), taskId: task.id });
    const after = plannedVersions(plan.writable).get('a.txt');
    assert.ok(after?.content);
    ws.write('a.txt', after.content.toString('utf8')); // what the editor's edit and save would leave
    const record = recordTaskApply(placeOf(ws.board), task.id, plan.outcome.status, [{ path: 'a.txt', before, after }]);
    assert.equal(record.entries[0].afterHash, hashVersion(readWorkspaceFile(ws.root, 'a.txt')));
    assert.equal(applyRecord(placeOf(ws.board), task.id)?.status, 'applied');
    await undoTaskApply({ ...placeOf(ws.board, ws.root), taskId: task.id });
    assert.equal(ws.read('a.txt'), 'old\n');
    assert.equal(applyRecord(placeOf(ws.board), task.id), undefined);
  });
});

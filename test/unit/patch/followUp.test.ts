// Request changes: a follow-up task starts from the earlier result in its worktree, and its patch
// (against the same snapshot) holds both changes; the user's files stay untouched until apply.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { applyTaskPatch, readTaskPatch } from '../../../src/core/patch';
import { postFollowUpTask } from '../../../src/core/patch/followUp';
import { fingerprint } from '../worktree/helpers';
import { makeWorkspace, type Workspace } from './helpers';
import { placeOf } from './place';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

async function runClaimed(ws: Workspace, slot: string, edit: (cwd: string) => void) {
  const claim = ws.board.claim({ agent: `agent-${slot}` });
  assert.ok(claim, 'a task to claim');
  const prepared = await ws.isolation.prepare(claim.task, slot, ws.board.artifactsDir(claim.task.id));
  edit(prepared.cwd);
  const changes = await ws.isolation.collect(claim.task, slot, prepared, ws.board.artifactsDir(claim.task.id));
  return ws.board.complete(claim, { summary: 'ok', executor: 'test', durationMs: 1, ...changes });
}

describe('follow-up tasks (request changes)', () => {
  it('start from the result they follow up and produce a patch with both changes', async () => {
    const ws = makeWorkspace({ 'a.txt': 'one\ntwo\nthree\n' });
    made.push(ws);
    ws.board.post({ title: 'Fix two', prompt: 'make two loud', files: ['a.txt'] });
    const first = await runClaimed(ws, '1', (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'one\nTWO\nthree\n'));
    const userBefore = fingerprint(ws.root);

    const followUp = await postFollowUpTask({ ...placeOf(ws.board, ws.root), taskId: first.id, comment: 'Also make three loud' });
    assert.match(followUp.title, /^Follow-up: Also make three loud/);
    assert.match(followUp.prompt, /Also make three loud[\s\S]*follow-up to task/);
    assert.match(followUp.prompt, /make two loud/);
    assert.deepEqual(followUp.files, ['a.txt']);

    let seen = '';
    const second = await runClaimed(ws, '2', (cwd) => {
      seen = fs.readFileSync(path.join(cwd, 'a.txt'), 'utf8');
      fs.writeFileSync(path.join(cwd, 'a.txt'), seen.replace('three', 'THREE'));
    });
    assert.equal(seen, 'one\nTWO\nthree\n', 'the follow-up starts from the earlier result');
    assert.equal(fingerprint(ws.root), userBefore, 'the user files are untouched');
    const patch = (await readTaskPatch(placeOf(ws.board), second.id));
    assert.ok(patch);
    assert.equal(patch.base, (await readTaskPatch(placeOf(ws.board), first.id))?.base, 'same snapshot as the earlier result');
    assert.equal((await applyTaskPatch({ ...placeOf(ws.board, ws.root), taskId: second.id })).status, 'applied');
    assert.equal(ws.read('a.txt'), 'one\nTWO\nTHREE\n');
  });

  it('carry the source and required labels of the task they follow up, so on a shared board a runner starts them from the same snapshot', async () => {
    const ws = makeWorkspace({ 'a.txt': 'one\n' });
    made.push(ws);
    const snapshot = 'a'.repeat(40);
    const source = { repository: 'example.com/team/app', prefix: '', snapshot, snapshotId: 'snap.abc.0123456789ab', bundle: 'thin' as const, bundleBytes: 10 };
    ws.board.post({ title: 'Remote work', files: ['a.txt'], source, requires: ['gpu'] });
    const first = await runClaimed(ws, '1', (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'ONE\n'));
    const followUp = await postFollowUpTask({ ...placeOf(ws.board, ws.root), taskId: first.id, comment: 'And a second line' });
    assert.deepEqual(followUp.source, source);
    assert.deepEqual(followUp.requires, ['gpu']);
    assert.equal((followUp.payload as { followUpOf?: string }).followUpOf, first.id);
  });

  it('refuses an empty comment and a task without a result', async () => {
    const ws = makeWorkspace({ 'a.txt': 'x\n' });
    made.push(ws);
    const pending = ws.board.post({ title: 'Not run yet' });
    await assert.rejects(postFollowUpTask({ ...placeOf(ws.board, ws.root), taskId: pending.id, comment: 'more' }), /has no result to follow up/);
    await assert.rejects(postFollowUpTask({ ...placeOf(ws.board, ws.root), taskId: pending.id, comment: '  ' }), /comment is empty/);
  });
});

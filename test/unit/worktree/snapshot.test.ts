// Snapshots of the working state must see every edit git itself sees, including a same-size edit
// made within the timestamp granularity of the user's last index write (git's racy-entry case),
// for both snapshot kinds: tracked changes (worktree isolation) and everything (direct isolation).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { createWorktreeIsolation, locateRepository, snapshotWorkingState } from '../../../src/core/worktree';
import { fakeTask, git, makeRepo, type TempRepo } from './helpers';
import { editRacily, indexMtimeSecond, makeEntryRacy, modifiedAccordingToGit } from './racy-edit';

const repos: TempRepo[] = [];
afterEach(() => {
  for (const made of repos.splice(0)) made.cleanup();
});

/** A repository whose a.txt holds 'b\n' after a same-size edit git can only find by content. */
function repoWithRacyEdit(): TempRepo {
  const r = makeRepo({ 'a.txt': 'a\n', 'b.txt': 'untouched\n' });
  repos.push(r);
  const second = makeEntryRacy(r.root, 'a.txt');
  editRacily(r.root, 'a.txt', 'b\n', second);
  assert.deepEqual(modifiedAccordingToGit(r.root), ['a.txt'], 'precondition: git sees the edit in the user\'s own index');
  assert.equal(indexMtimeSecond(r.root), second, 'precondition: reading did not rewrite the user\'s index');
  return r;
}

describe('snapshot of the working state: racily clean entries', () => {
  it('a tracked-changes snapshot (worktree isolation) has a same-size edit made in the second of the index write', async () => {
    const r = repoWithRacyEdit();
    const snapshot = await snapshotWorkingState(await locateRepository(r.root));
    assert.equal(git(r.root, ['show', `${snapshot}:a.txt`]), 'b');
  });

  it('an everything snapshot (direct isolation) has it too', async () => {
    const r = repoWithRacyEdit();
    const snapshot = await snapshotWorkingState(await locateRepository(r.root), { allUntracked: true });
    assert.equal(git(r.root, ['show', `${snapshot}:a.txt`]), 'b');
  });

  it('the agent\'s worktree starts from the edited file', async () => {
    const r = repoWithRacyEdit();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', path.join(r.root, '.swarm', 'artifacts', task.id));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'a.txt'), 'utf8'), 'b\n');
  });

  it('leaves the user\'s index exactly as it was, mtime included', async () => {
    const r = repoWithRacyEdit();
    const index = path.join(r.root, '.git', 'index');
    const before = { bytes: fs.readFileSync(index), mtimeMs: fs.statSync(index).mtimeMs };
    await snapshotWorkingState(await locateRepository(r.root));
    assert.deepEqual({ bytes: fs.readFileSync(index), mtimeMs: fs.statSync(index).mtimeMs }, before);
  });
});

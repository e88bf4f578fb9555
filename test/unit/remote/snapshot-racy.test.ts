// Regression: snapshotWorkingState copies the user's index; the copy must keep the index's mtime,
// or git's "racily clean" check is defeated and an edit made in the same second as the index was
// written (same size, same inode) is silently missing from the snapshot, so an agent (here or on
// another machine) works on stale files.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { locateRepository, snapshotWorkingState } from '../../../src/core/worktree';
import { git, makeRepo, type TempRepo } from '../worktree/helpers';

const repos: TempRepo[] = [];
afterEach(() => {
  for (const made of repos.splice(0)) made.cleanup();
});

describe('snapshot of a racily clean file', () => {
  it('sees an edit with the same size and mtime as the index entry when the index was written in that second', async () => {
    const r = makeRepo({ 'a.txt': 'aaaa\n' });
    repos.push(r);
    // Without ctime (a common setting on shared or network folders) only mtime and size tell git a file changed.
    git(r.root, ['config', 'core.trustctime', 'false']);
    const file = path.join(r.root, 'a.txt');
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    fs.utimesSync(file, past, past);
    git(r.root, ['add', 'a.txt']);
    // The user edits the file in the second the index was written: same size, same inode, same mtime.
    fs.writeFileSync(file, 'bbbb\n');
    fs.utimesSync(file, past, past);
    fs.utimesSync(path.join(r.root, '.git', 'index'), past, past);
    assert.equal(git(r.root, ['-c', 'core.trustctime=false', 'diff', '--name-only']), 'a.txt', 'git itself sees the racily clean edit');

    const snapshot = await snapshotWorkingState(await locateRepository(r.root));
    assert.equal(git(r.root, ['show', `${snapshot}:a.txt`]), 'bbbb', 'the snapshot has the edit');
  });
});

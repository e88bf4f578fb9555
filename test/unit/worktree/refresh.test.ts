// Before a `git add` that writes one pack (STAGE_INTO_ONE_PACK), the snapshot and the collect renew
// the index's stat data with a plain `git update-index --refresh`: under that setting git checks
// every file whose stat data it cannot trust by deflating it, which cost 60-90 ms on 630 files (a
// copied repository, a fresh checkout). The refresh is only faster: these tests hold that the
// staged content is still exactly the working state, in the cases where the refresh has work.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { createWorktreeIsolation, locateRepository, snapshotWorkingState } from '../../../src/core/worktree';
import { fakeTask, git, reposRemovedAfterEach } from './helpers';
import { editRacily } from './racy-edit';

const newRepo = reposRemovedAfterEach();

/** The tree git itself makes of the working state (tracked changes), in a scratch index. */
function treeOfWorkingState(root: string): string {
  const scratch = path.join(root, '.git', 'scratch-index');
  fs.copyFileSync(path.join(root, '.git', 'index'), scratch);
  const run = (args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_INDEX_FILE: scratch } }).trim();
  try {
    run(['add', '-u']);
    return run(['write-tree']);
  } finally {
    fs.rmSync(scratch, { force: true });
  }
}

async function sleepUntilNextSecond(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
}

describe('stat data refreshed before staging into one pack', () => {
  it('a repository copied to another folder (no entry\'s stat data holds) snapshots exactly its edits', async () => {
    const files: Record<string, string> = {};
    for (let index = 0; index < 40; index++) files[`src/f${index}.js`] = `export const value${index} = ${index};\n`;
    const original = newRepo(files);
    const copy = path.join(path.dirname(original.root), 'copy');
    fs.cpSync(original.root, copy, { recursive: true });
    fs.writeFileSync(path.join(copy, 'src/f3.js'), 'export const value3 = 9;\n'); // same size
    fs.appendFileSync(path.join(copy, 'src/f7.js'), 'export default value7;\n');
    fs.rmSync(path.join(copy, 'src/f11.js'));
    const indexBefore = fs.readFileSync(path.join(copy, '.git', 'index'));
    const snapshot = await snapshotWorkingState(await locateRepository(copy));
    assert.deepEqual(fs.readFileSync(path.join(copy, '.git', 'index')), indexBefore, 'the user\'s index is untouched');
    assert.equal(git(copy, ['rev-parse', `${snapshot}^{tree}`]), treeOfWorkingState(copy), 'the tree git makes of the working state');
    assert.deepEqual(git(copy, ['diff', '--name-status', 'HEAD', snapshot]).split('\n'), ['D\tsrc/f11.js', 'M\tsrc/f3.js', 'M\tsrc/f7.js']);
  });

  it('a merge conflict left unresolved: the snapshot holds the conflicted file as it is on disk', async () => {
    const r = newRepo({ 'a.txt': 'base\n', 'b.txt': 'b\n' });
    git(r.root, ['checkout', '-q', '-b', 'other']);
    r.write('a.txt', 'theirs\n');
    git(r.root, ['commit', '-q', '-am', 'theirs']);
    git(r.root, ['checkout', '-q', 'main']);
    r.write('a.txt', 'ours\n');
    git(r.root, ['commit', '-q', '-am', 'ours']);
    assert.throws(() => git(r.root, ['merge', '-q', 'other']), 'precondition: the merge stops on a conflict');
    r.write('b.txt', 'edited during the merge\n');
    const snapshot = await snapshotWorkingState(await locateRepository(r.root));
    assert.match(git(r.root, ['show', `${snapshot}:a.txt`]), /^<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> other$/);
    assert.equal(git(r.root, ['show', `${snapshot}:b.txt`]), 'edited during the merge');
  });

  it('collect, a second or more after the checkout: a same-size edit stat data cannot show is in the result', async () => {
    const r = newRepo({ 'src/a.txt': 'aaaa\n', 'src/b.txt': 'bbbb\n' });
    // ctime is not trusted, so only the content can show the edit below (git's racy-entry rule).
    git(r.root, ['config', 'core.trustctime', 'false']);
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    const task = fakeTask();
    const artifacts = path.join(r.root, '.swarm', 'artifacts', task.id);
    const prepared = await isolation.prepare(task, '1', artifacts);
    const slotIndex = path.join(fs.readFileSync(path.join(prepared.cwd, '.git'), 'utf8').replace(/^gitdir: /, '').trim(), 'index');
    // The checkout's index and the file share one second: the entry is racily clean.
    const second = Math.floor(fs.statSync(slotIndex).mtimeMs / 1000);
    fs.utimesSync(path.join(prepared.cwd, 'src/a.txt'), second, second);
    git(prepared.cwd, ['update-index', '--refresh']);
    fs.utimesSync(slotIndex, second, second);
    editRacily(prepared.cwd, 'src/a.txt', 'AAAA\n', second);
    await sleepUntilNextSecond();
    const changes = await isolation.collect(task, '1', prepared, artifacts);
    assert.deepEqual(changes.files.map((file) => file.path), ['src/a.txt']);
    assert.match(fs.readFileSync(changes.patchFile as string, 'utf8'), /-aaaa\n\+AAAA/);
    await isolation.release();
  });
});

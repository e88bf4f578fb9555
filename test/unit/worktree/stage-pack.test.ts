// Staging writes the blobs of a result, or of a snapshot of the user's edits, into one pack rather
// than one loose object file each: on disks where creating a file costs about 1 ms, hundreds of
// changed files made the stage the slowest part of collecting a result. The content must still be
// exactly what git would have stored, and the files must still diff as text.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { diffStaged, stageEverything } from '../../../src/core/worktree/diff';
import { createWorktreeIsolation, locateRepository, snapshotWorkingState } from '../../../src/core/worktree';
import { MOST_PACKS_LEFT, packCount } from '../../../src/core/worktree/packs';
import { fakeTask, git, reposRemovedAfterEach } from './helpers';

const newRepo = reposRemovedAfterEach();
const FILES = 60;

function looseObjects(root: string): string[] {
  const objects = path.join(root, '.git', 'objects');
  return fs.readdirSync(objects).filter((name) => /^[0-9a-f]{2}$/.test(name)).flatMap((dir) => fs.readdirSync(path.join(objects, dir)).map((file) => dir + file));
}

function repoWithManyEdits() {
  const files: Record<string, string> = {};
  for (let index = 0; index < FILES; index++) files[`src/f${index}.js`] = `const value${index} = ${index};\n`;
  const r = newRepo(files);
  git(r.root, ['repack', '-a', '-d', '-q']);
  for (let index = 0; index < FILES; index++) fs.appendFileSync(path.join(r.root, `src/f${index}.js`), `export default value${index};\n`);
  fs.writeFileSync(path.join(r.root, 'src/new.js'), 'export const added = true;\n');
  return r;
}

describe('staging writes one pack, not a loose object per file', () => {
  it('a result of 61 changed files is staged without one loose object, and diffs as text', async () => {
    const r = repoWithManyEdits();
    const before = looseObjects(r.root);
    await stageEverything({ cwd: r.root });
    assert.deepEqual(looseObjects(r.root), before, 'the staged blobs went into a pack');
    const diff = await diffStaged({ cwd: r.root, base: 'HEAD', prefix: '' });
    assert.equal(diff.files.length, FILES + 1);
    assert.ok(diff.files.every((file) => !file.binary && file.additions === 1), 'every file diffs as one added line of text');
    assert.match(git(r.root, ['show', ':src/f7.js']), /export default value7;/);
    git(r.root, ['fsck', '--no-progress', '--no-dangling']);
  });

  it('a snapshot of the user\'s edits writes no loose blob, and holds them exactly', async () => {
    const r = repoWithManyEdits();
    const before = looseObjects(r.root).length;
    const snapshot = await snapshotWorkingState(await locateRepository(r.root), { allUntracked: true });
    // The snapshot's tree and commit objects are written loose by write-tree and commit-tree: the
    // blobs (61 of them) are not.
    assert.ok(looseObjects(r.root).length - before <= 3, `at most the tree objects and the commit are loose (${looseObjects(r.root).length - before})`);
    assert.equal(git(r.root, ['show', `${snapshot}:src/f42.js`]), 'const value42 = 42;\nexport default value42;');
    assert.equal(git(r.root, ['show', `${snapshot}:src/new.js`]), 'export const added = true;');
    git(r.root, ['fsck', '--no-progress', '--no-dangling']);
  });

  it('a run\'s end folds the small packs its results were staged into, and keeps every object (a staged blob no commit names too)', { timeout: 120_000 }, async () => {
    const r = newRepo({ 'src/a.txt': 'a\n' });
    git(r.root, ['repack', '-a', '-d', '-q']);
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const blobs: string[] = [];
    for (let index = 0; index <= MOST_PACKS_LEFT; index++) {
      const task = fakeTask();
      const artifacts = path.join(r.root, '.swarm', 'artifacts', task.id);
      const prepared = await isolation.prepare(task, '1', artifacts);
      fs.writeFileSync(path.join(prepared.cwd, 'src/a.txt'), `result ${index}\n`);
      await isolation.collect(task, '1', prepared, artifacts);
      blobs.push(git(r.root, ['hash-object', '--stdin'], `result ${index}\n`));
    }
    // A blob staged in an index of its own, named by no commit, as an attempt's stage is before its result commit.
    fs.writeFileSync(path.join(r.root, 'loose-end.txt'), 'staged, not committed\n');
    git(r.root, [...['-c', 'core.bigFileThreshold=1'], 'add', 'loose-end.txt']);
    const staged = git(r.root, ['rev-parse', ':loose-end.txt']);
    const before = packCount(path.join(r.root, '.git'));
    assert.ok(before > MOST_PACKS_LEFT, `precondition: ${before} packs`);
    await isolation.release();
    const after = packCount(path.join(r.root, '.git'));
    assert.ok(after < before && after <= 3, `folded: ${before} packs before, ${after} after`);
    for (const blob of [...blobs, staged]) assert.equal(git(r.root, ['cat-file', '-t', blob]), 'blob', `${blob} kept`);
    git(r.root, ['fsck', '--no-progress', '--no-dangling']);
  });
});

// The runner's result commit is built from the patch's paths alone (resultTree.ts) instead of the
// whole snapshot in an index: both ways must make the same tree, the same commit, the same bundle,
// byte for byte, on every kind of change; what the quick way cannot build falls back to the full index.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resultFromPatch, type ResultTreeWay } from '../../../src/core/remote/result';
import { treeFromChangedPaths } from '../../../src/core/remote/resultTree';
import { diffStaged } from '../../../src/core/worktree/diff';
import { git, reposRemovedAfterEach, type TempRepo } from '../worktree/helpers';

const makeRepo = reposRemovedAfterEach();
const BINARY = Buffer.from([0, 1, 2, 3, 255, 254, 0, 10, 13, 0x89, 0x50, 0x4e, 0x47]);

// Fixed dates (and the same task id): the two ways then make the same commit id, so their bundles can be compared byte for byte.
const dates = { GIT_AUTHOR_DATE: '2026-01-02T03:04:05Z', GIT_COMMITTER_DATE: '2026-01-02T03:04:05Z' };
const saved: Record<string, string | undefined> = {};
before(() => {
  for (const [key, value] of Object.entries(dates)) {
    saved[key] = process.env[key];
    process.env[key] = value;
  }
});
after(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

function everyKindOfFile(): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {
    'README.md': '# demo\n',
    'src/a.txt': 'one\ntwo\nthree\n',
    'src/keep/deep/one.txt': 'deep\n',
    'src/keep/deep/two.txt': 'untouched\n',
    'run.sh': '#!/bin/sh\necho hi\n',
    'bin/data.bin': BINARY,
    'bin/other.bin': Buffer.concat([BINARY, BINARY]),
    'delete-me.txt': 'bye\n',
    'gone/only.txt': 'the whole folder goes\n',
    'gone/also/two.txt': 'nested too\n',
    'rename-me.txt': 'a file long enough to be found as a rename by git diff -M\n'.repeat(8),
    'name with space.txt': 'spaces\n',
    'ünï "quoted".txt': 'unicode and quotes\n',
    'becomes-folder': 'a file that becomes a folder\n',
    'becomes-file/inner.txt': 'a folder that becomes a file\n',
    'app/sub/x.txt': 'x\n',
    'app/y.txt': 'y\n',
    'a-b.txt': 'sorts between a folder and its name\n',
    'a/inner.txt': 'a folder named a\n',
  };
  for (let i = 0; i < 40; i += 1) files[`many/file-${i}.txt`] = `file ${i}\n`;
  return files;
}

/** Adds, deletes, renames, a mode change, binary files, a symlink, new folders, file/folder swaps. */
function everyKindOfChange(repo: TempRepo): void {
  const at = (rel: string) => path.join(repo.root, rel);
  repo.write('src/a.txt', 'one\n2\nthree\nfour\n');
  repo.write('src/keep/deep/one.txt', 'deeper\n');
  fs.chmodSync(at('run.sh'), 0o755);
  repo.write('bin/data.bin', Buffer.concat([BINARY, Buffer.from([7, 7, 0])]));
  repo.write('bin/new.bin', Buffer.from([0, 0, 0, 9]));
  fs.rmSync(at('delete-me.txt'));
  fs.rmSync(at('gone'), { recursive: true });
  fs.renameSync(at('rename-me.txt'), at('src/renamed.txt'));
  fs.symlinkSync('src/a.txt', at('link-to-a'));
  repo.write('brand/new/folder/file.txt', 'in a new folder\n');
  repo.write('name with space.txt', 'spaces, edited\n');
  repo.write('ünï "quoted".txt', 'unicode and quotes, edited\n');
  fs.rmSync(at('becomes-folder'));
  repo.write('becomes-folder/now.txt', 'was a file\n');
  fs.rmSync(at('becomes-file'), { recursive: true });
  repo.write('becomes-file', 'was a folder\n');
  repo.write('app/sub/x.txt', 'x edited\n');
  repo.write('app/new/z.txt', 'z\n');
  repo.write('a/inner.txt', 'a folder named a, edited\n');
  repo.write('many/file-7.txt', 'file 7 edited\n');
}

/** The patch as a slot's collect makes it, and the tree git itself writes for the staged state. */
async function staged(repo: TempRepo, prefix = ''): Promise<{ patch: Buffer; snapshot: string; truth: string }> {
  const snapshot = git(repo.root, ['rev-parse', 'HEAD']);
  git(repo.root, ['add', '-A']);
  const diff = await diffStaged({ cwd: repo.root, base: snapshot, prefix });
  const truth = git(repo.root, ['write-tree']);
  return { patch: Buffer.from(diff.text), snapshot, truth };
}

async function bothWays(repo: TempRepo, snapshot: string, patch: Buffer, prefix = '') {
  const gitDir = path.join(repo.root, '.git');
  const made: Partial<Record<ResultTreeWay, Awaited<ReturnType<typeof resultFromPatch>>>> = {};
  for (const way of ['changed-paths', 'full-index'] as const) {
    made[way] = await resultFromPatch({ gitDir, taskId: 'task.same', snapshot, prefix, patch, treeFrom: way });
  }
  return { quick: made['changed-paths']!, full: made['full-index']! };
}

function treeOf(repo: TempRepo, commit: string): string {
  return git(repo.root, ['rev-parse', `${commit}^{tree}`]);
}

describe('result commit from the patch\'s paths alone', () => {
  it('makes the same tree, commit, patch and bundle as the full index, on every kind of change', async () => {
    const repo = makeRepo(everyKindOfFile());
    everyKindOfChange(repo);
    const { patch, snapshot, truth } = await staged(repo);
    for (const marker of ['rename from rename-me.txt', 'new mode 100755', 'GIT binary patch', 'new file mode 120000', 'deleted file mode', '\\303\\274n\\303\\257 \\"quoted\\".txt"']) {
      assert.ok(patch.toString().includes(marker), `the fixture's patch has ${marker}`);
    }
    const quickTree = await treeFromChangedPaths({ gitDir: path.join(repo.root, '.git'), snapshot, patch, prefix: '', indexFile: path.join(repo.root, '.git', 'quick.index') });
    assert.equal(quickTree, truth, 'the quick way builds the tree git writes for the staged state');
    const { quick, full } = await bothWays(repo, snapshot, patch);
    assert.equal(treeOf(repo, quick.descriptor.commit), truth);
    assert.equal(quick.descriptor.commit, full.descriptor.commit);
    assert.equal(quick.patch, full.patch);
    assert.ok(quick.bundle && full.bundle);
    assert.ok(quick.bundle.equals(full.bundle), 'the two bundles are byte-identical');
    assert.deepEqual({ ...quick.descriptor, taskId: '', ref: '' }, { ...full.descriptor, taskId: '', ref: '' });
  });

  it('works inside a workspace folder (the patch relative to it)', async () => {
    const repo = makeRepo(everyKindOfFile());
    everyKindOfChange(repo);
    const { patch, snapshot } = await staged(repo, 'app');
    assert.match(patch.toString(), /diff --git a\/sub\/x.txt/);
    const quickTree = await treeFromChangedPaths({ gitDir: path.join(repo.root, '.git'), snapshot, patch, prefix: 'app', indexFile: path.join(repo.root, '.git', 'quick.index') });
    const { quick, full } = await bothWays(repo, snapshot, patch, 'app');
    assert.equal(treeOf(repo, quick.descriptor.commit), quickTree);
    assert.equal(quick.descriptor.commit, full.descriptor.commit);
    assert.ok(quick.bundle && full.bundle && quick.bundle.equals(full.bundle));
    // Only the folder's changes are in the result: outside it, the snapshot's files.
    assert.equal(git(repo.root, ['show', `${quick.descriptor.commit}:gone/only.txt`]), 'the whole folder goes');
    assert.equal(git(repo.root, ['show', `${quick.descriptor.commit}:app/new/z.txt`]), 'z');
  });

  it('falls back to the full index for what the quick way cannot build (no files left, a name with a newline)', async () => {
    const emptied = makeRepo({ 'only.txt': 'one\n', 'dir/two.txt': 'two\n' });
    fs.rmSync(path.join(emptied.root, 'only.txt'));
    fs.rmSync(path.join(emptied.root, 'dir'), { recursive: true });
    const newline = makeRepo({ 'plain.txt': 'plain\n' });
    newline.write('odd\nname.txt', 'a newline in the name\n');
    for (const repo of [emptied, newline]) {
      const { patch, snapshot, truth } = await staged(repo);
      const gitDir = path.join(repo.root, '.git');
      await assert.rejects(treeFromChangedPaths({ gitDir, snapshot, patch, prefix: '', indexFile: path.join(gitDir, 'quick.index') }));
      const made = await resultFromPatch({ gitDir, taskId: 'task.same', snapshot, patch });
      assert.equal(treeOf(repo, made.descriptor.commit), truth);
      const full = await resultFromPatch({ gitDir, taskId: 'task.same', snapshot, patch, treeFrom: 'full-index' });
      assert.ok(made.bundle && full.bundle && made.bundle.equals(full.bundle));
    }
  });

  it('refuses a patch that applies but is not the diff of the commit it makes, and leaves no result ref', async () => {
    const repo = makeRepo(everyKindOfFile());
    repo.write('src/a.txt', 'one\ntwo\nthree\nfour\n');
    const { patch, snapshot } = await staged(repo);
    // Without its `index` line the patch still applies, but the commit's diff has one.
    const edited = Buffer.from(patch.toString().replace(/^index .*\n/m, ''));
    const gitDir = path.join(repo.root, '.git');
    await assert.rejects(resultFromPatch({ gitDir, taskId: 'task.bad', snapshot, patch: edited }), /does not reproduce its patch byte for byte/);
    assert.equal(git(repo.root, ['for-each-ref', 'refs/swarm-result/']), '');
    assert.deepEqual(fs.readdirSync(path.join(gitDir, 'swarm-tmp')), [], 'no private index left behind');
  });

  it('an unchanged attempt makes no commit and no bundle', async () => {
    const repo = makeRepo(everyKindOfFile());
    const snapshot = git(repo.root, ['rev-parse', 'HEAD']);
    const made = await resultFromPatch({ gitDir: path.join(repo.root, '.git'), taskId: 'task.none', snapshot, patch: '' });
    assert.equal(made.descriptor.commit, snapshot);
    assert.equal(made.bundle, undefined);
  });
});

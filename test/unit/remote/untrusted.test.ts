// Bundles, patches and descriptors from other machines are untrusted: each attack here must be
// refused with a clear error, write no ref, and leave the repository usable for the next import.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { sha256 } from '../../../src/core/remote/bundle';
import { exportResult, importResult, importSnapshot, RemoteGitError, snapshotForRemote, type SnapshotDescriptor } from '../../../src/core/remote';
import { git } from '../worktree/helpers';
import { addLocalChanges, addWorktree, agentEdits, makeWorld, NAMED_FILES, refs, type World } from './machines';

const worlds: World[] = [];
afterEach(() => {
  for (const made of worlds.splice(0)) made.cleanup();
});

async function posted(taskId = 'task.x'): Promise<{ w: World; descriptor: SnapshotDescriptor; bundle: Buffer; reposDir: string }> {
  const w = makeWorld();
  worlds.push(w);
  addLocalChanges(w);
  const snap = await snapshotForRemote({ workspaceRoot: w.dev, taskId, files: NAMED_FILES });
  return { w, descriptor: snap.descriptor, bundle: snap.bundle as Buffer, reposDir: path.join(w.dir, 'runner', 'repos') };
}

/** A bundle made on the developer's machine from any refs, as an attacker could post one. */
function craftBundle(w: World, args: string[]): Buffer {
  const file = path.join(w.dir, `crafted-${Date.now()}-${Math.random()}.bundle`);
  git(w.dev, ['bundle', 'create', '-q', file, ...args]);
  return fs.readFileSync(file);
}

/** The same descriptor, describing `bundle` truthfully (size and checksum). */
function describing(descriptor: SnapshotDescriptor, bundle: Buffer, changes: Partial<SnapshotDescriptor> = {}): SnapshotDescriptor {
  return { ...descriptor, bundleBytes: bundle.length, bundleSha256: sha256(bundle), ...changes };
}

function isRefusal(problem: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof RemoteGitError, `a RemoteGitError, got ${String(error)}`);
    assert.equal(error.problem, problem, error.message);
    assert.match(error.message, pattern);
    assert.ok(error.permanent);
    return true;
  };
}

function cacheRepo(reposDir: string): string {
  const [name] = fs.readdirSync(reposDir).filter((entry) => entry.endsWith('.git'));
  return path.join(reposDir, name);
}

describe('untrusted bundles and descriptors', () => {
  it('refuses a tampered pack even with a matching checksum, writes no ref, and imports the genuine bundle afterwards', async () => {
    const { descriptor, bundle, reposDir } = await posted();
    const tampered = Buffer.from(bundle);
    tampered[tampered.length - 40] ^= 0x01;
    await assert.rejects(importSnapshot(describing(descriptor, tampered), tampered, { reposDir, allowLocalUrls: true }), isRefusal('untrusted-input', /^git refused the snapshot of task task\.x bundle: /));
    const gitDir = cacheRepo(reposDir);
    assert.equal(refs(gitDir).filter((line) => line.startsWith('refs/swarm')).length, 0, 'no ref written');
    assert.deepEqual(fs.readdirSync(path.join(gitDir, 'objects', 'pack')).filter((name) => name.startsWith('tmp_')), [], 'no temporary pack left');
    const imported = await importSnapshot(descriptor, bundle, { reposDir, allowLocalUrls: true });
    assert.equal(git(gitDir, ['rev-parse', 'refs/swarm-in/task.x']), imported.commit);
  });

  it('refuses a bundle that does not match the descriptor before touching any repository', async () => {
    const { descriptor, bundle, reposDir } = await posted();
    const changed = Buffer.from(bundle);
    changed[changed.length - 40] ^= 0x01;
    const options = { reposDir, allowLocalUrls: true };
    await assert.rejects(importSnapshot(descriptor, changed, options), isRefusal('untrusted-input', /does not match its checksum; it was changed after it was made/));
    await assert.rejects(importSnapshot(descriptor, bundle.subarray(0, bundle.length - 1), options), isRefusal('untrusted-input', /bundle has \d+ bytes, but the task says \d+; it was cut short or replaced/));
    await assert.rejects(importSnapshot(descriptor, undefined, options), isRefusal('untrusted-input', /bundle is missing/));
    await assert.rejects(importSnapshot(describing(descriptor, bundle), bundle, { ...options, maxBundleBytes: 100 }), isRefusal('too-large', /over this machine's 0\.0 MB cap; raise the cap/));
    assert.ok(!fs.existsSync(reposDir), 'no cache repository was even created');
  });

  it('refuses bundles whose heads are not exactly the one the task names', async () => {
    const { w, descriptor, reposDir } = await posted();
    const options = { reposDir, allowLocalUrls: true };
    const extra = craftBundle(w, ['refs/swarm-base/task.x', 'refs/heads/main', '^origin/main']);
    await assert.rejects(importSnapshot(describing(descriptor, extra), extra, options), isRefusal('untrusted-input', /carries refs\/swarm-base\/task\.x [0-9a-f]{12}, refs\/heads\/main [0-9a-f]{12}, but the task names only refs\/swarm-base\/task\.x/));
    git(w.dev, ['update-ref', 'refs/heads/evil', descriptor.snapshot]);
    const renamed = craftBundle(w, ['refs/heads/evil', '^origin/main']);
    await assert.rejects(importSnapshot(describing(descriptor, renamed), renamed, options), isRefusal('untrusted-input', /carries refs\/heads\/evil/));
    const other = craftBundle(w, ['refs/heads/main', '^origin/main']);
    const otherHead = Buffer.from(other.toString('latin1').replace('refs/heads/main', 'refs/swarm-base/task.x'), 'latin1');
    await assert.rejects(importSnapshot(describing(descriptor, otherHead), otherHead, options), isRefusal('untrusted-input', /but the task names only refs\/swarm-base\/task\.x [0-9a-f]{12}/));
    assert.ok(!fs.existsSync(reposDir) || refs(cacheRepo(reposDir)).every((line) => !line.startsWith('refs/swarm')));
  });

  it('writes only its own ref: an import adds refs/swarm-in/<id> and nothing else', async () => {
    const { w, descriptor, bundle, reposDir } = await posted();
    git(w.dev, ['tag', 'v-unpushed', descriptor.snapshot]);
    const imported = await importSnapshot(descriptor, bundle, { reposDir, allowLocalUrls: true });
    const after = refs(imported.gitDir);
    assert.deepEqual(
      after.filter((line) => !line.startsWith('refs/heads/')),
      [`refs/swarm-in/task.x ${descriptor.snapshot}`],
    );
  });

  it('refuses objects that would write into .git on checkout (a tree with a .GIT folder)', async () => {
    const { w, descriptor, reposDir } = await posted();
    const blob = git(w.dev, ['hash-object', '-w', '--stdin'], '[core]\n\tfsmonitor = evil\n');
    const inner = git(w.dev, ['mktree'], `100644 blob ${blob}\tconfig\n`);
    const base = descriptor.base as string;
    const tree = git(w.dev, ['mktree'], `${git(w.dev, ['ls-tree', base])}\n040000 tree ${inner}\t.GIT\n`);
    const evil = git(w.dev, ['commit-tree', tree, '-p', base, '-m', 'evil']);
    git(w.dev, ['update-ref', 'refs/swarm-base/task.x', evil]);
    const bundle = craftBundle(w, ['refs/swarm-base/task.x', `^${base}`]);
    await assert.rejects(importSnapshot(describing(descriptor, bundle, { snapshot: evil }), bundle, { reposDir, allowLocalUrls: true }), isRefusal('untrusted-input', /hasDotgit/));
    assert.equal(spawnSync('git', ['cat-file', '-e', evil], { cwd: cacheRepo(reposDir) }).status, 1, 'the commit was not stored');
  });

  it('refuses a bundle whose head is not a commit (a tree under the snapshot ref), and writes no ref', async () => {
    const { w, descriptor, reposDir } = await posted();
    const base = descriptor.base as string;
    const tree = git(w.dev, ['mktree'], `${git(w.dev, ['ls-tree', base])}\n100644 blob ${git(w.dev, ['hash-object', '-w', '--stdin'], 'new\n')}\tnew.txt\n`);
    git(w.dev, ['update-ref', 'refs/swarm-base/task.x', tree]);
    const bundle = craftBundle(w, ['refs/swarm-base/task.x', `^${base}`]);
    await assert.rejects(importSnapshot(describing(descriptor, bundle, { snapshot: tree }), bundle, { reposDir, allowLocalUrls: true }), isRefusal('untrusted-input', /does not contain its head commit/));
    assert.ok(refs(cacheRepo(reposDir)).every((line) => !line.startsWith('refs/swarm')), 'no ref written');
  });

  it('refuses a partial (filtered) bundle and any capability other than the object format', async () => {
    const { descriptor, bundle, reposDir } = await posted();
    const text = bundle.toString('latin1');
    const v3 = Buffer.from(text.replace('# v2 git bundle\n', '# v3 git bundle\n@object-format=sha1\n@filter=blob:none\n'), 'latin1');
    await assert.rejects(importSnapshot(describing(descriptor, v3), v3, { reposDir, allowLocalUrls: true }), isRefusal('untrusted-input', /unsupported capability "@filter=blob:none"/));
    const junk = Buffer.from('not a bundle at all');
    await assert.rejects(importSnapshot(describing(descriptor, junk), junk, { reposDir, allowLocalUrls: true }), isRefusal('untrusted-input', /not a git bundle/));
  });

  it('bounds what a bundle unpacks to', async () => {
    const { descriptor, bundle, reposDir } = await posted();
    await assert.rejects(importSnapshot(descriptor, bundle, { reposDir, allowLocalUrls: true, maxExpandedBytes: 1000 }), (error: unknown) => {
      assert.ok(error instanceof RemoteGitError && error.problem === 'too-large');
      assert.match(error.message, /unpacks to 0\.0 MB, over this machine's 0\.0 MB bound/);
      return true;
    });
    assert.ok(refs(cacheRepo(reposDir)).every((line) => !line.startsWith('refs/swarm')));
  });

  it('checks every descriptor field', async () => {
    const { w, descriptor, bundle, reposDir } = await posted();
    const options = { reposDir, allowLocalUrls: true };
    const refused = (changes: Record<string, unknown>, pattern: RegExp) => assert.rejects(importSnapshot({ ...descriptor, ...changes }, bundle, options), isRefusal('untrusted-input', pattern));
    await refused({ ref: 'refs/heads/main' }, /names the ref refs\/heads\/main, not refs\/swarm-base\/task\.x/);
    await refused({ taskId: 'a..b', ref: 'refs/swarm-base/a..b' }, /"a\.\.b" is not a valid task id/);
    await refused({ taskId: '../../heads/x' }, /is not a valid task id/);
    await refused({ prefix: '../outside' }, /workspace folder "\.\.\/outside" is not a folder inside the repository/);
    await refused({ snapshot: 'HEAD' }, /snapshot is not a commit id/);
    await refused({ format: 2 }, /has format 2; this Agent Swarm reads format 1: update it on this machine/);
    await refused({ url: 'https://github.com/someone/else.git' }, /is not the repository file:\/\//);
    await refused({ url: '--upload-pack=touch /tmp/pwned' }, /URL is not a repository URL/);
    await refused({ bundle: 'none' }, /has no bundle, but its base is not its snapshot/);
    await refused({ bundle: 'full' }, /builds on other commits, but the task says it carries the whole history/);
    await assert.rejects(importSnapshot(descriptor, bundle, { reposDir }), (error: unknown) => {
      assert.ok(error instanceof RemoteGitError && error.problem === 'config');
      assert.match(error.message, /names the local repository .*origin\.git; this runner only fetches from network remotes/);
      return true;
    });
    await assert.rejects(importSnapshot(descriptor, bundle, { allowLocalUrls: true, clone: path.join(w.dir, 'nowhere') }), isRefusal('config', /^The runner's repository .*nowhere is not a git repository; start the runner in a clone, or give it only a repository cache folder\.$/));
    await assert.rejects(importSnapshot(descriptor, bundle, { allowLocalUrls: true }), isRefusal('no-repository', /^The task is for file:\/\/.*, but the runner was not started in a clone of it and no repository cache is set: start the runner in a clone of .*, or give it a repository cache folder\.$/));
  });

  it('refuses a result whose patch is not the diff of its commit, or whose commit does not build on the snapshot', async () => {
    const { w, descriptor, bundle, reposDir } = await posted('task.res');
    const imported = await importSnapshot(descriptor, bundle, { reposDir, allowLocalUrls: true });
    const wt = addWorktree(imported.gitDir, path.join(w.dir, 'runner', 'slot'), imported.commit);
    agentEdits(wt);
    const result = await exportResult({ worktree: wt, taskId: 'task.res', snapshot: imported.commit });

    const forged = result.patch.replace('delta (agent)', 'DELTA (forged)');
    const forgedDescriptor = { ...result.descriptor, patchBytes: Buffer.byteLength(forged), patchSha256: sha256(forged) };
    await assert.rejects(importResult({ repository: w.dev, descriptor: forgedDescriptor, bundle: result.bundle, patch: forged }), isRefusal('untrusted-input', /is not the diff of its result commit/));
    await assert.rejects(importResult({ repository: w.dev, descriptor: result.descriptor, bundle: result.bundle, patch: forged }), isRefusal('untrusted-input', /does not match its descriptor/));

    // A commit on another parent, described as building on the snapshot.
    const orphan = git(wt, ['commit-tree', git(wt, ['write-tree']), '-p', descriptor.base as string, '-m', 'not on the snapshot']);
    git(wt, ['update-ref', 'refs/swarm-result/task.res', orphan]);
    const orphanBundle = fs.readFileSync((() => {
      const file = path.join(w.dir, 'orphan.bundle');
      git(wt, ['bundle', 'create', '-q', file, 'refs/swarm-result/task.res', `^${descriptor.base}`]);
      return file;
    })());
    const orphanDescriptor = { ...result.descriptor, commit: orphan, bundleBytes: orphanBundle.length, bundleSha256: sha256(orphanBundle) };
    await assert.rejects(importResult({ repository: w.dev, descriptor: orphanDescriptor, bundle: orphanBundle }), isRefusal('untrusted-input', /does not build on its snapshot/));
    assert.equal(git(w.dev, ['for-each-ref', 'refs/swarm-result/']), '', 'no result ref written');

    // Paths are checked against the developer's workspace, as the apply path does.
    fs.symlinkSync(path.join(w.dir, 'outside'), path.join(w.dev, 'notes-link'));
    fs.mkdirSync(path.join(w.dir, 'outside'));
    fs.mkdirSync(path.join(wt, 'notes-link'));
    fs.writeFileSync(path.join(wt, 'notes-link', 'x.txt'), 'through a link on the developer side\n');
    const linked = await exportResult({ worktree: wt, taskId: 'task.res', snapshot: imported.commit });
    const scope = { workspaceRoot: w.dev, boardRoot: path.join(w.dev, '.swarm') };
    await assert.rejects(importResult({ repository: w.dev, descriptor: linked.descriptor, bundle: linked.bundle, patch: linked.patch, writeScope: scope }), /goes through the symbolic link "notes-link"/);

    // Nor may a result write into the task board folder.
    fs.rmSync(path.join(wt, 'notes-link'), { recursive: true });
    fs.mkdirSync(path.join(wt, '.swarm', 'tasks'), { recursive: true });
    fs.writeFileSync(path.join(wt, '.swarm', 'tasks', 'forged.json'), '{}\n');
    const boardWrite = await exportResult({ worktree: wt, taskId: 'task.board', snapshot: imported.commit });
    assert.ok(boardWrite.files.some((file) => file.path === '.swarm/tasks/forged.json'));
    await assert.rejects(importResult({ repository: w.dev, descriptor: boardWrite.descriptor, bundle: boardWrite.bundle, patch: boardWrite.patch, writeScope: scope }), /inside the task board folder/);
  });
});

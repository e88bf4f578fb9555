// The git transport end to end, with real repositories as separate machines: the developer posts a
// snapshot bundle, runners (a cache folder, a clone of their own) import it with the identical
// commit id, and the result comes back as a patch plus a bundle.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { parseBundleHeader } from '../../../src/core/remote/bundle';
import { exportResult, importResult, importSnapshot, RemoteGitError, snapshotForRemote } from '../../../src/core/remote';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { fakeTask, fingerprint, git } from '../worktree/helpers';
import { addLocalChanges, addWorktree, agentEdits, binary, makeWorld, NAMED_FILES, treeFiles, type World } from './machines';

const worlds: World[] = [];
function world(seed?: Record<string, string | Buffer>): World {
  const made = makeWorld(seed);
  worlds.push(made);
  return made;
}
afterEach(() => {
  for (const made of worlds.splice(0)) made.cleanup();
});

const runner = (w: World, name: string) => ({ reposDir: path.join(w.dir, name, 'repos'), allowLocalUrls: true });

describe('remote git transport', () => {
  it('ships the working state as a thin bundle, and a runner gets the identical snapshot commit', async () => {
    const w = world();
    addLocalChanges(w);
    const before = fingerprint(w.dev);
    const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.thin', files: NAMED_FILES });
    assert.equal(fingerprint(w.dev), before, 'the developer tree and index are untouched');

    const { descriptor, bundle } = posted;
    const pushed = git(w.origin, ['rev-parse', 'main']);
    assert.equal(descriptor.bundle, 'thin');
    assert.equal(descriptor.base, pushed, 'the base is the commit the remote has');
    assert.equal(descriptor.repository, `file://${w.origin}`);
    assert.equal(git(w.dev, ['rev-parse', 'refs/swarm-base/task.thin']), descriptor.snapshot, 'the snapshot is kept reachable');
    assert.ok(bundle && bundle.length === descriptor.bundleBytes);
    assert.deepEqual(parseBundleHeader(bundle).prerequisites, [pushed]);
    assert.deepEqual(
      posted.leftOut.sort((a, b) => a.path.localeCompare(b.path)),
      [
        { path: '.env', reason: 'include-list' },
        { path: 'debug.log', reason: 'ignored' },
      ],
    );

    const imported = await importSnapshot(descriptor, bundle, runner(w, 'runner1'));
    assert.equal(imported.commit, descriptor.snapshot);
    assert.equal(git(imported.gitDir, ['rev-parse', 'refs/swarm-in/task.thin']), descriptor.snapshot, 'the identical commit id exists on the runner');
    const files = treeFiles(imported.gitDir, imported.commit);
    assert.deepEqual(files, treeFiles(w.dev, descriptor.snapshot));
    assert.ok(files['notes/todo.md'], 'the untracked file the task names travels');
    for (const stays of ['debug.log', '.env', 'scratch.txt', 'node_modules/dep/index.js']) assert.equal(files[stays], undefined, `${stays} stays on the developer's machine`);
    const wt = addWorktree(imported.gitDir, path.join(w.dir, 'runner1', 'slot'), imported.commit);
    assert.equal(fs.readFileSync(path.join(wt, 'README.md'), 'utf8'), '# demo (unstaged)\n');
    assert.equal(fs.readFileSync(path.join(wt, 'src/a.txt'), 'utf8'), 'alpha\nbeta (staged)\ngamma\n');
    assert.equal(fs.readFileSync(path.join(wt, 'src/b.txt'), 'utf8'), 'one\ntwo (unpushed)\nthree\n');
    assert.ok(fs.readFileSync(path.join(wt, 'bin/logo.bin')).equals(w.read(w.dev, 'bin/logo.bin')), 'the binary change travels');
  });

  it('brings the result back: the runner patch applies on the developer side and equals a local worktree patch byte for byte', async () => {
    const w = world();
    addLocalChanges(w);
    const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.back', files: NAMED_FILES });
    const imported = await importSnapshot(posted.descriptor, posted.bundle, runner(w, 'runner1'));
    const wt = addWorktree(imported.gitDir, path.join(w.dir, 'runner1', 'slot'), imported.commit);
    agentEdits(wt);
    const result = await exportResult({ worktree: wt, taskId: 'task.back', snapshot: imported.commit, prefix: imported.prefix });
    assert.ok(result.bundle && result.bundle.length === result.descriptor.bundleBytes);
    assert.deepEqual(parseBundleHeader(result.bundle).prerequisites, [imported.commit], 'the result bundle is thin: ^snapshot');
    assert.deepEqual(
      result.files.map((f) => [f.path, f.status]),
      [
        ['bin/logo.bin', 'modified'],
        ['notes/done.md', 'renamed'],
        ['src/a.txt', 'modified'],
        ['src/c.txt', 'deleted'],
        ['src/new.txt', 'added'],
      ],
    );

    const before = fingerprint(w.dev);
    const back = await importResult({ repository: w.dev, descriptor: result.descriptor, bundle: result.bundle, patch: result.patch, writeScope: { workspaceRoot: w.dev, boardRoot: path.join(w.dev, '.swarm') } });
    assert.equal(fingerprint(w.dev), before, 'importing a result leaves the working state alone');
    assert.equal(back.commit, result.descriptor.commit);
    assert.equal(git(w.dev, ['rev-parse', 'refs/swarm-result/task.back']), result.descriptor.commit, 'the result commit exists on the developer side');
    assert.equal(git(w.dev, ['rev-parse', `${back.commit}^1`]), posted.descriptor.snapshot);
    assert.equal(back.patch, result.patch);
    const patchFile = path.join(w.dir, 'result.patch');
    fs.writeFileSync(patchFile, back.patch);
    git(w.dev, ['apply', '--check', patchFile]);

    // The same task done by a local worktree agent on the developer's machine.
    const isolation = createWorktreeIsolation({ workspaceRoot: w.dev, worktreesDir: path.join(w.dir, 'local-slots') });
    const task = fakeTask({ files: NAMED_FILES });
    const artifacts = path.join(w.dir, 'local-artifacts');
    const prepared = await isolation.prepare(task, '1', artifacts);
    agentEdits(prepared.cwd);
    const local = await isolation.collect(task, '1', prepared, artifacts);
    assert.ok(local.patchFile);
    assert.ok(fs.readFileSync(local.patchFile).equals(Buffer.from(result.patch)), 'the runner patch equals the local patch byte for byte');
  });

  it('lets another machine continue from a result: a second runner, started in its own clone, imports snapshot and result', async () => {
    const w = world();
    addLocalChanges(w);
    const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.follow', files: NAMED_FILES });
    const first = await importSnapshot(posted.descriptor, posted.bundle, runner(w, 'runner1'));
    const wt = addWorktree(first.gitDir, path.join(w.dir, 'runner1', 'slot'), first.commit);
    agentEdits(wt);
    const result = await exportResult({ worktree: wt, taskId: 'task.follow', snapshot: first.commit });

    const clone = path.join(w.dir, 'runner2', 'clone');
    git(w.dir, ['clone', '-q', w.origin, clone]);
    const second = await importSnapshot(posted.descriptor, posted.bundle, { clone, allowLocalUrls: true });
    assert.equal(second.repository.kind, 'clone', 'a runner started in a clone of the repository uses it');
    assert.equal(second.gitDir, path.join(clone, '.git'));
    assert.equal(second.commit, first.commit);
    const continued = await importResult({ repository: clone, descriptor: result.descriptor, bundle: result.bundle, patch: result.patch });
    assert.equal(git(clone, ['rev-parse', 'refs/swarm-result/task.follow']), result.descriptor.commit);
    assert.equal(continued.patch, result.patch);

    // Partial work goes the same way, onto refs/swarm/<id> where a local retry resumes from it.
    const slot2 = addWorktree(second.gitDir, path.join(w.dir, 'runner2', 'slot'), continued.commit);
    fs.appendFileSync(path.join(slot2, 'src/new.txt'), 'more, interrupted\n');
    const partial = await exportResult({ worktree: slot2, taskId: 'task.follow', snapshot: second.commit, kind: 'partial' });
    assert.equal(partial.descriptor.ref, 'refs/swarm/task.follow');
    await importResult({ repository: w.dev, descriptor: partial.descriptor, bundle: partial.bundle });
    assert.equal(git(w.dev, ['rev-parse', 'refs/swarm/task.follow']), partial.descriptor.commit);
    assert.match(git(w.dev, ['show', 'refs/swarm/task.follow:src/new.txt']), /more, interrupted/);
  });

  it('sends back no bundle when the agent changed nothing', async () => {
    const w = world();
    addLocalChanges(w);
    const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.idle', files: NAMED_FILES });
    const imported = await importSnapshot(posted.descriptor, posted.bundle, runner(w, 'runner1'));
    const wt = addWorktree(imported.gitDir, path.join(w.dir, 'runner1', 'slot'), imported.commit);
    const result = await exportResult({ worktree: wt, taskId: 'task.idle', snapshot: imported.commit });
    assert.equal(result.patch, '');
    assert.equal(result.bundle, undefined);
    assert.equal(result.descriptor.commit, imported.commit);
    const back = await importResult({ repository: w.dev, descriptor: result.descriptor, patch: result.patch });
    assert.equal(back.patch, '');
    assert.deepEqual(back.files, []);
  });

  it('ships no bundle when the snapshot is on the remote already, and the runner fetches it', async () => {
    const w = world();
    const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.clean' });
    assert.equal(posted.descriptor.bundle, 'none');
    assert.equal(posted.bundle, undefined);
    assert.equal(posted.descriptor.snapshot, git(w.origin, ['rev-parse', 'main']));
    // A cache made before the push: the runner must fetch to find the snapshot.
    const reposDir = runner(w, 'runner1');
    const early = await importSnapshot(posted.descriptor, undefined, reposDir);
    w.write(w.dev, 'src/a.txt', 'pushed later\n');
    git(w.dev, ['commit', '-q', '-am', 'pushed later']);
    git(w.dev, ['push', '-q', 'origin', 'main']);
    const later = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.later' });
    assert.equal(later.descriptor.bundle, 'none');
    const imported = await importSnapshot(later.descriptor, undefined, reposDir);
    assert.equal(imported.gitDir, early.gitDir);
    assert.equal(git(imported.gitDir, ['rev-parse', 'refs/swarm-in/task.later']), later.descriptor.snapshot);
  });

  it('sends a full bundle when the remote has none of the history, under the cap; over it a permanent error says what to do', async () => {
    const w = world();
    const lonely = path.join(w.dir, 'lonely');
    fs.mkdirSync(lonely);
    git(lonely, ['init', '-q', '-b', 'main']);
    w.write(lonely, 'big.bin', binary('big', 60_000));
    w.write(lonely, 'a.txt', 'first\n');
    git(lonely, ['add', '-A']);
    git(lonely, ['commit', '-q', '-m', 'never pushed']);
    w.write(lonely, 'a.txt', 'first, edited\n');

    const posted = await snapshotForRemote({ workspaceRoot: lonely, taskId: 'task.full' });
    assert.equal(posted.descriptor.bundle, 'full');
    assert.equal(posted.descriptor.url, undefined);
    assert.match(posted.descriptor.repository, /^unpublished:[0-9a-f]{40}$/);
    assert.deepEqual(parseBundleHeader(posted.bundle as Buffer).prerequisites, []);
    const imported = await importSnapshot(posted.descriptor, posted.bundle, runner(w, 'runner1'));
    assert.equal(imported.commit, posted.descriptor.snapshot);
    assert.equal(git(imported.gitDir, ['show', `${imported.commit}:a.txt`]), 'first, edited');

    // A remote that shares no history with the branch is no better than none.
    const empty = path.join(w.dir, 'empty.git');
    git(w.dir, ['init', '-q', '--bare', empty]);
    git(lonely, ['remote', 'add', 'origin', empty]);
    const noShared = await snapshotForRemote({ workspaceRoot: lonely, taskId: 'task.full2' });
    assert.equal(noShared.descriptor.bundle, 'full');

    await assert.rejects(snapshotForRemote({ workspaceRoot: lonely, taskId: 'task.full3', maxBundleBytes: 20_000 }), (error: unknown) => {
      assert.ok(error instanceof RemoteGitError && error.problem === 'too-large' && error.permanent);
      assert.match(error.message, /^The snapshot \(with its whole history, since the remote has none of it\) needs 0\.1 MB, over the 0\.0 MB cap: push your branch so runners can fetch its history, or raise the cap\.$/);
      return true;
    });
  });

  it('stops making a bundle far over the cap and says it needs more than it counted', async () => {
    const w = world();
    w.write(w.dev, 'huge.bin', binary('huge', 1_000_000));
    git(w.dev, ['add', 'huge.bin']);
    await assert.rejects(snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.huge', maxBundleBytes: 10_000 }), /needs more than 0\.\d MB, over the 0\.0 MB cap: push your branch/); // how far it got before it stopped depends on the machine's speed
  });

  it('caps a thin bundle too: large unpushed work fails with the same advice', async () => {
    const w = world();
    w.write(w.dev, 'huge.bin', binary('huge', 300_000));
    git(w.dev, ['add', 'huge.bin']);
    git(w.dev, ['commit', '-q', '-m', 'big unpushed']);
    await assert.rejects(snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.big', maxBundleBytes: 100_000 }), /^RemoteGitError: The snapshot \(your unpushed commits and uncommitted changes\) needs 0\.3 MB, over the 0\.1 MB cap: push your branch/);
  });

  it('copes with a stale remote-tracking branch: behind the remote works, a base the remote lost fails permanently', async () => {
    const w = world();
    // Someone else pushes: the developer's origin/main is now behind the remote.
    const other = path.join(w.dir, 'other');
    git(w.dir, ['clone', '-q', w.origin, other]);
    w.write(other, 'src/other.txt', 'pushed by someone else\n');
    git(other, ['add', '-A']);
    git(other, ['commit', '-q', '-m', 'other work']);
    git(other, ['push', '-q', 'origin', 'main']);
    addLocalChanges(w);
    const behind = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.behind', files: NAMED_FILES });
    assert.equal(behind.descriptor.base, git(w.dev, ['rev-parse', 'origin/main']));
    assert.notEqual(behind.descriptor.base, git(w.origin, ['rev-parse', 'main']));
    const imported = await importSnapshot(behind.descriptor, behind.bundle, runner(w, 'runner1'));
    assert.equal(imported.commit, behind.descriptor.snapshot);

    // The developer pushed a commit that was later force-pushed away; their origin/main still points at it.
    const lost = path.join(w.dir, 'lost');
    git(w.dir, ['clone', '-q', w.origin, lost]);
    w.write(lost, 'src/lost.txt', 'soon gone\n');
    git(lost, ['add', '-A']);
    git(lost, ['commit', '-q', '-m', 'soon force-pushed away']);
    git(lost, ['push', '-q', 'origin', 'main']);
    w.write(lost, 'src/edit.txt', 'uncommitted\n');
    git(lost, ['add', '-A']);
    const stale = await snapshotForRemote({ workspaceRoot: lost, taskId: 'task.stale' });
    assert.equal(stale.descriptor.base, git(lost, ['rev-parse', 'origin/main']));
    git(other, ['push', '-q', '--force', 'origin', 'main']);
    await assert.rejects(importSnapshot(stale.descriptor, stale.bundle, runner(w, 'runner2')), (error: unknown) => {
      assert.ok(error instanceof RemoteGitError && error.problem === 'missing-base' && error.permanent, String(error));
      assert.match(error.message, /builds on [0-9a-f]{12}, which the remote \(.*origin\.git, fetched just now\) does not have\. .*run `git fetch` and post the task again\./);
      return true;
    });
  });

  it('chooses the remote: the one asked for, else origin; an unknown name is a clear error', async () => {
    const w = world();
    const fork = path.join(w.dir, 'fork.git');
    git(w.dir, ['clone', '-q', '--bare', w.origin, fork]);
    git(w.dev, ['remote', 'add', 'fork', fork]);
    git(w.dev, ['fetch', '-q', 'fork']);
    w.write(w.dev, 'src/a.txt', 'edited\n');
    assert.equal((await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.r1' })).descriptor.url, w.origin);
    assert.equal((await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.r2', remote: 'fork' })).descriptor.url, fork);
    await assert.rejects(snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.r3', remote: 'upstream' }), /no remote named "upstream" \(it has: fork, origin\)/);
    git(w.dev, ['remote', 'rename', 'origin', 'mine']);
    assert.equal((await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.r4' })).descriptor.url, w.origin, 'no origin: the branch upstream remote');
    git(w.dev, ['branch', '--unset-upstream']);
    await assert.rejects(snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.r5' }), /several remotes \(fork, mine\) and none is "origin"; choose the one runners fetch from/);
  });

  it('keeps uncommitted edits of tracked include-list files (.env) home, and says so', async () => {
    const w = world();
    w.write(w.dev, '.env', 'TEMPLATE=1\n');
    git(w.dev, ['add', '-f', '.env']);
    git(w.dev, ['commit', '-q', '-m', 'env template']);
    git(w.dev, ['push', '-q', 'origin', 'main']);
    w.write(w.dev, '.env', 'TEMPLATE=1\nSECRET=hunter2\n');
    w.write(w.dev, 'src/a.txt', 'edited\n');
    const before = fingerprint(w.dev);
    const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.env' });
    assert.equal(fingerprint(w.dev), before);
    assert.deepEqual(posted.leftOut, [{ path: '.env', reason: 'include-list' }]);
    assert.equal(git(w.dev, ['show', `${posted.descriptor.snapshot}:.env`]), 'TEMPLATE=1');
    assert.equal(git(w.dev, ['show', `${posted.descriptor.snapshot}:src/a.txt`]), 'edited');
    const secretBlob = git(w.dir, ['hash-object', '--stdin'], 'TEMPLATE=1\nSECRET=hunter2\n');
    const imported = await importSnapshot(posted.descriptor, posted.bundle, runner(w, 'runner1'));
    assert.equal(spawnSync('git', ['cat-file', '-e', secretBlob], { cwd: imported.gitDir }).status, 1, 'the edited .env never reaches the runner');
  });

  it('works from a workspace in a subfolder: the prefix travels and the patch is relative to it', async () => {
    const w = world({ 'app/src/a.txt': 'one\n', 'other/b.txt': 'two\n' });
    const workspace = path.join(w.dev, 'app');
    w.write(w.dev, 'app/src/a.txt', 'one, edited\n');
    w.write(w.dev, 'app/notes.md', 'named\n');
    const posted = await snapshotForRemote({ workspaceRoot: workspace, taskId: 'task.sub', files: ['notes.md'] });
    assert.equal(posted.descriptor.prefix, 'app');
    const imported = await importSnapshot(posted.descriptor, posted.bundle, runner(w, 'runner1'));
    assert.equal(imported.prefix, 'app');
    const wt = addWorktree(imported.gitDir, path.join(w.dir, 'runner1', 'slot'), imported.commit);
    assert.equal(fs.readFileSync(path.join(wt, 'app/notes.md'), 'utf8'), 'named\n');
    fs.appendFileSync(path.join(wt, 'app/src/a.txt'), 'agent\n');
    const result = await exportResult({ worktree: wt, taskId: 'task.sub', snapshot: imported.commit, prefix: imported.prefix });
    assert.deepEqual(result.files.map((f) => f.path), ['src/a.txt']);
    const back = await importResult({ repository: workspace, descriptor: result.descriptor, bundle: result.bundle, patch: result.patch, writeScope: { workspaceRoot: workspace, boardRoot: path.join(workspace, '.swarm') } });
    assert.equal(back.patch, result.patch);
  });

  it('accepts old histories with harmless flaws (a zero-padded tree mode) in a cache fetch and in a full bundle', async () => {
    const w = world();
    // A tree entry "040000" (old git wrote modes zero-padded): fsck warns zeroPaddedFilemode, strict checks would refuse.
    const sub = git(w.dev, ['mktree'], `100644 blob ${git(w.dev, ['hash-object', '-w', '--stdin'], 'old\n')}\tfile.txt\n`);
    const entries = Buffer.concat([Buffer.from('040000 old\0'), Buffer.from(sub, 'hex')]);
    const treeFile = path.join(w.dir, 'tree.bin');
    fs.writeFileSync(treeFile, Buffer.concat([entries]));
    const oldTree = git(w.dev, ['hash-object', '-t', 'tree', '--literally', '-w', treeFile]);
    const oldCommit = git(w.dev, ['commit-tree', oldTree, '-m', 'written by an old git']);
    const merged = git(w.dev, ['commit-tree', git(w.dev, ['rev-parse', 'HEAD^{tree}']), '-p', 'HEAD', '-p', oldCommit, '-m', 'merge old history']);
    git(w.dev, ['update-ref', 'refs/heads/main', merged]);
    git(w.dev, ['push', '-q', 'origin', 'main']);
    w.write(w.dev, 'src/a.txt', 'edited\n');
    const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.old' });
    const imported = await importSnapshot(posted.descriptor, posted.bundle, runner(w, 'runner1'));
    assert.equal(git(imported.gitDir, ['rev-parse', `${oldCommit}^{commit}`]), oldCommit, 'the cache fetched the old history');

    git(w.dev, ['remote', 'remove', 'origin']);
    const full = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.old2' });
    assert.equal(full.descriptor.bundle, 'full');
    const fromFull = await importSnapshot(full.descriptor, full.bundle, runner(w, 'runner2'));
    assert.equal(fromFull.commit, full.descriptor.snapshot);
  });

  it('leaves crafted named paths out and says so: outside the workspace, absolute, through a symbolic link', async () => {
    const w = world();
    fs.mkdirSync(path.join(w.dir, 'outside'));
    fs.writeFileSync(path.join(w.dir, 'outside', 'secret'), 'not for runners\n');
    fs.symlinkSync(path.join(w.dir, 'outside'), path.join(w.dev, 'link'));
    w.write(w.dev, 'src/a.txt', 'edited\n');
    w.write(w.dev, 'src/named.txt', 'named, untracked\n');
    const posted = await snapshotForRemote({ workspaceRoot: w.dev, taskId: 'task.paths', files: ['../outside/secret', '/etc/passwd', 'link/secret', 'src/../src/named.txt', 'not-yet-created.txt'] });
    assert.deepEqual(posted.leftOut, [
      { path: '../outside/secret', reason: 'outside-workspace' },
      { path: '/etc/passwd', reason: 'outside-workspace' },
      { path: 'link/secret', reason: 'outside-workspace' },
    ]);
    const files = treeFiles(w.dev, posted.descriptor.snapshot);
    assert.ok(files['src/named.txt'], 'a named path spelt with .. inside the workspace travels');
    const secretBlob = git(w.dir, ['hash-object', path.join(w.dir, 'outside', 'secret')]);
    const imported = await importSnapshot(posted.descriptor, posted.bundle, runner(w, 'runner1'));
    assert.equal(spawnSync('git', ['cat-file', '-e', secretBlob], { cwd: imported.gitDir }).status, 1, 'the file behind the link never reaches the runner');
  });
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { createWorktreeIsolation, NotAGitRepositoryError, pruneWorktrees } from '../../../src/core/worktree';
import { processesWithArgs, uniqueSleep, waitUntil } from '../sandbox/helpers';
import { fakeTask, fingerprint, git, reposRemovedAfterEach, slotsDir, type TempRepo } from './helpers';

const repo = reposRemovedAfterEach();

function artifacts(r: TempRepo, id: string): string {
  return path.join(r.root, '.swarm', 'artifacts', id);
}

describe('worktree isolation', () => {
  it('runs the agent on the uncommitted working state, outside the workspace, and collects a patch', async () => {
    const r = repo();
    r.write('src/a.txt', 'one\nTWO (uncommitted)\nthree\n');
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.ok(!prepared.cwd.startsWith(r.root + path.sep + 'src'), 'worktree is not inside the workspace folder');
    assert.ok(prepared.cwd.startsWith(slotsDir(r.root) + path.sep), `worktree in the cache folder: ${prepared.cwd}`);
    assert.ok(!prepared.cwd.startsWith(path.dirname(r.root) + path.sep), `worktree outside the checkout and its parent: ${prepared.cwd}`);
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/a.txt'), 'utf8'), 'one\nTWO (uncommitted)\nthree\n');
    fs.writeFileSync(path.join(prepared.cwd, 'src/a.txt'), 'one\nTWO (uncommitted)\nthree\nfour\n');
    fs.writeFileSync(path.join(prepared.cwd, 'src/new.txt'), 'brand new\n');
    const changes = await isolation.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(
      changes.files.map((f) => [f.path, f.status, f.additions, f.deletions]),
      [
        ['src/a.txt', 'modified', 1, 0],
        ['src/new.txt', 'added', 1, 0],
      ],
    );
    assert.ok(changes.patchFile && fs.existsSync(changes.patchFile));
    const patch = fs.readFileSync(changes.patchFile, 'utf8');
    assert.match(patch, /\+four/);
    assert.doesNotMatch(patch, /TWO \(uncommitted\)\n-/, 'the uncommitted edit is part of the base, not of the patch');
    // The patch applies to the user's working state as it is.
    git(r.root, ['apply', '--check', changes.patchFile]);
    assert.equal(r.read('src/a.txt'), 'one\nTWO (uncommitted)\nthree\n', 'user file untouched');
  });

  it('includes untracked files named by the task, and only those', async () => {
    const r = repo();
    r.write('notes/todo.txt', 'untracked but named\n');
    r.write('scratch.txt', 'untracked, not named\n');
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask({ files: ['notes/todo.txt'] });
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'notes/todo.txt'), 'utf8'), 'untracked but named\n');
    assert.ok(!fs.existsSync(path.join(prepared.cwd, 'scratch.txt')));
    const changes = await isolation.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files, []);
    assert.equal(changes.patchFile, undefined);
  });

  it('leaves the user working tree and index byte-identical', async () => {
    const r = repo();
    r.write('src/a.txt', 'staged change\n');
    git(r.root, ['add', 'src/a.txt']);
    r.write('src/a.txt', 'staged change\nplus unstaged\n');
    r.write('untracked.txt', 'u\n');
    r.write('named.txt', 'n\n');
    const before = fingerprint(r.root);
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    for (const slot of ['1', '1', '2']) {
      const task = fakeTask({ files: ['named.txt'] });
      const prepared = await isolation.prepare(task, slot, path.join(os.tmpdir(), `swarm-art-${task.id}`));
      fs.writeFileSync(path.join(prepared.cwd, 'README.md'), 'agent edit\n');
      fs.rmSync(path.join(prepared.cwd, 'named.txt'));
      const changes = await isolation.collect(task, slot, prepared, path.join(os.tmpdir(), `swarm-art-${task.id}`));
      assert.equal(changes.files.length, 2);
      fs.rmSync(path.join(os.tmpdir(), `swarm-art-${task.id}`), { recursive: true, force: true });
    }
    assert.equal(fingerprint(r.root), before);
  });

  it('reuses a slot warm: the next task starts from its own snapshot with the previous task\'s files gone', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const first = fakeTask();
    const p1 = await isolation.prepare(first, '1', artifacts(r, first.id));
    fs.writeFileSync(path.join(p1.cwd, 'leftover.txt'), 'x');
    fs.writeFileSync(path.join(p1.cwd, 'README.md'), 'changed by first\n');
    await isolation.collect(first, '1', p1, artifacts(r, first.id));
    r.write('README.md', '# demo, edited by the user\n');
    const second = fakeTask();
    const p2 = await isolation.prepare(second, '1', artifacts(r, second.id));
    assert.equal(p2.cwd, p1.cwd, 'same slot directory');
    assert.ok(!fs.existsSync(path.join(p2.cwd, 'leftover.txt')));
    assert.equal(fs.readFileSync(path.join(p2.cwd, 'README.md'), 'utf8'), '# demo, edited by the user\n');
    const listed = await isolation.list();
    assert.equal(listed.length, 1);
    assert.equal(listed[0].taskId, second.id);
    assert.equal(listed[0].busy, true);
  });

  it('links included dependencies and runs the setup command once per fresh worktree', async () => {
    const r = repo({ '.gitignore': 'node_modules/\n.env\nsetup-count.log\n', 'index.js': 'x\n' });
    r.write('node_modules/dep/index.js', 'module.exports = 1;\n');
    r.write('.env', 'KEY=1\n');
    r.write('.worktreeinclude', '# extra files agents need\nsecrets/key.txt\n');
    r.write('secrets/key.txt', 'k\n');
    fs.appendFileSync(path.join(r.root, '.git', 'info', 'exclude'), 'secrets/\n.worktreeinclude\n');
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, setupCommand: 'echo ran >> setup-count.log' });
    for (let i = 0; i < 2; i += 1) {
      const task = fakeTask();
      const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
      assert.ok(fs.lstatSync(path.join(prepared.cwd, 'node_modules')).isSymbolicLink());
      assert.equal(fs.readFileSync(path.join(prepared.cwd, 'node_modules/dep/index.js'), 'utf8'), 'module.exports = 1;\n');
      assert.equal(fs.readFileSync(path.join(prepared.cwd, '.env'), 'utf8'), 'KEY=1\n');
      assert.equal(fs.readFileSync(path.join(prepared.cwd, 'secrets/key.txt'), 'utf8'), 'k\n', 'listed in .worktreeinclude');
      assert.equal(fs.readFileSync(path.join(prepared.cwd, 'setup-count.log'), 'utf8'), 'ran\n', 'setup ran exactly once');
      fs.writeFileSync(path.join(prepared.cwd, 'index.js'), `edit ${i}\n`);
      const changes = await isolation.collect(task, '1', prepared, artifacts(r, task.id));
      assert.deepEqual(
        changes.files.map((f) => f.path),
        ['index.js'],
        'linked dependencies are never part of the result',
      );
    }
  });

  it('an abort during the setup command ends everything it started and frees the slot', async () => {
    const r = repo({ 'index.js': 'x\n' });
    const seconds = uniqueSleep();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, setupCommand: `sleep ${seconds} & sleep ${Number(seconds) + 1}` });
    const controller = new AbortController();
    const task = fakeTask();
    const preparing = isolation.prepare(task, '1', artifacts(r, task.id), controller.signal).then(
      () => assert.fail('prepare must not succeed'),
      (error: unknown) => error,
    );
    await waitUntil('the setup command to run', () => processesWithArgs(['sleep', seconds]).length === 1);
    controller.abort();
    const error = await preparing;
    assert.deepEqual(processesWithArgs(['sleep', seconds]), [], "the setup command's background child is gone");
    assert.deepEqual(processesWithArgs(['sleep', String(Number(seconds) + 1)]), []);
    assert.match(String(error), /setup command .* was stopped/);
    const dir = await isolation.worktreesDir();
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name.endsWith('.lock')), [], 'the slot is free again');
  });

  it('keeps the partial work of an abandoned attempt on refs/swarm/<id> and resumes from it', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const p1 = await isolation.prepare(task, '1', artifacts(r, task.id));
    fs.writeFileSync(path.join(p1.cwd, 'half.txt'), 'half done\n');
    await isolation.abandon(task, '1', p1, 'lease lost');
    assert.match(git(r.root, ['log', '-1', '--format=%s', `refs/swarm/${task.id}`]), /partial work/);
    const p2 = await isolation.prepare({ ...task, attempts: 2 }, '2', artifacts(r, task.id));
    assert.equal(fs.readFileSync(path.join(p2.cwd, 'half.txt'), 'utf8'), 'half done\n');
    assert.equal(p2.snapshot, p1.snapshot, 'diffs stay against the original snapshot');
    const changes = await isolation.collect(task, '2', p2, artifacts(r, task.id));
    assert.deepEqual(changes.files.map((f) => f.path), ['half.txt']);
    assert.equal(git(r.root, ['for-each-ref', `refs/swarm/${task.id}`]), '', 'partial ref dropped once the task succeeded');
  });

  it('caps slots and keeps the disk budget by removing the least recently used idle worktrees', async () => {
    const r = repo();
    const capped = createWorktreeIsolation({ workspaceRoot: r.root, maxSlots: 2 });
    for (const slot of ['a', 'b', 'c']) {
      const task = fakeTask();
      const prepared = await capped.prepare(task, slot, artifacts(r, task.id));
      await capped.collect(task, slot, prepared, artifacts(r, task.id));
    }
    assert.deepEqual((await capped.list()).map((wt) => wt.slot).sort(), ['b', 'c'], 'slot a, the least recently used, made room');

    const budgeted = createWorktreeIsolation({ workspaceRoot: r.root, diskBudgetBytes: 1 });
    const task = fakeTask();
    const prepared = await budgeted.prepare(task, 'd', artifacts(r, task.id));
    await budgeted.collect(task, 'd', prepared, artifacts(r, task.id));
    assert.deepEqual((await budgeted.list()).map((wt) => wt.slot), ['d'], 'over budget: every idle slot but the current one is removed');
    assert.equal(git(r.root, ['worktree', 'list']).split('\n').length, 2, 'registrations removed too');
  });

  it('never runs the repository hooks when creating a worktree', async () => {
    const r = repo();
    const marker = path.join(r.root, '..', 'hook-ran');
    fs.writeFileSync(path.join(r.root, '.git', 'hooks', 'post-checkout'), `#!/bin/sh\ntouch '${marker}'\n`, { mode: 0o755 });
    git(r.root, ['checkout', '-q', '-b', 'other']);
    assert.ok(fs.existsSync(marker), 'the hook works for the user');
    fs.rmSync(marker);
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.ok(!fs.existsSync(marker));
  });

  it('creates several slots in parallel, with a prune running at the same time', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const tasks = ['1', '2', '3', '4'].map(() => fakeTask());
    const [prepared] = await Promise.all([
      Promise.all(tasks.map((task, index) => isolation.prepare(task, String(index + 1), artifacts(r, task.id)))),
      isolation.prune(),
    ]);
    assert.equal(new Set(prepared.map((p) => p.cwd)).size, 4);
    for (const p of prepared) assert.equal(fs.readFileSync(path.join(p.cwd, 'src/a.txt'), 'utf8'), 'one\ntwo\nthree\n');
    await isolation.prune();
    const listed = await isolation.list();
    assert.equal(listed.length, 4);
    assert.ok(listed.every((wt) => wt.busy && !wt.stale));
  });

  it('a slot reused after an attempt that was never collected starts clean (untracked and ignored leftovers removed)', async () => {
    const r = repo({ '.gitignore': 'build/\n', 'a.txt': 'a\n' });
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const first = fakeTask();
    const p1 = await isolation.prepare(first, '1', artifacts(r, first.id));
    fs.writeFileSync(path.join(p1.cwd, 'stray.txt'), 'x');
    fs.mkdirSync(path.join(p1.cwd, 'build'));
    fs.writeFileSync(path.join(p1.cwd, 'build', 'out.js'), 'x');
    fs.writeFileSync(path.join(p1.cwd, 'a.txt'), 'modified\n');
    const second = fakeTask();
    const p2 = await isolation.prepare(second, '1', artifacts(r, second.id));
    assert.deepEqual(fs.readdirSync(p2.cwd).sort(), ['.git', '.gitignore', 'a.txt']);
    assert.equal(fs.readFileSync(path.join(p2.cwd, 'a.txt'), 'utf8'), 'a\n');
  });

  it('prune removes locked registrations whose folder is gone or half deleted, and counts only what it really removed', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const folders: string[] = [];
    for (const slot of ['1', '2']) {
      const task = fakeTask();
      const prepared = await isolation.prepare(task, slot, artifacts(r, task.id));
      await isolation.collect(task, slot, prepared, artifacts(r, task.id));
      git(r.root, ['worktree', 'lock', '--reason', 'test', prepared.cwd]);
      folders.push(prepared.cwd);
    }
    fs.rmSync(folders[0], { recursive: true, force: true }); // gone
    fs.rmSync(path.join(folders[1], '.git')); // half deleted: git refuses to remove it as a worktree
    const registered = (): number => git(r.root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ')).length;
    const removed = await pruneWorktrees(r.root);
    assert.equal(registered(), 1, 'only the main worktree is registered');
    assert.equal(removed, 2);
    assert.equal(fs.existsSync(folders[1]), false);
    assert.equal(await pruneWorktrees(r.root), 0, 'nothing left to remove: nothing reported');
  });

  it('abandon never throws, even when the worktree is gone', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    fs.rmSync(prepared.cwd, { recursive: true, force: true });
    await isolation.abandon(task, '1', prepared, 'cancelled');
    const next = fakeTask();
    const again = await isolation.prepare(next, '1', artifacts(r, next.id));
    assert.equal(fs.readFileSync(path.join(again.cwd, 'README.md'), 'utf8'), '# demo\n', 'the slot is recreated');
  });

  it('refuses a folder that is not a git repository with a message that says what to do', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-nogit-'));
    try {
      assert.throws(() => createWorktreeIsolation({ workspaceRoot: dir }), (error: unknown) => {
        assert.ok(error instanceof NotAGitRepositoryError);
        assert.match(error.message, /not inside a git repository/);
        assert.match(error.message, /git init/);
        assert.match(error.message, /direct/);
        return true;
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

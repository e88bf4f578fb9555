// The runner's seam (src/core/remote/workspace.ts): a task with a source, claimed from a real Redis
// board, starts in a worktree slot at exactly the poster's snapshot commit, in a repository cache or
// in the runner's own clone; its patch is the one a local run makes, byte for byte, and a thin
// result bundle goes back with it. A runner without the repository hands the task back.
//   node scripts/run-unit-tests.js test/unit/remote/workspace.test.ts
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { openBoard } from '../../../src/core/board/open';
import type { Board, Task } from '../../../src/core/board';
import { importResult } from '../../../src/core/remote';
import { sha256 } from '../../../src/core/remote/bundle';
import { snapshotForPost } from '../../../src/core/remote/post';
import { CannotServeTaskError, HandBackBackoff, PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT, RemoteWorkspace, RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT } from '../../../src/core/remote/workspace';
import { WorktreeIsolation } from '../../../src/core/worktree/worktreeIsolation';
import { git } from '../worktree/helpers';
import { addLocalChanges, agentEdits, makeWorld, redisWorlds, NAMED_FILES, treeFiles, type World } from './machines';

const { server, worlds, boards } = redisWorlds();

async function setUp(name: string): Promise<{ w: World; board: Board; task: Task }> {
  const w = makeWorld();
  worlds.push(w);
  addLocalChanges(w);
  const board = await openBoard(server().url(0, name));
  boards.push(board);
  const spec = { title: 'edit', files: NAMED_FILES };
  const { source } = await snapshotForPost({ board, workspaceRoot: w.dev, specs: [spec] });
  const [task] = await board.postMany([{ ...spec, source }]);
  return { w, board, task };
}

function runner(w: World, board: Board, where: { clone?: string; reposDir?: string }, name: string): RemoteWorkspace {
  return new RemoteWorkspace({ board, ...where, runnerDir: path.join(w.dir, `${name}-runner`), allowLocalUrls: true, makeIsolation: (options) => new WorktreeIsolation({ ...options, keepIdleSlots: true }) });
}

/** The patch a local slot of the developer makes for the same edits: what a remote run must equal. */
async function localPatch(w: World, task: Task): Promise<string> {
  const local = new WorktreeIsolation({ workspaceRoot: w.dev, worktreesDir: path.join(w.dir, 'dev-slots') });
  const artifacts = path.join(w.dir, 'dev-artifacts');
  const prepared = await local.prepare({ ...task, source: undefined }, 'local', artifacts);
  agentEdits(prepared.cwd);
  const changes = await local.collect(task, 'local', prepared, artifacts);
  await local.release();
  return fs.readFileSync(changes.patchFile as string, 'utf8');
}

describe('runner workspace from a task source', { timeout: 300_000 }, () => {
  it('the work of an attempt whose runner died is sent by the next runner here; if the board cannot take it then, by the one after', async () => {
    const { w, board, task } = await setUp('ws-dead-runner');
    const claim = await board.claim({ agent: 'runner-a' });
    assert.equal(claim?.task.id, task.id);
    const runnerDir = path.join(w.dir, 'shared-runner');
    const make = (onBoard: Board, logs: string[] = []): RemoteWorkspace => new RemoteWorkspace({ board: onBoard, reposDir: path.join(w.dir, 'cache'), runnerDir, allowLocalUrls: true, log: (line) => logs.push(line), makeIsolation: (options) => new WorktreeIsolation({ ...options, keepIdleSlots: true }) });
    const first = make(board);
    const prepared = await first.prepare(claim!.task, '0', path.join(w.dir, 'a'));
    fs.writeFileSync(path.join(prepared.cwd, 'killed.txt'), 'written before the runner died\n');
    // The runner "dies": its slot names a process that is gone (a child that has exited).
    const { spawnSync } = await import('child_process');
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
    const slots = path.join(runnerDir, 'slots');
    for (const site of fs.readdirSync(slots)) {
      for (const name of fs.readdirSync(path.join(slots, site)).filter((entry) => /^slot-.*\.json$/.test(entry))) {
        const file = path.join(slots, site, name);
        fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ownerPid: Number(gone) }));
      }
    }
    // The next runner keeps the work but cannot store it on the board.
    const refusing = Object.assign(Object.create(board) as Board, { putArtifact: async () => Promise.reject(new Error('the board is out of reach')) });
    const logs: string[] = [];
    await make(refusing, logs).prune();
    assert.ok(logs.some((line) => /not sent yet \(the board is out of reach\); the next runner started here sends it/.test(line)), logs.join('\n'));
    assert.equal(await board.getArtifact(task.id, PARTIAL_DESCRIPTOR_ARTIFACT), undefined);
    // The one after sends it, and notes nothing more.
    const third = make(board);
    await third.prune();
    const descriptor = JSON.parse(String(await board.getArtifact(task.id, PARTIAL_DESCRIPTOR_ARTIFACT))) as { commit: string };
    const gitDir = path.join(w.dir, 'cache', fs.readdirSync(path.join(w.dir, 'cache')).find((name) => name.endsWith('.git')) as string);
    assert.equal(git(gitDir, ['show', `${descriptor.commit}:killed.txt`]), 'written before the runner died');
    const unsent = fs.readdirSync(path.join(runnerDir, 'sites')).filter((name) => name.endsWith('.unsent')).flatMap((name) => fs.readdirSync(path.join(runnerDir, 'sites', name)));
    assert.deepEqual(unsent, []);
    await third.release();
  });

  it('a runner with only a repository cache starts from the identical snapshot, and its patch and result bundle come back and check out on the developer side', async () => {
    const { w, board, task } = await setUp('ws1');
    const claim = await board.claim({ agent: 'runner-a' });
    assert.equal(claim?.task.id, task.id);
    const workspace = runner(w, board, { reposDir: path.join(w.dir, 'cache') }, 'a');
    const artifacts = path.join(w.dir, 'runner-artifacts');
    const prepared = await workspace.prepare(claim!.task, '0', artifacts);
    const head = git(prepared.cwd, ['rev-parse', 'HEAD']);
    assert.equal(head, task.source?.snapshot, 'the slot starts from exactly the snapshot commit');
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'README.md'), 'utf8'), '# demo (unstaged)\n', 'with the unstaged edit');
    assert.ok(fs.existsSync(path.join(prepared.cwd, 'notes/todo.md')), 'with the named untracked file');
    assert.ok(!fs.existsSync(path.join(prepared.cwd, '.env')), 'without the secrets');
    agentEdits(prepared.cwd);
    const changes = await workspace.collect(claim!.task, '0', prepared, artifacts);
    assert.equal(changes.base, task.source?.snapshot);
    const patch = fs.readFileSync(changes.patchFile as string, 'utf8');
    assert.equal(patch, await localPatch(w, task), 'the same bytes as a local run of the same edits');

    // The developer checks the result bundle against the patch and the write scope.
    const descriptor = JSON.parse(String(await board.getArtifact(task.id, RESULT_DESCRIPTOR_ARTIFACT)));
    const bundle = await board.getArtifact(task.id, RESULT_BUNDLE_ARTIFACT);
    const imported = await importResult({ repository: w.dev, descriptor, bundle, patch, writeScope: { workspaceRoot: w.dev, boardRoot: path.join(w.dev, '.swarm') } });
    assert.equal(imported.patch, patch);
    assert.equal(git(w.dev, ['rev-parse', `${imported.commit}^1`]), task.source?.snapshot);
    assert.equal(treeFiles(w.dev, imported.commit)['src/new.txt'] !== undefined, true);
    await workspace.release();

    // A hostile runner's result bundle whose tree writes into .git on checkout is refused.
    const runnerGit = path.join(w.dir, 'cache', fs.readdirSync(path.join(w.dir, 'cache')).find((name) => name.endsWith('.git')) as string);
    const snapshot = task.source?.snapshot as string;
    const blob = git(runnerGit, ['hash-object', '-w', '--stdin'], '[core]\n\tfsmonitor = evil\n');
    const inner = git(runnerGit, ['mktree'], `100644 blob ${blob}\tconfig\n`);
    const tree = git(runnerGit, ['mktree'], `${git(runnerGit, ['ls-tree', snapshot])}\n040000 tree ${inner}\t.GIT\n`);
    const evil = git(runnerGit, ['commit-tree', tree, '-p', snapshot, '-m', 'evil']);
    git(runnerGit, ['update-ref', `refs/swarm-result/${task.id}`, evil]);
    const evilFile = path.join(w.dir, 'evil.bundle');
    git(runnerGit, ['bundle', 'create', '-q', evilFile, `refs/swarm-result/${task.id}`, `^${snapshot}`]);
    const evilBundle = fs.readFileSync(evilFile);
    const evilDescriptor = { ...descriptor, commit: evil, bundleBytes: evilBundle.length, bundleSha256: sha256(evilBundle) };
    await assert.rejects(importResult({ repository: w.dev, descriptor: evilDescriptor, bundle: evilBundle, writeScope: { workspaceRoot: w.dev, boardRoot: path.join(w.dev, '.swarm') } }), /hasDotgit/);
    assert.notEqual(git(w.dev, ['rev-parse', `refs/swarm-result/${task.id}`]), evil, 'the hostile commit got no ref');
  });

  it('a runner started in its own clone imports into it; a runner without the repository hands the task back with the reason', async () => {
    const { w, board, task } = await setUp('ws2');
    const clone = path.join(w.dir, 'runner-clone');
    git(w.dir, ['clone', '-q', w.origin, clone]);
    const claim = await board.claim({ agent: 'runner-b' });
    const workspace = runner(w, board, { clone }, 'b');
    const prepared = await workspace.prepare(claim!.task, '0', path.join(w.dir, 'b-artifacts'));
    assert.equal(git(prepared.cwd, ['rev-parse', 'HEAD']), task.source?.snapshot);
    assert.equal(git(clone, ['rev-parse', `refs/swarm-in/${task.source?.snapshotId}`]), task.source?.snapshot, 'imported into the clone');
    // Interrupted: the partial work is kept and sent, so a retry on any machine can resume from it.
    fs.writeFileSync(path.join(prepared.cwd, 'src/a.txt'), 'partial\n');
    await workspace.abandon(claim!.task, '0', prepared, 'lease lost');
    const partial = await board.getArtifact(task.id, PARTIAL_BUNDLE_ARTIFACT);
    assert.ok(partial && partial.subarray(0, 16).toString().startsWith('# v'), 'a partial-work bundle');
    await workspace.release();

    const elsewhere = path.join(w.dir, 'other-clone');
    git(w.dir, ['init', '-q', elsewhere]);
    git(elsewhere, ['remote', 'add', 'origin', 'https://example.invalid/other.git']);
    const stranger = runner(w, board, { clone: elsewhere }, 'c');
    await assert.rejects(stranger.prepare(task, '0', path.join(w.dir, 'c-artifacts')), (error: unknown) => {
      assert.ok(error instanceof CannotServeTaskError, String(error));
      assert.match(error.reason, /The task is for file:\/\/.*origin\.git, but the runner's repository .* has no remote for it.*start the runner in a clone of/);
      return true;
    });
    const refusing = new RemoteWorkspace({ board, reposDir: path.join(w.dir, 'cache-d'), makeIsolation: (options) => new WorktreeIsolation(options) });
    await assert.rejects(refusing.prepare(task, '0', path.join(w.dir, 'd-artifacts')), (error: unknown) => error instanceof CannotServeTaskError && /local repository/.test(error.reason));
  });

  it('a retry on another runner starts from the partial work the abandoned attempt sent, and its patch holds both attempts\' work', async () => {
    const { w, board, task } = await setUp('ws-retry');
    const clone = path.join(w.dir, 'runner-a-clone');
    git(w.dir, ['clone', '-q', w.origin, clone]);
    const logs: string[] = [];
    const first = new RemoteWorkspace({ board, clone, runnerDir: path.join(w.dir, 'a-runner'), allowLocalUrls: true, makeIsolation: (options) => new WorktreeIsolation(options) });
    const preparedA = await first.prepare(task, '0', path.join(w.dir, 'a-artifacts'));
    fs.writeFileSync(path.join(preparedA.cwd, 'src/a.txt'), 'alpha\nbeta (staged)\ngamma\nfrom the first attempt\n');
    fs.writeFileSync(path.join(preparedA.cwd, 'src/first.txt'), 'written before the lease was lost\n');
    await first.abandon(task, '0', preparedA, 'lease lost');
    await first.release();
    assert.ok(await board.getArtifact(task.id, PARTIAL_DESCRIPTOR_ARTIFACT), 'the partial work is described on the board');

    // Another machine (a cache, no clone) takes the retry: it starts from that work, not the snapshot.
    const second = new RemoteWorkspace({ board, reposDir: path.join(w.dir, 'b-cache'), runnerDir: path.join(w.dir, 'b-runner'), allowLocalUrls: true, log: (line) => logs.push(line), makeIsolation: (options) => new WorktreeIsolation(options) });
    const artifacts = path.join(w.dir, 'b-artifacts');
    const preparedB = await second.prepare(task, '0', artifacts);
    assert.equal(fs.readFileSync(path.join(preparedB.cwd, 'src/first.txt'), 'utf8'), 'written before the lease was lost\n', 'the first attempt\'s new file is there');
    assert.match(fs.readFileSync(path.join(preparedB.cwd, 'src/a.txt'), 'utf8'), /from the first attempt/);
    assert.ok(logs.some((line) => /resuming from the partial work sent by an earlier attempt/.test(line)), logs.join('\n'));
    fs.writeFileSync(path.join(preparedB.cwd, 'src/second.txt'), 'added by the retry\n');
    const changes = await second.collect(task, '0', preparedB, artifacts);
    assert.equal(changes.base, task.source?.snapshot, 'the patch is still against the poster\'s snapshot');
    const patch = fs.readFileSync(changes.patchFile as string, 'utf8');
    for (const file of ['src/first.txt', 'src/second.txt', 'src/a.txt']) assert.match(patch, new RegExp(`diff --git a/${file} b/${file}`), file);
    await second.release();
    // The developer's copy takes the patch (three-way against the snapshot, as swarm apply does).
    git(w.dev, ['apply', '--check', '--3way', '-'], patch);
  });

  it('a follow-up (Request Changes) on another runner starts from the result it follows up, and its patch holds both changes', async () => {
    const { w, board, task } = await setUp('ws-follow-up');
    const clone = path.join(w.dir, 'runner-a-clone');
    git(w.dir, ['clone', '-q', w.origin, clone]);
    const first = new RemoteWorkspace({ board, clone, runnerDir: path.join(w.dir, 'a-runner'), allowLocalUrls: true, makeIsolation: (options) => new WorktreeIsolation(options) });
    const preparedA = await first.prepare(task, '0', path.join(w.dir, 'a-artifacts'));
    fs.writeFileSync(path.join(preparedA.cwd, 'src/first.txt'), 'the result reviewed\n');
    await first.collect(task, '0', preparedA, path.join(w.dir, 'a-artifacts'));
    await first.release();
    assert.ok(await board.getArtifact(task.id, RESULT_DESCRIPTOR_ARTIFACT), 'the result is on the board');

    const [followUp] = await board.postMany([{ title: 'follow up', files: NAMED_FILES, source: task.source, payload: { followUpOf: task.id } }]);
    const logs: string[] = [];
    const second = new RemoteWorkspace({ board, reposDir: path.join(w.dir, 'b-cache'), runnerDir: path.join(w.dir, 'b-runner'), allowLocalUrls: true, log: (line) => logs.push(line), makeIsolation: (options) => new WorktreeIsolation(options) });
    const artifacts = path.join(w.dir, 'b-artifacts');
    const preparedB = await second.prepare(followUp, '0', artifacts);
    assert.equal(fs.readFileSync(path.join(preparedB.cwd, 'src/first.txt'), 'utf8'), 'the result reviewed\n', 'the earlier result is there');
    assert.ok(logs.some((line) => new RegExp(`starting from the result of task ${task.id} it follows up`).test(line)), logs.join('\n'));
    fs.writeFileSync(path.join(preparedB.cwd, 'src/second.txt'), 'the requested change\n');
    const changes = await second.collect(followUp, '0', preparedB, artifacts);
    assert.equal(changes.base, task.source?.snapshot, 'the patch is against the poster\'s snapshot');
    const patch = fs.readFileSync(changes.patchFile as string, 'utf8');
    for (const file of ['src/first.txt', 'src/second.txt']) assert.match(patch, new RegExp(`diff --git a/${file} b/${file}`), file);
    await second.release();
    git(w.dev, ['apply', '--check', '--3way', '-'], patch);

    // A result that names another task is not used: the follow-up starts from the snapshot and says why.
    const [stray] = await board.postMany([{ title: 'stray', files: NAMED_FILES, source: task.source, payload: { followUpOf: followUp.id } }]);
    await board.putArtifact(followUp.id, RESULT_DESCRIPTOR_ARTIFACT, (await board.getArtifact(task.id, RESULT_DESCRIPTOR_ARTIFACT)) as Buffer);
    const preparedC = await second.prepare(stray, '1', path.join(w.dir, 'c-artifacts'));
    assert.equal(git(preparedC.cwd, ['rev-parse', 'HEAD']), task.source?.snapshot);
    assert.ok(logs.some((line) => /it follows up was not used: .*describes result of task/.test(line)), logs.join('\n'));
    await second.abandon(stray, '1', preparedC, 'test over');
    await second.release();
  });

  it('partial work sent for another snapshot, or a bundle that does not match its descriptor, is not used: the retry starts from the snapshot and says why', async () => {
    const { w, board, task } = await setUp('ws-retry-bad');
    const first = runner(w, board, { reposDir: path.join(w.dir, 'a-cache') }, 'a');
    const preparedA = await first.prepare(task, '0', path.join(w.dir, 'a-artifacts'));
    fs.writeFileSync(path.join(preparedA.cwd, 'src/first.txt'), 'partial\n');
    await first.abandon(task, '0', preparedA, 'lease lost');
    await first.release();
    const descriptor = JSON.parse(String(await board.getArtifact(task.id, PARTIAL_DESCRIPTOR_ARTIFACT))) as Record<string, unknown>;
    const bundle = (await board.getArtifact(task.id, PARTIAL_BUNDLE_ARTIFACT)) as Buffer;
    const cases: [string, Record<string, unknown>, Buffer, RegExp][] = [
      ['another snapshot', { ...descriptor, snapshot: 'b'.repeat(40) }, bundle, /builds on bbbbbbbbbbbb, not on the task's snapshot/],
      ['a bundle changed after it was made', descriptor, Buffer.concat([bundle.subarray(0, bundle.length - 1), Buffer.from([bundle[bundle.length - 1] ^ 1])]), /does not match its checksum/],
      ['another task\'s work', { ...descriptor, taskId: 'tother1', ref: 'refs/swarm/tother1' }, bundle, /describes partial of task tother1/],
    ];
    for (const [what, forged, data, reason] of cases) {
      await board.putArtifact(task.id, PARTIAL_BUNDLE_ARTIFACT, data);
      await board.putArtifact(task.id, PARTIAL_DESCRIPTOR_ARTIFACT, JSON.stringify(forged));
      const logs: string[] = [];
      const name = `b-${cases.findIndex((entry) => entry[0] === what)}`;
      const retry = new RemoteWorkspace({ board, reposDir: path.join(w.dir, `${name}-cache`), runnerDir: path.join(w.dir, `${name}-runner`), allowLocalUrls: true, log: (line) => logs.push(line), makeIsolation: (options) => new WorktreeIsolation(options) });
      const prepared = await retry.prepare(task, '0', path.join(w.dir, `${name}-artifacts`));
      assert.ok(!fs.existsSync(path.join(prepared.cwd, 'src/first.txt')), `${what}: started from the snapshot`);
      assert.equal(git(prepared.cwd, ['rev-parse', 'HEAD']), task.source?.snapshot, what);
      assert.ok(logs.some((line) => reason.test(line)), `${what}: ${logs.join('\n')}`);
      await retry.abandon(task, '0', prepared, 'test over');
      await retry.release();
    }
  });

  it('a task that requires labels is served only by a runner that has them; others hand it back saying which', async () => {
    const w = makeWorld();
    worlds.push(w);
    const board = await openBoard(server().url(0, 'ws3'));
    boards.push(board);
    const spec = { title: 'gpu work', files: ['src/a.txt'], requires: ['gpu', 'linux'] };
    const { source } = await snapshotForPost({ board, workspaceRoot: w.dev, specs: [spec] });
    const [task] = await board.postMany([{ ...spec, source }]);
    assert.deepEqual(task.requires, ['gpu', 'linux']);
    const reposDir = path.join(w.dir, 'cache');
    const plain = new RemoteWorkspace({ board, reposDir, labels: ['linux'], allowLocalUrls: true, makeIsolation: (options) => new WorktreeIsolation(options) });
    await assert.rejects(plain.prepare(task, '0', path.join(w.dir, 'p-artifacts')), (error: unknown) => {
      assert.ok(error instanceof CannotServeTaskError);
      assert.equal(error.reason, `Task ${task.id} requires the label gpu, which this runner lacks (it has linux); start a runner with --labels gpu,linux.`);
      return true;
    });
    assert.ok(!fs.existsSync(reposDir), 'nothing imported for a task it does not take');
    const labelled = new RemoteWorkspace({ board, reposDir, labels: ['gpu', 'linux', 'arm64'], runnerDir: path.join(w.dir, 'gpu-runner'), allowLocalUrls: true, makeIsolation: (options) => new WorktreeIsolation(options) });
    const prepared = await labelled.prepare(task, '0', path.join(w.dir, 'g-artifacts'));
    assert.equal(git(prepared.cwd, ['rev-parse', 'HEAD']), source.snapshot);
    await labelled.abandon(task, '0', prepared, 'test over');
    await labelled.release();
  });

  it('HandBackBackoff: no wait while other tasks come; once a handed-back task comes round, 1 s doubling to 1 min; serving one starts afresh', () => {
    const backoff = new HandBackBackoff();
    assert.deepEqual(['x', 'y', 'z'].map((id) => backoff.handedBack(id)), [0, 0, 0], 'each new task is claimed at once');
    const waits = ['x', 'y', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'].map((id) => backoff.handedBack(id));
    assert.deepEqual(waits, [1_000, 0, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    backoff.served();
    assert.equal(backoff.handedBack('x'), 0);
    assert.equal(backoff.handedBack('x'), 1_000);
  });
});

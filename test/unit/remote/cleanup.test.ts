// Housekeeping of the transport (src/core/remote/cleanup.ts and the runner's release): after a run
// on two runners and `swarm apply`, no bundle artifact, no refs/swarm-* ref and no anchor is left,
// while a snapshot whose results still wait for review keeps its ref until they are applied.
//   node scripts/run-unit-tests.js test/unit/remote/cleanup.test.ts
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { openBoard } from '../../../src/core/board/open';
import { PATCH_ARTIFACT, type Board, type Claim, type Task } from '../../../src/core/board';
import { newSnapshotId, SNAPSHOT_ARTIFACT } from '../../../src/core/remote/post';
import { DEFAULT_TRANSPORT_RETENTION_MS, expireSharedTransport, transportNeeds } from '../../../src/core/remote/cleanup';
import { PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT, RemoteWorkspace, RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT } from '../../../src/core/remote/workspace';
import { WorktreeIsolation } from '../../../src/core/worktree/worktreeIsolation';
import { poolOptionsFromConfig } from '../../../src/core/pool/fromConfig';
import { parseExecutorShorthand } from '../../../src/core/executors';
import { runSwarm, succeeded } from '../patch/helpers';
import { git } from '../worktree/helpers';
import { addLocalChanges, makeWorld, redisWorlds } from './machines';

const { server, worlds, boards } = redisWorlds();

const TRANSPORT_ARTIFACTS = [SNAPSHOT_ARTIFACT, RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT, PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT];

/** Every transport artifact on the board, as `<id>/<name>`, for the tasks and snapshots given. */
async function transportArtifacts(board: Board, ids: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const id of ids) for (const artifact of await board.listArtifacts(id)) if (TRANSPORT_ARTIFACTS.includes(artifact.name)) found.push(`${id}/${artifact.name}`);
  return found.sort();
}

function swarmRefs(gitDir: string): string[] {
  return git(gitDir, ['for-each-ref', '--format=%(refname)', 'refs/swarm-base/', 'refs/swarm-in/', 'refs/swarm-result/', 'refs/swarm/']).split('\n').filter(Boolean);
}

function cacheRepository(reposDir: string): string {
  return path.join(reposDir, fs.readdirSync(reposDir).find((name) => name.endsWith('.git')) as string);
}

/** One attempt on a runner: prepare, edit, collect, and the result on the board as the pool stores it. */
async function finish(board: Board, runner: RemoteWorkspace, claim: Claim, dir: string, edit: (root: string) => void): Promise<void> {
  const artifacts = path.join(dir, `artifacts-${claim.task.id}`);
  const prepared = await runner.prepare(claim.task, '0', artifacts);
  edit(prepared.cwd);
  const changes = await runner.collect(claim.task, '0', prepared, artifacts);
  await board.putArtifact(claim.task.id, PATCH_ARTIFACT, fs.readFileSync(changes.patchFile as string));
  await board.complete(claim, { summary: 'edited', patchArtifact: PATCH_ARTIFACT, base: changes.base, files: changes.files });
}

/** A done task of a remote repository whose result bundles wait on the shared board for review. */
async function postDoneWithResult(board: Board): Promise<Task> {
  const snapshotId = newSnapshotId();
  const source = { repository: 'example.com/a/b', prefix: '', snapshot: 'a'.repeat(40), snapshotId, bundle: 'thin' as const, bundleBytes: 4, artifact: { taskId: snapshotId, name: SNAPSHOT_ARTIFACT } };
  const [done] = await board.postMany([{ title: 'done', source }]);
  for (const name of [RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT]) await board.putArtifact(done.id, name, 'result');
  await board.complete(await claimOf(board, 'r', done.id), { summary: 'done' });
  return done;
}

/** Waits until the task ended longer ago than `days` (a retention that short then removes its bundles). */
async function untilEndedLongerAgo(board: Board, taskId: string, days: number): Promise<void> {
  const ended = ((await board.get(taskId)) as Task).updatedAt;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, ended + days * 86_400_000 + 100 - Date.now())));
}

async function claimOf(board: Board, agent: string, id: string): Promise<Claim> {
  const claim = await board.claim({ agent });
  assert.equal(claim?.task.id, id, `${agent} claims ${id}`);
  return claim as Claim;
}

describe('transport clean-up', { timeout: 300_000 }, () => {
  it('after a run on two runners and swarm apply, no bundle, ref or anchor is left; before the apply the snapshot stays for review', async () => {
    const w = makeWorld();
    worlds.push(w);
    addLocalChanges(w);
    const url = server().url(0, 'cleanup');
    fs.writeFileSync(path.join(w.dir, 'children.jsonl'), ['one', 'two'].map((name) => JSON.stringify({ title: `edit ${name}`, files: [`src/${name}.txt`] })).join('\n'));
    const posted = JSON.parse(succeeded(runSwarm(w.dev, ['--board', url, 'map', 'two edits', '--jsonl', path.join(w.dir, 'children.jsonl'), '--json']), 'map')) as { id: string; childIds: string[] };
    const board = await openBoard(url);
    boards.push(board);
    const [first, second] = (await Promise.all(posted.childIds.map((id) => board.get(id)))) as Task[];
    const snapshotId = first.source?.snapshotId as string;
    const ids = [snapshotId, first.id, second.id];
    assert.deepEqual(swarmRefs(w.dev), [`refs/swarm-base/${snapshotId}`]);

    const runner = (name: string): RemoteWorkspace => new RemoteWorkspace({ board, reposDir: path.join(w.dir, `${name}-cache`), runnerDir: path.join(w.dir, `${name}-runner`), allowLocalUrls: true, makeIsolation: (options) => new WorktreeIsolation(options) });
    // Runner a loses its first attempt (partial work sent), runner b finishes it; a does the second.
    const a = runner('a');
    const lost = await claimOf(board, 'a', first.id);
    const preparedLost = await a.prepare(lost.task, '0', path.join(w.dir, 'lost'));
    fs.writeFileSync(path.join(preparedLost.cwd, 'src/partial.txt'), 'partial\n');
    await a.abandon(lost.task, '0', preparedLost, 'lease lost');
    await board.release(lost, 'lease lost');
    // A released task goes behind the others: the second comes first.
    await finish(board, a, await claimOf(board, 'a', second.id), w.dir, (root) => fs.writeFileSync(path.join(root, 'src/two.txt'), 'two, edited\n'));
    const b = runner('b');
    await finish(board, b, await claimOf(board, 'b', first.id), w.dir, (root) => fs.writeFileSync(path.join(root, 'src/one.txt'), 'one, edited\n'));
    assert.deepEqual(await transportArtifacts(board, ids), [
      `${first.id}/${PARTIAL_DESCRIPTOR_ARTIFACT}`, `${first.id}/${PARTIAL_BUNDLE_ARTIFACT}`, `${first.id}/${RESULT_BUNDLE_ARTIFACT}`, `${first.id}/${RESULT_DESCRIPTOR_ARTIFACT}`,
      `${second.id}/${RESULT_BUNDLE_ARTIFACT}`, `${second.id}/${RESULT_DESCRIPTOR_ARTIFACT}`, `${snapshotId}/${SNAPSHOT_ARTIFACT}`,
    ].sort());

    // The runners stop: their imported snapshots, result and partial refs and their anchors go.
    await a.release();
    await b.release();
    for (const name of ['a', 'b']) {
      assert.deepEqual(swarmRefs(cacheRepository(path.join(w.dir, `${name}-cache`))), [], `runner ${name}'s refs`);
      assert.deepEqual(fs.readdirSync(path.join(w.dir, `${name}-runner`, 'anchors')), [], `runner ${name}'s anchors`);
      assert.equal(git(cacheRepository(path.join(w.dir, `${name}-cache`)), ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.includes('/anchors/')).length, 0, `runner ${name}'s anchor registrations`);
    }

    // Prune before review: no task runs again, so the partial work goes; the snapshot (ref and
    // bundle) and the result bundles stay while the results wait (the snapshot is the base of their
    // three-way apply, and a follow-up of a result runs from it).
    const early = JSON.parse(succeeded(runSwarm(w.dev, ['--board', url, 'worktrees', '--prune', '--json']), 'prune')) as { artifacts: number };
    assert.equal(early.artifacts, 2);
    assert.deepEqual(await transportArtifacts(board, ids), [`${first.id}/${RESULT_BUNDLE_ARTIFACT}`, `${first.id}/${RESULT_DESCRIPTOR_ARTIFACT}`, `${second.id}/${RESULT_BUNDLE_ARTIFACT}`, `${second.id}/${RESULT_DESCRIPTOR_ARTIFACT}`, `${snapshotId}/${SNAPSHOT_ARTIFACT}`].sort());
    assert.deepEqual(swarmRefs(w.dev), [`refs/swarm-base/${snapshotId}`], 'the snapshot of results that wait for review is kept');

    succeeded(runSwarm(w.dev, ['--board', url, 'apply', '--all-done']), 'apply');
    assert.equal(fs.readFileSync(path.join(w.dev, 'src/two.txt'), 'utf8'), 'two, edited\n');
    const late = JSON.parse(succeeded(runSwarm(w.dev, ['--board', url, 'worktrees', '--prune', '--json']), 'prune')) as { artifacts: number; refs: number };
    assert.deepEqual([late.artifacts, late.refs], [5, 1]);
    assert.deepEqual(await transportArtifacts(board, ids), [], 'no bundle left on the board');
    assert.deepEqual(swarmRefs(w.dev), [], 'no refs/swarm-* left in the poster\'s clone');
  });

  it('a prune keeps the snapshot bundle of a result that waits for review: a follow-up posted after it runs from that result', async () => {
    const w = makeWorld();
    worlds.push(w);
    addLocalChanges(w);
    const url = server().url(0, 'follow-prune');
    const id = succeeded(runSwarm(w.dev, ['--board', url, 'post', 'edit one', '--files', 'src/a.txt']), 'post').trim();
    const board = await openBoard(url);
    boards.push(board);
    const runner = (name: string, log?: (line: string) => void): RemoteWorkspace => new RemoteWorkspace({ board, reposDir: path.join(w.dir, `${name}-cache`), runnerDir: path.join(w.dir, `${name}-runner`), allowLocalUrls: true, makeIsolation: (options) => new WorktreeIsolation(options), log });
    const a = runner('a');
    await finish(board, a, await claimOf(board, 'a', id), w.dir, (root) => fs.writeFileSync(path.join(root, 'src/one.txt'), 'one, edited\n'));
    await a.release();
    succeeded(runSwarm(w.dev, ['--board', url, 'worktrees', '--prune', '--json']), 'prune');

    const task = (await board.get(id)) as Task;
    const [followUp] = await board.postMany([{ title: 'follow up', files: ['src/one.txt'], source: task.source, payload: { followUpOf: id } }]);
    const logs: string[] = [];
    const c = runner('c', (line) => logs.push(line));
    const claim = await claimOf(board, 'c', followUp.id);
    const prepared = await c.prepare(claim.task, '0', path.join(w.dir, 'follow-up'));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/one.txt'), 'utf8'), 'one, edited\n', logs.join('\n'));
    await c.abandon(claim.task, '0', prepared, 'test over');
    await c.release();
  });

  it('retention: a runner removes the bundles of cancelled tasks at once, of done and dead ones once the retention passed, and a snapshot bundle once no task needs it', async () => {
    const board = await openBoard(server().url(0, 'retention'));
    boards.push(board);
    const w = makeWorld();
    worlds.push(w);
    const snapshotId = newSnapshotId();
    const source = { repository: 'example.com/a/b', prefix: '', snapshot: 'a'.repeat(40), snapshotId, bundle: 'thin' as const, bundleBytes: 4, artifact: { taskId: snapshotId, name: SNAPSHOT_ARTIFACT } };
    const [done, dead, cancelled, pending] = await board.postMany(['done', 'dead', 'cancelled', 'pending'].map((title) => ({ title, source })));
    await board.putArtifact(snapshotId, SNAPSHOT_ARTIFACT, 'snap');
    for (const task of [done, dead, cancelled, pending]) for (const name of [PARTIAL_BUNDLE_ARTIFACT, PARTIAL_DESCRIPTOR_ARTIFACT]) await board.putArtifact(task.id, name, 'partial');
    for (const name of [RESULT_BUNDLE_ARTIFACT, RESULT_DESCRIPTOR_ARTIFACT]) await board.putArtifact(done.id, name, 'result');
    await board.complete(await claimOf(board, 'r', done.id), { summary: 'done' });
    await board.fail(await claimOf(board, 'r', dead.id), 'broken', { permanent: true });
    await board.cancel(cancelled.id);
    const ids = [snapshotId, done.id, dead.id, cancelled.id, pending.id];
    const left = async (): Promise<string[]> => (await transportArtifacts(board, ids)).map((entry) => entry.replace(/^[^/]+/, (id) => ({ [snapshotId]: 'snapshot', [done.id]: 'done', [dead.id]: 'dead', [cancelled.id]: 'cancelled', [pending.id]: 'pending' })[id] ?? id)).sort();

    // A runner applies the retention when it starts (the pool's prune), without any prune by a poster.
    const runner = new RemoteWorkspace({ board, runnerDir: path.join(w.dir, 'runner'), makeIsolation: (options) => new WorktreeIsolation(options) });
    await runner.prune();
    await runner.sweepTransport();
    assert.deepEqual(await left(), ['dead/partial.bundle', 'dead/partial.json', 'done/result.bundle', 'done/result.json', 'pending/partial.bundle', 'pending/partial.json', 'snapshot/snapshot.bundle']);

    // Past the retention: the done task's result and the dead task's partial work go; the snapshot
    // stays for the pending task, and goes once that ended too.
    const later = Date.now() + DEFAULT_TRANSPORT_RETENTION_MS + 60_000;
    assert.equal(await expireSharedTransport({ board, now: later }), 4);
    assert.deepEqual(await left(), ['pending/partial.bundle', 'pending/partial.json', 'snapshot/snapshot.bundle']);
    await board.cancel(pending.id);
    assert.equal(await expireSharedTransport({ board, now: later }), 3);
    assert.deepEqual(await left(), []);
    assert.equal(await expireSharedTransport({ board, now: later }), 0);
    await runner.release();
  });

  it('swarm run --keep-results DAYS sets the retention: a result kept by the default 7 days goes once the shorter time passed', async () => {
    const w = makeWorld();
    worlds.push(w);
    const url = server().url(0, 'keep-results');
    const board = await openBoard(url);
    boards.push(board);
    const done = await postDoneWithResult(board);
    const runner = (...flags: string[]) => succeeded(runSwarm(w.dev, ['--board', url, 'run', '--exec', 'true', '--until-empty', '--json', ...flags]), `swarm run ${flags.join(' ')}`);

    runner();
    assert.deepEqual(await transportArtifacts(board, [done.id]), [`${done.id}/${RESULT_BUNDLE_ARTIFACT}`, `${done.id}/${RESULT_DESCRIPTOR_ARTIFACT}`], 'kept for 7 days by default');
    // 0.00002 days is 1.7 s: once the task ended longer ago than that, a runner with it removes the result.
    await untilEndedLongerAgo(board, done.id, 0.00002);
    runner('--keep-results', '0.00002');
    assert.deepEqual(await transportArtifacts(board, [done.id]), [], 'removed by the shorter retention');
  });

  it('keepResultsDays in swarm.config.json sets the retention, --keep-results overrides it, and a bad value is refused naming the file and the key', async () => {
    const w = makeWorld();
    worlds.push(w);
    const url = server().url(0, 'keep-results-config');
    const board = await openBoard(url);
    boards.push(board);
    const done = await postDoneWithResult(board);
    const config = path.join(w.dev, 'swarm.config.json');
    const runner = (...flags: string[]) => runSwarm(w.dev, ['--board', url, 'run', '--exec', 'true', '--until-empty', '--json', ...flags]);

    fs.writeFileSync(config, JSON.stringify({ pool: { keepResultsDays: 0 } }));
    const bad = runner();
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, new RegExp(`^  ${config.replace(/[.]/g, '\\.')}:1:\\d+: pool\\.keepResultsDays: must be more than 0$`, 'm'));

    // 0.00002 days is 1.7 s: wait until the task ended longer ago than that.
    fs.writeFileSync(config, JSON.stringify({ pool: { keepResultsDays: 0.00002 } }));
    await untilEndedLongerAgo(board, done.id, 0.00002);
    succeeded(runner('--keep-results', '7'), 'swarm run --keep-results 7');
    assert.deepEqual(await transportArtifacts(board, [done.id]), [`${done.id}/${RESULT_BUNDLE_ARTIFACT}`, `${done.id}/${RESULT_DESCRIPTOR_ARTIFACT}`], 'the flag overrides the file');
    succeeded(runner(), 'swarm run');
    assert.deepEqual(await transportArtifacts(board, [done.id]), [], 'removed by the retention of the file');
    // The file's retention is for shared boards: a run on the folder board is not refused for it.
    succeeded(runSwarm(w.dev, ['run', '--exec', 'true', '--until-empty', '--json']), 'swarm run on a folder board');
  });

  it('keepResultsDays in swarm.config.json holds for a pool started without swarm run too (the editor\'s pool on a shared board)', async () => {
    const w = makeWorld();
    worlds.push(w);
    const board = await openBoard(server().url(0, 'keep-results-editor'));
    boards.push(board);
    const done = await postDoneWithResult(board);
    // 0.00002 days is 1.7 s: wait until the task ended longer ago than that (the default keeps it 7 days).
    await untilEndedLongerAgo(board, done.id, 0.00002);
    // As the extension builds its pool: the configuration, and no runner settings of a command line.
    const options = poolOptionsFromConfig({ pool: { keepResultsDays: 0.00002 } }, parseExecutorShorthand('command:true'), { board, workspaceRoot: w.dev }, {});
    assert.ok(options.isolation instanceof RemoteWorkspace, 'a runner on the shared board');
    await options.isolation.sweepTransport();
    assert.deepEqual(await transportArtifacts(board, [done.id]), [], 'removed by the retention of the file');
  });

  it('swarm run --keep-results refuses a bad number of days, or a file board, with one line and exit 2 before any claim', async () => {
    const w = makeWorld();
    worlds.push(w);
    const url = server().url(0, 'keep-results-bad');
    const board = await openBoard(url);
    boards.push(board);
    const task = await board.post({ title: 'stays pending' });
    for (const bad of ['0', '-1', 'seven', '1e3', '3651', '']) {
      const run = runSwarm(w.dev, ['--board', url, 'run', '--exec', 'true', '--until-empty', '--keep-results', bad]);
      assert.equal(run.code, 2, `--keep-results "${bad}": ${run.stderr}`);
      assert.match(run.stderr, /--keep-results must be a number of days above 0 and at most 3650/);
      assert.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`);
    }
    const onFileBoard = runSwarm(w.dev, ['run', '--exec', 'true', '--until-empty', '--keep-results', '3']);
    assert.equal(onFileBoard.code, 2, onFileBoard.stderr);
    assert.match(onFileBoard.stderr, /--keep-results are for a shared \(redis:\/\/\) board/);
    assert.equal(((await board.get(task.id)) as Task).status, 'pending', 'nothing was claimed');
  });

  it('deleteArtifact removes one artifact on both boards and says whether there was one', async () => {
    const w = makeWorld();
    worlds.push(w);
    for (const location of [path.join(w.dir, 'file-board'), server().url(0, 'delete')]) {
      const board = await openBoard(location);
      boards.push(board);
      const task = await board.post({ title: 'x' });
      await board.putArtifact(task.id, 'a.bin', 'a');
      await board.putArtifact(task.id, 'b.bin', 'b');
      assert.equal(await board.deleteArtifact(task.id, 'a.bin'), true, location);
      assert.equal(await board.deleteArtifact(task.id, 'a.bin'), false, location);
      assert.deepEqual((await board.listArtifacts(task.id)).map((artifact) => artifact.name), ['b.bin'], location);
      await assert.rejects(board.deleteArtifact(task.id, '../x'), /artifact/i, location);
    }
  });
});

describe('what the shared transport still needs', () => {
  it('a follow-up that may still run keeps the result bundle of the task it follows up, even once that result was reviewed', () => {
    const source = { repository: 'example.com/a/b', prefix: '', snapshot: 'a'.repeat(40), snapshotId: 'snap.abc.0123456789ab', bundle: 'thin' as const, bundleBytes: 1 };
    const reviewed = { id: 'task1', status: 'done', source, payload: null } as unknown as Task;
    const followUp = { id: 'task2', status: 'pending', source, payload: { followUpOf: 'task1' } } as unknown as Task;
    assert.ok(transportNeeds([reviewed, followUp], () => false).results.has('task1'));
    assert.ok(!transportNeeds([reviewed, { ...followUp, status: 'done' } as Task], () => false).results.has('task1'), 'not once the follow-up ended');
  });
});

// A runner cut off from Redis (issue 17, partitions): the test takes the link of the runner's
// network namespace down while its agent works on a task. The runner stops the attempt when the
// lease can no longer be renewed and keeps the partial work on refs/swarm/<id> in its repository;
// the lease runs out on the board, a second runner completes the task, and after the link is back
// the cut-off runner never completes it late: exactly one completion, the second runner's.
// Needs root (network namespaces) and a build (dist/cli.js, dist/agent.js).
//   node scripts/run-unit-tests.js test/unit/remote/partition.test.ts
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { openBoard } from '../../../src/core/board/open';
import { PATCH_ARTIFACT, type Board, type BoardEvent, type Task } from '../../../src/core/board';
import { PARTIAL_DESCRIPTOR_ARTIFACT } from '../../../src/core/remote/workspace';
import { startRedis, type RedisServer } from '../../harness/redis';
import { runSwarm, type SwarmRun, succeeded } from '../patch/helpers';
import { git } from '../worktree/helpers';
import { addLocalChanges, makeWorld, type World } from './machines';
import { assertRootForNamespaces, makeMachine, makeNetwork, startGitDaemon, type Machine, type Network } from './netns';
import { RunnerOutput } from './runner-output';

const PASSWORD = 'partition-test-secret';
const DIST = path.resolve(__dirname, '..', '..', '..', 'dist');
const CLI = path.join(DIST, 'cli.js');
const LEASE_MS = 6_000;
/**
 * The cut-off runner's agent writes a file, then works on and succeeds 15 s later: long after its
 * lease ran out, so an attempt that were not stopped would try to complete late.
 */
const SLOW = `printf 'written before the cut\\n' > partial.txt; sleep 15`;
const QUICK = `printf 'finished by the second runner\\n' > done.txt`;

let network: Network;
let redis: RedisServer;
let daemon: Awaited<ReturnType<typeof startGitDaemon>>;
let w: World;
let board: Board;
let boardUrl: string;
const machines: Machine[] = [];
const runners: ChildProcess[] = [];
const output = new RunnerOutput();

before(async () => {
  assertRootForNamespaces();
  assert.ok(fs.existsSync(CLI) && fs.existsSync(path.join(DIST, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
  network = makeNetwork();
  redis = await startRedis({ password: PASSWORD, extra: ['--bind', `127.0.0.1 ${network.serviceIp}`] });
  boardUrl = `redis://${network.serviceIp}:${redis.port}/0?board=partition`;
  w = makeWorld();
  daemon = await startGitDaemon(w.dir, [network.serviceIp]);
  git(w.dev, ['remote', 'set-url', 'origin', daemon.url('origin.git')]);
  git(w.dev, ['fetch', '-q', 'origin']);
  board = await openBoard(boardUrl, { env: { SWARM_BOARD_PASSWORD: PASSWORD } });
});

after(async () => {
  for (const machine of machines) machine.restore();
  for (const runner of runners) if (runner.exitCode === null && runner.signalCode === null) runner.kill('SIGKILL');
  await board?.close();
  await daemon?.stop();
  await redis?.stop();
  for (const machine of machines) machine.remove();
  network?.remove();
  w?.cleanup();
});

function swarm(cwd: string, args: string[]): SwarmRun {
  return runSwarm(cwd, ['--board', boardUrl, ...args], { SWARM_BOARD_PASSWORD: PASSWORD });
}

/** A runner machine with only a repository cache (its slots and anchors live in it too). */
function startRunner(name: string, exec: string): { machine: Machine; reposDir: string; child: ChildProcess } {
  const machine = makeMachine(name, network);
  machines.push(machine);
  const cwd = path.join(w.dir, `${name}-home`);
  fs.mkdirSync(cwd);
  const reposDir = path.join(w.dir, `${name}-repos`);
  const args = [CLI, '--board', boardUrl, 'run', '--agents', '1', '--exec', exec, '--repos', reposDir, '--lease-ms', String(LEASE_MS)];
  const child = machine.spawn(process.execPath, args, { cwd, env: { ...process.env, SWARM_BOARD_PASSWORD: PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'], hidden: [w.dev] });
  output.record(name, child);
  runners.push(child);
  return { machine, reposDir, child };
}

function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs?: number): Promise<T> {
  return output.waitFor(what, check, timeoutMs);
}

/** The file a runner's agent wrote, found in its slots (under the repository cache folder). */
function findFile(dir: string, name: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const found = (fs.readdirSync(dir, { recursive: true }) as string[]).find((entry) => path.basename(entry) === name && !entry.split(path.sep).includes('.git'));
  return found ? path.join(dir, found) : undefined;
}

function cacheRepository(reposDir: string): string {
  return path.join(reposDir, fs.readdirSync(reposDir).find((name) => name.endsWith('.git')) as string);
}

async function events(taskId: string): Promise<BoardEvent[]> {
  const seen: BoardEvent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const batch = await board.readEvents(cursor, 1000);
    seen.push(...batch.events.filter((event) => event.taskId === taskId));
    if (batch.events.length === 0 || batch.cursor === cursor) return seen;
    cursor = batch.cursor;
  }
}

describe('a runner cut off from the board', { timeout: 600_000 }, () => {
  it('stops its attempt when the lease cannot be renewed, keeps the partial work on refs/swarm/<id>, and never completes late; another runner completes the task once', async () => {
    addLocalChanges(w);
    const id = succeeded(swarm(w.dev, ['post', 'slow work', '--files', 'src/a.txt']), 'post').trim();
    const cut = startRunner('cut', SLOW);
    await waitFor('the agent to write its file', () => findFile(path.join(cut.reposDir, 'slots'), 'partial.txt'));
    assert.equal((await board.get(id))?.status, 'running');

    cut.machine.cut();
    const cutAt = Date.now();
    const gitDir = cacheRepository(cut.reposDir);
    const partial = await waitFor('the partial work on refs/swarm/<id>', () => {
      const found = git(gitDir, ['for-each-ref', '--format=%(objectname)', `refs/swarm/${id}`]);
      return found || undefined;
    });
    const stoppedAfter = Date.now() - cutAt;
    assert.equal(git(gitDir, ['show', `${partial}:partial.txt`]), 'written before the cut', 'the work done before the cut is kept');
    // Stopped (partial work kept, not collected as a result) about when the lease ran out.
    assert.ok(stoppedAfter < 15_000, `stopped ${stoppedAfter} ms after the cut`);
    console.log(`the cut-off runner kept its partial work ${stoppedAfter} ms after the cut (lease ${LEASE_MS} ms)`);

    // The task comes back on the board, and a second runner completes it.
    startRunner('second', QUICK);
    const done = await waitFor('the second runner to complete the task', async () => {
      const task = await board.get(id);
      return task?.status === 'done' ? task : undefined;
    });
    const patch = String(await board.getArtifact(id, PATCH_ARTIFACT));
    assert.match(patch, /\+finished by the second runner/);

    // The link comes back: the cut-off runner catches up (it sends its partial work) but never
    // completes the task; the board keeps exactly one completion.
    cut.machine.restore();
    const back = await waitFor('the cut-off runner to be back in touch', async () => ((await board.getArtifact(id, PARTIAL_DESCRIPTOR_ARTIFACT)) ? 'sent its partial work' : cut.child.exitCode !== null ? `exited with ${cut.child.exitCode}` : undefined), 120_000);
    console.log(`the cut-off runner, back in touch: ${back}`);
    await waitFor('a few of the cut-off runner\'s lease periods', async () => (Date.now() - cutAt > 3 * LEASE_MS ? true : undefined));
    const after = (await board.get(id)) as Task;
    assert.equal(after.status, 'done');
    assert.deepEqual(after.result, done.result, 'the result is the second runner\'s');
    assert.equal(String(await board.getArtifact(id, PATCH_ARTIFACT)), patch);
    const completions = (await events(id)).filter((event) => event.type === 'completed');
    assert.equal(completions.length, 1, `one completion: ${JSON.stringify(await events(id))}`);
    assert.doesNotMatch(patch, /written before the cut/);
  });
});

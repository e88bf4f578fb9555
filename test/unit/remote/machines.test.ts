// Several machines on this host (root: network namespaces made by the test). The host runs Redis
// (password) and a git daemon for a bare origin; the developer's clone posts from its working state
// (an unpushed commit, staged, unstaged and untracked edits); two runner machines, each in its own
// network namespace with the developer's clone hidden under an empty tmpfs, run the real pool
// (agent processes; test/unit/remote/fixtures/pool-runner.ts), claim from the board,
// start from the poster's snapshot and send back patches the developer applies with `swarm apply`.
// A task of a repository no runner has stays pending with the skip reason in the log, without
// claim churn; a hostile result writing into .git or outside the workspace is refused.
//   node scripts/run-unit-tests.js test/unit/remote/machines.test.ts
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { openBoard } from '../../../src/core/board/open';
import { PATCH_ARTIFACT, type Board, type Task } from '../../../src/core/board';
import { startRedis, type RedisServer } from '../../harness/redis';
import { runSwarm, type SwarmRun, succeeded } from '../patch/helpers';
import { git } from '../worktree/helpers';
import { addLocalChanges, makeWorld, type World } from './machines';
import { assertRootForNamespaces, makeMachine, makeNetwork, startGitDaemon, type Machine, type Network } from './netns';

const PASSWORD = 'runner-test-secret';
const DIST = path.resolve(__dirname, '..', '..', '..', 'dist');
const CLI = path.join(DIST, 'cli.js');
const EDIT = `for f in {files}; do printf 'edited by a runner\\n' >> "$f"; done`;

let network: Network;
let redis: RedisServer;
let daemon: Awaited<ReturnType<typeof startGitDaemon>>;
let w: World;
let board: Board;
let boardUrl: string;
const machines: Machine[] = [];
const runners: ChildProcess[] = [];
const output: string[] = [];

before(async () => {
  assertRootForNamespaces();
  assert.ok(fs.existsSync(CLI) && fs.existsSync(path.join(DIST, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
  network = makeNetwork();
  redis = await startRedis({ password: PASSWORD, extra: ['--bind', `127.0.0.1 ${network.serviceIp}`] });
  boardUrl = `redis://${network.serviceIp}:${redis.port}/0?board=machines`;
  w = makeWorld();
  git(w.dir, ['init', '-q', '--bare', '-b', 'main', path.join(w.dir, 'other.git')]);
  daemon = await startGitDaemon(w.dir, [network.serviceIp]);
  // The developer's clone fetches the origin over the network, as runners do: one repository URL.
  git(w.dev, ['remote', 'set-url', 'origin', daemon.url('origin.git')]);
  git(w.dev, ['fetch', '-q', 'origin']);
  board = await openBoard(boardUrl, { env: { SWARM_BOARD_PASSWORD: PASSWORD } });
});

after(async () => {
  for (const runner of runners) if (runner.exitCode === null) runner.kill('SIGKILL');
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

/**
 * A runner machine: `swarm run` (the built CLI, real agent processes) in its own network namespace,
 * with the developer's folder hidden from it; in a clone of the origin, or in an empty folder with
 * only a repository cache.
 */
function startRunner(name: string, where: 'clone' | 'cache', flags: string[]): void {
  const machine = makeMachine(name, network);
  machines.push(machine);
  const cwd = path.join(w.dir, `${name}-${where}`);
  if (where === 'clone') git(w.dir, ['clone', '-q', daemon.url('origin.git'), cwd]);
  else fs.mkdirSync(cwd);
  const repos = where === 'cache' ? ['--repos', path.join(w.dir, `${name}-repos`)] : [];
  const child = machine.spawn(process.execPath, [CLI, '--board', boardUrl, 'run', '--agents', '1', '--exec', EDIT, ...repos, ...flags], {
    cwd,
    env: { ...process.env, SWARM_BOARD_PASSWORD: PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
    hidden: [w.dev],
  });
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  runners.push(child);
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; runner output:\n${output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('runners on other machines (network namespaces)', { timeout: 600_000 }, () => {
  let unservable: string;
  let needsGpu: string;
  let postedAt = 0;

  it('the developer posts from an uncommitted state; two runners that cannot see the clone finish it; every patch applies in the developer\'s clone', async () => {
    addLocalChanges(w);
    // A repository no runner has (the clone runner has no remote for it, the cache runner cannot
    // fetch it), and a task that requires a label no runner has: both are handed back, never run.
    const stranger = path.join(w.dir, 'stranger');
    git(w.dir, ['init', '-q', '-b', 'main', stranger]);
    w.write(stranger, 'x.txt', 'x\n');
    git(stranger, ['add', 'x.txt']);
    git(stranger, ['commit', '-q', '-m', 'private']);
    git(stranger, ['remote', 'add', 'origin', daemon.url('nowhere.git')]);
    unservable = succeeded(swarm(stranger, ['post', 'not for these runners', '--files', 'x.txt']), 'post').trim();
    needsGpu = succeeded(swarm(w.dev, ['post', 'needs a gpu', '--requires', 'gpu']), 'post').trim();
    postedAt = Date.now();

    const children = [['README.md'], ['src/a.txt'], ['notes/todo.md']].map((files, index) => JSON.stringify({ title: `child ${index}`, files })).join('\n');
    fs.writeFileSync(path.join(w.dir, 'children.jsonl'), children);
    const before = git(w.dev, ['status', '--porcelain=v2', '--untracked-files=all']);
    const posted = JSON.parse(succeeded(swarm(w.dev, ['map', 'edit three files', '--jsonl', path.join(w.dir, 'children.jsonl'), '--json']), 'map')) as { id: string; childIds: string[] };
    assert.equal(git(w.dev, ['status', '--porcelain=v2', '--untracked-files=all']), before, 'posting left the working state alone');

    startRunner('ra', 'clone', ['--labels', 'linux']);
    startRunner('rb', 'cache', []);
    await waitFor('the map to finish', async () => ((await board.get(posted.id))?.status === 'done' ? true : undefined));
    const done = (await Promise.all(posted.childIds.map((id) => board.get(id)))) as Task[];
    for (const child of done) {
      assert.equal(child.status, 'done', `${child.id}: ${child.lastError?.message ?? ''}`);
      assert.equal((child.result as { base?: string }).base, child.source?.snapshot, 'the patch is made against the poster\'s snapshot');
    }
    for (const id of posted.childIds) succeeded(swarm(w.dev, ['apply', id]), `apply ${id}`);
    // The runners saw the unstaged, staged and untracked edits: the patches apply on top of them.
    assert.equal(fs.readFileSync(path.join(w.dev, 'README.md'), 'utf8'), '# demo (unstaged)\nedited by a runner\n');
    assert.equal(fs.readFileSync(path.join(w.dev, 'src/a.txt'), 'utf8'), 'alpha\nbeta (staged)\ngamma\nedited by a runner\n');
    assert.equal(fs.readFileSync(path.join(w.dev, 'notes/todo.md'), 'utf8'), 'untracked, named by the task\nedited by a runner\n');
  });

  it('tasks no runner can serve (another repository, a label none has) stay pending: routed on the board, or handed back with the reason when only fetching shows it, with few claims', async () => {
    // Labels and repository identity are routed on the board: the clone runner never claims the
    // repository it has no remote for, and no runner claims the task that requires gpu (it waits,
    // shown as waiting for a runner). Only the cache runner, which serves any repository, finds out
    // by fetching that it cannot reach this one, and hands it back.
    const expected: Array<[string, RegExp]> = [[unservable, /skipped by \S+: Fetching git:\/\/10\.[0-9.]+:\d+\/nowhere\.git failed/]];
    type Event = { type: string; taskId?: string; detail?: { reason?: string; labels?: string[] } };
    const events = (): Event[] => succeeded(swarm(w.dev, ['log', '--json']), 'log').trim().split('\n').map((line) => JSON.parse(line) as Event);
    const handBacks = (): Event[] => events().filter((event) => event.type === 'requeued' && (event.taskId === unservable || event.taskId === needsGpu));
    const seen = await waitFor('the cache runner to skip the unreachable repository', async () => {
      const found = handBacks();
      return expected.every(([id, reason]) => found.some((event) => event.taskId === id && reason.test(event.detail?.reason ?? ''))) ? found : undefined;
    });
    assert.ok(!seen.some((event) => event.taskId === needsGpu), 'no runner claimed the task that requires gpu');
    assert.ok(!seen.some((event) => /has no remote for it/.test(event.detail?.reason ?? '')), 'the clone runner never claimed the repository it lacks');
    assert.ok(events().some((event) => event.type === 'waiting-for-runner' && event.taskId === needsGpu && event.detail?.labels?.includes('gpu')), 'the gpu task waits for a runner');
    assert.deepEqual(((await board.get(needsGpu)) as Task).waitingForRunner?.labels, ['gpu']);
    for (const id of [unservable, needsGpu]) {
      // The cache runner tries the unreachable repository again after its backoff: between tries it is pending.
      const task = await waitFor(`${id} to be pending`, async () => ((await board.get(id)) as Task).status === 'pending' ? ((await board.get(id)) as Task) : undefined);
      assert.equal(task.lastError, undefined, `${id} was handed back, never failed`);
    }
    // Two runners, a backoff of up to a minute each: a claim per task per wait, not a loop.
    const seconds = Math.round((Date.now() - postedAt) / 1000);
    assert.ok(seen.length <= 10 + seconds, `${seen.length} hand-backs in ${seconds} s: claim churn`);
    console.log(`hand-backs of the two unservable tasks in about ${seconds} s by two runners: ${seen.length}`);
  });

  it('a hostile result that writes into .git or outside the workspace is refused by swarm apply, and nothing is written', async () => {
    // The honest runners stop (SIGTERM: their pools stop); a hostile one claims what is posted now.
    await Promise.all(runners.map((runner) => (runner.exitCode === null && runner.signalCode === null ? new Promise((resolve) => (runner.once('exit', resolve), runner.kill('SIGTERM'))) : undefined)));
    const refusals: Record<string, RegExp> = { git: /is inside a \.git directory/, outside: /contains "\.\." and would leave the workspace/ };
    for (const [name, target] of [['git', '.git/hooks/post-checkout'], ['outside', '../outside.txt']]) {
      const id = succeeded(swarm(w.dev, ['post', `hostile ${name}`]), 'post').trim();
      const claim = await waitFor('the hostile claim', async () => {
        const claimed = await board.claim({ agent: 'mallory' });
        if (claimed && claimed.task.id !== id) await board.release(claimed, 'not mine');
        return claimed?.task.id === id ? claimed : undefined;
      });
      const patch = `diff --git a/${target} b/${target}\nnew file mode 100755\nindex 0000000..1111111\n--- /dev/null\n+++ b/${target}\n@@ -0,0 +1 @@\n+echo owned\n`;
      await board.putArtifact(id, PATCH_ARTIFACT, patch);
      await board.complete(claim, { summary: 'evil', patchArtifact: PATCH_ARTIFACT, base: claim.task.source?.snapshot, files: [{ path: target, status: 'added', additions: 1, deletions: 0 }] });
      const run = swarm(w.dev, ['apply', id]);
      assert.notEqual(run.code, 0, `apply of a patch writing ${target} must fail`);
      assert.match(run.stderr, refusals[name]);
      assert.ok(!fs.existsSync(path.join(w.dev, '.git/hooks/post-checkout')));
      assert.ok(!fs.existsSync(path.join(w.dir, 'outside.txt')));
    }
  });
});

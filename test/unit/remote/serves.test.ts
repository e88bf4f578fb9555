// What a runner serves is kept current while it runs (issue 17's leftover): a remote added to its
// clone later is served without a restart, found by one stat of the clone's git config file (no git
// process while it stays the same). Real processes: redis-server, a git daemon on loopback, the
// built CLI as the runner. Needs a build (dist/cli.js, dist/agent.js).
//   node scripts/run-unit-tests.js test/unit/remote/serves.test.ts
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { Board } from '../../../src/core/board';
import type { Serves } from '../../../src/core/board/routing';
import { normaliseRepositoryUrl } from '../../../src/core/remote/identity';
import { RunnerServesWatch } from '../../../src/core/remote/serves';
import type { RedisServer } from '../../harness/redis';
import { runSwarm, succeeded } from '../patch/helpers';
import { git } from '../worktree/helpers';
import type { World } from './machines';
import { startLoopbackWorld, stopLoopbackWorld, type LoopbackWorld } from './loopback-world';
import { RunnerOutput } from './runner-output';

const DIST = path.resolve(__dirname, '..', '..', '..', 'dist');
const CLI = path.join(DIST, 'cli.js');

let redis: RedisServer;
let daemon: LoopbackWorld['daemon'];
let w: World;
let board: Board;
let boardUrl: string;
const runners: ChildProcess[] = [];
const output = new RunnerOutput();

before(async () => {
  ({ redis, daemon, w, board, boardUrl } = await startLoopbackWorld('serves'));
});

after(() => stopLoopbackWorld({ redis, daemon, w, board }, runners));

/** A clone of origin whose remote was removed: it serves only its own root commit, not origin. */
function cloneWithoutRemote(name: string): string {
  const dir = path.join(w.dir, name);
  git(w.dir, ['clone', '-q', daemon.url('origin.git'), dir]);
  git(dir, ['remote', 'remove', 'origin']);
  return dir;
}

/** A repository with no remote: known on a shared board by its root commit (`unpublished:<root>`). */
function unpublishedRepository(name: string): { dir: string; root: string } {
  const dir = path.join(w.dir, name);
  fs.mkdirSync(dir);
  git(dir, ['init', '-q', '-b', 'main']);
  fs.writeFileSync(path.join(dir, 'notes.txt'), `${name}\n`);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '-m', `${name} starts`]);
  return { dir, root: git(dir, ['rev-parse', 'HEAD']) };
}

/** A `swarm run` in `clone` that keeps one agent running (--min-agents 1) and records its output. */
function startRunner(clone: string, label: string): ChildProcess {
  const runner = spawn(process.execPath, [CLI, '--board', boardUrl, 'run', '--agents', '1', '--min-agents', '1', '--exec', "printf 'served\\n' > served.txt"], {
    cwd: clone,
    env: { ...process.env, XDG_CACHE_HOME: path.join(w.dir, 'cache') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  output.record(label, runner);
  runners.push(runner);
  return runner;
}

/** Waits for the task to end, asserts it is done and that `runner` still runs (no restart), then stops it. */
async function doneBySameRunner(runner: ChildProcess, id: string, what: string): Promise<void> {
  const done = await output.waitFor(what, async () => {
    const task = await board.get(id);
    return task?.status === 'done' || task?.status === 'dead' ? task : undefined;
  }, 90_000);
  assert.equal(done.status, 'done', `${JSON.stringify(done.lastError)}\n${output.all()}`);
  assert.equal(runner.exitCode, null, 'the same runner, still running');
  const exited = new Promise((resolve) => runner.once('exit', resolve));
  runner.kill('SIGTERM');
  await exited;
}

function servesRepository(serves: Serves, repository: string): boolean {
  return serves.repositories === 'any' || serves.repositories.includes(repository);
}

/** Counts the git processes started while `action` runs. */
async function gitProcesses<T>(action: () => Promise<T>): Promise<{ value: T; count: number }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cp = require('child_process') as { spawn: (...args: unknown[]) => unknown };
  const original = cp.spawn;
  let count = 0;
  cp.spawn = (...args: unknown[]) => {
    if (args[0] === 'git') count += 1;
    return original(...args);
  };
  try {
    return { value: await action(), count };
  } finally {
    cp.spawn = original;
  }
}

/** Runs `action` while every git process fails to start (as a spawn under memory pressure does). */
async function gitSpawnsFailing<T>(action: () => Promise<T>): Promise<T> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cp = require('child_process') as { spawn: (...args: unknown[]) => unknown };
  const original = cp.spawn;
  cp.spawn = (...args: unknown[]) => (args[0] === 'git' ? original('/nonexistent/git-that-fails-to-start', ...args.slice(1)) : original(...args));
  try {
    return await action();
  } finally {
    cp.spawn = original;
  }
}

describe('what a runner serves, kept current', { timeout: 300_000 }, () => {
  it('a remote added to the clone is seen by the next check; a check of an unchanged clone starts no git process', async () => {
    const clone = cloneWithoutRemote('watched');
    const watch = await RunnerServesWatch.open({ clone, unsourced: true });
    const served = watch.serves;
    const origin = normaliseRepositoryUrl(daemon.url('origin.git'), clone);
    assert.equal(servesRepository(served, origin), false, 'origin not served before');

    const unchanged = await gitProcesses(() => watch.check());
    assert.deepEqual(unchanged, { value: false, count: 0 }, 'an unchanged config file: no git process, no change');

    git(clone, ['remote', 'add', 'upstream', daemon.url('origin.git')]);
    let changes = 0;
    watch.start(() => (changes += 1), { checkMs: 20 });
    try {
      await output.waitFor('the watch to see the new remote', () => (changes > 0 ? true : undefined), 30_000);
    } finally {
      watch.stop();
    }
    assert.equal(watch.serves, served, 'updated in place: the pool and its scheduler hold this object');
    assert.equal(servesRepository(served, origin), true, `origin served now: ${JSON.stringify(served)}`);
    assert.deepEqual(await gitProcesses(() => watch.check()), { value: false, count: 0 });
  });

  it('a git command that fails while it works it out again keeps what the runner served, and the next check tries again', async () => {
    const clone = cloneWithoutRemote('failing');
    git(clone, ['remote', 'add', 'origin', daemon.url('origin.git')]);
    const watch = await RunnerServesWatch.open({ clone, unsourced: true });
    const origin = normaliseRepositoryUrl(daemon.url('origin.git'), clone);
    assert.equal(servesRepository(watch.serves, origin), true, 'origin served at start');
    git(clone, ['config', 'swarm.test', 'changed']); // the config file changes: the next check works it out again
    const failed = await gitSpawnsFailing(() => watch.check());
    assert.equal(failed, false, 'nothing changed');
    assert.equal(servesRepository(watch.serves, origin), true, `origin still served after a failed git: ${JSON.stringify(watch.serves)}`);
    const retried = await gitProcesses(() => watch.check());
    assert.ok(retried.count > 0, 'the next check runs git again, though the config file did not change since');
    assert.equal(servesRepository(watch.serves, origin), true);
  });

  it('a branch fetched into the clone with another root commit is seen by the next check, without waiting for the hourly refresh', async () => {
    const clone = cloneWithoutRemote('roots');
    const { dir: poster, root } = unpublishedRepository('roots-poster');
    const watch = await RunnerServesWatch.open({ clone, unsourced: true });
    assert.equal(servesRepository(watch.serves, `unpublished:${root}`), false, 'not served before');
    assert.deepEqual(await gitProcesses(() => watch.check()), { value: false, count: 0 }, 'unchanged refs: no git process');
    git(clone, ['fetch', '-q', poster, 'main:refs/heads/poster/main']); // a branch in a subfolder of refs/heads
    assert.equal(await watch.check(), true);
    assert.equal(servesRepository(watch.serves, `unpublished:${root}`), true, JSON.stringify(watch.serves));
    assert.deepEqual(await gitProcesses(() => watch.check()), { value: false, count: 0 });
    git(clone, ['update-ref', '-d', 'refs/heads/poster/main']);
    git(clone, ['pack-refs', '--all']);
    assert.equal(await watch.check(), true, 'a branch deleted: its root is no longer served');
    assert.equal(servesRepository(watch.serves, `unpublished:${root}`), false);
  });

  it('a running `swarm run` takes a task of a repository without a remote once that history is fetched into its clone, without a restart', async () => {
    assert.ok(fs.existsSync(CLI) && fs.existsSync(path.join(DIST, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
    const clone = cloneWithoutRemote('roots-runner');
    const { dir: poster } = unpublishedRepository('roots-runner-poster');
    const runner = startRunner(clone, 'roots-runner');
    const id = succeeded(runSwarm(poster, ['--board', boardUrl, 'post', 'serve me', '--files', 'notes.txt']), 'post').trim();
    await output.waitFor('the task to be parked by the runner', async () => (Object.keys((await board.stats()).parked ?? {}).length > 0 ? true : undefined), 60_000);
    assert.equal((await board.get(id))?.status, 'pending');

    git(clone, ['fetch', '-q', poster, 'main:refs/heads/poster-main']);
    await doneBySameRunner(runner, id, 'the runner to do the task after the history was fetched');
  });

  it('a running `swarm run` takes a task parked for a repository once that remote is added to its clone, without a restart (its agent, kept by --min-agents, gets the change)', async () => {
    assert.ok(fs.existsSync(CLI) && fs.existsSync(path.join(DIST, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
    const clone = cloneWithoutRemote('runner');
    const runner = startRunner(clone, 'runner');
    const id = succeeded(runSwarm(w.dev, ['--board', boardUrl, 'post', 'serve me', '--files', 'src/a.txt']), 'post').trim();
    // The runner's claims park it: it is not a repository the runner serves yet.
    await output.waitFor('the task to be parked by the runner', async () => (Object.keys((await board.stats()).parked ?? {}).length > 0 ? true : undefined), 60_000);
    assert.equal((await board.get(id))?.status, 'pending');

    git(clone, ['remote', 'add', 'origin', daemon.url('origin.git')]);
    await doneBySameRunner(runner, id, 'the runner to do the task after the remote was added');
  });
});

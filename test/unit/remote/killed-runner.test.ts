// A runner killed with SIGKILL mid-task (issue 17): nothing of it runs on (its agent and the agent's
// command end with it), and its partial work, left only in the slot's files, is not lost. The next
// runner started on that machine (same clone, any process) commits the slot's files onto
// refs/swarm/<id> and sends them to the board; a retry on a third clone then starts from the killed
// attempt's file. Real processes: redis-server, a git daemon on loopback, the built CLI.
// Needs a build (dist/cli.js, dist/agent.js).
//   node scripts/run-unit-tests.js test/unit/remote/killed-runner.test.ts
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PATCH_ARTIFACT, type Board } from '../../../src/core/board';
import { findProcessesInside } from '../../../src/core/process/marked';
import { PARTIAL_DESCRIPTOR_ARTIFACT } from '../../../src/core/remote/workspace';
import { readResultDescriptor } from '../../../src/core/remote/descriptor';
import type { RedisServer } from '../../harness/redis';
import { runSwarm, type SwarmRun, succeeded } from '../patch/helpers';
import { git } from '../worktree/helpers';
import { addLocalChanges, type World } from './machines';
import { startLoopbackWorld, stopLoopbackWorld, type LoopbackWorld } from './loopback-world';
import { RunnerOutput } from './runner-output';

const DIST = path.resolve(__dirname, '..', '..', '..', 'dist');
const CLI = path.join(DIST, 'cli.js');
/** The killed attempt writes its file, then works on long after the test killed its runner. */
const SLOW = `printf 'written before the kill\\n' > partial.txt; sleep 120; printf 'late\\n' > late.txt`;
/** The retry says whether it found the killed attempt's file. */
const RETRY = `if test -f partial.txt; then printf 'resumed\\n' > resumed.txt; else printf 'fresh\\n' > fresh.txt; fi`;

let redis: RedisServer;
let daemon: LoopbackWorld['daemon'];
let w: World;
let board: Board;
let boardUrl: string;
let cache: string;
const runners: ChildProcess[] = [];
const output = new RunnerOutput();

before(async () => {
  assert.ok(fs.existsSync(CLI) && fs.existsSync(path.join(DIST, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
  ({ redis, daemon, w, board, boardUrl } = await startLoopbackWorld('killed'));
  // Every runner of this machine keeps its slots under this cache (XDG_CACHE_HOME), not the user's.
  cache = path.join(w.dir, 'cache');
});

after(() => stopLoopbackWorld({ redis, daemon, w, board }, runners));

function swarm(cwd: string, args: string[]): SwarmRun {
  return runSwarm(cwd, ['--board', boardUrl, ...args]);
}

function cloneOrigin(name: string): string {
  const dir = path.join(w.dir, name);
  git(w.dir, ['clone', '-q', daemon.url('origin.git'), dir]);
  return dir;
}

/** `swarm run` of the built CLI in `cwd` (a clone), one agent, with this machine's cache. */
function startRunner(name: string, cwd: string, exec: string, flags: string[]): ChildProcess {
  const child = spawn(process.execPath, [CLI, '--board', boardUrl, 'run', '--agents', '1', '--exec', exec, '--lease-ms', '4000', ...flags], {
    cwd,
    env: { ...process.env, XDG_CACHE_HOME: cache },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  output.record(name, child);
  runners.push(child);
  return child;
}

function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs?: number): Promise<T> {
  return output.waitFor(what, check, timeoutMs);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The file an agent wrote, found in the runners' slots. */
function findFile(dir: string, name: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const found = (fs.readdirSync(dir, { recursive: true }) as string[]).find((entry) => path.basename(entry) === name && !entry.split(path.sep).includes('.git'));
  return found ? path.join(dir, found) : undefined;
}

describe('a runner killed with SIGKILL mid-task', { timeout: 600_000 }, () => {
  it('ends its agent\'s commands with it; the next runner in the same clone sends the attempt\'s files, and a retry on another clone starts from them', async () => {
    addLocalChanges(w);
    const id = succeeded(swarm(w.dev, ['post', 'slow work', '--files', 'src/a.txt', '--requires', 'resume']), 'post').trim();
    const cloneA = cloneOrigin('runner-a');
    const killed = startRunner('killed', cloneA, SLOW, ['--labels', 'resume']);
    const slots = path.join(cache, 'agent-swarm', 'worktrees', 'runner', 'slots');
    const written = await waitFor('the agent to write its file', () => findFile(slots, 'partial.txt'));
    const slot = path.dirname(written);
    assert.equal((await board.get(id))?.status, 'running');
    assert.ok(findProcessesInside(slot).length > 0, 'the attempt\'s command runs in the slot');

    killed.kill('SIGKILL');
    // Guaranteed cancel: the agent notices its host is gone and ends its command's whole group.
    await waitFor('the killed runner\'s agent and command to end', () => (findProcessesInside(slot).length === 0 ? true : undefined), 60_000);
    assert.equal(findFile(slots, 'late.txt'), undefined, 'nothing ran on after the kill');
    assert.equal(await board.getArtifact(id, PARTIAL_DESCRIPTOR_ARTIFACT), undefined, 'a killed runner sent nothing itself');

    // A runner started later in the same clone (without the task's label: it never takes the task)
    // finds the slot of the dead process and sends its work.
    const next = startRunner('next', cloneA, RETRY, []);
    const described = await waitFor('the next runner to send the killed attempt\'s work', () => board.getArtifact(id, PARTIAL_DESCRIPTOR_ARTIFACT));
    const descriptor = readResultDescriptor(JSON.parse(described.toString('utf8')));
    assert.equal(descriptor.kind, 'partial');
    assert.equal(descriptor.taskId, id);
    assert.equal(git(cloneA, ['show', `refs/swarm/${id}:partial.txt`]), 'written before the kill', 'kept on refs/swarm/<id> on that machine');
    assert.ok(['running', 'pending'].includes(String((await board.get(id))?.status)), 'the task is still there to retry');
    await waitFor('the slot to be free for reuse', () => (fs.readdirSync(path.dirname(slot)).filter((name) => name.endsWith('.json')).every((name) => JSON.parse(fs.readFileSync(path.join(path.dirname(slot), name), 'utf8')).taskId === undefined) ? true : undefined));
    await stop(next);

    // A retry on a third clone (its own repository, no ref of the attempt) starts from that work.
    const retry = startRunner('retry', cloneOrigin('runner-c'), RETRY, ['--labels', 'resume']);
    await waitFor('the retry to complete the task', async () => ((await board.get(id))?.status === 'done' ? true : undefined), 180_000);
    await stop(retry);
    const patch = String(await board.getArtifact(id, PATCH_ARTIFACT));
    assert.match(patch, /\+written before the kill/, 'the killed attempt\'s file is in the result');
    assert.match(patch, /\+resumed/, 'the retry found the killed attempt\'s file in its slot');
    assert.doesNotMatch(patch, /fresh|late/);
  });
});

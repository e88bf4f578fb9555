// Issue 13, item 1: SIGKILL of a `swarm run` host and its agents (as the OOM killer does) leaves
// the executor's commands running, in process groups of their own. One survived a whole second
// `swarm run` and wrote into the shared slot while the next task ran there, so that task's patch
// held the orphan's file. A later pool (or `swarm worktrees --prune`) must end processes of dead
// hosts, and a slot is never handed out while anything of an earlier attempt runs in it.
// Without a sandbox (with one, the PID namespace dies with the agent: see process-cancel.test.ts).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { FileBoard } from '../../src/core/board';
import type { TaskResult } from '../../src/core/pool';
import { findProcessesInside } from '../../src/core/process';
import { pruneWorktrees } from '../../src/core/worktree';
import { isAlive, waitFor } from '../unit/pool/helpers';
import { processesWithArgs } from '../unit/sandbox/helpers';
import { makeRepo } from '../unit/worktree/helpers';

const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
/** The orphan: a loop writing into the slot it was started in, daemonised out of the agent's tree. */
const LOOP = 'while :; do echo orphan >> orphan.txt; sleep 0.1; done';

before(() => assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)'));

interface Scene {
  checkout: string;
  board: FileBoard;
  host: ChildProcess;
  first: string;
  cleanup(): void;
}

/** A host runs task A, whose command daemonises LOOP; then the host and its agent get SIGKILL. */
async function killedHostScene(): Promise<Scene> {
  const repo = makeRepo({ 'README.md': '# demo\n' });
  const checkout = fs.realpathSync(repo.root);
  const board = FileBoard.open({ root: path.join(checkout, '.swarm'), durable: false });
  const first = board.post({ title: 'leaves an orphan' }).id;
  const host = spawn(process.execPath, [cli, 'run', '--agents', '1', '--sandbox', 'off', '--lease-ms', '60000', '--exec', `(setsid sh -c '${LOOP}' &); sleep 600`], { cwd: checkout, stdio: 'ignore' });
  const cleanup = (): void => {
    if (host.exitCode === null) host.kill('SIGKILL');
    for (const pid of processesWithArgs(['sh', '-c', LOOP])) process.kill(pid, 'SIGKILL');
    board.close();
    repo.cleanup();
  };
  try {
    const [orphan] = await waitFor('the orphan loop', () => {
      const found = processesWithArgs(['sh', '-c', LOOP]);
      return found.length === 1 ? found : undefined;
    }, 60_000);
    const agents = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry) && isAgentOf(Number(entry), host.pid as number)).map(Number);
    assert.equal(agents.length, 1, 'one agent');
    process.kill(host.pid as number, 'SIGKILL');
    process.kill(agents[0], 'SIGKILL');
    await waitFor('host and agent gone', () => !isAlive(host.pid as number) && !isAlive(agents[0]));
    assert.equal(isAlive(orphan), true, 'the orphan outlives its host and agent (the situation of the issue)');
    return { checkout, board, host, first, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

function isAgentOf(pid: number, hostPid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`SWARM_AGENT_ID=h${hostPid}-a1`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('agent.js');
  } catch {
    return false;
  }
}

test("a second swarm run ends a dead host's orphan before it hands out the slot; the next task's patch is its own", { timeout: 240_000 }, async () => {
  const scene = await killedHostScene();
  try {
    assert.equal(spawnSync(process.execPath, [cli, 'cancel', scene.first], { cwd: scene.checkout }).status, 0);
    const next = scene.board.post({ title: 'next task in the same slot' });
    const second = spawnSync(process.execPath, [cli, 'run', '--agents', '1', '--sandbox', 'off', '--until-empty', '--exec', 'sleep 1; echo b > b.txt'], { cwd: scene.checkout, encoding: 'utf8', timeout: 120_000 });
    assert.equal(second.status, 0, second.stderr + second.stdout);
    const result = scene.board.get(next.id)?.result as TaskResult;
    assert.deepEqual(result.files.map((file) => file.path), ['b.txt'], "the task's patch holds only its own change");
    assert.deepEqual(processesWithArgs(['sh', '-c', LOOP]), [], 'the orphan is gone');
    assert.deepEqual(processesWithArgs(['sleep', '600']).filter((pid) => fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`SWARM_AGENT_ID=h${scene.host.pid}-`)), [], 'and so is the dead attempt\'s own command');
  } finally {
    scene.cleanup();
  }
});

test("swarm worktrees --prune (pruneWorktrees) ends a dead host's orphans too", { timeout: 240_000 }, async () => {
  const scene = await killedHostScene();
  try {
    await pruneWorktrees(scene.checkout);
    assert.deepEqual(processesWithArgs(['sh', '-c', LOOP]), []);
  } finally {
    scene.cleanup();
  }
});

test('a slot is not handed out while a marked process still works in it; a stranger there is left alone', { timeout: 120_000 }, async () => {
  const repo = makeRepo({ 'README.md': '# demo\n' });
  const { createWorktreeIsolation } = await import('../../src/core/worktree');
  const { fakeTask } = await import('../unit/worktree/helpers');
  const isolation = createWorktreeIsolation({ workspaceRoot: repo.root });
  const artifacts = path.join(path.dirname(repo.root), 'artifacts');
  const children: ChildProcess[] = [];
  try {
    const first = fakeTask();
    const prepared = await isolation.prepare(first, 's1', artifacts);
    await isolation.collect(first, 's1', prepared, artifacts);
    // A process of an earlier attempt (marked, as every attempt process is) and a user's shell.
    const marked = spawn('sh', ['-c', LOOP], { cwd: prepared.cwd, env: { ...process.env, SWARM_TASK_ID: first.id }, detached: true, stdio: 'ignore' });
    const stranger = spawn('sleep', ['300'], { cwd: prepared.cwd, stdio: 'ignore' });
    children.push(marked, stranger);
    await waitFor('both to run in the slot', () => findProcessesInside(prepared.cwd).length === 2);
    const second = fakeTask();
    const again = await isolation.prepare(second, 's1', artifacts);
    assert.equal(again.cwd, prepared.cwd, 'the same slot');
    assert.equal(isAlive(marked.pid as number), false, 'the earlier attempt\'s process was ended before the slot was handed out');
    assert.equal(isAlive(stranger.pid as number), true, 'an unmarked process is not the swarm\'s to end');
    const changes = await isolation.collect(second, 's1', again, artifacts);
    assert.deepEqual(changes.files, []);
  } finally {
    for (const child of children) child.kill('SIGKILL');
    repo.cleanup();
  }
});

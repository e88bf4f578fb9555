// The pool in a git repository: by default every attempt runs in a worktree (served by the host's
// isolation over IPC), the user's folder stays untouched, and the result carries a reviewable patch.
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { AgentPool, type TaskResult } from '../../../src/core/pool';
import { makeRepo } from '../worktree/helpers';
import { agentBundle } from './helpers';

test('in a git repository agents work in worktrees and leave patches for review', async () => {
  const repo = makeRepo({ 'src/a.txt': 'one\n', 'src/b.txt': 'two\n', 'README.md': '# demo\n' });
  const board = FileBoard.open({ root: path.join(repo.root, '.swarm'), durable: false });
  try {
    const tasks = board.postMany([
      { title: 'edit a', files: ['src/a.txt'] },
      { title: 'edit b', files: ['src/b.txt'] },
    ]);
    const pool = new AgentPool({
      board,
      workspaceRoot: repo.root,
      executor: { type: 'command', command: 'echo changed >> {files}', verify: 'grep -q changed {files}' },
      maxAgents: 2,
      untilEmpty: true,
      agentScript: agentBundle(),
    });
    await pool.start();
    await pool.whenDone();
    assert.equal(repo.read('src/a.txt'), 'one\n', "the user's files are untouched");
    assert.equal(repo.read('src/b.txt'), 'two\n');
    for (const task of tasks) {
      const done = board.get(task.id)!;
      assert.equal(done.status, 'done', JSON.stringify(board.errors(task.id)));
      const result = done.result as TaskResult;
      assert.deepEqual(result.files.map((file) => file.path), task.files);
      assert.ok(result.patchFile && fs.readFileSync(result.patchFile, 'utf8').includes('+changed'));
      assert.ok(result.base, 'the patch names the snapshot it applies to');
      assert.equal(result.patchFile.startsWith(board.artifactsDir(task.id)), true);
    }
  } finally {
    board.close();
    repo.cleanup();
  }
});

test('best of N: attempts race in their own worktrees, the first that passes verify wins, the others are stopped', async () => {
  const repo = makeRepo({ 'src/a.txt': 'one\n', 'README.md': '# demo\n' });
  const board = FileBoard.open({ root: path.join(repo.root, '.swarm'), durable: false });
  try {
    const namedExecutors = {
      slow: { type: 'command', command: 'echo slow >> {files}; sleep 60' },
      wrong: { type: 'command', command: 'echo wrong >> {files}', verify: 'grep -q fast {files}' },
      fast: { type: 'command', command: 'echo fast >> {files}', verify: 'grep -q fast {files}' },
    };
    const task = board.post({ title: 'race', files: ['src/a.txt'], payload: { bestOf: { executors: ['slow', 'wrong', 'fast'] } } });
    const pool = new AgentPool({ board, workspaceRoot: repo.root, executor: { type: 'command', command: 'false' }, namedExecutors, maxAgents: 1, untilEmpty: true, agentScript: agentBundle() });
    const started = Date.now();
    await pool.start();
    await pool.whenDone();
    assert.ok(Date.now() - started < 45_000, 'the slow attempt was cancelled, not waited for');
    const done = board.get(task.id)!;
    assert.equal(done.status, 'done', JSON.stringify(board.errors(task.id)));
    const result = done.result as TaskResult;
    assert.deepEqual(result.bestOf, { attempts: 3, winner: 3 });
    const patch = fs.readFileSync(result.patchFile!, 'utf8');
    assert.match(patch, /\+fast/);
    assert.doesNotMatch(patch, /slow|wrong/);
    assert.equal(repo.read('src/a.txt'), 'one\n');
  } finally {
    board.close();
    repo.cleanup();
  }
});

test('at its start the pool makes ready the slots of the agents it forks for the waiting tasks, and no more (an agent kept idle by minAgents gets none)', async () => {
  const repo = makeRepo({ 'src/a.txt': 'one\n', 'README.md': '# demo\n' });
  const board = FileBoard.open({ root: path.join(repo.root, '.swarm'), durable: false });
  const logs: string[] = [];
  const registered = (): number => execFileSync('git', ['worktree', 'list', '--porcelain'], { cwd: repo.root, encoding: 'utf8' }).split('\n').filter((line) => line.startsWith('worktree ')).length - 1;
  const pool = new AgentPool({ board, workspaceRoot: repo.root, executor: { type: 'command', command: 'echo changed >> {files}' }, minAgents: 3, maxAgents: 3, agentScript: agentBundle(), log: (line) => logs.push(line) });
  try {
    const task = board.post({ title: 'edit a', files: ['src/a.txt'] });
    await pool.start();
    await waitUntil(() => board.get(task.id)?.status === 'done');
    assert.ok(logs.some((line) => line.startsWith(`task ${task.id}: ready worktree`)), `the task's slot was ready before its claim:\n${logs.join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(registered(), 1, 'one slot for the one task; the idle agents have none');
  } finally {
    await pool.stop({ graceMs: 0 });
    board.close();
    repo.cleanup();
  }
});

async function waitUntil(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

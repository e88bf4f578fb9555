// Issue 13, item 2, and the sandbox's process guarantee: every process an attempt started ends on
// cancel (swarm cancel from another process, noticed at the agent's heartbeat), on timeout, and
// when its agent is killed with SIGKILL, daemonised ones (`(setsid sleep &)`: a new session, parent
// gone, outside the group and the tree) included; with the sandbox and without it.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { afterEach, before, test } from 'node:test';
import { FileBoard } from '../../src/core/board';
import { runInProcessGroup } from '../../src/core/executors/process';
import { AgentPool } from '../../src/core/pool';
import { createWorktreeIsolation } from '../../src/core/worktree';
import { agentBundle, poolFixture, waitFor, type PoolFixture } from '../unit/pool/helpers';
import { makeRepo } from '../unit/worktree/helpers';
import { processesWithArgs, requireBwrap, tempDir, uniqueSleep } from '../unit/sandbox/helpers';

let fixture: PoolFixture | undefined;
before(requireBwrap);
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

const daemonThenWait = (seconds: string): string => `(setsid sleep ${seconds} &); sleep ${Number(seconds) + 1}`;

test('without a sandbox, a daemon left by a finished command is ended when the run settles', async () => {
  const seconds = uniqueSleep();
  const result = await runInProcessGroup({ script: `(setsid sleep ${seconds} &); echo started`, cwd: tempDir('swarm-run-') });
  assert.equal(result.exitCode, 0);
  assert.deepEqual(processesWithArgs(['sleep', seconds]), []);
});

for (const mode of ['off', 'auto'] as const) {
  const label = mode === 'off' ? 'without a sandbox' : 'in the sandbox';

  test(`${label}: swarm cancel (the board, from elsewhere) ends a daemonised grandchild while the pool runs on`, { timeout: 120_000 }, async () => {
    fixture = poolFixture();
    const f = fixture;
    const seconds = uniqueSleep();
    const task = f.board.post({ title: 'daemonise' });
    const pool = f.makePool({ executor: { type: 'command', command: daemonThenWait(seconds) }, sandbox: { mode }, maxAgents: 1, leaseMs: 3_000 });
    await pool.start();
    await waitFor('the daemon', () => processesWithArgs(['sleep', seconds]).length === 1);
    f.board.cancel(task.id); // what `swarm cancel` does: the agent notices at its next heartbeat
    await waitFor('the daemon to end after the cancel', () => processesWithArgs(['sleep', seconds]).length === 0, 30_000);
    assert.equal(pool.stats().running, true, 'ended by the cancel, not by a pool stop');
    assert.equal(f.board.get(task.id)?.status, 'cancelled');
  });

  test(`${label}: a timeout ends a daemonised grandchild before the attempt fails`, { timeout: 120_000 }, async () => {
    fixture = poolFixture();
    const f = fixture;
    const seconds = uniqueSleep();
    const task = f.board.post({ title: 'daemonise and hang', maxAttempts: 1 });
    const pool = f.makePool({ executor: { type: 'command', command: daemonThenWait(seconds), timeoutMs: 1_500, graceMs: 500 }, sandbox: { mode }, maxAgents: 1 });
    await pool.start();
    await waitFor('the attempt to time out', () => f.board.get(task.id)?.status === 'dead', 60_000);
    assert.match(f.board.errors(task.id)[0].message, /did not finish within/);
    assert.deepEqual(processesWithArgs(['sleep', seconds]), [], 'nothing of the attempt outlives it');
    assert.equal(pool.stats().running, true);
  });

  test(`${label}: kill -9 of the agent ends its attempt's processes, daemons included`, { timeout: 120_000 }, async () => {
    fixture = poolFixture();
    const f = fixture;
    const seconds = uniqueSleep();
    f.board.post({ title: 'daemonise', maxAttempts: 1 });
    const pool = f.makePool({ executor: { type: 'command', command: daemonThenWait(seconds) }, sandbox: { mode }, maxAgents: 1 });
    await pool.start();
    await waitFor('the daemon', () => processesWithArgs(['sleep', seconds]).length === 1);
    const agent = pool.stats().agents[0];
    process.kill(agent.pid as number, 'SIGKILL');
    await waitFor('every process of the attempt to end', () => processesWithArgs(['sleep', seconds]).length === 0 && processesWithArgs(['sleep', String(Number(seconds) + 1)]).length === 0, 30_000);
  });
}

test('swarm cancel during the worktree setup command (run by the host) ends the setup and everything it started', { timeout: 120_000 }, async () => {
  const repo = makeRepo({ 'README.md': '# demo\n' });
  const board = FileBoard.open({ root: path.join(repo.root, '.swarm'), durable: false });
  const seconds = uniqueSleep();
  const isolation = createWorktreeIsolation({ workspaceRoot: repo.root, setupCommand: `sleep ${seconds} & sleep ${Number(seconds) + 1}` });
  const pool = new AgentPool({ board, workspaceRoot: repo.root, executor: { type: 'command', command: 'true' }, isolation, maxAgents: 1, leaseMs: 3_000, agentScript: agentBundle() });
  try {
    const task = board.post({ title: 'cancel me during setup' });
    await pool.start();
    await waitFor('the setup command', () => processesWithArgs(['sleep', seconds]).length === 1, 60_000);
    board.cancel(task.id);
    await waitFor('the setup command and its child to end', () => processesWithArgs(['sleep', seconds]).length === 0 && processesWithArgs(['sleep', String(Number(seconds) + 1)]).length === 0, 30_000);
    assert.equal(pool.stats().running, true);
  } finally {
    await pool.stop({ graceMs: 0 });
    board.close();
    repo.cleanup();
  }
});

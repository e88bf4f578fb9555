// An agent that starts late (a loaded machine) finds the pool's `init` and a later `hold` (a
// usage-limit pause that began while it was starting) waiting together on its IPC channel. It must
// obey the hold before its first claim; it used to claim inside the init message's handler, before
// the hold was even read, and dispatched a task during the pause.
import assert from 'node:assert/strict';
import { fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { POOL_CHANNEL, type AgentInit } from '../../../src/core/pool/protocol';
import { agentBundle, waitFor } from './helpers';

test('an agent obeys a hold that arrived together with its init: no claim before the hold ends', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-agent-hold-'));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false });
  const task = board.post({ title: 'must wait for the pause' });
  const init: AgentInit = {
    agentId: 'held',
    slot: 's1',
    boardRoot: board.root,
    workspaceRoot: dir,
    executor: { type: 'command', command: 'true' },
    leaseMs: 30_000,
    isolation: 'none',
    isolationKind: 'none',
    hostModels: false,
    maxLogBytes: 1024 * 1024,
  };
  const holdMs = 4_000;
  const child = fork(agentBundle(), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const messages: Array<{ type?: string }> = [];
  child.on('message', (message) => messages.push(message as { type?: string }));
  try {
    // Both written before the child has loaded: they reach it in one read of the channel.
    child.send({ channel: POOL_CHANNEL, type: 'init', init });
    const heldUntil = Date.now() + holdMs;
    child.send({ channel: POOL_CHANNEL, type: 'hold', until: heldUntil });
    await waitFor('the agent to be ready', () => messages.some((message) => message.type === 'ready'), 30_000);
    // Look at the board until shortly before the hold ends: the task must stay pending.
    while (Date.now() < heldUntil - 500) {
      assert.equal(board.get(task.id)?.status, 'pending', `the agent claimed during the hold: ${JSON.stringify(messages)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // And the hold ends by itself: the task is run after it.
    await waitFor('the task after the hold', () => board.get(task.id)?.status === 'done', 30_000);
    assert.ok(Date.now() >= heldUntil, 'not run before the hold ended');
  } finally {
    child.send({ channel: POOL_CHANNEL, type: 'drain' });
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    board.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

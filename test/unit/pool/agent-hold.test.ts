// An agent that starts late (a loaded machine) finds the pool's `init` and later messages (a `hold`
// for a usage-limit pause that began while it was starting, a `drain`) waiting on its IPC channel,
// or receives them while it opens the board. It must obey them before its first claim; it used to
// claim inside the init message's handler before the hold was read, and messages that arrived while
// the board opened were dropped.
import assert from 'node:assert/strict';
import { fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { POOL_CHANNEL, type AgentInit } from '../../../src/core/pool/protocol';
import { agentBundle, plainAgentInit, waitFor } from './helpers';

function startAgent(): { dir: string; board: FileBoard; init: AgentInit; child: ReturnType<typeof fork>; messages: Array<{ type?: string }> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-agent-hold-'));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false });
  board.post({ title: 'must wait for the pause' });
  const init: AgentInit = plainAgentInit('held', 's1', board.root, dir);
  const child = fork(agentBundle(), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const messages: Array<{ type?: string }> = [];
  child.on('message', (message) => messages.push(message as { type?: string }));
  return { dir, board, init, child, messages };
}

const exited = (child: ReturnType<typeof fork>) => new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));

test('an agent obeys a hold that arrived together with its init: no claim before the hold ends', { timeout: 60_000 }, async () => {
  const { dir, board, init, child, messages } = startAgent();
  const task = board.list()[0];
  const holdMs = 4_000;
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
    await exited(child);
    board.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a drain that arrived together with its init ends the agent without a claim', { timeout: 60_000 }, async () => {
  const { dir, board, init, child, messages } = startAgent();
  try {
    child.send({ channel: POOL_CHANNEL, type: 'init', init });
    child.send({ channel: POOL_CHANNEL, type: 'drain' });
    await exited(child);
    assert.equal(board.list()[0].status, 'pending', `the draining agent claimed: ${JSON.stringify(messages)}`);
    assert.equal(board.list()[0].attempts, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    board.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

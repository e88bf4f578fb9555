// An idle agent is woken by the board's event feed, not only by its poll; the feed is followed from
// the first time the agent finds nothing to claim (issue 15, session 9): an agent that starts with a
// task to claim does not set it up on its way to its first command, and still wakes on a post once idle.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { FileBoard as AsyncFileBoard } from '../../../src/core/board/fileBoard';
import { createExecutor } from '../../../src/core/executors';
import { createNoIsolation } from '../../../src/core/pool/isolation-modes';
import { AgentWorker, type WorkerEvent } from '../../../src/core/pool/worker';
import { waitFor } from './helpers';

test('an agent that started with a task to claim, then went idle, is woken by a post through the feed, long before its poll', { timeout: 120_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-worker-feed-'));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false });
  const first = board.post({ title: 'there from the start' });
  const events: WorkerEvent[] = [];
  // Polls a minute apart: within the bound below only the feed can wake the idle agent.
  const worker = new AgentWorker({
    board: AsyncFileBoard.over(board),
    agentId: 'agent-1',
    slot: 's1',
    executor: createExecutor({ type: 'command', command: 'true' }),
    isolation: createNoIsolation(dir),
    leaseMs: 30_000,
    minPollMs: 60_000,
    maxPollMs: 60_000,
    report: (event) => events.push(event),
  });
  const running = worker.run();
  try {
    await waitFor('the first task to be done', () => board.get(first.id)?.status === 'done', 30_000);
    await waitFor('the agent to be idle', () => events.some((event) => event.type === 'idle'), 30_000);
    const postedAt = Date.now();
    const second = board.post({ title: 'posted to the idle agent' });
    await waitFor('the posted task to be done', () => board.get(second.id)?.status === 'done', 45_000);
    assert.ok(Date.now() - postedAt < 45_000, 'woken by the feed, not the 60 s poll');
  } finally {
    worker.drain();
    await running;
    board.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

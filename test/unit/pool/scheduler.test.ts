// The scheduler wakes on the board's events and its agents' reports, not on a 100 ms poll: an idle
// pool barely reads the board's counts (on a file board each read lists every state folder), and
// a task posted to it is still picked up at once.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { FileBoard } from '../../../src/core/board/fileBoard';
import { poolFixture, waitFor, type PoolFixture } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

/** The fixture's board behind the async interface, with the time of every stats() call recorded. */
function countedBoard(f: PoolFixture): { board: FileBoard; statsCalls: number[] } {
  const board = FileBoard.over(f.board);
  const statsCalls: number[] = [];
  const stats = board.stats.bind(board);
  board.stats = () => {
    statsCalls.push(Date.now());
    return stats();
  };
  return { board, statsCalls };
}

const between = (calls: number[], from: number, to: number): number => calls.filter((at) => at >= from && at < to).length;

test('an idle pool reads the board counts every few seconds, not ten times a second', async () => {
  fixture = poolFixture();
  const { board, statsCalls } = countedBoard(fixture);
  const pool = fixture.makePool({ board, minAgents: 1, maxAgents: 2 });
  await pool.start();
  await waitFor('the minimum agent to be idle', () => pool.stats().agents.some((agent) => agent.state === 'idle'));
  const from = Date.now();
  // The window itself is what is measured: an idle pool over three seconds.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const calls = between(statsCalls, from, Date.now());
  assert.ok(calls <= 3, `stats() was called ${calls} times in 3 s on an idle pool (a 100 ms poll makes about 30)`);
});

test('a task posted to an idle pool is picked up at once, without waiting for the safety poll', async () => {
  fixture = poolFixture();
  const { board, statsCalls } = countedBoard(fixture);
  // A safety poll far longer than the bound below: only the board's event can wake the scheduler in time.
  const pool = fixture.makePool({ board, maxAgents: 2, pollMs: 120_000 });
  await pool.start();
  await waitFor('the first round', () => statsCalls.length > 0);
  assert.equal(pool.stats().total, 0, 'no task, no agent');
  const postedAt = Date.now();
  const task = fixture.board.post({ title: 'posted to an idle pool' });
  const started = await waitFor('the task to start', () => fixture?.events.find((event) => event.type === 'task-started' && event.taskId === task.id), 20_000);
  assert.ok(started);
  const reacted = statsCalls.find((at) => at >= postedAt);
  assert.ok(reacted !== undefined && reacted - postedAt < 10_000, `the scheduler read the board ${reacted === undefined ? 'never' : `${reacted - postedAt} ms`} after the post`);
  await waitFor('the task to be done', () => fixture?.board.get(task.id)?.status === 'done', 20_000);
});

test('a burst of board events costs at most one round per tickMs', async () => {
  fixture = poolFixture();
  const f = fixture;
  const { board, statsCalls } = countedBoard(f);
  const pool = f.makePool({ board, maxAgents: 2, tickMs: 200, untilEmpty: true });
  // Hundreds of events (posts, claims, completions) while the pool works through them.
  f.board.postMany(Array.from({ length: 150 }, (_, index) => ({ title: `burst ${index}` })));
  const startedAt = Date.now();
  await pool.start();
  await pool.whenDone();
  const elapsed = Date.now() - startedAt;
  assert.equal(f.board.stats().counts.done, 150);
  // One round per 200 ms at most (plus the read that starts agents ahead of the pool's checks, the
  // first round and the one that stops the run).
  const allowed = Math.ceil(elapsed / 200) + 3;
  assert.ok(statsCalls.length <= allowed, `${statsCalls.length} stats() calls in ${elapsed} ms; at most ${allowed} with tickMs 200`);
  // Rounds start 200 ms apart; stats() comes after the round's lease maintenance, which may take a
  // while in one round and none in the next, so its calls are checked against half the period.
  // Unthrottled, events milliseconds apart would make rounds milliseconds apart. The first read
  // starts agents before the checks (the first round follows once they passed); the last round is
  // the one that ends the run: it comes as soon as the last agent found nothing to claim.
  for (let index = 2; index < statsCalls.length - 1; index++) {
    assert.ok(statsCalls[index] - statsCalls[index - 1] >= 100, `rounds ${statsCalls[index] - statsCalls[index - 1]} ms apart`);
  }
});

test('an --until-empty run ends as soon as its last agent finds nothing to claim, not half a tick or a tick later', async () => {
  fixture = poolFixture();
  const f = fixture;
  // The first round starts the agent; the next one the tick allows is 60 s later (half a tick 30 s).
  // The agent's idle report after the task asks for a round now, which ends the run.
  const pool = f.makePool({ maxAgents: 1, tickMs: 60_000, pollMs: 120_000, untilEmpty: true, executor: { type: 'command', command: 'true' } });
  const task = f.board.post({ title: 'the only task' });
  await pool.start();
  await waitFor('the task to be done', () => f.board.get(task.id)?.status === 'done', 30_000);
  const doneAt = Date.now();
  await pool.whenDone();
  const tail = Date.now() - doneAt;
  assert.ok(tail < 15_000, `the run ended ${tail} ms after its last task was done (half a tick is 30 s, a whole one 60 s)`);
});

// Dispatch limits: a usage limit reported by an agent CLI pauses the pool until its reset time,
// and the safe-spawn check keeps agents from starting while the machine is over a limit.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import { poolFixture, waitFor, type PoolFixture } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

test('a usage limit pauses dispatch until the reset time, then the task is retried', async () => {
  fixture = poolFixture();
  const f = fixture;
  const limited = f.board.post({ title: 'limited', priority: 10 });
  // The reset is 3 s after the CLI reports it (not after the test started: on a loaded machine the
  // pool may take that long to start, and a reset already past pauses nothing).
  const command = 'if test {title} = limited && ! test -e first; then touch first; reset=$(( $(date +%s) + 3 )); echo $reset > reset-at; echo "Claude AI usage limit reached|$reset"; exit 1; fi; echo ok';
  const pool = f.makePool({ executor: { type: 'command', command, detectRateLimits: true }, maxAgents: 2, minAgents: 2, untilEmpty: true });
  const starts = new Map<string, number[]>();
  pool.onEvent((event) => {
    if (event.type === 'task-started') starts.set(event.taskId, [...(starts.get(event.taskId) ?? []), Date.now()]);
  });
  await pool.start();
  const paused = await waitFor('the pause', () => f.events.find((event) => event.type === 'paused'));
  const resetAt = Number(fs.readFileSync(path.join(f.dir, 'reset-at'), 'utf8').trim());
  assert.ok(paused.type === 'paused' && paused.until === resetAt * 1000, 'paused until the reset time the CLI announced');
  assert.equal(pool.stats().pausedUntil, resetAt * 1000);
  // Posted during the pause (once the hold reached the agents over IPC): no agent may take it before the reset.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const other = f.board.post({ title: 'other', priority: 0 });
  await pool.whenDone();
  assert.equal(f.board.get(limited.id)?.status, 'done');
  assert.equal(f.board.get(other.id)?.status, 'done');
  const retry = starts.get(limited.id)![1];
  assert.ok(retry >= resetAt * 1000 - 50, 'the limited task was not retried before the reset');
  assert.ok(starts.get(other.id)![0] >= resetAt * 1000 - 50, `no other task was dispatched during the pause (${starts.get(other.id)![0] - resetAt * 1000} ms) ${JSON.stringify(f.events)}`);
  assert.equal(f.board.errors(limited.id)[0].permanent, false);
});

test('no agent starts while the safe-spawn check fails; the reason is in the stats', async () => {
  fixture = poolFixture();
  const f = fixture;
  f.board.post({ title: 'waits' });
  const pool = f.makePool({ limits: { minFreeMemoryBytes: 2 ** 50 } });
  await pool.start();
  await waitFor('the spawn to be blocked', () => pool.stats().spawnBlockedReason);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(pool.stats().total, 0);
  assert.match(pool.stats().spawnBlockedReason ?? '', /memory/);
  assert.ok(f.events.some((event) => event.type === 'warning' && /no new agent/.test(event.message)));
  assert.ok(!f.events.some((event) => event.type === 'agent-started'));
  await pool.stop({ graceMs: 0 });
  assert.equal(f.board.stats().counts.pending, 1);
});

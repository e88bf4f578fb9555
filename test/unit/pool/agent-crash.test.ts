// An agent process killed with SIGKILL in each phase ends where its phase says (agent-state.ts),
// with real processes: idle → a crash, replaced after the backoff; draining with a task → the task
// is handed back, not failed. (Busy and killed-by-the-host are in resilience.test.ts.)
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

function agentPid(f: PoolFixture, agentId: string): number | undefined {
  const event = f.events.find((e) => e.type === 'agent-started' && e.agentId === agentId);
  return event?.type === 'agent-started' ? event.pid : undefined;
}

test('an idle agent killed with SIGKILL counts as a crash and is replaced after the backoff', async () => {
  fixture = poolFixture();
  const f = fixture;
  const pool = f.makePool({ minAgents: 1, maxAgents: 1 });
  await pool.start();
  const idle = await waitFor('an idle agent', () => pool.stats().agents.find((agent) => agent.state === 'idle'));
  process.kill(agentPid(f, idle.id) as number, 'SIGKILL');
  const exited = await waitFor('its exit', () => f.events.find((e) => e.type === 'agent-exited' && e.agentId === idle.id));
  assert.ok(exited.type === 'agent-exited' && !exited.expected && exited.signal === 'SIGKILL', 'an unexpected exit');
  assert.ok(f.events.some((e) => e.type === 'warning' && /exited unexpectedly \(signal SIGKILL\); a new agent starts in 250 ms/.test(e.message)), 'said once, with the backoff');
  await waitFor('a replacement agent', () => pool.stats().agents.find((agent) => agent.id !== idle.id && agent.state === 'idle'));
  assert.equal(f.board.stats().counts.dead, 0);
});

test('a draining agent killed with SIGKILL hands its task back instead of failing it', async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'runs while the pool stops' });
  const pool = f.makePool({ executor: { type: 'command', command: 'touch "started-$SWARM_TASK_ID"; sleep 60' }, maxAgents: 1 });
  await pool.start();
  await waitFor('the command to run', () => fs.existsSync(path.join(f.dir, `started-${task.id}`)));
  const busy = pool.stats().agents.find((agent) => agent.currentTask?.id === task.id);
  assert.ok(busy, 'an agent runs the task');
  const stopped = pool.stop({ graceMs: 60_000 }); // drains: the agent finishes its task, claims nothing more
  await waitFor('the drain to reach the agent', () => f.logs.some((line) => /Stopping the pool/.test(line)));
  process.kill(agentPid(f, busy.id) as number, 'SIGKILL');
  await stopped;
  const after = f.board.get(task.id);
  assert.equal(after?.status, 'pending', 'the task is back on the board');
  assert.deepEqual(f.board.errors(task.id), [], 'no failure recorded: the attempt does not count');
  const exited = f.events.find((e) => e.type === 'agent-exited' && e.agentId === busy.id);
  assert.ok(exited?.type === 'agent-exited' && exited.expected, 'a draining agent leaving is expected');
  assert.ok(!f.events.some((e) => e.type === 'task-failed' && e.taskId === task.id), 'no task-failed event');
});

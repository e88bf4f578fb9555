// The end of a run (issue 15, session 9): what agents left running is found in one pass over /proc
// for all the agents that ended together, and still every agent's daemon ends; the stop waits for
// the agents' ends, not a poll, and a second stop with no grace cuts the first one's grace short.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, test } from 'node:test';
import { findProcessesMarked } from '../../../src/core/process/orphans';
import { isAlive, pidOf, poolFixture, startedBy, waitFor, type PoolFixture } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

/** Each attempt starts a daemon (setsid: out of the command's group and tree) carrying its agent's mark, then waits. */
const DAEMONISING = '(setsid sleep 300 &); touch "started-$SWARM_TASK_ID"; sleep 300';

test('kill -9 of a process hosting three agents whose commands daemonise: the daemons of all three end', { timeout: 120_000 }, async () => {
  fixture = poolFixture();
  const f = fixture;
  const tasks = [1, 2, 3].map((n) => f.board.post({ title: `t${n}` }));
  const pool = f.makePool({ executor: { type: 'command', command: DAEMONISING }, sandbox: { mode: 'off' }, maxAgents: 3, agentsPerProcess: 3, leaseMs: 600_000 });
  await pool.start();
  await waitFor('the three commands to run', () => tasks.every((task) => fs.existsSync(path.join(f.dir, `started-${task.id}`))), 60_000);
  const agents = tasks.map((task) => startedBy(f, task.id) as string);
  const pid = pidOf(f, agents[0]) as number;
  assert.ok(agents.every((agent) => pidOf(f, agent) === pid), 'the three agents share one process');
  const daemons = await waitFor('a daemon per agent', () => {
    const found = agents.map((agent) => findProcessesMarked('SWARM_AGENT_ID', agent));
    return found.every((pids) => pids.length >= 3) && found.flat(); // the shell, its sleep, the daemon
  });
  process.kill(pid, 'SIGKILL');
  await waitFor('the three agents to be handled', () => agents.every((agent) => f.events.some((event) => event.type === 'agent-exited' && event.agentId === agent)), 60_000);
  assert.deepEqual(daemons.filter(isAlive), [], 'nothing any of the three agents started runs on');
  for (const agent of agents) assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', agent), [], `agent ${agent} left nothing running`);
});

test('a second stop with no grace ends a stop that waits out a long grace, at once', { timeout: 120_000 }, async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'runs long' });
  const pool = f.makePool({ executor: { type: 'command', command: 'touch started; sleep 300' }, sandbox: { mode: 'off' }, maxAgents: 1 });
  await pool.start();
  await waitFor('the command to run', () => fs.existsSync(path.join(f.dir, 'started')), 60_000);
  let stopped = false;
  const first = pool.stop({ graceMs: 600_000 }).then(() => (stopped = true));
  // The first stop waits for the running task (its grace is ten minutes): still waiting after the
  // agent was told to drain.
  await waitFor('the agent to be draining', () => pool.stats().agents.every((agent) => agent.state !== 'idle'));
  assert.equal(stopped, false, 'the first stop waits for the task');
  const secondAt = Date.now();
  await pool.stop({ graceMs: 0 });
  await first;
  // Generous: the agent's own hand-back grace is 3 s; the first stop's grace was ten minutes.
  assert.ok(Date.now() - secondAt < 60_000, `the second stop ended the run ${Date.now() - secondAt} ms after it was asked for`);
  assert.equal(f.board.get(task.id)?.status, 'pending', 'the task is handed back');
});

// The pool's guarantees with real processes: crashed, bloated and hung agents lose nothing,
// stop() and cancel leave no process behind, and the pool falls back to sequential mode.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import { findProcessesMarked } from '../../../src/core/process/orphans';
import { processesWithArgs, uniqueSleep } from '../sandbox/helpers';
import { isAlive, poolFixture, waitFor, type PoolFixture, pidOf } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

/** First attempt: leaves a marker and blocks (sleep); later attempts succeed at once. */
const SLOW_FIRST_ATTEMPT = 'if [ -e "first-$SWARM_TASK_ID" ]; then echo second attempt; else touch "first-$SWARM_TASK_ID"; sleep 60; fi';

function startedEvent(f: PoolFixture, taskId: string): { agentId: string } | undefined {
  const event = f.events.find((e) => e.type === 'task-started' && e.taskId === taskId);
  return event?.type === 'task-started' ? event : undefined;
}

test('an agent killed with SIGKILL mid-task: another agent finishes the task, nothing is left running', async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'slow first attempt' });
  const pool = f.makePool({ executor: { type: 'command', command: SLOW_FIRST_ATTEMPT }, maxAgents: 2, untilEmpty: true });
  await pool.start();
  const first = await waitFor('the task to start', () => startedEvent(f, task.id));
  await waitFor('the first attempt to run its command', () => fs.existsSync(path.join(f.dir, `first-${task.id}`)));
  const victim = pidOf(f, first.agentId)!;
  assert.ok(findProcessesMarked('SWARM_AGENT_ID', first.agentId).length >= 1, 'the attempt runs a command');
  process.kill(victim, 'SIGKILL');
  await pool.whenDone();
  const done = f.board.get(task.id)!;
  assert.equal(done.status, 'done');
  assert.equal(done.attempts, 2);
  const finished = f.events.find((e) => e.type === 'task-finished' && e.taskId === task.id);
  assert.ok(finished?.type === 'task-finished' && finished.agentId !== first.agentId, 'a different agent finished it');
  assert.match(f.board.errors(task.id)[0].message, /crashed/);
  assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', first.agentId), [], 'the killed agent left no process behind');
});

test('an agent over its memory limit is stopped and its task retried', async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'needs too much memory once' });
  const hog = `if [ -e "first-$SWARM_TASK_ID" ]; then echo fine; else touch "first-$SWARM_TASK_ID"; exec node -e "const keep = Buffer.alloc(300 * 1024 * 1024, 1); setTimeout(() => keep.length, 60000)"; fi`;
  const pool = f.makePool({
    executor: { type: 'command', command: hog },
    maxAgents: 1,
    untilEmpty: true,
    limits: { agentMemoryBytes: 200 * 1024 * 1024 },
    monitorIntervalMs: 200,
  });
  await pool.start();
  await pool.whenDone();
  const done = f.board.get(task.id)!;
  assert.equal(done.status, 'done');
  assert.equal(done.attempts, 2);
  const errors = f.board.errors(task.id);
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /memory/);
  assert.equal(errors[0].permanent, false, 'a memory kill is a transient failure');
});

test('a hung agent (SIGSTOP) is detected, killed, and its task returns to the board', async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'agent hangs' });
  const pool = f.makePool({ executor: { type: 'command', command: SLOW_FIRST_ATTEMPT }, maxAgents: 2, untilEmpty: true, pingIntervalMs: 200, unresponsiveMs: 2_000 });
  await pool.start();
  const first = await waitFor('the task to start', () => startedEvent(f, task.id));
  const victim = pidOf(f, first.agentId)!;
  process.kill(victim, 'SIGSTOP');
  await pool.whenDone();
  assert.equal(isAlive(victim), false, 'the hung agent was killed');
  assert.equal(f.board.get(task.id)!.status, 'done');
  assert.match(f.board.errors(task.id)[0].message, /stopped answering health checks/);
  assert.ok(f.events.some((e) => e.type === 'warning' && /health checks/.test(e.message)));
});

test('stop() hands running tasks back and leaves no process behind', async () => {
  fixture = poolFixture();
  const f = fixture;
  const tasks = f.board.postMany([{ title: 'a' }, { title: 'b' }, { title: 'c' }]);
  const pool = f.makePool({ executor: { type: 'command', command: 'sleep 60 & sleep 60' }, maxAgents: 2 });
  await pool.start();
  await waitFor('two busy agents', () => pool.stats().busy === 2);
  const agents = pool.stats().agents;
  await waitFor('the commands to start', () => agents.every((agent) => findProcessesMarked('SWARM_AGENT_ID', agent.id).length >= 3));
  const pids = agents.flatMap((agent) => [agent.pid!, ...findProcessesMarked('SWARM_AGENT_ID', agent.id)]);
  const stopStarted = Date.now();
  await pool.stop({ graceMs: 300 });
  assert.ok(Date.now() - stopStarted < 20_000, 'stop does not wait for the 60 s commands');
  assert.deepEqual(pids.filter(isAlive), [], 'no agent or command process survives stop()');
  const counts = f.board.stats().counts;
  assert.equal(counts.running, 0, 'no task is left in running');
  assert.equal(counts.pending, 3, 'every unfinished task is claimable again');
  for (const task of tasks) assert.deepEqual(f.board.errors(task.id), [], 'a graceful stop is not a failure');
  assert.equal(pool.stats().running, false);
  assert.ok(f.events.some((e) => e.type === 'stopped'));
});

test('stop() leaves an agent its grace period to hand its task back: its commands are not signalled meanwhile', async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'slow handover' });
  const pool = f.makePool({ agentScript: path.join(__dirname, 'fixtures', 'slow-handover.ts'), maxAgents: 1, mode: 'pool' });
  await pool.start();
  await waitFor('the task to start', () => pool.stats().busy === 1);
  await pool.stop({ graceMs: 100 });
  const handover = JSON.parse(fs.readFileSync(path.join(f.dir, 'handover.json'), 'utf8')) as { commandRunningAtHandover: boolean };
  assert.equal(handover.commandRunningAtHandover, true, 'the host left the command to its agent during the grace period');
  assert.equal(f.board.get(task.id)?.status, 'pending');
  assert.deepEqual(f.board.errors(task.id), []);
});

test('cancelTask kills the whole tree of the running attempt and cancels the task', async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'to cancel' });
  const pool = f.makePool({ executor: { type: 'command', command: 'sleep 60 & sleep 61 & wait' }, maxAgents: 1 });
  await pool.start();
  const started = await waitFor('the task to start', () => startedEvent(f, task.id));
  await waitFor('the commands to start', () => findProcessesMarked('SWARM_AGENT_ID', started.agentId).length >= 3);
  const pids = [pidOf(f, started.agentId)!, ...findProcessesMarked('SWARM_AGENT_ID', started.agentId)];
  assert.equal(await pool.cancelTask(task.id), true);
  assert.deepEqual(pids.filter(isAlive), [], 'nothing of the attempt keeps running');
  assert.equal(f.board.get(task.id)!.status, 'cancelled');
  assert.equal(await pool.cancelTask(task.id), false, 'an ended task cannot be cancelled again');
});

test('when agents cannot start, tasks run one at a time in the host (sequential mode)', async () => {
  fixture = poolFixture();
  const f = fixture;
  f.board.postMany([{ title: 'one' }, { title: 'two' }, { title: 'three' }]);
  const pool = f.makePool({ agentScript: path.join(f.dir, 'missing-agent.js'), executor: { type: 'command', command: 'echo {id} >> ran.txt' }, untilEmpty: true });
  await pool.start();
  assert.equal(pool.mode, 'sequential');
  const mode = f.events.find((e) => e.type === 'mode');
  assert.ok(mode?.type === 'mode' && mode.mode === 'sequential' && /does not exist/.test(mode.reason ?? ''));
  await pool.whenDone();
  assert.equal(f.board.stats().counts.done, 3);
  assert.equal(fs.readFileSync(path.join(f.dir, 'ran.txt'), 'utf8').trim().split('\n').length, 3);
});

test('agents that exit before they are ready make the pool fall back to sequential mode', async () => {
  fixture = poolFixture();
  const f = fixture;
  const broken = path.join(f.dir, 'broken-agent.js');
  fs.writeFileSync(broken, 'process.exit(7);\n');
  f.board.postMany([{ title: 'one' }, { title: 'two' }]);
  const pool = f.makePool({ agentScript: broken, untilEmpty: true });
  await pool.start();
  await pool.whenDone();
  assert.equal(pool.mode, 'sequential');
  assert.equal(f.board.stats().counts.done, 2);
});

test('an agent that dies right after its claim, before reporting it: the host finds the claim and fails the attempt', async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'claimed by the dying', maxAttempts: 2 });
  const pool = f.makePool({ agentScript: path.join(__dirname, 'fixtures', 'claim-and-die.ts'), maxAgents: 1, mode: 'pool', leaseMs: 600_000 });
  await pool.start();
  await waitFor('the task to be dead-lettered without waiting for its 10-minute lease', () => f.board.get(task.id)?.status === 'dead', 30_000);
  const errors = f.board.errors(task.id);
  assert.equal(errors.length, 2);
  assert.ok(errors.every((error) => /crashed/.test(error.message) && error.kind === 'failed'));
});

test('cancel in sequential mode ends the running command before it resolves', async () => {
  fixture = poolFixture();
  const f = fixture;
  const task = f.board.post({ title: 'cancel me' });
  // Found by its command line: inside the sandbox's PID namespace `$$` is not the host's pid.
  const seconds = uniqueSleep();
  const pool = f.makePool({ mode: 'sequential', executor: { type: 'command', command: `sleep ${seconds}` } });
  await pool.start();
  await waitFor('the command to start', () => processesWithArgs(['sleep', seconds]).length === 1);
  assert.equal(await pool.cancelTask(task.id), true);
  assert.deepEqual(processesWithArgs(['sleep', seconds]), [], 'the command is gone when cancelTask resolves');
  assert.equal(f.board.get(task.id)!.status, 'cancelled');
});

// A graceful stop (Ctrl-C, pool.stop with grace) of agents that share one agent process: every agent
// hands its task back (released, the attempt not counted), every command of every agent ends, the
// process exits, and stop() resolves.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import { findProcessesMarked } from '../../../src/core/process/orphans';
import { isAlive, poolFixture, waitFor, type PoolFixture, pidOf, startedBy } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

const PLAIN = 'touch "started-$SWARM_TASK_ID"; sleep 60';
// A command that ignores SIGTERM: only the SIGKILL after the agent's own grace ends it.
const STUBBORN = `trap '' TERM; touch "started-$SWARM_TASK_ID"; while :; do sleep 0.1; done`;

for (const [graceMs, command, what] of [[0, PLAIN, 'plain'], [300, PLAIN, 'plain'], [0, STUBBORN, 'SIGTERM-ignoring']] as const) {
  test(`stop with grace ${graceMs} ms of two busy agents in one process (${what} commands): both tasks are handed back uncounted, nothing is left running`, { timeout: 120_000 }, async () => {
    fixture = poolFixture();
    const f = fixture;
    const tasks = [1, 2].map((n) => f.board.post({ title: `t${n}` }));
    const pool = f.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2 });
    await pool.start();
    await waitFor('both commands to run', () => tasks.every((task) => fs.existsSync(path.join(f.dir, `started-${task.id}`))));
    const agents = tasks.map((task) => startedBy(f, task.id) as string);
    const pid = pidOf(f, agents[0]) as number;
    assert.equal(pidOf(f, agents[1]), pid, 'both agents in one process');
    await pool.stop({ graceMs });
    assert.equal(isAlive(pid), false, 'the shared process exited');
    for (const agent of agents) assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', agent), [], `agent ${agent} left no process behind`);
    for (const task of tasks) {
      const after = f.board.get(task.id);
      assert.equal(after?.status, 'pending', `task ${task.id} is back on the board`);
      assert.equal(after?.attempts ?? 0, 0, `task ${task.id}: the stopped attempt is not counted`);
      assert.deepEqual(f.board.errors(task.id), [], `task ${task.id}: no failure recorded`);
    }
    const exits = f.events.filter((e) => e.type === 'agent-exited');
    assert.deepEqual(exits.map((e) => e.type === 'agent-exited' && e.agentId).sort(), [...agents].sort(), 'each agent exited once');
    const crashWarnings = f.events.filter((e) => e.type === 'warning' && /unexpectedly|crashed/.test(e.message));
    assert.deepEqual(crashWarnings, [], 'a stop is not reported as a crash');
  });
}

test('one agent worker of a shared process fails unexpectedly: the process goes down once, both tasks are retried and done once, the crash counts once', { timeout: 120_000 }, async () => {
  fixture = poolFixture();
  const f = fixture;
  // First attempts: the `crash` task waits until its sibling runs, then both block; retries end at once.
  const command = [
    'if [ -e "first-$SWARM_TASK_ID" ]; then exit 0; fi',
    'touch "first-$SWARM_TASK_ID"',
    'sleep 60',
  ].join('; ');
  const sibling = f.board.post({ title: 'sibling' });
  const pool = f.makePool({ agentScript: path.join(__dirname, 'fixtures', 'failing-worker-agent.ts'), executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2, untilEmpty: true });
  await pool.start();
  await waitFor('the sibling task to run', () => fs.existsSync(path.join(f.dir, `first-${sibling.id}`)));
  const crashing = f.board.post({ title: 'crash' });
  await pool.whenDone();
  const [crashAgent, siblingAgent] = [startedBy(f, crashing.id) as string, startedBy(f, sibling.id) as string];
  assert.notEqual(crashAgent, siblingAgent);
  const pid = pidOf(f, crashAgent) as number;
  assert.equal(pidOf(f, siblingAgent), pid, 'both agents in one process');
  assert.equal(isAlive(pid), false, 'the process went down');
  for (const task of [crashing, sibling]) {
    assert.equal(f.board.get(task.id)?.status, 'done', `task ${task.id} is done`);
    assert.equal(f.events.filter((e) => e.type === 'task-finished' && e.taskId === task.id).length, 1, `task ${task.id} was done once`);
    assert.equal(f.board.get(task.id)?.attempts, 2, `task ${task.id}: the failed attempt counted once, the retry finished it`);
  }
  for (const agent of [crashAgent, siblingAgent]) assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', agent), [], `agent ${agent} left no process behind`);
  // Which agent failed, and why, is said (not only in the pool's log, under the first agent's name).
  const warnings = f.events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
  assert.ok(
    warnings.some((message) => message.startsWith(`Agent ${crashAgent}: `) && message.includes('injected failure in one agent worker') && message.includes('1 other agent')),
    `a warning names the failed agent, its error and the agent that goes down with it: ${warnings.join(' | ')}`,
  );
  // One process went down: one crash for the restart backoff (250 ms), not one per agent.
  const backoffs = f.events.flatMap((e) => (e.type === 'warning' ? [/a new agent starts in (\d+) ms/.exec(e.message)?.[1]] : [])).filter(Boolean);
  assert.deepEqual(backoffs, ['250'], 'the crash of the process counted once');
});

test('an agent process that cannot be forked counts as one failed start, however many agents were placed in it', { timeout: 120_000 }, async () => {
  fixture = poolFixture();
  const f = fixture;
  // A workspace folder that is gone: every fork fails (spawn ENOENT on its cwd).
  const gone = path.join(f.dir, 'gone');
  fs.mkdirSync(gone);
  f.board.post({ title: 't1' });
  f.board.post({ title: 't2' });
  const pool = f.makePool({ workspaceRoot: gone, maxAgents: 2, agentsPerProcess: 2, mode: 'pool' });
  fs.rmdirSync(gone);
  await pool.start();
  const failures = (): string[] => f.events.flatMap((e) => (e.type === 'warning' && e.message.startsWith('An agent could not start') ? [e.message] : []));
  await waitFor('two failed starts', () => failures().length >= 2);
  await pool.stop({ graceMs: 0 });
  // a1 and a2 were placed in one process (a2 while a1 was starting); the next process is a3's.
  const agentsOf = failures().map((message) => /-(a\d+) could not start/.exec(message)?.[1]);
  assert.deepEqual(agentsOf.slice(0, 2), ['a1', 'a3'], `one warning per process that failed: ${failures().join(' | ')}`);
});

test('cancel in a shared process that does not answer (SIGSTOP): after the 15 s fallback the process is killed; the cancelled task stays cancelled, the sibling task is retried and done once', { timeout: 120_000 }, async () => {
  fixture = poolFixture();
  const f = fixture;
  const command = ['if [ -e "first-$SWARM_TASK_ID" ]; then exit 0; fi', 'touch "first-$SWARM_TASK_ID"', 'sleep 60'].join('; ');
  const cancelled = f.board.post({ title: 'cancelled' });
  const sibling = f.board.post({ title: 'sibling' });
  // Health checks out of the way: the cancel's own fallback is what ends the process.
  const pool = f.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2, untilEmpty: true, unresponsiveMs: 600_000 });
  await pool.start();
  await waitFor('both first attempts to run', () => [cancelled, sibling].every((task) => fs.existsSync(path.join(f.dir, `first-${task.id}`))));
  const [cancelledAgent, siblingAgent] = [startedBy(f, cancelled.id) as string, startedBy(f, sibling.id) as string];
  const pid = pidOf(f, cancelledAgent) as number;
  assert.equal(pidOf(f, siblingAgent), pid, 'both agents in one process');
  process.kill(pid, 'SIGSTOP');
  assert.equal(await pool.cancelTask(cancelled.id), true);
  assert.equal(isAlive(pid), false, 'the process that did not answer was killed');
  assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', cancelledAgent), [], 'nothing of the cancelled agent runs');
  await pool.whenDone();
  assert.equal(f.board.get(cancelled.id)?.status, 'cancelled');
  assert.equal(f.board.get(cancelled.id)?.attempts, 1, 'the cancelled task was not retried');
  assert.equal(f.board.get(sibling.id)?.status, 'done');
  assert.equal(f.events.filter((e) => e.type === 'task-finished' && e.taskId === sibling.id).length, 1, 'the sibling task was done once');
  assert.match(f.board.errors(sibling.id)[0]?.message ?? '', new RegExp(`stopped with agent ${cancelledAgent}`), 'the sibling attempt names why it ended');
  assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', siblingAgent), [], 'nothing of the sibling agent runs');
});

test('churn: agents of shared processes retire when idle and new ones are placed while others retire; every task is done once, no agent is lost or killed', { timeout: 180_000 }, async () => {
  fixture = poolFixture();
  const f = fixture;
  const pool = f.makePool({ executor: { type: 'command', command: 'echo "$SWARM_AGENT_ID" >> "ran-$SWARM_TASK_ID"; sleep 0.$(( $$ % 3 ))' }, sandbox: { mode: 'off' }, maxAgents: 4, agentsPerProcess: 2, idleTimeoutMs: 150 });
  await pool.start();
  const posted: string[] = [];
  for (let wave = 0; wave < 8; wave++) {
    for (let n = 0; n < 1 + (wave % 4); n++) posted.push(f.board.post({ title: `w${wave}-${n}` }).id);
    await waitFor(`wave ${wave} to be done`, () => posted.every((id) => f.board.get(id)?.status === 'done'), 60_000);
    // Let some agents retire (idle 150 ms) before the next wave, and sometimes not.
    if (wave % 2 === 0) await waitFor('an agent to retire', () => f.events.some((e) => e.type === 'agent-exited'), 60_000);
  }
  await pool.stop({ graceMs: 0 });
  for (const id of posted) {
    assert.equal(f.events.filter((e) => e.type === 'task-finished' && e.taskId === id).length, 1, `task ${id} done once`);
    assert.equal(fs.readFileSync(path.join(f.dir, `ran-${id}`), 'utf8').trim().split('\n').length, 1, `task ${id} ran once`);
  }
  const problems = f.events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
  assert.deepEqual(problems, [], 'no agent failed to start, crashed or was killed');
  const exits = f.events.filter((e) => e.type === 'agent-exited');
  assert.ok(exits.every((e) => e.type === 'agent-exited' && e.expected), `every agent ended as expected: ${JSON.stringify(exits)}`);
  const started = new Set(f.events.flatMap((e) => (e.type === 'agent-started' ? [e.pid] : [])));
  const agents = f.events.filter((e) => e.type === 'agent-started').length;
  assert.ok(exits.length > 2 && started.size >= 2, `agents retired and processes were replaced (${exits.length} exits, ${started.size} processes)`);
  assert.ok(agents > started.size, `agents were placed into processes that already hosted one (${agents} agents, ${started.size} processes)`);
});

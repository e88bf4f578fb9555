// Several agents in one agent process (agentsPerProcess), with real processes: agents share a
// process yet each keeps its own id, claims and mark; a kill -9 of a shared process hands back every
// task of every agent in it (none lost, none done twice); a cancel ends one agent's attempt and the
// daemon it left, while its sibling's command runs on and ends done; no agent is put into a process
// that is on its way out.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import { findProcessesMarked } from '../../../src/core/process/orphans';
import { resolveAgentsPerProcess, parseAgentsPerProcess } from '../../../src/core/pool/scaling';
import { processesWithArgs, uniqueSleep } from '../sandbox/helpers';
import { isAlive, poolFixture, waitFor, type PoolFixture, pidOf, startedBy } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

/** First attempt: leaves a marker and blocks (sleep); later attempts succeed at once. */
const SLOW_FIRST_ATTEMPT = 'if [ -e "first-$SWARM_TASK_ID" ]; then echo second attempt; else echo "$SWARM_AGENT_ID" > "first-$SWARM_TASK_ID"; sleep 60; fi';

test('agentsPerProcess: auto puts up to 4 agents in a process, more where agents outnumber 4 per core; numbers and "auto" parse, anything else does not', () => {
  assert.equal(resolveAgentsPerProcess('auto', 8, 2), 4);
  assert.equal(resolveAgentsPerProcess('auto', 2, 2), 2, 'two agents on two cores: one process');
  assert.equal(resolveAgentsPerProcess('auto', 2, 16), 2);
  assert.equal(resolveAgentsPerProcess('auto', 3, 2), 3);
  assert.equal(resolveAgentsPerProcess('auto', 8, 16), 4, 'many cores: processes of 4');
  assert.equal(resolveAgentsPerProcess('auto', 16, 2), 8, 'no more processes than cores');
  assert.equal(resolveAgentsPerProcess('auto', 1, 8), 1);
  assert.equal(resolveAgentsPerProcess(undefined, 8, 2), 1);
  assert.equal(resolveAgentsPerProcess(3, 8, 2), 3);
  assert.equal(parseAgentsPerProcess('auto'), 'auto');
  assert.equal(parseAgentsPerProcess('4'), 4);
  assert.equal(parseAgentsPerProcess(2), 2);
  for (const bad of ['0', '-1', '1.5', 'two', '', 0, 1.5, null]) assert.equal(parseAgentsPerProcess(bad), undefined, `refused: ${String(bad)}`);
});

test('four agents in two processes: each agent has its own id and its commands carry its own mark', async () => {
  fixture = poolFixture();
  const f = fixture;
  const tasks = [1, 2, 3, 4].map((n) => f.board.post({ title: `t${n}` }));
  // Each command waits until all four run, so every agent holds one task at the same time.
  const command = 'echo "$SWARM_AGENT_ID" > "mark-$SWARM_TASK_ID"; while [ "$(ls mark-* | wc -l)" -lt 4 ]; do sleep 0.05; done';
  const pool = f.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 4, agentsPerProcess: 2, untilEmpty: true });
  await pool.start();
  await pool.whenDone();
  const agents = [...new Set(tasks.map((task) => startedBy(f, task.id)))];
  assert.equal(agents.length, 4, 'four agents ran one task each');
  const pids = new Set(agents.map((agent) => pidOf(f, agent as string)));
  assert.equal(pids.size, 2, 'in two agent processes');
  for (const task of tasks) {
    assert.equal(f.board.get(task.id)?.status, 'done');
    assert.equal(fs.readFileSync(path.join(f.dir, `mark-${task.id}`), 'utf8').trim(), startedBy(f, task.id), 'the command carries the mark of the agent that ran it');
  }
});

test('kill -9 of a process hosting two busy agents: every task of both comes back and ends done once, nothing is left running', async () => {
  fixture = poolFixture();
  const f = fixture;
  const tasks = [1, 2, 3, 4].map((n) => f.board.post({ title: `t${n}` }));
  const pool = f.makePool({ executor: { type: 'command', command: SLOW_FIRST_ATTEMPT }, sandbox: { mode: 'off' }, maxAgents: 4, agentsPerProcess: 2, untilEmpty: true });
  await pool.start();
  await waitFor('all four first attempts to run their command', () => tasks.every((task) => fs.existsSync(path.join(f.dir, `first-${task.id}`))));
  const victimAgent = startedBy(f, tasks[0].id) as string;
  const victim = pidOf(f, victimAgent) as number;
  const hosted = tasks.filter((task) => pidOf(f, startedBy(f, task.id) as string) === victim);
  assert.equal(hosted.length, 2, 'the process runs two agents, one task each');
  const victimAgents = hosted.map((task) => startedBy(f, task.id) as string);
  for (const agent of victimAgents) assert.ok(findProcessesMarked('SWARM_AGENT_ID', agent).length >= 1, `agent ${agent} runs a command`);
  process.kill(victim, 'SIGKILL');
  await pool.whenDone();
  for (const task of tasks) {
    const done = f.board.get(task.id);
    assert.equal(done?.status, 'done', `task ${task.id} is done`);
    const finished = f.events.filter((e) => e.type === 'task-finished' && e.taskId === task.id);
    assert.equal(finished.length, 1, `task ${task.id} was done once`);
    if (hosted.includes(task)) {
      assert.equal(done?.attempts, 2, 'the killed attempt counted, the second one finished it');
      assert.match(f.board.errors(task.id)[0].message, /crashed/);
    } else assert.equal(done?.attempts, 1, 'the other process was not touched');
  }
  for (const agent of victimAgents) assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', agent), [], `agent ${agent} left no process behind`);
  assert.equal(isAlive(victim), false);
  // One process died: one crash for the restart backoff (250 ms), not one per agent (250, then 500).
  const backoffs = f.events.flatMap((e) => (e.type === 'warning' ? [/a new agent starts in (\d+) ms/.exec(e.message)?.[1]] : [])).filter(Boolean);
  assert.deepEqual(backoffs, ['250'], 'the crash of the process counted once');
});

test('cancel in a shared process: the daemon of the cancelled attempt dies, the sibling agent runs on and its task ends done', async () => {
  fixture = poolFixture();
  const f = fixture;
  const daemonSleep = uniqueSleep();
  // `daemon`: starts a daemon (new session, out of the command's process group) and blocks;
  // `sibling`: runs until the file `go` exists.
  const command = [
    'touch "started-$SWARM_TITLE"',
    `if [ "$SWARM_TITLE" = daemon ]; then setsid sh -c 'exec sleep ${daemonSleep}' </dev/null >/dev/null 2>&1 & sleep 60; fi`,
    'if [ "$SWARM_TITLE" = sibling ]; then echo $$ > sibling.pid; while [ ! -e go ]; do sleep 0.05; done; fi',
  ].join('; ');
  const cancelled = f.board.post({ title: 'daemon' });
  const sibling = f.board.post({ title: 'sibling' });
  const pool = f.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2 });
  await pool.start();
  await waitFor('both commands and the daemon to run', () => fs.existsSync(path.join(f.dir, 'sibling.pid')) && processesWithArgs(['sleep', daemonSleep]).length === 1);
  const [cancelledAgent, siblingAgent] = [startedBy(f, cancelled.id) as string, startedBy(f, sibling.id) as string];
  assert.notEqual(cancelledAgent, siblingAgent);
  assert.equal(pidOf(f, cancelledAgent), pidOf(f, siblingAgent), 'both agents live in one process');
  const daemon = processesWithArgs(['sleep', daemonSleep]);
  // The sibling's shell (its loop's short sleeps come and go on their own).
  const siblingShell = Number(fs.readFileSync(path.join(f.dir, 'sibling.pid'), 'utf8'));
  assert.ok(findProcessesMarked('SWARM_AGENT_ID', siblingAgent).includes(siblingShell), "the sibling's command carries the sibling's mark");

  assert.equal(await pool.cancelTask(cancelled.id), true);
  assert.deepEqual(daemon.filter(isAlive), [], 'the daemon of the cancelled attempt is gone when cancelTask resolves');
  assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', cancelledAgent), [], 'nothing of the cancelled agent runs');
  assert.equal(f.board.get(cancelled.id)?.status, 'cancelled');
  assert.ok(isAlive(siblingShell), "the sibling's command runs on");
  assert.ok(isAlive(pidOf(f, siblingAgent) as number), 'the shared process runs on');

  fs.writeFileSync(path.join(f.dir, 'go'), '');
  await waitFor('the sibling task to be done', () => f.board.get(sibling.id)?.status === 'done');
  assert.deepEqual(f.board.errors(sibling.id), [], 'the sibling attempt did not fail');
  assert.equal(startedBy(f, sibling.id), siblingAgent);
});

test('an agent is not put into a process whose agents all drain: it gets a process of its own', async () => {
  fixture = poolFixture();
  const f = fixture;
  const first = f.board.post({ title: 'first' });
  const command = 'touch "started-$SWARM_TITLE"; if [ "$SWARM_TITLE" = first ]; then while [ ! -e go ]; do sleep 0.05; done; fi';
  const pool = f.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2 });
  await pool.start();
  await waitFor('the first task to run', () => fs.existsSync(path.join(f.dir, 'started-first')));
  const firstAgent = startedBy(f, first.id) as string;
  const firstPid = pidOf(f, firstAgent) as number;
  // Its one agent drains (as an idle one retires, or a cancel in a shared process), so the process
  // exits once that agent ends; an agent put into it meanwhile could go down with it.
  const internals = pool as unknown as { drain(handle: unknown): void; agents: Map<string, unknown> };
  internals.drain(internals.agents.get(firstAgent));
  const second = f.board.post({ title: 'second' });
  await waitFor('the second task to be done', () => f.board.get(second.id)?.status === 'done');
  const secondAgent = startedBy(f, second.id) as string;
  assert.notEqual(secondAgent, firstAgent, 'the draining agent claims nothing more');
  assert.notEqual(pidOf(f, secondAgent), firstPid, 'the new agent has a process of its own');
  fs.writeFileSync(path.join(f.dir, 'go'), '');
  await waitFor('the first task to be done', () => f.board.get(first.id)?.status === 'done');
  await waitFor('the drained process to exit', () => !isAlive(firstPid));
  const exited = await waitFor('the drained agent to exit', () => f.events.find((e) => e.type === 'agent-exited' && e.agentId === firstAgent));
  assert.ok(exited.type === 'agent-exited' && exited.expected && exited.code === 0, 'the drained agent ended cleanly');
});

test('a shared process over agentsPerProcess × the per-agent memory limit is killed with both agents; both tasks are retried and done', async () => {
  fixture = poolFixture();
  const f = fixture;
  // The hog's first attempt holds 300 MB: over 2 × 100 MB. The other task runs alongside until then.
  const command = [
    'if [ -e "first-$SWARM_TASK_ID" ]; then exit 0; fi',
    'touch "first-$SWARM_TASK_ID"',
    `if [ "$SWARM_TITLE" = hog ]; then while [ ! -e "first-$(cat sibling.id)" ]; do sleep 0.05; done; exec node -e "const keep = Buffer.alloc(300 * 1024 * 1024, 1); setTimeout(() => keep.length, 60000)"; fi`,
    'sleep 60',
  ].join('; ');
  const hog = f.board.post({ title: 'hog' });
  const sibling = f.board.post({ title: 'sibling' });
  fs.writeFileSync(path.join(f.dir, 'sibling.id'), sibling.id);
  const pool = f.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2, untilEmpty: true, limits: { agentMemoryBytes: 100 * 1024 * 1024 }, monitorIntervalMs: 200 });
  await pool.start();
  await pool.whenDone();
  assert.equal(pidOf(f, startedBy(f, hog.id) as string), pidOf(f, startedBy(f, sibling.id) as string), 'both ran in one process');
  for (const task of [hog, sibling]) {
    assert.equal(f.board.get(task.id)?.status, 'done');
    assert.equal(f.board.get(task.id)?.attempts, 2, `task ${task.id}: the killed attempt counted, the retry finished it`);
    assert.equal(f.board.errors(task.id)[0]?.permanent, false, 'a transient failure');
  }
  assert.match(f.board.errors(hog.id)[0].message, /memory, over its 200 MB limit \(2 agents × the per-agent limit\)/);
  assert.match(f.board.errors(sibling.id)[0].message, /memory/);
});

test('a process that may host two agents but hosts one is held to one per-agent memory limit, not two', async () => {
  fixture = poolFixture();
  const f = fixture;
  // The first attempt holds about 130 MB more (with the agent, about 200-250 MB): over 1 × 150 MB,
  // under the 2 × 150 MB a process of two agents may use. Held 10 s, then the attempt would succeed.
  const command = [
    'if [ -e "first-$SWARM_TASK_ID" ]; then exit 0; fi',
    'touch "first-$SWARM_TASK_ID"',
    'exec node -e "const keep = Buffer.alloc(130 * 1024 * 1024, 1); setTimeout(() => keep.length, 10000)"',
  ].join('; ');
  const task = f.board.post({ title: 'hog' });
  const pool = f.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2, untilEmpty: true, limits: { agentMemoryBytes: 150 * 1024 * 1024 }, monitorIntervalMs: 200 });
  await pool.start();
  await pool.whenDone();
  assert.equal(f.events.filter((event) => event.type === 'agent-started').length >= 1, true);
  assert.equal(f.board.get(task.id)?.status, 'done');
  assert.equal(f.board.get(task.id)?.attempts, 2, 'the attempt over the limit of one agent was stopped and retried');
  assert.match(f.board.errors(task.id)[0].message, /The agent process of agent \S+ used .* of memory, over its 150 MB limit;/);
});

test('a shared process that stops answering health checks is killed with both agents; both tasks are retried and done', async () => {
  fixture = poolFixture();
  const f = fixture;
  const tasks = [1, 2].map((n) => f.board.post({ title: `t${n}` }));
  const pool = f.makePool({ executor: { type: 'command', command: SLOW_FIRST_ATTEMPT }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2, untilEmpty: true, pingIntervalMs: 200, unresponsiveMs: 2_000 });
  await pool.start();
  await waitFor('both first attempts to run their command', () => tasks.every((task) => fs.existsSync(path.join(f.dir, `first-${task.id}`))));
  const victim = pidOf(f, startedBy(f, tasks[0].id) as string) as number;
  assert.equal(pidOf(f, startedBy(f, tasks[1].id) as string), victim, 'both agents in one process');
  process.kill(victim, 'SIGSTOP');
  await pool.whenDone();
  assert.equal(isAlive(victim), false, 'the hung process was killed');
  for (const task of tasks) {
    assert.equal(f.board.get(task.id)?.status, 'done');
    assert.equal(f.board.get(task.id)?.attempts, 2);
    assert.match(f.board.errors(task.id)[0].message, /health checks/);
  }
});

test("the agents of a shared process each show an equal share of its memory, so their sum counts the process once", async () => {
  fixture = poolFixture();
  const f = fixture;
  [1, 2].forEach((n) => f.board.post({ title: `t${n}` }));
  // Both commands hold until the test writes `release`, so both agents are busy while it samples.
  const command = 'touch "busy-$SWARM_TASK_ID"; while [ ! -e release ]; do sleep 0.05; done';
  const pool = f.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 2, agentsPerProcess: 2, untilEmpty: true, monitorIntervalMs: 200 });
  await pool.start();
  try {
    const sampled = await waitFor('both agents busy and sampled', () => {
      const agents = pool.stats().agents.filter((agent) => agent.state === 'busy' && (agent.rssBytes ?? 0) > 0);
      return agents.length === 2 ? agents : undefined;
    }, 60_000);
    const [first, second] = sampled;
    assert.equal(first.pid, second.pid, 'both agents live in one process');
    const processRss = rssOf(first.pid as number);
    const sum = (first.rssBytes ?? 0) + (second.rssBytes ?? 0);
    // The sample covers the process's tree (two small shells besides it): near the process's own
    // RSS, not twice it.
    assert.ok(sum < processRss * 1.5, `the agents' memory sums to ${sum} bytes for a process of ${processRss} bytes`);
    assert.equal(first.rssBytes, second.rssBytes, 'an equal share each');
  } finally {
    fs.writeFileSync(path.join(f.dir, 'release'), '');
    await pool.whenDone();
  }
});

/** A process's resident memory in bytes, from /proc/<pid>/status. */
function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, `VmRSS of ${pid}`);
  return Number(match[1]) * 1024;
}

// Agents started on demand boot while the pool's checks run (issue 15, session 9): the processes
// are forked first, but their agents get no init, and so claim nothing, until every check passed.
// A check that fails ends them before start() rejects; a stop during the checks ends them too.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, test } from 'node:test';
import { hostIdentity, HOST_MARK, findProcessesMarked } from '../../../src/core/process/orphans';
import { poolFixture, waitFor, type PoolFixture } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

const announcedAgent = path.join(__dirname, 'fixtures', 'announced-agent.ts');

/** A pool of 4 agents in processes of 2 over 4 posted tasks, whose agent processes announce they booted in `<dir>/booted`. */
function scene(): { f: PoolFixture; booted: string; tasks: string[] } {
  fixture = poolFixture();
  const f = fixture;
  const booted = path.join(f.dir, 'booted');
  fs.mkdirSync(booted);
  const tasks = [1, 2, 3, 4].map((n) => f.board.post({ title: `t${n}` }).id);
  return { f, booted, tasks };
}

/** Processes this test process started as an agent host (agents, their commands): they carry its mark. */
function hostProcesses(): number[] {
  return findProcessesMarked(HOST_MARK, hostIdentity());
}

function assertNothingClaimed(f: PoolFixture, tasks: string[]): void {
  for (const id of tasks) {
    const task = f.board.get(id);
    assert.equal(task?.status, 'pending', `task ${id} is still pending`);
    assert.equal(task?.attempts, 0, `task ${id} was never claimed`);
  }
  assert.deepEqual(f.events.filter((event) => event.type === 'task-started' || event.type === 'agent-started'), [], 'no agent started, no task started');
}

test('the agent processes boot while the checks run, and claim nothing until the checks passed', { timeout: 120_000 }, async () => {
  const { f, booted, tasks } = scene();
  const pool = f.makePool({ agentScript: announcedAgent, env: { SWARM_TEST_ANNOUNCE: booted }, executor: { type: 'command', command: 'true' }, sandbox: { mode: 'off' }, maxAgents: 4, agentsPerProcess: 2, untilEmpty: true });
  let checked = false;
  await pool.start({
    checks: async () => {
      // Both processes were forked before the checks, and have booted: they would have handled an init by now.
      await waitFor('both agent processes to boot', () => fs.readdirSync(booted).length === 2, 60_000);
      assertNothingClaimed(f, tasks);
      checked = true;
    },
  });
  assert.equal(checked, true);
  await pool.whenDone();
  for (const id of tasks) assert.equal(f.board.get(id)?.status, 'done', `task ${id} is done once the checks passed`);
  assert.equal(new Set(f.events.flatMap((event) => (event.type === 'agent-started' ? [event.pid] : []))).size, 2, 'the processes forked ahead are the ones that ran the tasks');
});

test('a check that fails while the agent processes boot: start() rejects with it, nothing is claimed, no agent process is left', { timeout: 120_000 }, async () => {
  const { f, booted, tasks } = scene();
  const pool = f.makePool({ agentScript: announcedAgent, env: { SWARM_TEST_ANNOUNCE: booted }, sandbox: { mode: 'off' }, maxAgents: 4, agentsPerProcess: 2, untilEmpty: true });
  const refused = new Error('the template cannot work');
  await assert.rejects(
    pool.start({
      checks: async () => {
        await waitFor('both agent processes to boot', () => fs.readdirSync(booted).length === 2, 60_000);
        throw refused;
      },
    }),
    (error) => error === refused,
  );
  assert.deepEqual(hostProcesses(), [], 'no agent process is left once start() rejected');
  assertNothingClaimed(f, tasks);
});

test('a stop during the checks: start() returns, the agent processes forked ahead end, nothing is claimed', { timeout: 120_000 }, async () => {
  const { f, booted, tasks } = scene();
  const pool = f.makePool({ agentScript: announcedAgent, env: { SWARM_TEST_ANNOUNCE: booted }, sandbox: { mode: 'off' }, maxAgents: 4, agentsPerProcess: 2 });
  let stopping: Promise<void> | undefined;
  await pool.start({
    checks: async () => {
      await waitFor('both agent processes to boot', () => fs.readdirSync(booted).length === 2, 60_000);
      stopping = pool.stop({ graceMs: 30_000 });
    },
  });
  await stopping;
  assert.deepEqual(hostProcesses(), [], 'no agent process is left once the pool stopped');
  assertNothingClaimed(f, tasks);
});

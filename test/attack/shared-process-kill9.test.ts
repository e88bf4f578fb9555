// kill -9 of an agent process that hosts several agents (agentsPerProcess 2), at each step of their
// work: as soon as it reported its first agent ready, at its first claim, while commands run, and
// the moment one of its agents finished a task while the other still works. Every time, every task
// of every agent in it comes back and ends done exactly once, nothing is dead, no attempt ran its
// command twice, and nothing any of its agents started is left running.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, test } from 'node:test';
import type { PoolEvent } from '../../src/core/pool';
import { findProcessesMarked } from '../../src/core/process/orphans';
import { isAlive, poolFixture, waitFor, type PoolFixture } from '../unit/pool/helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

const TASKS = 4;
/** Each attempt appends its agent to ran-<task>, then works a little. */
const COMMAND = 'echo "$SWARM_AGENT_ID" >> "ran-$SWARM_TASK_ID"; sleep 0.4';

/** Longer than the test may take: a task comes back only if the host hands it back. */
const LEASE_MS = 600_000;
/** Generous for four 0.4 s tasks and a restart on a loaded machine, far below the lease. */
const DONE_WITHIN_MS = 60_000;

type Step = 'ready' | 'claimed' | 'running' | 'one-finished';

/** Runs 4 tasks on 4 agents in processes of 2, kills one process with SIGKILL at `step`, checks the invariants. */
async function killAt(step: Step): Promise<void> {
  fixture = poolFixture();
  const f = fixture;
  const tasks = Array.from({ length: TASKS }, (_, index) => f.board.post({ title: `t${index}` }));
  const pool = f.makePool({ executor: { type: 'command', command: COMMAND }, sandbox: { mode: 'off' }, maxAgents: TASKS, agentsPerProcess: 2, untilEmpty: true, leaseMs: LEASE_MS });
  const pids = new Map<string, number>();
  let victim: number | undefined;
  const kill = (agentId: string): void => {
    if (victim !== undefined) return;
    victim = pids.get(agentId);
    if (victim !== undefined) process.kill(victim, 'SIGKILL');
  };
  pool.onEvent((event: PoolEvent) => {
    if (event.type === 'agent-started') {
      if (event.pid !== undefined) pids.set(event.agentId, event.pid);
      if (step === 'ready') kill(event.agentId);
    }
    if (event.type === 'task-started' && step === 'claimed') kill(event.agentId);
    if (event.type === 'task-finished' && step === 'one-finished') kill(event.agentId);
  });
  await pool.start();
  if (step === 'running') {
    await waitFor('every first attempt to run its command', () => tasks.every((task) => fs.existsSync(path.join(f.dir, `ran-${task.id}`))));
    const first = fs.readFileSync(path.join(f.dir, `ran-${tasks[0].id}`), 'utf8').trim();
    kill(first);
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${step}: the tasks were not all done within ${DONE_WITHIN_MS / 1000} s: a task of the killed process was not handed back (its lease runs ${LEASE_MS / 1000} s)`)), DONE_WITHIN_MS)));
  await Promise.race([pool.whenDone(), late]).finally(() => clearTimeout(timer));
  assert.ok(victim !== undefined, `a process was killed at step ${step}`);
  const victimAgents = [...pids].filter(([, pid]) => pid === victim).map(([agentId]) => agentId);
  assert.ok(victimAgents.length >= 1);
  for (const task of tasks) {
    const done = f.board.get(task.id);
    assert.equal(done?.status, 'done', `${step}: task ${task.id} is done`);
    const finished = f.events.filter((e) => e.type === 'task-finished' && e.taskId === task.id);
    assert.equal(finished.length, 1, `${step}: task ${task.id} was done once`);
    const runs = fs.readFileSync(path.join(f.dir, `ran-${task.id}`), 'utf8').trim().split('\n');
    // An attempt killed between its claim and its command counts without a run; none runs twice.
    assert.ok(runs.length <= (done?.attempts ?? 0), `${step}: at most one command run per attempt of ${task.id} (${runs.length} runs, ${done?.attempts} attempts)`);
  }
  assert.equal(f.board.stats().counts.dead, 0, `${step}: nothing dead`);
  for (const agent of victimAgents) assert.deepEqual(findProcessesMarked('SWARM_AGENT_ID', agent), [], `${step}: agent ${agent} left nothing running`);
  await waitFor('the killed process to be reaped', () => !isAlive(victim as number));
}

for (const step of ['ready', 'claimed', 'running', 'one-finished'] as const) {
  test(`kill -9 of a process hosting two agents at step "${step}": every task comes back and is done once`, { timeout: 120_000 }, () => killAt(step));
}

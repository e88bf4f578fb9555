// What agents leave behind, found in one pass over /proc for all of them (issue 15, session 9): a
// stop or a process that hosted several agents used to read every process's environment once per
// agent. The pass still finds each agent's daemons (by SWARM_AGENT_ID, however they got away), and
// only theirs; sweeps asked for together share one pass, and a sweep asked for later gets its own.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { afterEach, test } from 'node:test';
import { findAgentsProcesses, findProcessesMarked, killAgentsLeftovers, LeftoverSweeper } from '../../../src/core/process/orphans';
import { isAlive, waitFor } from '../pool/helpers';
import { processesWithArgs, uniqueSleep } from '../sandbox/helpers';

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

/** A daemon (setsid, out of any group or tree of ours) whose environment marks it as agent `agentId`'s. */
async function daemonOf(agentId: string): Promise<number> {
  const seconds = uniqueSleep();
  execFileSync('/bin/sh', ['-c', `(setsid sleep ${seconds} &); true`], { env: { ...process.env, SWARM_AGENT_ID: agentId }, stdio: 'ignore', timeout: 30_000 });
  const [pid] = await waitFor(`the daemon of ${agentId}`, () => {
    const found = processesWithArgs(['sleep', seconds]);
    return found.length === 1 && found;
  });
  started.push(pid);
  return pid;
}

test('one pass finds the daemons of several agents by their marks, each under its own agent, and no one else', async () => {
  const tag = uniqueSleep();
  const agents = ['a1', 'a2', 'a3'].map((name) => `h${tag}-${name}`);
  const daemons = await Promise.all(agents.map(daemonOf));
  const bystander = await daemonOf(`h${tag}-other`);
  // An id that is a prefix of another must not match it.
  const found = findAgentsProcesses([...agents, `h${tag}-a`]);
  agents.forEach((agent, index) => assert.deepEqual(found.get(agent), [daemons[index]], `agent ${agent}: its daemon`));
  assert.deepEqual(found.get(`h${tag}-a`), [], 'a prefix of an id finds nothing');
  for (const agent of agents) assert.deepEqual(found.get(agent), findProcessesMarked('SWARM_AGENT_ID', agent), `agent ${agent}: the same as a search for that agent alone`);

  const ended = await killAgentsLeftovers(agents);
  agents.forEach((agent, index) => assert.deepEqual(ended.get(agent), [daemons[index]], `agent ${agent}: its daemon ended`));
  await waitFor('the daemons to be gone', () => daemons.every((pid) => !isAlive(pid)));
  assert.equal(isAlive(bystander), true, "another agent's daemon runs on");
});

test('sweeps asked for in the same turn share one pass; a sweep asked for once that pass started gets a new one', async () => {
  const passes: string[][] = [];
  const sweeper = new LeftoverSweeper((agentIds) => {
    passes.push(agentIds);
    return Promise.resolve(new Map(agentIds.map((id) => [id, [passes.length * 100 + agentIds.indexOf(id)]])));
  });
  const together = await Promise.all(['a1', 'a2', 'a3'].map((id) => sweeper.sweep(id)));
  assert.deepEqual(passes, [['a1', 'a2', 'a3']], 'one pass for the three');
  assert.deepEqual(together, [[100], [101], [102]], 'each agent gets its own pids');
  assert.deepEqual(await sweeper.sweep('a4'), [200]);
  assert.deepEqual(passes, [['a1', 'a2', 'a3'], ['a4']], 'a later sweep gets a pass of its own, made after it was asked for');
});

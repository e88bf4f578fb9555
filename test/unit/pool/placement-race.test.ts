// Agents caught between their start and the end of the process they were placed in: a stop that
// signals agent processes still booting, and an agent placed into a shared process whose other agent
// ends at that very moment. Each is made to happen every time (a slow boot, a held reply), not left
// to the machine's load.
import assert from 'node:assert/strict';
import { fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { POOL_CHANNEL, type AgentInit } from '../../../src/core/pool/protocol';
import { agentBundle, plainAgentInit, poolFixture, waitFor, type PoolFixture } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

/** An agent script that boots slowly: the real agent loads only after `ms` (no SIGTERM handler before). */
function slowBootingAgent(f: PoolFixture, ms: number): string {
  const script = path.join(f.dir, 'slow-agent.js');
  fs.writeFileSync(script, `setTimeout(() => require(${JSON.stringify(agentBundle())}), ${ms});\n`);
  return script;
}

for (const agentsPerProcess of [1, 2]) {
  test(`a stop while agents still boot (${agentsPerProcess} per process) ends them as stopped, not as agents that could not start`, { timeout: 60_000 }, async () => {
    fixture = poolFixture();
    const f = fixture;
    const tasks = [1, 2].map((n) => f.board.post({ title: `t${n}` }).id);
    const pool = f.makePool({ agentScript: slowBootingAgent(f, 30_000), maxAgents: 2, agentsPerProcess });
    await pool.start();
    // Both agents have their process (the stop signals it) and neither reported ready.
    await waitFor('both agent processes to be forked', () => pool.stats().agents.filter((agent) => agent.pid !== undefined).length === 2);
    assert.ok(pool.stats().agents.every((agent) => agent.state === 'starting'), 'no agent is ready yet');
    await pool.stop({ graceMs: 0 });
    const warnings = f.events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    assert.deepEqual(warnings, [], 'no agent is said to have failed to start');
    const exits = f.events.filter((e) => e.type === 'agent-exited');
    assert.equal(exits.length, 2, 'both agents exited');
    assert.ok(exits.every((e) => e.type === 'agent-exited' && e.expected && e.signal === 'SIGTERM'), `each ended by the stop's signal, as expected: ${JSON.stringify(exits)}`);
    for (const id of tasks) assert.equal(f.board.get(id)?.status, 'pending', `task ${id} is still waiting`);
  });
}

/** An agent process driven by hand, as the host drives it: inits, drains, and what it reports. */
function handDrivenProcess() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-placement-'));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false });
  const init = (agentId: string, slot: string): AgentInit => plainAgentInit(agentId, slot, board.root, dir, { exitWhenTold: true });
  const child = fork(agentBundle(), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const messages: Array<{ type?: string; agent?: string; code?: number }> = [];
  child.on('message', (message) => messages.push(message as { type?: string }));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const said = (type: string, agent: string) => (): boolean => {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the agent process exited (${child.exitCode ?? child.signalCode}): ${JSON.stringify(messages)}`);
    return messages.some((message) => message.type === type && message.agent === agent);
  };
  const send = (message: object): void => void child.send({ channel: POOL_CHANNEL, ...message });
  const cleanup = (): void => {
    child.kill('SIGKILL');
    board.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { board, init, child, messages, exit, said, send, cleanup };
}

test('an agent placed into a process just as its last agent ends starts there: the process exits only when the host says so', { timeout: 60_000 }, async () => {
  const { board, init, child, exit, said, send, cleanup } = handDrivenProcess();
  try {
    send({ type: 'init', init: init('a1', 's1') });
    await waitFor('a1 to be ready', said('ready', 'a1'));
    send({ agent: 'a1', type: 'drain' });
    await waitFor('a1 to end', said('ended', 'a1'));
    // The host placed a2 here while a1 was still live; its init arrives after a1 ended.
    send({ type: 'init', init: init('a2', 's2') });
    await waitFor('a2 to be ready', said('ready', 'a2'));
    const task = board.post({ title: 'for a2' });
    await waitFor('a2 to run a task', () => said('ready', 'a2')() && board.get(task.id)?.status === 'done');
    send({ agent: 'a2', type: 'drain' });
    await waitFor('a2 to end', said('ended', 'a2'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(child.exitCode, null, 'the process waits for the host once its last agent ended');
    send({ type: 'exit', code: 0 });
    assert.equal(await exit, 0, 'and exits when told, with the code it was given');
  } finally {
    cleanup();
  }
});

test('a process whose last live agent was drained as the final one exits on its own once it ended (no round trip to the host)', { timeout: 60_000 }, async () => {
  const { init, messages, exit, said, send, cleanup } = handDrivenProcess();
  try {
    send({ type: 'init', init: init('a1', 's1') });
    await waitFor('a1 to be ready', said('ready', 'a1'));
    send({ agent: 'a1', type: 'drain', final: true });
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exit, new Promise((resolve) => (timer = setTimeout(() => resolve('still running'), 10_000)))]);
    clearTimeout(timer);
    assert.equal(code, 0, 'it exited with its agent\'s code, untold');
    assert.ok(messages.some((message) => message.type === 'ended' && message.agent === 'a1'), 'a1 reported its end first');
  } finally {
    cleanup();
  }
});

for (const agentsPerProcess of [1, 2]) {
  test(`an agent killed before its init (over memory while the checks run, ${agentsPerProcess} per process) has its process ended and never claims`, { timeout: 60_000 }, async () => {
    fixture = poolFixture();
    const f = fixture;
    const task = f.board.post({ title: 'not for a killed agent' });
    // Any agent process is over 1 MB: the first sample during the checks kills the agent forked ahead.
    const pool = f.makePool({ maxAgents: 1, agentsPerProcess, limits: { agentMemoryBytes: 1024 * 1024 }, monitorIntervalMs: 50, mode: 'pool' });
    const overMemory = (): boolean => f.events.some((e) => e.type === 'warning' && /of memory, over its/.test(e.message));
    // The checks hold the agent's init until its kill was decided.
    await pool.start({
      checks: async () => {
        await waitFor('the memory kill', overMemory, 20_000);
      },
    });
    const killed = f.events.find((e) => e.type === 'warning' && /of memory, over its/.test(e.message));
    const agent = /Agent (\S+) used|agent process of agent (\S+) used/.exec(killed?.type === 'warning' ? killed.message : '');
    const agentId = agent?.[1] ?? agent?.[2];
    assert.ok(agentId, `the kill names the agent: ${JSON.stringify(killed)}`);
    await waitFor(`agent ${agentId} to exit`, () => f.events.some((e) => e.type === 'agent-exited' && e.agentId === agentId), 20_000);
    assert.equal(f.events.some((e) => e.type === 'task-started' && e.agentId === agentId), false, 'the killed agent claimed nothing');
    assert.notEqual(f.board.get(task.id)?.claimedBy, agentId, 'the task is not held by it');
  });
}

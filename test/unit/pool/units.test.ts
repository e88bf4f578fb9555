// The small units split out of AgentPool: the scaling decisions and the usage-limit pause, each
// checked on its own (the pool's behaviour with them is covered by pool.test.ts and limits.test.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { removeDeadAgentScratch } from '../../../src/core/pool/worker';
import { agentProcessHandle, freeSlot } from '../../../src/core/pool/agent-handle';
import { DispatchPause } from '../../../src/core/pool/pause';
import { agentsToRetire, wantedAgents } from '../../../src/core/pool/scaling';

function idleAgent(id: string, slot: string, idleSince: number | undefined): ReturnType<typeof agentProcessHandle> {
  const handle = agentProcessHandle(id, slot);
  handle.info.state = 'idle';
  handle.idleSince = idleSince;
  return handle;
}

test('scaling: enough agents for running plus claimable tasks, within min and max', () => {
  assert.equal(wantedAgents(0, 0, { minAgents: 0, maxAgents: 4 }), 0);
  assert.equal(wantedAgents(0, 0, { minAgents: 2, maxAgents: 4 }), 2, 'minAgents stay while idle');
  assert.equal(wantedAgents(1, 2, { minAgents: 0, maxAgents: 4 }), 3);
  assert.equal(wantedAgents(3, 10, { minAgents: 0, maxAgents: 4 }), 4, 'never above maxAgents');
});

test('scaling: idle agents past the timeout retire, first ones first, never below minAgents', () => {
  const now = 100_000;
  const old1 = idleAgent('a1', 's1', now - 70_000);
  const young = idleAgent('a2', 's2', now - 1_000);
  const old2 = idleAgent('a3', 's3', now - 61_000);
  const busy = agentProcessHandle('a4', 's4');
  busy.info.state = 'busy';
  const live = [old1, young, old2, busy];
  assert.deepEqual(agentsToRetire(live, { minAgents: 0, idleTimeoutMs: 60_000 }, now).map((agent) => agent.info.id), ['a1', 'a3']);
  assert.deepEqual(agentsToRetire(live, { minAgents: 3, idleTimeoutMs: 60_000 }, now).map((agent) => agent.info.id), ['a1'], 'four live, three kept');
  assert.deepEqual(agentsToRetire(live, { minAgents: 4, idleTimeoutMs: 60_000 }, now), []);
  assert.deepEqual(agentsToRetire([idleAgent('a5', 's5', undefined)], { minAgents: 0, idleTimeoutMs: 0 }, now), [], 'an agent not yet idle-stamped stays');
});

test('agent handles: a new agent takes the lowest free slot', () => {
  assert.equal(freeSlot([]), 's1');
  assert.equal(freeSlot([agentProcessHandle('a1', 's1'), agentProcessHandle('a3', 's3')]), 's2');
});

test('the usage-limit pause holds until its reset time, only a later one extends it, then it resumes by itself', async () => {
  let resumed!: () => void;
  const resumedAt = new Promise<number>((resolve) => (resumed = () => resolve(Date.now())));
  const pause = new DispatchPause(() => resumed());
  try {
    assert.equal(pause.holds(Date.now()), false);
    const until = Date.now() + 300;
    assert.equal(pause.extend(until, 'usage limit'), true);
    assert.equal(pause.extend(until - 100, 'an earlier reset'), false, 'an earlier reset does not shorten the pause');
    assert.equal(pause.pausedUntil, until);
    assert.equal(pause.reason, 'usage limit');
    assert.equal(pause.holds(until - 1), true);
    assert.equal(pause.holds(until), false);
    assert.ok((await resumedAt) >= until - 5, 'not resumed before its reset time');
    assert.equal(pause.pausedUntil, undefined);
    assert.equal(pause.reason, undefined);
  } finally {
    pause.dispose();
  }
});

test('scratch folders of agents that died are removed; those of live processes and other folders stay', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-scratch-test-'));
  try {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    for (const name of [`swarm-agent-${dead}-abc123`, `swarm-agent-${process.pid}-def456`, 'swarm-agent-bundle-xyz', 'other']) fs.mkdirSync(path.join(tmp, name, 'tmx2task'), { recursive: true });
    assert.equal(removeDeadAgentScratch(tmp), 1);
    assert.deepEqual(fs.readdirSync(tmp).sort(), ['other', 'swarm-agent-bundle-xyz', `swarm-agent-${process.pid}-def456`].sort());
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

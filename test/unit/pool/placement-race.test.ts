// Agents caught between their start and the end of the process they were placed in: a stop that
// signals agent processes still booting, and an agent placed into a shared process whose other agent
// ends at that very moment. Each is made to happen every time (a slow boot, a held reply), not left
// to the machine's load.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import { agentBundle, poolFixture, waitFor, type PoolFixture } from './helpers';

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

// The agent that runs a batch (several tasks of a map in one command) shows every task of it as
// current: in the pool's stats, the Pool view's rows, `swarm agents`, and the dashboard's timeline,
// not only the task that started last. Real agent processes (run `npm run build` first).
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, before, test } from 'node:test';
import { currentTasksOf } from '../../../src/core/pool/types';
import { poolRows } from '../../../src/extension/logic/poolView';
import { laneTracks } from '../../../src/webview/dashboard/charts';
import type { AttemptInterval } from '../../../src/core/metrics/types';
import { poolFixture, waitFor, type PoolFixture } from './helpers';

const dist = path.join(__dirname, '..', '..', '..', 'dist');
let fixture: PoolFixture | undefined;

before(() => {
  assert.ok(fs.existsSync(path.join(dist, 'agent.js')), 'dist/agent.js is built (npm run build)');
});
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

test('an agent running a batch of four has all four as its current tasks, in the stats and the Pool view; none once it idles', async () => {
  fixture = poolFixture();
  const f = fixture;
  const hold = path.join(f.dir, 'hold');
  fs.writeFileSync(hold, '');
  const names = ['a', 'b', 'c', 'd'];
  for (const name of names) fs.writeFileSync(path.join(f.dir, `${name}.txt`), `${name}\n`);
  const ids = f.board.map({ title: 'lint' }, names.map((name) => ({ title: `fix ${name}`, files: [`${name}.txt`] }))).children.map((task) => task.id);
  // Batchable (it reaches the tasks only through {files}); it waits while `hold` exists.
  const command = 'while [ -f hold ]; do sleep 0.05; done; for f in {files}; do echo done >> "$f"; done';
  const pool = f.makePool({ executor: { type: 'command', command }, maxAgents: 1 });
  await pool.start();

  const agent = await waitFor('the agent to report the four tasks of its batch', () => pool.stats().agents.find((candidate) => currentTasksOf(candidate).length === 4), 60_000);
  assert.deepEqual(currentTasksOf(agent).map((task) => task.id).sort(), [...ids].sort());
  assert.ok(ids.includes(agent.currentTask?.id as string), 'currentTask (older readers) is still one of them');

  const agentsRow = poolRows(pool.stats(), Date.now()).find((row) => row.id === 'agents');
  const row = agentsRow?.children?.find((candidate) => candidate.id === `agent:${agent.id}`);
  assert.equal(row?.label, `${agent.id}: 4 tasks in one batch`);
  assert.deepEqual(row?.children?.map((child) => child.label).sort(), names.map((name) => `fix ${name}`));
  assert.equal(new Set(row?.children?.map((child) => child.id)).size, 4, 'one row id per task');
  for (const name of names) assert.match(row?.tooltip ?? '', new RegExp(`: fix ${name}$`, 'm'));

  fs.rmSync(hold);
  await waitFor('every task to be done', () => ids.every((id) => f.board.get(id)?.status === 'done'), 60_000, 50);
  const idle = await waitFor('the agent to idle', () => pool.stats().agents.find((candidate) => candidate.id === agent.id && candidate.state === 'idle'), 30_000);
  assert.deepEqual(currentTasksOf(idle), []);
  await pool.stop({ graceMs: 10_000 });
});

test("the dashboard's timeline gives overlapping attempts of one agent (a batch) a track each; one after another they share one", () => {
  const bar = (agent: string, taskId: string, start: number, end?: number): AttemptInterval => ({ agent, taskId, title: taskId, attempt: 1, start, end, outcome: end === undefined ? 'running' : 'done' });
  const bars = [bar('a1', 't1', 100, 200), bar('a1', 't2', 100, 200), bar('a1', 't3', 101), bar('a2', 't4', 100, 150), bar('a2', 't5', 150, 300), bar('a1', 't6', 200, 250)];
  assert.deepEqual(laneTracks(bars, 1_000), [
    { track: 0, of: 3 },
    { track: 1, of: 3 },
    { track: 2, of: 3 },
    { track: 0, of: 1 },
    { track: 0, of: 1 },
    { track: 0, of: 3 },
  ]);
});

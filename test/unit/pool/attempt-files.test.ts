// What an attempt writes besides the board: a task whose command writes nothing gets no scratch
// folder of the agent (no folder made and removed per task), and its log is still stored whole.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import { afterEach, test } from 'node:test';
import type { TaskResult } from '../../../src/core/pool/workerTypes';
import { poolFixture, type PoolFixture } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

test('a task that writes nothing makes no scratch folder, and its log is stored', async () => {
  fixture = poolFixture();
  const { board } = fixture;
  const task = board.post({ title: 'look around' });
  // The command's parent is the agent: it lists the agent's scratch folder while the task runs.
  const command = 'for dir in "${TMPDIR:-/tmp}"/swarm-agent-$PPID-*; do echo "scratch: $(ls -A "$dir" | tr "\\n" " ")"; done';
  const pool = fixture.makePool({ executor: { type: 'command', command }, sandbox: { mode: 'off' }, maxAgents: 1, untilEmpty: true });
  await pool.start();
  await pool.whenDone();
  const done = board.get(task.id);
  assert.equal(done?.status, 'done');
  const log = fs.readFileSync((done?.result as TaskResult).logFile ?? '', 'utf8');
  const listing = /^scratch: (.*)$/m.exec(log)?.[1];
  assert.ok(listing !== undefined, `the command saw the agent's scratch folder:\n${log}`);
  assert.ok(!listing.includes(task.id), `no folder of its own while it ran: ${listing}`);
});

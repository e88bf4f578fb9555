import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import { poolFixture, waitFor, type PoolFixture } from './helpers';

let fixture: PoolFixture | undefined;
afterEach(async () => {
  await fixture?.cleanup();
  fixture = undefined;
});

test('agents run command tasks until the board is empty and record results', async () => {
  fixture = poolFixture();
  const { board, dir } = fixture;
  const tasks = board.postMany(Array.from({ length: 12 }, (_, index) => ({ title: `task ${index}`, prompt: `p${index}` })));
  const pool = fixture.makePool({ executor: { type: 'command', command: 'echo {id} >> ran.txt' }, maxAgents: 3, untilEmpty: true });
  await pool.start();
  assert.equal(pool.mode, 'pool');
  await pool.whenDone();
  const counts = board.stats().counts;
  assert.equal(counts.done, 12);
  assert.equal(counts.running, 0);
  const ran = fs.readFileSync(path.join(dir, 'ran.txt'), 'utf8').trim().split('\n').sort();
  assert.deepEqual(ran, tasks.map((task) => task.id).sort());
  const done = board.get(tasks[0].id);
  const result = done?.result as { summary: string; executor: string; durationMs: number; logFile?: string; files: unknown[] };
  assert.equal(typeof result.summary, 'string');
  assert.ok(result.durationMs >= 0);
  assert.ok(result.logFile && fs.existsSync(result.logFile), 'the task log is kept in the artifacts');
  const started = fixture.events.filter((event) => event.type === 'agent-started').length;
  assert.ok(started >= 1 && started <= 3, `between 1 and 3 agents started (${started})`);
  assert.equal(pool.stats().tasksDone, 12);
  assert.ok(!fs.existsSync(path.join(board.root, 'hosts', `${process.pid}.json`)), 'the host status file is removed on stop');
});

test('a failing command is retried and then dead-lettered', async () => {
  fixture = poolFixture();
  const task = fixture.board.post({ title: 'always fails', maxAttempts: 2 });
  const pool = fixture.makePool({ executor: { type: 'command', command: 'exit 3' }, maxAgents: 1, untilEmpty: true });
  await pool.start();
  await pool.whenDone();
  const dead = fixture.board.get(task.id);
  assert.equal(dead?.status, 'dead');
  assert.equal(dead?.attempts, 2);
  await waitFor('failure events', () => fixture!.events.filter((event) => event.type === 'task-failed').length === 2);
});

test('best of N without worktrees runs the attempts in turn; all failing is one failed attempt', async () => {
  fixture = poolFixture();
  const { board } = fixture;
  const wins = board.post({ title: 'second wins', payload: { bestOf: { executors: ['failing', 'echoing'] } } });
  const loses = board.post({ title: 'all fail', maxAttempts: 1, payload: { bestOf: 2 } });
  const namedExecutors = { failing: { type: 'command', command: 'exit 1' }, echoing: { type: 'command', command: 'echo second' } };
  const pool = fixture.makePool({ executor: { type: 'command', command: 'exit 2' }, namedExecutors, maxAgents: 1, untilEmpty: true });
  await pool.start();
  await pool.whenDone();
  const won = board.get(wins.id)!;
  assert.equal(won.status, 'done');
  assert.deepEqual((won.result as { bestOf?: unknown }).bestOf, { attempts: 2, winner: 2 });
  const lost = board.get(loses.id)!;
  assert.equal(lost.status, 'dead');
  assert.match(board.errors(loses.id)[0].message, /All 2 attempts failed/);
});

test('a task cannot choose a command: executor configurations in its payload are refused, unknown names too', async () => {
  fixture = poolFixture();
  const { board, dir } = fixture;
  const smuggled = board.post({ title: 'brings its own command', payload: { bestOf: { executors: [{ type: 'command', command: 'touch pwned.txt' }, { type: 'command', command: 'true' }] } } });
  const unknown = board.post({ title: 'names an unknown executor', payload: { bestOf: { executors: ['fine', 'rm-rf'] } } });
  const pool = fixture.makePool({ executor: { type: 'command', command: 'true' }, namedExecutors: { fine: { type: 'command', command: 'true' } }, maxAgents: 1, untilEmpty: true });
  await pool.start();
  await pool.whenDone();
  assert.equal(fs.existsSync(path.join(dir, 'pwned.txt')), false, "the payload's command never ran");
  for (const task of [smuggled, unknown]) {
    assert.equal(board.get(task.id)!.status, 'dead', 'a permanent failure: retrying cannot help');
    assert.equal(board.errors(task.id).length, 1);
  }
  assert.match(board.errors(smuggled.id)[0].message, /must list names of executors configured under "executors" in swarm\.config\.json; a task cannot bring its own executor configuration/);
  assert.match(board.errors(unknown.id)[0].message, /names "rm-rf", which is not a configured executor\. Configured executors: fine\./);
});

test('idle agents above minAgents retire after the idle timeout; stats carry per-agent resources', async () => {
  fixture = poolFixture();
  const { board } = fixture;
  board.postMany([{ title: 'one' }, { title: 'two' }, { title: 'three' }]);
  const pool = fixture.makePool({ executor: { type: 'command', command: 'sleep 1' }, minAgents: 1, maxAgents: 3, idleTimeoutMs: 300, monitorIntervalMs: 200 });
  await pool.start();
  const measured = await waitFor('resource figures for a busy agent', () => pool.stats().agents.find((agent) => agent.state === 'busy' && (agent.rssBytes ?? 0) > 10 * 1024 * 1024));
  assert.ok(measured.cpuPercent !== undefined);
  assert.ok(pool.stats().system && pool.stats().system!.totalMemBytes > 0);
  await waitFor('all tasks done', () => board.stats().counts.done === 3);
  await waitFor('the pool to shrink to minAgents', () => pool.stats().total === 1, 20_000);
  const exits = fixture.events.filter((event) => event.type === 'agent-exited');
  assert.ok(exits.length >= 2 && exits.every((event) => event.type === 'agent-exited' && event.expected), 'retired agents exit as expected, not as crashes');
  assert.equal(pool.stats().running, true, 'without --until-empty the pool keeps running');
});

// The agent supervisor on its own, through its interface to the pool (SupervisorHost): real agent
// processes (the scripted agent in fixtures/), a real board in a temp folder, and a host that
// records what the supervisor tells it. The pool's behaviour with it is covered by pool.test.ts,
// resilience.test.ts and agent-crash.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { asBoard } from '../../../src/core/pool/boardAccess';
import { recordWorkerEvent, type AgentHandle } from '../../../src/core/pool/agent-handle';
import { createNoIsolation } from '../../../src/core/pool/isolation-modes';
import { AgentSupervisor, type SupervisorHost } from '../../../src/core/pool/supervisor';
import type { AgentCurrentTask, PoolEvent } from '../../../src/core/pool/types';
import type { WorkerEvent } from '../../../src/core/pool/worker';
import { RateLimiter } from '../../../src/core/ratelimit';
import { isAlive, waitFor } from './helpers';

const SCRIPTED_AGENT = path.join(__dirname, 'fixtures', 'scripted-agent.ts');

interface Recorded {
  dir: string;
  board: FileBoard;
  host: SupervisorHost;
  supervisor: AgentSupervisor;
  limiter: RateLimiter;
  agents: Map<string, AgentHandle>;
  events: PoolEvent[];
  warnings: string[];
  scheduler: string[];
  workerEvents: WorkerEvent[];
  failed: Array<{ agentId: string; task: AgentCurrentTask | undefined; message: string }>;
  boardFailures: string[];
  stopping: boolean;
}

let current: Recorded | undefined;

afterEach(async () => {
  const recorded = current;
  current = undefined;
  if (!recorded) return;
  for (const handle of recorded.agents.values()) recorded.supervisor.kill(handle, 'test over');
  await recorded.supervisor.whenAllExited();
  recorded.supervisor.stopSampling();
  recorded.limiter.dispose();
  recorded.board.close();
  fs.rmSync(recorded.dir, { recursive: true, force: true });
});

/** A supervisor whose agents act out `script`, with a host that records everything. */
function supervise(script: string, options: { capacity?: number; startTimeoutMs?: number; agentsPerProcess?: number } = {}): Recorded {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-supervisor-'));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false, retry: { baseMs: 50, capMs: 200 } });
  const limiter = new RateLimiter({});
  const agents = new Map<string, AgentHandle>();
  const recorded = { dir, board, agents, events: [], warnings: [], scheduler: [], workerEvents: [], failed: [], boardFailures: [], stopping: false } as unknown as Recorded;
  const isolation = createNoIsolation(dir);
  const host: SupervisorHost = {
    board: asBoard(board),
    agents,
    scheduler: {
      agentReady: () => void recorded.scheduler.push('ready'),
      agentSpawnFailed: (reason) => void recorded.scheduler.push(`spawn-failed: ${reason}`),
      agentCrashed: () => (recorded.scheduler.push('crashed'), 250),
      agentEndedCleanly: () => void recorded.scheduler.push('ended-cleanly'),
      requestRound: () => undefined,
    },
    isolation: () => isolation,
    environment: (agentId) => ({ ...process.env, SWARM_AGENT_ID: agentId, SCRIPTED_AGENT: script, SUPERVISOR_TEST_MARK: 'from-the-host' }),
    init: (handle) => ({ agentId: handle.info.id, slot: handle.slot, board: board.root, workspaceRoot: dir, executor: { type: 'command', command: 'true' }, leaseMs: 600_000, isolation: 'host', isolationKind: 'none', hostModels: false, maxLogBytes: 1024 }),
    isStopping: () => recorded.stopping,
    boardLost: () => false,
    boardFailed: (message) => void recorded.boardFailures.push(message),
    workerEvent: (handle, event) => {
      recordWorkerEvent(handle, event); // as the pool does: the handle learns its lease and task
      recorded.workerEvents.push(event);
    },
    attemptFailed: (handle, task, message) => void recorded.failed.push({ agentId: handle.info.id, task, message }),
    emit: (event) => void recorded.events.push(event),
    log: () => undefined,
    warn: (message) => void recorded.warnings.push(message),
  };
  recorded.host = host;
  recorded.supervisor = new AgentSupervisor(host, { hostTag: 'htest', capacity: options.capacity ?? 4, agentScript: SCRIPTED_AGENT, workspaceRoot: dir, limiter, startTimeoutMs: options.startTimeoutMs, agentsPerProcess: options.agentsPerProcess });
  recorded.limiter = limiter;
  current = recorded;
  return recorded;
}

const exitedEvent = (recorded: Recorded, agentId: string) => recorded.events.find((event): event is Extract<PoolEvent, { type: 'agent-exited' }> => event.type === 'agent-exited' && event.agentId === agentId);
const said = (recorded: Recorded, what: string) => recorded.warnings.find((line) => line.includes(`: ${what} `));

test('supervisor: a spawned agent is registered at once in the lowest free slot, gets the host environment and init, and its ready reaches the scheduler', async () => {
  const r = supervise('ready');
  const first = r.supervisor.spawn();
  const second = r.supervisor.spawn();
  assert.deepEqual([first.info.id, first.slot, first.info.state], ['htest-a1', 's1', 'starting']);
  assert.deepEqual([second.info.id, second.slot], ['htest-a2', 's2']);
  assert.deepEqual([...r.agents.keys()], ['htest-a1', 'htest-a2'], 'registered before the fork');
  await waitFor('both agents to be ready', () => r.events.filter((event) => event.type === 'agent-started').length === 2);
  assert.deepEqual(r.scheduler, ['ready', 'ready']);
  assert.equal(first.info.state, 'idle');
  assert.ok(first.info.pid && isAlive(first.info.pid));
  assert.ok(first.idleSince !== undefined, 'ready stamps it idle');
  const init = JSON.parse((said(r, 'init') ?? '').split(': init ')[1] ?? 'null') as { agentId: string; slot: string; mark: string };
  assert.equal(init.mark, 'from-the-host', 'the environment from host.environment()');
  assert.ok(['htest-a1', 'htest-a2'].includes(init.agentId));
});

test('supervisor: a warning a shared process sends for no agent (its board connection is all its agents\') names the process\'s agents, not its first', async () => {
  const r = supervise('ready', { agentsPerProcess: 2 });
  r.supervisor.spawn();
  r.supervisor.spawn();
  // The scripted process says what it received naming no agent, as the agent process says its
  // board's warnings (it speaks for one agent only: its other messages reach no agent here).
  const shared = await waitFor('both inits to be said', () => {
    const lines = r.warnings.filter((line) => line.includes(': init '));
    return lines.length === 2 && lines;
  });
  for (const line of shared) assert.match(line, /^The agent process of agents htest-a1, htest-a2 \(shared by its agents\): init /);
});

test('supervisor: at most `capacity` agent processes live; the next one forks when one exits', async () => {
  const r = supervise('ready', { capacity: 1 });
  const first = r.supervisor.spawn();
  const second = r.supervisor.spawn();
  await waitFor('the first agent to be ready', () => first.info.state === 'idle');
  assert.equal(second.info.pid, undefined, 'the second waits for capacity');
  assert.equal(second.info.state, 'starting');
  r.supervisor.drain(first);
  await waitFor('the second agent to be ready after the first exited', () => second.info.state === 'idle');
  assert.ok(exitedEvent(r, first.info.id)?.expected, 'a drained agent exits as expected');
  assert.ok(r.scheduler.includes('ended-cleanly'));
  assert.equal(r.agents.has(first.info.id), false, 'removed once its exit was handled');
});

test('supervisor: an agent that exits before it is ready is a spawn failure, not a crash', async () => {
  const r = supervise('exit-before-ready');
  const handle = r.supervisor.spawn();
  await waitFor('its exit', () => exitedEvent(r, handle.info.id));
  assert.deepEqual(r.scheduler, [`spawn-failed: agent ${handle.info.id} exited before it was ready (exit code 3)`]);
  assert.equal(exitedEvent(r, handle.info.id)?.expected, false);
  assert.equal(handle.life.phase, 'exited');
  assert.equal(r.agents.size, 0);
});

test('supervisor: an agent silent past the start deadline is killed with a reason', async () => {
  const r = supervise('never-ready', { startTimeoutMs: 300 });
  const handle = r.supervisor.spawn();
  await waitFor('its exit', () => exitedEvent(r, handle.info.id));
  assert.ok(r.warnings.some((line) => line === `Agent ${handle.info.id} did not start within 0 s.`), r.warnings.join('\n'));
  assert.ok(r.scheduler[0]?.startsWith('spawn-failed: '), 'never ready: a spawn failure');
});

test('supervisor: an agent that crashes holding a reported claim fails the task as transient through the host, and counts as a crash', async () => {
  const r = supervise('claim-and-crash');
  const task = r.board.post({ title: 'held by the crasher', maxAttempts: 3 });
  const handle = r.supervisor.spawn();
  await waitFor('its exit', () => exitedEvent(r, handle.info.id));
  assert.equal(r.board.get(task.id)?.status, 'pending', 'failed as transient: back for a retry');
  const errors = r.board.errors(task.id);
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.message ?? '', /crashed while running the task \(exit code 5\)/);
  assert.equal(r.failed.length, 1);
  assert.equal(r.failed[0]?.task?.id, task.id, 'the host hears which task failed');
  assert.ok(r.workerEvents.some((event) => event.type === 'task-started'), 'task-started went to the host as a worker event');
  assert.deepEqual(r.scheduler, ['ready', 'crashed']);
  assert.ok(r.warnings.some((line) => /exited unexpectedly \(exit code 5\); a new agent starts in 250 ms/.test(line)));
});

test('supervisor: kill ends the agent and the daemons it left; its kill reason is said once', async () => {
  const r = supervise('ready-command');
  const handle = r.supervisor.spawn();
  const commandPid = await waitFor('its command', () => {
    const line = said(r, 'command');
    return line ? Number(line.split(': command ')[1]) : undefined;
  });
  assert.ok(isAlive(commandPid));
  r.supervisor.kill(handle, 'killed by the test');
  r.supervisor.kill(handle, 'killed twice');
  await waitFor('its exit', () => exitedEvent(r, handle.info.id));
  await waitFor('its command to be gone', () => !isAlive(commandPid), 10_000);
  assert.equal(r.warnings.filter((line) => line.startsWith('killed')).join('|'), 'killed by the test|killed by the test', 'the reason, then the crash line with it');
  assert.deepEqual(r.scheduler, ['ready', 'crashed']);
});

test('supervisor: an agent asking for isolation is served by host.isolation(), and gets the reply', async () => {
  const r = supervise('isolation');
  r.supervisor.spawn();
  const reply = await waitFor('the isolation reply', () => said(r, 'isolation-reply'));
  assert.match(reply, /"id":7,"ok":true,"value":null/);
});

test('supervisor: a fatal board message from an agent drains it and tells the host the board failed', async () => {
  const r = supervise('ready');
  const handle = r.supervisor.spawn();
  await waitFor('ready', () => handle.info.state === 'idle');
  handle.process?.child.emit('message', { channel: 'swarm-pool', type: 'fatal', message: 'The board cannot be written.', board: true });
  assert.deepEqual(r.boardFailures, ['The board cannot be written.']);
  assert.equal(handle.life.phase, 'draining');
});

test('supervisor: cancelTask ends the agent and the daemons it left before it resolves, and nothing is handed back', async () => {
  const r = supervise('ready-command');
  const handle = r.supervisor.spawn();
  const commandPid = await waitFor('its command', () => {
    const line = said(r, 'command');
    return line ? Number(line.split(': command ')[1]) : undefined;
  });
  const agentPid = handle.info.pid as number;
  await r.supervisor.cancelTask(handle, 'some-task');
  assert.equal(isAlive(agentPid), false, 'the agent is gone when cancelTask resolves');
  assert.equal(isAlive(commandPid), false, 'its command is gone when cancelTask resolves');
  await waitFor('its exit', () => exitedEvent(r, handle.info.id));
  assert.equal(exitedEvent(r, handle.info.id)?.expected, true, 'stopped for a cancel: expected');
  assert.deepEqual(r.failed, []);
});

// The agent lifecycle (agent-state.ts): one phase per agent, only legal moves, and what an exit in
// each phase means for the agent's task and for restarts. The pool's behaviour built on it is
// covered with real agent processes by pool.test.ts and resilience.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentLifecycle, IllegalAgentTransitionError, type AgentPhase } from '../../../src/core/pool/agent-state';
import { agentProcessHandle } from '../../../src/core/pool/agent-handle';
import type { AgentState } from '../../../src/core/pool/types';

/** A lifecycle brought to `phase` through legal moves, with what it publishes recorded. */
function lifecycleIn(phase: AgentPhase | 'drained-then-killed', withTask = false): { life: AgentLifecycle; published: AgentState[] } {
  const published: AgentState[] = [];
  const life = new AgentLifecycle('a1', 'starting', (state) => published.push(state), () => withTask);
  if (phase === 'starting') return { life, published };
  life.ready();
  if (phase === 'busy') life.taskStarted();
  if (phase === 'draining') life.drain();
  if (phase === 'stopping') life.kill('over its memory limit');
  if (phase === 'drained-then-killed') {
    life.drain();
    life.kill('stopped answering health checks');
  }
  if (phase === 'exited') life.exited(false);
  return { life, published };
}

test('agent lifecycle: the normal path publishes every public state on the way', () => {
  let task = false;
  const published: AgentState[] = [];
  const life = new AgentLifecycle('a1', 'starting', (state) => published.push(state), () => task);
  life.ready();
  task = true;
  life.taskStarted();
  task = false;
  life.taskEnded();
  assert.equal(life.phase, 'idle');
  task = true;
  life.taskStarted();
  assert.equal(life.drain(), true);
  assert.equal(life.phase, 'draining');
  assert.equal(published.at(-1), 'busy', 'a draining agent shows busy while it finishes its task');
  task = false;
  life.taskEnded();
  assert.equal(life.phase, 'draining', 'a draining agent does not go back to idle');
  assert.equal(published.at(-1), 'stopping');
  const verdict = life.exited(false);
  assert.equal(life.phase, 'exited');
  assert.deepEqual(published, ['starting', 'idle', 'busy', 'idle', 'busy', 'busy', 'stopping', 'exited']);
  assert.deepEqual(verdict, { kind: 'expected', task: 'release', expected: true });
});

test('agent lifecycle: an illegal transition is refused and changes nothing', () => {
  const refused: [AgentPhase | 'drained-then-killed', AgentPhase][] = [
    ['starting', 'busy'],
    ['idle', 'starting'],
    ['busy', 'starting'],
    ['draining', 'idle'],
    ['draining', 'busy'],
    ['stopping', 'idle'],
    ['stopping', 'draining'],
    ['exited', 'idle'],
    ['exited', 'exited'],
  ];
  for (const [from, to] of refused) {
    const { life, published } = lifecycleIn(from);
    const before = life.phase;
    const count = published.length;
    assert.throws(() => life.to(to), (error: unknown) => error instanceof IllegalAgentTransitionError && error.from === before && error.to === to && /cannot go from/.test(error.message), `${from} → ${to}`);
    assert.equal(life.phase, before, `${from} → ${to} left the phase alone`);
    assert.equal(published.length, count, `${from} → ${to} published nothing`);
  }
  // The event methods never make an illegal move: on the way out they do nothing.
  const { life } = lifecycleIn('exited');
  assert.equal(life.drain(), false);
  assert.equal(life.kill('late'), false);
  assert.throws(() => life.exited(false), IllegalAgentTransitionError, 'an agent exits once');
  const stopping = lifecycleIn('stopping').life;
  assert.equal(stopping.drain(), false, 'a killed agent is not drained back into a graceful stop');
  assert.equal(stopping.kill('again'), false);
  assert.equal(stopping.killReason, 'over its memory limit', 'the first reason is kept');
  stopping.taskEnded();
  assert.equal(stopping.phase, 'stopping');
});

test('agent lifecycle: a crash in each phase ends in the right place', () => {
  const expectations: Record<AgentPhase | 'drained-then-killed', { kind: string; task: string; expected: boolean } | undefined> = {
    // Never ready: counted as a failed start (backoff, then the sequential fallback), its claim failed.
    starting: { kind: 'spawn-failure', task: 'fail', expected: false },
    idle: { kind: 'crash', task: 'fail', expected: false },
    busy: { kind: 'crash', task: 'fail', expected: false },
    // Asked to stop: its task goes back to the board unfinished, nothing counts as a crash.
    draining: { kind: 'expected', task: 'release', expected: true },
    // Killed by the host (memory, health, start timeout): its task fails with the kill's reason.
    stopping: { kind: 'crash', task: 'fail', expected: false },
    'drained-then-killed': { kind: 'crash', task: 'fail', expected: false },
    exited: undefined,
  };
  for (const [phase, expected] of Object.entries(expectations) as [AgentPhase | 'drained-then-killed', (typeof expectations)[AgentPhase]][]) {
    if (!expected) continue;
    const { life } = lifecycleIn(phase, phase === 'busy');
    assert.deepEqual({ ...life.exited(false) }, expected, `exit while ${phase}`);
    assert.equal(life.phase, 'exited', `exit while ${phase} ends in exited`);
    assert.equal(life.isLive, false);
    assert.equal(life.isResponsive, false);
  }
  // The user cancelled its task: the agent was stopped on purpose, whatever the phase.
  assert.deepEqual(lifecycleIn('draining').life.exited(true), { kind: 'expected', task: 'release', expected: true });
  assert.deepEqual(lifecycleIn('starting').life.exited(true), { kind: 'spawn-failure', task: 'fail', expected: true });
});

test('agent lifecycle: which agents count as live and which must answer health checks', () => {
  const table: [AgentPhase | 'drained-then-killed', boolean, boolean][] = [
    ['starting', true, false],
    ['idle', true, true],
    ['busy', true, true],
    ['draining', false, true],
    // A killed agent holds its place until it exits, so no second agent starts in its slot meanwhile.
    ['stopping', true, false],
    ['drained-then-killed', false, false],
    ['exited', false, false],
  ];
  for (const [phase, live, responsive] of table) {
    const { life } = lifecycleIn(phase);
    assert.equal(life.isLive, live, `${phase}: live`);
    assert.equal(life.isResponsive, responsive, `${phase}: answers health checks`);
  }
  const drainedWhileStarting = lifecycleIn('starting').life;
  drainedWhileStarting.drain();
  drainedWhileStarting.ready();
  assert.equal(drainedWhileStarting.phase, 'draining', 'ready after a drain keeps it draining');
  assert.equal(drainedWhileStarting.wasReady, true);
});

test('agent handles publish their lifecycle into info.state', () => {
  const handle = agentProcessHandle('a1', 's1');
  assert.equal(handle.info.state, 'starting');
  handle.life.ready();
  assert.equal(handle.info.state, 'idle');
  handle.info.currentTask = { id: 't1', title: 'x', attempt: 1, startedAt: Date.now() };
  handle.life.taskStarted();
  assert.equal(handle.info.state, 'busy');
  handle.life.kill('over its memory limit');
  assert.equal(handle.info.state, 'stopping');
  handle.life.exited(false);
  assert.equal(handle.info.state, 'exited');
});

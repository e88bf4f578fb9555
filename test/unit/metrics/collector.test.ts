import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import * as fs from 'fs';
import { collectBoardMetrics, MetricsCollector } from '../../../src/core/metrics';
import { readBoardResources, ResourceLog, resourceStoreOf } from '../../../src/core/metrics/resource-log';
import type { PoolStats, AgentInfo } from '../../../src/core/pool/types';
import { makeBoard, T0 } from './helpers';
import { over } from '../patch/place';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function board(retryBaseMs = 1_000) {
  const made = makeBoard({ retry: { baseMs: retryBaseMs, jitter: 0 } });
  cleanups.push(made.cleanup);
  return made;
}

function replay(made: ReturnType<typeof board>, options = {}) {
  const collector = new MetricsCollector(options);
  collector.addEvents(made.board.events.read(0).events);
  return collector;
}

describe('MetricsCollector from a real board', () => {
  it('keeps the queue balance when events of several processes reach the log out of order (claimed before promoted)', () => {
    const made = board(10);
    const { board: b, clock } = made;
    const [task] = b.postMany([{ title: 'flaky' }]);
    b.fail(b.claim({ agent: 'agent-1' })!, 'try again');
    clock.now += 1_000;
    const retry = b.claim({ agent: 'agent-2' })!; // promotes, then claims
    assert.equal(retry.task.id, task.id);
    b.complete(retry, {});
    const events = made.board.events.read(0).events;
    const promoted = events.findIndex((event) => event.type === 'promoted');
    assert.ok(promoted > 0, 'the board logged the promotion');
    // Another process's `claimed` appended before the promoter's `promoted`: the order a reader may see.
    const claimed = events.findIndex((event, index) => index > promoted && event.type === 'claimed');
    const reordered = [...events];
    [reordered[promoted], reordered[claimed]] = [reordered[claimed], reordered[promoted]];
    const collector = new MetricsCollector();
    collector.addEvents(reordered);
    assert.deepEqual(collector.queueCounts(), { pending: 0, running: 0, delayed: 0 });
    assert.ok(collector.snapshot().queue.every((point) => point.pending >= 0 && point.running >= 0 && point.delayed >= 0), 'never charted below zero');
  });

  it('builds the timeline, throughput, queue depth and summary of a two-agent run', () => {
    const made = board();
    const { board: b, clock } = made;
    const [a, c, d] = b.postMany([{ title: 'alpha' }, { title: 'bravo' }, { title: 'charlie' }]);
    const claimA = b.claim({ agent: 'agent-1' })!;
    const claimC = b.claim({ agent: 'agent-2' })!;
    assert.deepEqual([claimA.task.id, claimC.task.id].sort(), [a.id, c.id].sort());
    clock.now = T0 + 10_000;
    b.complete(claimA, { summary: 'ok' });
    const claimD = b.claim({ agent: 'agent-1' })!;
    assert.equal(claimD.task.id, d.id);
    clock.now = T0 + 20_000;
    b.complete(claimC, { summary: 'ok' });
    clock.now = T0 + 70_000; // next minute
    b.complete(claimD, { summary: 'ok' });

    const metrics = replay(made);
    const summary = metrics.summary(T0 + 70_000);
    assert.equal(summary.posted, 3);
    assert.equal(summary.done, 3);
    assert.equal(summary.dead, 0);
    assert.equal(summary.retries, 0);
    assert.equal(summary.peakParallelism, 2);
    assert.equal(summary.wallMs, 70_000);
    assert.equal(summary.taskMs, 10_000 + 20_000 + 60_000);
    assert.ok(Math.abs(summary.averageParallelism - 90_000 / 70_000) < 1e-9);

    const timeline = metrics.timelineIntervals();
    assert.equal(timeline.length, 3);
    assert.deepEqual(
      timeline.map((bar) => [bar.agent, bar.title, bar.start - T0, bar.end! - T0, bar.outcome]),
      [
        [claimA.agent, claimA.task.title, 0, 10_000, 'done'],
        [claimC.agent, claimC.task.title, 0, 20_000, 'done'],
        ['agent-1', 'charlie', 10_000, 70_000, 'done'],
      ],
    );

    const snapshot = metrics.snapshot(T0 + 70_000);
    assert.deepEqual(snapshot.throughput, [
      { t: T0, done: 2, failed: 0 },
      { t: T0 + 60_000, done: 1, failed: 0 },
    ]);
    const last = snapshot.queue[snapshot.queue.length - 1];
    assert.deepEqual({ pending: last.pending, running: last.running, delayed: last.delayed }, { pending: 0, running: 0, delayed: 0 });
    // At T0 all three were posted and two claimed within the same second: one merged point.
    assert.deepEqual(snapshot.queue[0], { t: T0, pending: 1, running: 2, delayed: 0 });
  });

  it('counts retries, marks the final failing attempt dead, and drops requeued tasks from the dead letters', () => {
    const made = board();
    const { board: b, clock } = made;
    const task = b.post({ title: 'flaky', maxAttempts: 2 });
    let claim = b.claim({ agent: 'a1' })!;
    clock.now += 1_000;
    b.fail(claim, 'compile error');
    let metrics = replay(made);
    assert.deepEqual(metrics.queueCounts(), { pending: 0, running: 0, delayed: 1 });

    clock.now += 5_000; // past the 1 s backoff
    claim = b.claim({ agent: 'a2' })!;
    assert.equal(claim.task.id, task.id);
    clock.now += 2_000;
    b.fail(claim, 'still broken');

    metrics = replay(made);
    const summary = metrics.summary(clock.now);
    assert.equal(summary.retries, 1);
    assert.equal(summary.failedAttempts, 2);
    assert.equal(summary.dead, 1);
    assert.deepEqual(metrics.timelineIntervals().map((bar) => [bar.agent, bar.attempt, bar.outcome]), [
      ['a1', 1, 'failed'],
      ['a2', 2, 'dead'],
    ]);
    const [letter] = metrics.deadLetters();
    assert.equal(letter.taskId, task.id);
    assert.equal(letter.title, 'flaky');
    assert.equal(letter.message, 'still broken');
    assert.equal(letter.attempts, 2);
    assert.equal(metrics.taskRecords()[0].status, 'dead');
    assert.equal(metrics.snapshot(clock.now).throughput[0].failed, 2);

    b.requeue(task.id);
    metrics = replay(made);
    assert.equal(metrics.deadLetters().length, 0);
    assert.deepEqual(metrics.queueCounts(), { pending: 1, running: 0, delayed: 0 });
  });

  it('ends the bar of an attempt whose lease expired', () => {
    const made = board();
    const { board: b, clock } = made;
    b.post({ title: 'hangs' });
    b.claim({ agent: 'stuck', leaseMs: 1_000 });
    clock.now += 5_000;
    b.sweep();
    b.sweep(); // the two-observation rule: the second look reclaims
    const metrics = replay(made);
    const [bar] = metrics.timelineIntervals();
    assert.equal(bar.outcome, 'lease-expired');
    assert.equal(metrics.summary(clock.now).leaseExpiries, 1);
    assert.deepEqual(metrics.queueCounts(), { pending: 1, running: 0, delayed: 0 });
  });

  it('keeps running attempts open and counts them up to now in the summary', () => {
    const made = board();
    const { board: b, clock } = made;
    b.postMany([{ title: 'one' }, { title: 'two' }]);
    b.claim({ agent: 'a' });
    b.claim({ agent: 'b' });
    clock.now += 30_000;
    const summary = replay(made).summary(clock.now);
    assert.equal(summary.wallMs, 30_000);
    assert.equal(summary.taskMs, 60_000);
    assert.equal(summary.averageParallelism, 2);
  });

  it('fills idle minutes with zero buckets and treats a map parent as waiting, not pending', () => {
    const made = board();
    const { board: b, clock } = made;
    b.map({ title: 'parent' }, [{ title: 'c1' }, { title: 'c2' }]);
    let claim = b.claim({ agent: 'a' })!;
    b.complete(claim, {});
    clock.now += 3 * 60_000;
    claim = b.claim({ agent: 'a' })!;
    b.complete(claim, {});
    const metrics = replay(made);
    const snapshot = metrics.snapshot(clock.now);
    assert.deepEqual(snapshot.throughput.map((point) => point.done), [1, 0, 0, 1]);
    assert.deepEqual(metrics.queueCounts(), { pending: 0, running: 0, delayed: 0 });
    assert.equal(metrics.taskRecords().find((record) => record.title === 'parent')?.status, 'done');
  });

  it('stays within its capacities over thousands of tasks', () => {
    const made = board();
    const { board: b, clock } = made;
    const count = 2_000;
    for (let i = 0; i < count; i += 500) b.postMany(Array.from({ length: 500 }, (_, j) => ({ title: `task ${i + j}` })));
    for (let i = 0; i < count; i++) {
      const claim = b.claim({ agent: `a${i % 4}` })!;
      clock.now += 1_500;
      b.complete(claim, {});
    }
    const capacity = { timeline: 100, tasks: 250, queuePoints: 50, throughputBuckets: 20 };
    const metrics = replay(made, { capacity });
    const snapshot = metrics.snapshot(clock.now);
    assert.equal(snapshot.timeline.length, 100);
    assert.equal(metrics.taskRecords().length, 250);
    assert.equal(snapshot.queue.length, 50);
    assert.equal(snapshot.throughput.length, 20);
    assert.equal(snapshot.summary.done, count);
    assert.equal(snapshot.summary.taskMs, count * 1_500);
    // The newest records are kept: the last task posted is there, the first is gone.
    const titles = metrics.taskRecords().map((record) => record.title);
    assert.ok(titles.includes(`task ${count - 1}`));
    assert.ok(!titles.includes('task 0'));
  });
});

function agent(id: string, cpuPercent: number, rssBytes: number, state: AgentInfo['state'] = 'busy'): AgentInfo {
  return { id, state, cpuPercent, rssBytes, tasksDone: 0, tasksFailed: 0, startedAt: T0 };
}

function poolStats(agents: AgentInfo[], systemCpu = 50): PoolStats {
  return {
    hostPid: process.pid,
    boardRoot: '/tmp/x',
    mode: 'pool',
    running: true,
    minAgents: 0,
    maxAgents: 4,
    busy: agents.length,
    idle: 0,
    total: agents.length,
    agents,
    tasksDone: 0,
    tasksFailed: 0,
    busyMs: 0,
    startedAt: T0,
    system: { cpuPercent: systemCpu, totalMemBytes: 8e9, availableMemBytes: 6e9 },
    limiters: [],
  };
}

describe('MetricsCollector from pool stats', () => {
  it('keeps a series per agent, the system series, and resource peaks', () => {
    const metrics = new MetricsCollector({ capacity: { resourcePoints: 3 } });
    metrics.addPoolStats(poolStats([agent('a', 90, 100e6), agent('b', 10, 300e6)], 40), T0);
    metrics.addPoolStats(poolStats([agent('a', 120, 150e6), agent('b', 20, 50e6)], 95), T0 + 1_000);
    for (let i = 2; i < 6; i++) metrics.addPoolStats(poolStats([agent('a', 5, 10e6), agent('b', 5, 10e6, 'exited')], 10), T0 + i * 1_000);
    const snapshot = metrics.snapshot(T0 + 6_000);
    assert.deepEqual(snapshot.agents.map((series) => [series.agentId, series.points.length]), [['a', 3], ['b', 2]]);
    assert.deepEqual(snapshot.agents[0].points.map((point) => point.t - T0), [3_000, 4_000, 5_000]);
    assert.equal(snapshot.system.length, 3);
    assert.equal(snapshot.system[0].rssBytes, 2e9);
    assert.deepEqual(snapshot.summary.peaks, { agentCpuPercent: 120, agentRssBytes: 300e6, totalRssBytes: 400e6, systemCpuPercent: 95, agents: 2, hosts: 1 });
  });

  it('adds up the hosts of a shared board working at the same time, and drops a host that stopped reporting', async () => {
    // Two pools write to one store, as two machines do on a Redis board (each line marked with its host).
    const lines: string[] = [];
    const store = { appendResourceLine: async (line: string) => void lines.push(line), readResourceLines: async () => [...lines] };
    const logOf = (host: string) => new ResourceLog(resourceStoreOf(store)!, { host, windowMs: 1_000 });
    const [east, west] = [logOf('east'), logOf('west')];
    east.record(poolStats([agent('a1', 50, 100e6), agent('a2', 50, 100e6), agent('a3', 50, 100e6)], 60), T0);
    west.record(poolStats([agent('a1', 70, 200e6), agent('a2', 70, 200e6)], 80), T0 + 500);
    east.record(poolStats([agent('a1', 50, 100e6)], 30), T0 + 2_000); // flushes east's first window
    west.record(poolStats([agent('a1', 70, 200e6)], 30), T0 + 2_500);
    // Long after west stopped: east alone, with more agents than either host had before.
    east.record(poolStats([agent('a1', 1, 1e6), agent('a2', 1, 1e6), agent('a3', 1, 1e6), agent('a4', 1, 1e6)], 10), T0 + 60_000);
    east.record(poolStats([], 5), T0 + 61_500);
    await Promise.all([east.settled(), west.settled()]);
    const metrics = new MetricsCollector();
    for (const sample of await readBoardResources(store)) metrics.addResourceSample(sample);
    const peaks = metrics.snapshot(T0 + 62_000).summary.peaks;
    assert.equal(peaks.agents, 5, 'three agents on east and two on west at once');
    assert.equal(peaks.hosts, 2);
    assert.equal(peaks.totalRssBytes, 700e6);
    assert.equal(peaks.systemCpuPercent, 80, 'the busiest machine, not a sum');
  });

  it('drops the stalest agent series beyond the agent cap', () => {
    const metrics = new MetricsCollector({ capacity: { agents: 2 } });
    metrics.addPoolStats(poolStats([agent('old', 1, 1)]), T0);
    metrics.addPoolStats(poolStats([agent('x', 1, 1), agent('y', 1, 1)]), T0 + 1_000);
    assert.deepEqual(metrics.snapshot(T0 + 2_000).agents.map((series) => series.agentId), ['x', 'y']);
  });
});

describe('collectBoardMetrics', () => {
  it('corrects counts and dead letters from the board when the event log lost its beginning', async () => {
    const made = board();
    const { board: b, clock } = made;
    b.postMany([{ title: 'p1' }, { title: 'p2' }, { title: 'gone', maxAttempts: 1 }, { title: 'later', notBefore: T0 + 60_000 }]);
    const doomed = b.list({ status: 'pending' }).find((task) => task.title === 'gone')!;
    // Claim until we hold the doomed task, then fail it permanently.
    const claims = [b.claim({ agent: 'a' })!, b.claim({ agent: 'b' })!, b.claim({ agent: 'c' })!];
    const doomedClaim = claims.find((claim) => claim.task.id === doomed.id)!;
    clock.now += 1_000;
    b.fail(doomedClaim, 'no such file', { permanent: true });
    fs.writeFileSync(b.events.file, ''); // the log was rotated away
    const metrics = (await collectBoardMetrics(over(b), {}, clock.now));
    assert.deepEqual(metrics.queueCounts(), { pending: 0, running: 2, delayed: 1 });
    assert.deepEqual(metrics.deadLetters().map((letter) => [letter.taskId, letter.title, letter.message]), [[doomed.id, 'gone', 'no such file']]);
  });
});

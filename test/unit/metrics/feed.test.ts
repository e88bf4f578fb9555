import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { over } from '../patch/place';
import { MetricsFeed, type MetricsSnapshot, type PoolSource } from '../../../src/core/metrics';
import type { PoolEvent, PoolStats } from '../../../src/core/pool/types';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!();
});

function liveBoard(): FileBoard {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-feed-'));
  const board = FileBoard.open({ root: path.join(dir, '.swarm'), durable: false, excludeFromGit: false });
  cleanups.push(() => {
    board.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return board;
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting for the condition');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A pool that reports one busy agent and emits events, as AgentPool does. */
class ReportingPool implements PoolSource {
  private listeners = new Set<(event: PoolEvent) => void>();
  cpu = 42;
  statsCalls = 0;
  stats(): PoolStats {
    this.statsCalls++;
    return {
      hostPid: process.pid, boardRoot: '', mode: 'pool', running: true, minAgents: 0, maxAgents: 2, busy: 1, idle: 0, total: 1,
      agents: [{ id: 'agent-1', state: 'busy', tasksDone: 0, tasksFailed: 0, startedAt: Date.now(), cpuPercent: this.cpu, rssBytes: 64e6 }],
      tasksDone: 0, tasksFailed: 0, busyMs: 0, startedAt: Date.now(), limiters: [],
    };
  }
  onEvent(listener: (event: PoolEvent) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
  emit(event: PoolEvent): void {
    for (const listener of this.listeners) listener(event);
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
}

describe('MetricsFeed', () => {
  it('counts tasks posted before it started once: the board counts and the replayed log never add up', async () => {
    const board = liveBoard();
    board.postMany([{ title: 'a' }, { title: 'b' }, { title: 'c' }]);
    board.complete(board.claim({ agent: 'x' })!, {});
    const feed = new MetricsFeed({ board: over(board), onSnapshot: () => undefined, pollMs: 50, minIntervalMs: 50, resyncMs: 60_000 });
    cleanups.push(() => feed.dispose());
    await waitFor(() => (feed.collector.snapshot().summary.done === 1 ? true : undefined));
    // The first resync (at start) must agree with the events counted, whichever arrives first.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(feed.collector.queueCounts(), { pending: 2, running: 0, delayed: 0 });
  });

  it('follows a live board, throttles snapshots to two a second, and stops on dispose', async () => {
    const board = liveBoard();
    board.postMany([{ title: 'before the feed' }]);
    const snapshots: { at: number; snapshot: MetricsSnapshot }[] = [];
    const feed = new MetricsFeed({ board: over(board), onSnapshot: (snapshot) => snapshots.push({ at: Date.now(), snapshot }), pollMs: 50 });
    cleanups.push(() => feed.dispose());

    // History from before the feed started is replayed.
    await waitFor(() => (snapshots.at(-1)?.snapshot.summary.posted === 1 ? true : undefined));

    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      board.post({ title: `t${i}` });
      const claim = board.claim({ agent: `a${i % 2}` })!;
      board.complete(claim, {});
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const last = await waitFor(() => (snapshots.at(-1)?.snapshot.summary.done === 40 ? snapshots.at(-1) : undefined));
    const during = snapshots.filter((entry) => entry.at >= started);
    const seconds = (last.at - started) / 1000;
    assert.ok(during.length <= Math.ceil(seconds * 2) + 2, `${during.length} snapshots in ${seconds.toFixed(2)} s`);
    for (let i = 1; i < during.length; i++) assert.ok(during[i].at - during[i - 1].at >= 450, 'snapshots at least ~500 ms apart');

    feed.dispose();
    const count = snapshots.length;
    board.post({ title: 'after dispose' });
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(snapshots.length, count);
  });

  it('samples the attached pool and detaches from it', async () => {
    const board = liveBoard();
    const pool = new ReportingPool();
    let latest: MetricsSnapshot | undefined;
    const feed = new MetricsFeed({ board: over(board), pool, onSnapshot: (snapshot) => (latest = snapshot), poolSampleMs: 100, minIntervalMs: 50 });
    cleanups.push(() => feed.dispose());
    assert.equal(pool.listenerCount, 1);
    const series = await waitFor(() => {
      const agent = latest?.agents.find((entry) => entry.agentId === 'agent-1');
      return agent && agent.points.length >= 3 ? agent : undefined;
    });
    assert.equal(series.points[0].cpuPercent, 42);
    pool.cpu = 180;
    pool.emit({ type: 'stats', stats: pool.stats() });
    await waitFor(() => (latest?.summary.peaks.agentCpuPercent === 180 ? true : undefined));
    feed.setPool(undefined);
    assert.equal(pool.listenerCount, 0);
  });

  it('does not sample a pool that publishes its own stats, so each moment is charted once', async () => {
    const board = liveBoard();
    const pool = new ReportingPool();
    let latest: MetricsSnapshot | undefined;
    const feed = new MetricsFeed({ board: over(board), onSnapshot: (snapshot) => (latest = snapshot), poolSampleMs: 100, minIntervalMs: 50 });
    cleanups.push(() => feed.dispose());
    feed.setPool(pool);
    const callsAfterAttach = pool.statsCalls;
    const published = 15;
    for (let i = 0; i < published; i++) {
      pool.emit({ type: 'stats', stats: pool.stats() });
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    const points = latest?.agents.find((entry) => entry.agentId === 'agent-1')?.points.length ?? 0;
    // One point from attaching, one per published stats; the 100 ms timer stayed quiet meanwhile
    // (without the check it would add ~9 more). A little slack for a loaded machine's late timers.
    assert.ok(pool.statsCalls - callsAfterAttach <= published + 3, `${pool.statsCalls - callsAfterAttach} stats() calls`);
    assert.ok(points >= published && points <= published + 4, `${points} points for ${published} published stats`);
  });

  it('charts pools of other processes while none of its own is attached, naming agents by host when there are several', async () => {
    const board = liveBoard();
    const a = new ReportingPool();
    const b = new ReportingPool();
    let hosts = [{ ...a.stats(), hostPid: 111 }];
    let latest: MetricsSnapshot | undefined;
    const feed = new MetricsFeed({ board: over(board), otherPools: () => hosts, onSnapshot: (snapshot) => (latest = snapshot), poolSampleMs: 50, minIntervalMs: 20 });
    cleanups.push(() => feed.dispose());
    await waitFor(() => (latest?.agents.some((series) => series.agentId === 'agent-1') ? true : undefined));
    assert.equal(feed.otherPoolStats()[0].hostPid, 111);
    hosts = [{ ...a.stats(), hostPid: 111 }, { ...b.stats(), hostPid: 222 }];
    await waitFor(() => (latest?.agents.some((series) => series.agentId === '222:agent-1') ? true : undefined));
    assert.ok(latest!.agents.some((series) => series.agentId === '111:agent-1'));
    feed.setPool(a);
    assert.deepEqual(feed.otherPoolStats(), [], 'its own pool takes over');
  });
});

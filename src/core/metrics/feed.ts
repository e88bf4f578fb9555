// A live metrics feed for the dashboard: follows the board's event log, samples the pool's stats,
// corrects the counts from the board now and then, and hands out snapshots no more often than the
// view can usefully draw them.
import type { PoolEvent, PoolStats } from '../pool/types';
import { EVENTS_START, type Following, type QueueStats } from '../board/interface';
import { boardDeadLetters, queueCountsOf, type MetricsBoard } from './board-source';
import { MetricsCollector, type MetricsOptions } from './collector';
import type { MetricsSnapshot } from './types';

/** The part of the agent pool the feed reads (AgentPool satisfies it). */
export interface PoolSource {
  stats(): PoolStats;
  onEvent(listener: (event: PoolEvent) => void): { dispose(): void };
}

export interface MetricsFeedOptions extends MetricsOptions {
  board: MetricsBoard;
  pool?: PoolSource;
  /** Receives snapshots, at most one per `minIntervalMs`. */
  onSnapshot: (snapshot: MetricsSnapshot) => void;
  /** Throttle of snapshots (default 500 ms: two a second). */
  minIntervalMs?: number;
  /** How often the pool's stats are sampled (default 1 s). */
  poolSampleMs?: number;
  /** How often queue counts and dead letters are taken from the board itself (default 5 s). */
  resyncMs?: number;
  /** How often the event log is polled besides fs.watch (default 500 ms). */
  pollMs?: number;
  /**
   * Stats of pools running in other processes (e.g. `swarm run` in a terminal, read from the
   * board's host status files); sampled when no pool of this process is attached.
   */
  otherPools?: () => PoolStats[];
  /** Failures while reading are reported here instead of stopping the feed. */
  onError?: (error: unknown) => void;
}

const DEAD_RESYNC_MS = 60_000;

export class MetricsFeed {
  readonly collector: MetricsCollector;
  private readonly options: MetricsFeedOptions;
  private readonly minIntervalMs: number;
  private pool: PoolSource | undefined;
  private poolSubscription: { dispose(): void } | undefined;
  private readonly following: Following;
  /** A resync under way: the next one waits for it instead of piling up reads. */
  private resyncing: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private pendingTimer: NodeJS.Timeout | undefined;
  private lastSentAt = -Infinity;
  private lastStatsEventAt = -Infinity;
  private lastOtherPools: PoolStats[] = [];
  private lastDeadResyncAt = -Infinity;
  private readonly poolSampleMs: number;
  private disposed = false;
  private resyncRetry: NodeJS.Timeout | undefined;
  /** The cursor after the last event batch this feed has added (start: none yet). */
  private followedTo: string = EVENTS_START;

  constructor(options: MetricsFeedOptions) {
    this.options = options;
    this.minIntervalMs = options.minIntervalMs ?? 500;
    this.poolSampleMs = options.poolSampleMs ?? 1_000;
    this.collector = new MetricsCollector(options);
    this.following = options.board.follow(
      (batch) => {
        this.followedTo = batch.cursor;
        this.collector.addEvents(batch.events);
        this.schedule();
      },
      { cursor: EVENTS_START, pollMs: options.pollMs ?? 500, onError: (error) => options.onError?.(error) },
    );
    this.resync();
    this.every(options.resyncMs ?? 5_000, () => this.resync());
    this.every(this.poolSampleMs, () => this.samplePool());
    this.setPool(options.pool);
    this.schedule();
  }

  /** Attaches the pool that is running now (or none); its stats join the charts from then on. */
  setPool(pool: PoolSource | undefined): void {
    if (pool === this.pool) return;
    this.poolSubscription?.dispose();
    this.pool = pool;
    this.lastOtherPools = [];
    this.poolSubscription = pool?.onEvent((event) => {
      if (event.type === 'stats') {
        this.lastStatsEventAt = Date.now();
        this.collector.addPoolStats(event.stats);
      }
      this.schedule();
    });
    this.samplePool();
  }

  /** Takes a snapshot now, outside the throttle (e.g. for a view that just became visible). */
  snapshot(): MetricsSnapshot {
    return this.collector.snapshot();
  }

  /** Re-reads the board's counts and dead letters, then schedules a snapshot; resolves when read. */
  async refresh(): Promise<void> {
    await this.resync();
    this.schedule();
  }

  /** Schedules a snapshot: at once when the last one is old enough, else at the end of the window. */
  schedule(): void {
    if (this.disposed || this.pendingTimer) return;
    const wait = Math.max(0, this.lastSentAt + this.minIntervalMs - Date.now());
    this.pendingTimer = setTimeout(() => {
      this.pendingTimer = undefined;
      if (this.disposed) return;
      this.lastSentAt = Date.now();
      this.options.onSnapshot(this.collector.snapshot());
    }, wait);
  }

  dispose(): void {
    this.disposed = true;
    void this.following.dispose();
    this.poolSubscription?.dispose();
    for (const timer of this.timers) clearInterval(timer);
    if (this.pendingTimer) clearTimeout(this.pendingTimer);
    if (this.resyncRetry) clearTimeout(this.resyncRetry);
  }

  private every(ms: number, action: () => unknown): void {
    const timer = setInterval(() => void action(), ms);
    timer.unref?.();
    this.timers.push(timer);
  }

  /**
   * Corrects the counts from the board. The dead-letter list (a read of every dead task) is only
   * re-read when the board's dead count disagrees or a minute has passed: with thousands of dead
   * tasks that read is the expensive part, and events keep the list right in between.
   */
  private resync(): Promise<void> {
    this.resyncing ??= this.readCounts().finally(() => {
      this.resyncing = undefined;
      this.schedule();
    });
    return this.resyncing;
  }

  private async readCounts(): Promise<void> {
    try {
      const now = Date.now();
      const stats = await this.readStatsInStepWithEvents();
      if (this.disposed) return;
      if (stats) this.collector.resyncQueue(queueCountsOf(stats), now);
      else this.retryResyncSoon();
      if (!stats) return;
      if (stats.counts.dead !== this.collector.deadLetterCount() || now - this.lastDeadResyncAt >= DEAD_RESYNC_MS) {
        this.lastDeadResyncAt = now;
        const dead = await boardDeadLetters(this.options.board);
        if (!this.disposed) this.collector.resyncDeadLetters(dead);
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /**
   * The board's counts, but only when they describe the same moment as the events added so far:
   * the follower has delivered every event in the log, and none was written while the counts were
   * read. Otherwise undefined. (Counts read before the follower replayed the log would be counted
   * twice — a finished run shown with every task pending — and counts newer than the events would
   * be undone by the events still on their way.)
   */
  private async readStatsInStepWithEvents(): Promise<QueueStats | undefined> {
    const board = this.options.board;
    const cursor = this.followedTo;
    const logEnded = async (): Promise<boolean> => (await board.readEvents(cursor, 1)).events.length === 0;
    if (!(await logEnded())) return undefined;
    const stats = await board.stats();
    if (this.followedTo !== cursor || !(await logEnded())) return undefined;
    return stats;
  }

  private retryResyncSoon(): void {
    if (this.disposed || this.resyncRetry) return;
    this.resyncRetry = setTimeout(() => {
      this.resyncRetry = undefined;
      if (!this.disposed) void this.resync();
    }, this.minIntervalMs);
    this.resyncRetry.unref?.();
  }

  /** The other processes' pools as last sampled (empty while a pool of this process is attached). */
  otherPoolStats(): PoolStats[] {
    return this.lastOtherPools;
  }

  /** Samples the pool's stats, unless the pool publishes them itself (AgentPool does, every second). */
  private samplePool(): void {
    if (!this.pool) {
      this.sampleOtherPools();
      return;
    }
    if (Date.now() - this.lastStatsEventAt < 2 * this.poolSampleMs) return;
    this.guard(() => this.collector.addPoolStats(this.pool!.stats()));
    this.schedule();
  }

  private sampleOtherPools(): void {
    const read = this.options.otherPools;
    if (!read) return;
    this.guard(() => {
      const pools = read();
      this.lastOtherPools = pools;
      if (pools.length === 0) return;
      const now = Date.now();
      // Agent ids repeat across hosts ("agent-1"): with several hosts, name them by host.
      for (const stats of pools) {
        const named = pools.length === 1 ? stats : { ...stats, agents: stats.agents.map((agent) => ({ ...agent, id: `${stats.hostPid}:${agent.id}` })) };
        this.collector.addPoolStats(named, now);
      }
      this.schedule();
    });
  }

  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}

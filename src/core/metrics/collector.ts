// Builds the dashboard's and the report's time series from board events and pool stats snapshots.
// Every update is O(1) amortised and every series lives in a ring buffer, so a dashboard left open
// through a run of 100,000 tasks keeps a flat memory profile. Replaying events.jsonl from the start
// reconstructs a finished run (the report); following it keeps a live view current (the dashboard).
import type { BoardEvent, TaskStatus } from '../board/types';
import { RingBuffer } from '../monitor/ring-buffer';
import type { PoolStats } from '../pool/types';
import type {
  AgentSeries,
  AgentTotals,
  AttemptInterval,
  AttemptOutcome,
  DeadLetter,
  MetricsSnapshot,
  QueueDepthPoint,
  ResourcePeaks,
  ResourcePoint,
  ResourceSample,
  RunSummary,
  TaskRecord,
  ThroughputPoint,
} from './types';
import { RESOURCE_WINDOW_MS } from './types';

export interface MetricsCapacity {
  /** Throughput buckets kept (default 1,440: a day of minutes). */
  throughputBuckets: number;
  /** Queue-depth points kept (default 3,600). */
  queuePoints: number;
  /** Resource points kept per agent and for the system (default 600). */
  resourcePoints: number;
  /** Agents whose series are kept; the least recently sampled are dropped first (default 32). */
  agents: number;
  /** Attempt intervals kept for the timeline (default 2,000). */
  timeline: number;
  /** Task records kept; the oldest are dropped first (default 20,000; Infinity for a report). */
  tasks: number;
  /** Dead letters listed in a snapshot (default 500); the rest are counted. */
  deadLetters: number;
}

export interface MetricsOptions {
  /** Width of a throughput bucket (default one minute). */
  bucketMs?: number;
  /** Queue-depth changes closer than this are merged into one point (default 1 s). */
  queueResolutionMs?: number;
  capacity?: Partial<MetricsCapacity>;
}

/** How long a host's latest resource sample counts towards the shared board's peaks: three windows of the resource log. */
const HOST_STALE_MS = 3 * RESOURCE_WINDOW_MS;

interface HostFigures {
  at: number;
  agents: number;
  rssBytes: number;
}

export const DEFAULT_CAPACITY: MetricsCapacity = {
  throughputBuckets: 1_440,
  queuePoints: 3_600,
  resourcePoints: 600,
  agents: 32,
  timeline: 2_000,
  tasks: 20_000,
  deadLetters: 500,
};

/** Counts of tasks waiting or running; what the board's state directories hold. */
export interface QueueCounts {
  pending: number;
  running: number;
  delayed: number;
}

/** Agent names whose attempt totals are kept. */
const MAX_AGENT_TOTALS = 1_000;

type Counters = Pick<RunSummary, 'posted' | 'done' | 'cancelled' | 'retries' | 'failedAttempts' | 'leaseExpiries'>;

export class MetricsCollector {
  readonly bucketMs: number;
  private readonly queueResolutionMs: number;
  private readonly capacity: MetricsCapacity;

  private readonly throughput: RingBuffer<ThroughputPoint>;
  private readonly queue: RingBuffer<QueueDepthPoint>;
  private readonly system: RingBuffer<ResourcePoint>;
  private readonly agentSeries = new Map<string, RingBuffer<ResourcePoint>>();
  private readonly timeline: RingBuffer<AttemptInterval>;
  /** Running attempts by task id; also what the timeline shows even after the ring dropped them. */
  private readonly open = new Map<string, AttemptInterval>();
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly dead = new Map<string, DeadLetter>();
  private readonly agentTotals = new Map<string, AgentTotals>();

  private readonly depth: QueueCounts = { pending: 0, running: 0, delayed: 0 };
  private readonly counters: Counters = { posted: 0, done: 0, cancelled: 0, retries: 0, failedAttempts: 0, leaseExpiries: 0 };
  private readonly peaks: ResourcePeaks = { agentCpuPercent: 0, agentRssBytes: 0, totalRssBytes: 0, systemCpuPercent: 0, agents: 0, hosts: 0 };
  /** Each host's latest sample, so the peaks of a shared board add up the hosts working at once. */
  private readonly latestByHost = new Map<string, HostFigures>();
  private firstEventAt: number | undefined;
  private firstStart: number | undefined;
  private lastEnd: number | undefined;
  private endedTaskMs = 0;
  private peakParallelism = 0;
  private lastEventAt = 0;

  constructor(options: MetricsOptions = {}) {
    this.bucketMs = options.bucketMs ?? 60_000;
    this.queueResolutionMs = options.queueResolutionMs ?? 1_000;
    this.capacity = { ...DEFAULT_CAPACITY, ...options.capacity };
    this.throughput = new RingBuffer(this.capacity.throughputBuckets);
    this.queue = new RingBuffer(this.capacity.queuePoints);
    this.system = new RingBuffer(this.capacity.resourcePoints);
    this.timeline = new RingBuffer(this.capacity.timeline);
  }

  // ------------------------------------------------------------------ board events

  addEvents(events: readonly BoardEvent[]): void {
    for (const event of events) this.addEvent(event);
  }

  addEvent(event: BoardEvent): void {
    const at = event.at;
    this.firstEventAt ??= at;
    this.lastEventAt = Math.max(this.lastEventAt, at);
    const id = event.taskId;
    switch (event.type) {
      case 'posted':
        if (id) this.onPosted(id, event);
        break;
      case 'claimed':
        if (id) this.onClaimed(id, event);
        break;
      case 'completed':
        if (id) this.onCompleted(id, at);
        break;
      case 'failed':
        if (id) this.onFailed(id, event);
        break;
      case 'retry-scheduled':
        this.counters.retries++;
        this.shiftQueue(at, { delayed: +1 });
        if (id) this.setStatus(id, 'pending');
        break;
      case 'dead':
        if (id) this.onDead(id, event);
        break;
      case 'reclaimed':
        if (id) this.onReclaimed(id, event);
        break;
      case 'promoted':
        this.shiftQueue(at, { delayed: -1, pending: +1 });
        break;
      case 'cancelled':
        if (id) this.onCancelled(id, event);
        break;
      case 'requeued':
        if (id) this.dead.delete(id);
        if (id) this.setStatus(id, 'pending');
        this.shiftQueue(at, { pending: +1 });
        break;
      case 'parent-completed':
        if (id) this.setStatus(id, 'done');
        break;
      default:
        break; // heartbeat, conflict, quarantined: nothing to chart
    }
  }

  private onPosted(id: string, event: BoardEvent): void {
    const detail = event.detail ?? {};
    const isParent = typeof detail.children === 'number';
    this.counters.posted++;
    this.remember({
      taskId: id,
      title: stringOr(detail.title, id),
      parentId: typeof detail.parentId === 'string' ? detail.parentId : undefined,
      postedAt: event.at,
      attempts: 0,
      busyMs: 0,
      status: isParent ? 'waiting' : 'pending',
    });
    if (!isParent) this.shiftQueue(event.at, { pending: +1 });
  }

  private onClaimed(id: string, event: BoardEvent): void {
    const at = event.at;
    // A claim of a task we still think is running means its reclaim was not seen: end that bar.
    if (this.open.has(id)) this.closeAttempt(id, at, 'lease-expired');
    const record = this.tasks.get(id);
    const interval: AttemptInterval = {
      agent: event.agent ?? 'unknown',
      taskId: id,
      title: record?.title ?? id,
      attempt: event.attempt ?? (record ? record.attempts + 1 : 1),
      start: at,
      outcome: 'running',
    };
    this.open.set(id, interval);
    this.timeline.push(interval);
    this.peakParallelism = Math.max(this.peakParallelism, this.open.size);
    this.firstStart = this.firstStart === undefined ? at : Math.min(this.firstStart, at);
    if (record) {
      record.attempts = interval.attempt;
      record.status = 'running';
      record.firstStart ??= at;
    }
    this.shiftQueue(at, { pending: -1, running: +1 });
  }

  private onCompleted(id: string, at: number): void {
    this.counters.done++;
    this.closeAttempt(id, at, 'done');
    this.setStatus(id, 'done');
    this.countThroughput(at, 'done');
    this.shiftQueue(at, { running: -1 });
  }

  private onFailed(id: string, event: BoardEvent): void {
    this.counters.failedAttempts++;
    this.closeAttempt(id, event.at, 'failed');
    const record = this.tasks.get(id);
    if (record) record.lastError = stringOr(event.detail?.message, 'failed');
    this.countThroughput(event.at, 'failed');
    this.shiftQueue(event.at, { running: -1 });
  }

  private onReclaimed(id: string, event: BoardEvent): void {
    this.counters.leaseExpiries++;
    this.closeAttempt(id, event.at, 'lease-expired');
    const record = this.tasks.get(id);
    if (record) {
      record.lastError = `The lease of agent ${event.agent ?? 'unknown'} expired.`;
      record.status = 'pending';
    }
    this.countThroughput(event.at, 'failed');
    this.shiftQueue(event.at, event.detail?.toDead === true ? { running: -1 } : { running: -1, pending: +1 });
  }

  private onDead(id: string, event: BoardEvent): void {
    const record = this.tasks.get(id);
    const message = stringOr(event.detail?.message, record?.lastError ?? 'dead');
    this.markLastAttemptDead(id, event.attempt);
    this.dead.set(id, { taskId: id, title: record?.title ?? id, attempts: event.attempt ?? record?.attempts ?? 0, at: event.at, message });
    if (record) {
      record.status = 'dead';
      record.lastError = message;
    }
  }

  private onCancelled(id: string, event: BoardEvent): void {
    this.counters.cancelled++;
    const from = event.detail?.from;
    if (from === 'running' || this.open.has(id)) {
      this.closeAttempt(id, event.at, 'cancelled');
      this.shiftQueue(event.at, { running: -1 });
    } else if (from === 'pending') {
      this.shiftQueue(event.at, this.depth.pending > 0 ? { pending: -1 } : { delayed: -1 });
    }
    this.dead.delete(id);
    this.setStatus(id, 'cancelled');
  }

  private closeAttempt(id: string, at: number, outcome: AttemptOutcome): void {
    const interval = this.open.get(id);
    if (!interval) return;
    this.open.delete(id);
    interval.end = Math.max(at, interval.start);
    interval.outcome = outcome;
    const duration = interval.end - interval.start;
    this.endedTaskMs += duration;
    this.lastEnd = this.lastEnd === undefined ? interval.end : Math.max(this.lastEnd, interval.end);
    const record = this.tasks.get(id);
    if (record) {
      record.busyMs += duration;
      record.lastEnd = interval.end;
    }
    this.countAgentAttempt(interval.agent, outcome, duration);
  }

  private countAgentAttempt(agent: string, outcome: AttemptOutcome, duration: number): void {
    let totals = this.agentTotals.get(agent);
    if (!totals) {
      if (this.agentTotals.size >= MAX_AGENT_TOTALS) return; // a pathological number of agent names
      totals = { agent, attempts: 0, done: 0, failed: 0, busyMs: 0 };
      this.agentTotals.set(agent, totals);
    }
    totals.attempts++;
    totals.busyMs += duration;
    if (outcome === 'done') totals.done++;
    else totals.failed++;
  }

  /** The failing attempt that sent a task to the dead-letter queue is drawn as `dead`. */
  private markLastAttemptDead(id: string, attempt: number | undefined): void {
    const recent = this.timeline.toArray(64);
    for (let i = recent.length - 1; i >= 0; i--) {
      const interval = recent[i];
      if (interval.taskId === id && (attempt === undefined || interval.attempt === attempt) && interval.outcome !== 'running') {
        interval.outcome = 'dead';
        return;
      }
    }
  }

  private setStatus(id: string, status: TaskStatus): void {
    const record = this.tasks.get(id);
    if (record) record.status = status;
  }

  private remember(record: TaskRecord): void {
    this.tasks.delete(record.taskId);
    this.tasks.set(record.taskId, record);
    if (this.tasks.size > this.capacity.tasks) {
      const oldest = this.tasks.keys().next().value;
      if (oldest !== undefined) this.tasks.delete(oldest);
    }
  }

  private countThroughput(at: number, kind: 'done' | 'failed'): void {
    const bucket = Math.floor(at / this.bucketMs) * this.bucketMs;
    const latest = this.throughput.latest();
    if (latest && bucket <= latest.t) {
      // Writers append in nearly time order; a late line lands in its own (recent) bucket.
      const target = bucket === latest.t ? latest : this.findBucket(bucket);
      if (target) target[kind]++;
      return;
    }
    if (latest) this.fillEmptyBuckets(latest.t, bucket);
    this.throughput.push({ t: bucket, done: kind === 'done' ? 1 : 0, failed: kind === 'failed' ? 1 : 0 });
  }

  /** Idle minutes between two busy ones are real zeros on the chart, not a straight line. */
  private fillEmptyBuckets(from: number, to: number): void {
    const gaps = Math.min((to - from) / this.bucketMs - 1, this.capacity.throughputBuckets);
    const start = to - gaps * this.bucketMs;
    for (let i = 0; i < gaps; i++) this.throughput.push({ t: start + i * this.bucketMs, done: 0, failed: 0 });
  }

  private findBucket(bucket: number): ThroughputPoint | undefined {
    const recent = this.throughput.toArray(16);
    return recent.find((point) => point.t === bucket);
  }

  private shiftQueue(at: number, change: Partial<QueueCounts>): void {
    // The balance may dip below zero for a moment: events of several processes reach the log in
    // the order they were appended, not always the order they happened (an agent's `claimed` can
    // land before another's `promoted` of the same task). Clamping here lost that step for good (a
    // finished run charted one task pending forever); only what is shown is clamped.
    this.depth.pending += change.pending ?? 0;
    this.depth.running += change.running ?? 0;
    this.depth.delayed += change.delayed ?? 0;
    this.recordQueue(at);
  }

  private shownDepth(): QueueCounts {
    return { pending: Math.max(0, this.depth.pending), running: Math.max(0, this.depth.running), delayed: Math.max(0, this.depth.delayed) };
  }

  private recordQueue(at: number): void {
    const latest = this.queue.latest();
    if (latest && at - latest.t < this.queueResolutionMs && at >= latest.t) {
      Object.assign(latest, this.shownDepth());
      return;
    }
    this.queue.push({ t: Math.max(at, latest?.t ?? at), ...this.shownDepth() });
  }

  // ------------------------------------------------------------------ corrections from the board

  /**
   * Replaces the event-derived queue counts with the board's real ones: events of a run that began
   * before the log was read, or lost with a crashed writer, would otherwise skew the chart forever.
   */
  resyncQueue(counts: QueueCounts, at: number): void {
    if (counts.pending === this.depth.pending && counts.running === this.depth.running && counts.delayed === this.depth.delayed) return;
    Object.assign(this.depth, counts);
    this.recordQueue(at);
  }

  /** Replaces the dead-letter list with the board's dead tasks (the authoritative list). */
  resyncDeadLetters(letters: readonly DeadLetter[]): void {
    this.dead.clear();
    for (const letter of letters) this.dead.set(letter.taskId, letter);
  }

  // ------------------------------------------------------------------ pool stats

  addPoolStats(stats: PoolStats, at: number = Date.now()): void {
    this.addResourceSample(resourceSampleOf(stats, at));
  }

  /** One sample of every live agent's tree and the machine (from pool stats or the resource log). */
  addResourceSample(sample: ResourceSample): void {
    let totalRss = 0;
    for (const agent of sample.agents) {
      const point: ResourcePoint = { t: sample.at, cpuPercent: agent.cpuPercent, rssBytes: agent.rssBytes };
      this.seriesFor(agent.id).push(point);
      totalRss += point.rssBytes;
      this.peaks.agentCpuPercent = Math.max(this.peaks.agentCpuPercent, point.cpuPercent);
      this.peaks.agentRssBytes = Math.max(this.peaks.agentRssBytes, point.rssBytes);
    }
    this.addHostFigures(sample.host ?? '', { at: sample.at, agents: sample.liveAgents, rssBytes: totalRss });
    if (sample.system) {
      this.system.push({ t: sample.at, cpuPercent: sample.system.cpuPercent, rssBytes: sample.system.usedBytes });
      this.peaks.systemCpuPercent = Math.max(this.peaks.systemCpuPercent, sample.system.cpuPercent);
    }
  }

  /**
   * Agents and memory at one moment are the sums over the hosts still reporting then: a host's
   * latest sample counts until it is HOST_STALE_MS old (it writes one every few seconds while its
   * pool runs), so two machines with 4 agents each peak at 8, not 4. Samples arrive in time order
   * (the resource log sorts them).
   */
  private addHostFigures(host: string, figures: HostFigures): void {
    this.latestByHost.set(host, figures);
    let agents = 0;
    let rssBytes = 0;
    let hosts = 0;
    for (const [name, latest] of this.latestByHost) {
      if (figures.at - latest.at > HOST_STALE_MS) {
        this.latestByHost.delete(name);
        continue;
      }
      agents += latest.agents;
      rssBytes += latest.rssBytes;
      hosts += 1;
    }
    this.peaks.agents = Math.max(this.peaks.agents, agents);
    this.peaks.totalRssBytes = Math.max(this.peaks.totalRssBytes, rssBytes);
    this.peaks.hosts = Math.max(this.peaks.hosts, hosts);
  }

  private seriesFor(agentId: string): RingBuffer<ResourcePoint> {
    let series = this.agentSeries.get(agentId);
    if (series) {
      // Map order is recency of sampling: re-insert so the stalest agent is first to go.
      this.agentSeries.delete(agentId);
    } else {
      series = new RingBuffer<ResourcePoint>(this.capacity.resourcePoints);
    }
    this.agentSeries.set(agentId, series);
    if (this.agentSeries.size > this.capacity.agents) {
      const stalest = this.agentSeries.keys().next().value;
      if (stalest !== undefined) this.agentSeries.delete(stalest);
    }
    return series;
  }

  // ------------------------------------------------------------------ reading

  queueCounts(): QueueCounts {
    return this.shownDepth();
  }

  /** Task records, oldest posted first (bounded by capacity.tasks). */
  taskRecords(): TaskRecord[] {
    return [...this.tasks.values()].map((record) => ({ ...record }));
  }

  /** The run summary; attempts still running count up to `now`. */
  summary(now: number = Math.max(Date.now(), this.lastEventAt)): RunSummary {
    let runningMs = 0;
    for (const interval of this.open.values()) runningMs += Math.max(0, now - interval.start);
    const taskMs = this.endedTaskMs + runningMs;
    const end = this.open.size > 0 ? now : this.lastEnd;
    const wallMs = this.firstStart !== undefined && end !== undefined ? Math.max(0, end - this.firstStart) : 0;
    return {
      startedAt: this.firstEventAt,
      endedAt: this.lastEnd,
      wallMs,
      taskMs,
      averageParallelism: wallMs > 0 ? taskMs / wallMs : 0,
      peakParallelism: this.peakParallelism,
      ...this.counters,
      dead: this.dead.size,
      peaks: { ...this.peaks },
    };
  }

  /** Ended attempts per agent, by agent name. */
  agentSummaries(): AgentTotals[] {
    return [...this.agentTotals.values()].map((totals) => ({ ...totals })).sort((a, b) => (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0));
  }

  deadLetterCount(): number {
    return this.dead.size;
  }

  deadLetters(): DeadLetter[] {
    return [...this.dead.values()].sort((a, b) => b.at - a.at);
  }

  timelineIntervals(): AttemptInterval[] {
    const kept = this.timeline.toArray();
    const shown = new Set(kept);
    // Long-running attempts stay on the timeline even when the ring has moved past their start.
    const stillOpen = [...this.open.values()].filter((interval) => !shown.has(interval));
    return [...stillOpen, ...kept].map((interval) => ({ ...interval }));
  }

  snapshot(now: number = Math.max(Date.now(), this.lastEventAt)): MetricsSnapshot {
    const deadLetters = this.deadLetters();
    const agents: AgentSeries[] = [...this.agentSeries.entries()]
      .map(([agentId, series]) => ({ agentId, points: series.toArray().map((point) => ({ ...point })) }))
      .sort((a, b) => (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : 0));
    return {
      at: now,
      bucketMs: this.bucketMs,
      throughput: this.throughput.toArray().map((point) => ({ ...point })),
      queue: this.queue.toArray().map((point) => ({ ...point })),
      agents,
      system: this.system.toArray().map((point) => ({ ...point })),
      timeline: this.timelineIntervals(),
      deadLetters: deadLetters.slice(0, this.capacity.deadLetters),
      deadLettersOmitted: Math.max(0, deadLetters.length - this.capacity.deadLetters),
      summary: this.summary(now),
    };
  }
}

/** The resource figures of a pool stats snapshot, in the compact form the resource log stores. */
export function resourceSampleOf(stats: PoolStats, at: number): ResourceSample {
  const live = stats.agents.filter((agent) => agent.state !== 'exited');
  return {
    at,
    liveAgents: live.length,
    agents: live
      .filter((agent) => agent.cpuPercent !== undefined || agent.rssBytes !== undefined)
      .map((agent) => ({ id: agent.id, cpuPercent: agent.cpuPercent ?? 0, rssBytes: agent.rssBytes ?? 0 })),
    ...(stats.system
      ? { system: { cpuPercent: stats.system.cpuPercent, usedBytes: stats.system.totalMemBytes - stats.system.availableMemBytes } }
      : {}),
  };
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && value.length > 0 ? value : fallback;
}

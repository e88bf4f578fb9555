// The metrics model the dashboard draws and the report prints. Plain JSON throughout, so a snapshot
// can be posted to a webview or written to a file as it is.

/** Tasks that ended in one time bucket (a minute by default). */
export interface ThroughputPoint {
  /** Bucket start, epoch ms. */
  t: number;
  done: number;
  /** Attempts that failed (retried or dead) in the bucket. */
  failed: number;
}

/** Tasks waiting or running at one moment. */
export interface QueueDepthPoint {
  t: number;
  pending: number;
  running: number;
  /** Waiting for a retry backoff to pass. */
  delayed: number;
}

/** One agent's process tree at one moment. */
export interface ResourcePoint {
  t: number;
  cpuPercent: number;
  rssBytes: number;
}

export interface AgentSeries {
  agentId: string;
  points: ResourcePoint[];
}

/** How one attempt ended; `running` while it has not. */
export type AttemptOutcome = 'running' | 'done' | 'failed' | 'dead' | 'lease-expired' | 'cancelled';

/** One attempt of one task on one agent: a bar on the agent timeline. */
export interface AttemptInterval {
  agent: string;
  taskId: string;
  title: string;
  attempt: number;
  start: number;
  /** Undefined while running. */
  end?: number;
  outcome: AttemptOutcome;
}

export interface DeadLetter {
  taskId: string;
  title: string;
  attempts: number;
  /** When the task went dead. */
  at: number;
  message: string;
}

/** Everything known about one task from the events, for the report's task table. */
export interface TaskRecord {
  taskId: string;
  title: string;
  parentId?: string;
  postedAt?: number;
  attempts: number;
  /** Sum of the durations of its ended attempts. */
  busyMs: number;
  firstStart?: number;
  lastEnd?: number;
  status: 'pending' | 'running' | 'done' | 'dead' | 'cancelled' | 'waiting';
  lastError?: string;
}

export interface ResourcePeaks {
  /** Highest CPU of one agent tree (100 = one core). */
  agentCpuPercent: number;
  agentRssBytes: number;
  /** Highest sum of all agent trees' memory at one moment, across the hosts reporting then. */
  totalRssBytes: number;
  /** Highest CPU of one machine (the busiest host's, on a shared board). */
  systemCpuPercent: number;
  /** Most agents alive at one moment, summed over the hosts reporting then (pool stats). */
  agents: number;
  /** Most hosts reporting at one moment (1 for a single pool). */
  hosts: number;
}

export interface RunSummary {
  /** First event seen, epoch ms; undefined for an empty board. */
  startedAt?: number;
  /** Last attempt end seen. */
  endedAt?: number;
  /** From the first attempt's start to the last attempt's end. */
  wallMs: number;
  /** Sum of the durations of all ended attempts. */
  taskMs: number;
  /** taskMs / wallMs: how many attempts ran side by side on average; 0 when nothing ran. */
  /** Sum of task times ÷ wall time: how many attempts ran side by side on average (not a speedup). */
  averageParallelism: number;
  /** Most attempts running at one moment. */
  peakParallelism: number;
  posted: number;
  done: number;
  /** Tasks dead right now (requeued ones no longer count). */
  dead: number;
  cancelled: number;
  /** Attempts that failed and were scheduled again. */
  retries: number;
  failedAttempts: number;
  leaseExpiries: number;
  peaks: ResourcePeaks;
}

export interface MetricsSnapshot {
  /** When the snapshot was taken. */
  at: number;
  bucketMs: number;
  throughput: ThroughputPoint[];
  queue: QueueDepthPoint[];
  agents: AgentSeries[];
  system: ResourcePoint[];
  timeline: AttemptInterval[];
  deadLetters: DeadLetter[];
  /** Dead tasks beyond the list's cap. */
  deadLettersOmitted: number;
  summary: RunSummary;
}

/** One agent's ended attempts, for the report. */
export interface AgentTotals {
  agent: string;
  attempts: number;
  done: number;
  /** Attempts that did not succeed (failed, lease expired, cancelled). */
  failed: number;
  busyMs: number;
}

/** Resource figures at one moment, as the resource log stores them. */
export interface ResourceSample {
  at: number;
  /** The host that recorded it, on a board several hosts share (absent: this process's pool). */
  host?: string;
  liveAgents: number;
  agents: { id: string; cpuPercent: number; rssBytes: number }[];
  system?: { cpuPercent: number; usedBytes: number };
}

/** A pool's resource log writes one line per window of this length (each agent's highest figures in it). */
export const RESOURCE_WINDOW_MS = 5_000;

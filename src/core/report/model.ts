// The content of a run report, gathered from a board: what ran, how long it took, what failed and
// how often it was retried, how much the swarm's parallelism saved, and the resource peaks.
import type { Board } from '../board/interface';
import { listAllTasks } from '../board/paging';
import type { Task, TaskError, TaskStatus } from '../board/types';
import { collectBoardMetrics, type MetricsCollector } from '../metrics';
import type { AgentTotals, AttemptInterval, DeadLetter, RunSummary, ThroughputPoint } from '../metrics/types';

export interface ReportTask {
  id: string;
  title: string;
  status: TaskStatus;
  attempts: number;
  /** Sum of its attempts' durations, from the event log (0 when the log does not cover it). */
  busyMs: number;
  /** From its first attempt's start to its last attempt's end. */
  spanMs?: number;
  executor?: string;
  summary?: string;
  lastError?: string;
  parentId?: string;
}

export interface ReportFailure {
  taskId: string;
  title: string;
  attempt: number;
  at: number;
  kind: TaskError['kind'];
  message: string;
  permanent: boolean;
}

export interface RunReport {
  generatedAt: number;
  boardRoot: string;
  summary: RunSummary;
  counts: Record<TaskStatus, number>;
  tasks: ReportTask[];
  /** Tasks beyond `maxTasks`, not listed. */
  tasksOmitted: number;
  failures: ReportFailure[];
  failuresOmitted: number;
  deadLetters: DeadLetter[];
  agents: AgentTotals[];
  throughput: ThroughputPoint[];
  bucketMs: number;
  /** Attempts, newest last, at most MAX_TIMELINE_BARS: the HTML report's agent timeline. */
  timeline: AttemptInterval[];
  /** True when pool resource figures were recorded for this board. */
  hasResources: boolean;
}

/** What a report needs from a board. */
export type ReportBoard = Pick<Board, 'describe' | 'readEvents' | 'follow' | 'list' | 'stats' | 'get' | 'errors'>;

export interface ReportOptions {
  /** Task rows listed (default 2,000); failures come first so none is cut for a success. */
  maxTasks?: number;
  /** Failure rows listed (default 200). */
  maxFailures?: number;
  now?: number;
  /** Metrics already gathered (the dashboard's live collector, which also holds pool stats). */
  metrics?: MetricsCollector;
}

/** Attempt bars the HTML report's timeline draws (the newest ones). */
export const MAX_TIMELINE_BARS = 2_000;

export async function buildRunReport(board: ReportBoard, options: ReportOptions = {}): Promise<RunReport> {
  const now = options.now ?? Date.now();
  const maxTasks = options.maxTasks ?? 2_000;
  const maxFailures = options.maxFailures ?? 200;
  const metrics = options.metrics ?? await collectBoardMetrics(board, { capacity: { tasks: Infinity, timeline: MAX_TIMELINE_BARS } }, now);
  const records = new Map(metrics.taskRecords().map((record) => [record.taskId, record]));
  const all = await listAllTasks(board);
  const listed = rankForListing(all).slice(0, maxTasks);

  const tasks: ReportTask[] = [];
  for (const task of listed) {
    const record = records.get(task.id);
    // List pages carry no results: a done task's result is read on its own.
    const result = task.status === 'done' ? resultOf(await board.get(task.id)) : {};
    tasks.push({
      id: task.id,
      title: task.title,
      status: task.status,
      attempts: task.attempts,
      busyMs: record?.busyMs ?? result.durationMs ?? 0,
      ...(record?.firstStart !== undefined && record.lastEnd !== undefined ? { spanMs: record.lastEnd - record.firstStart } : {}),
      ...(result.executor ? { executor: result.executor } : {}),
      ...(result.summary ? { summary: result.summary } : {}),
      ...(task.lastError ? { lastError: task.lastError.message } : {}),
      ...(task.parentId ? { parentId: task.parentId } : {}),
    });
  }

  const failing = all.filter((task) => task.lastError !== undefined || task.status === 'dead' || task.attempts > 1);
  const failures: ReportFailure[] = [];
  let failuresOmitted = 0;
  for (const task of failing) {
    for (const error of await board.errors(task.id)) {
      if (failures.length >= maxFailures) failuresOmitted++;
      else failures.push({ taskId: task.id, title: task.title, attempt: error.attempt, at: error.at, kind: error.kind, message: error.message, permanent: error.permanent });
    }
  }
  failures.sort((a, b) => a.at - b.at);

  const snapshot = metrics.snapshot(now);
  const summary = metrics.summary(now);
  return {
    generatedAt: now,
    boardRoot: board.describe(),
    summary,
    counts: (await board.stats()).counts,
    tasks: tasks.sort((a, b) => statusRank(a.status) - statusRank(b.status)),
    tasksOmitted: all.length - listed.length,
    failures,
    failuresOmitted,
    deadLetters: metrics.deadLetters(),
    agents: metrics.agentSummaries(),
    throughput: snapshot.throughput,
    bucketMs: snapshot.bucketMs,
    timeline: snapshot.timeline,
    hasResources: summary.peaks.agents > 0 || summary.peaks.systemCpuPercent > 0,
  };
}

const STATUS_ORDER: TaskStatus[] = ['dead', 'running', 'pending', 'waiting', 'cancelled', 'done'];

function statusRank(status: TaskStatus): number {
  return STATUS_ORDER.indexOf(status);
}

/** Problems first, then by creation: a capped list never hides a failure behind successes. */
function rankForListing(tasks: Task[]): Task[] {
  return [...tasks].sort((a, b) => statusRank(a.status) - statusRank(b.status) || a.createdAt - b.createdAt);
}

interface ResultFields {
  durationMs?: number;
  executor?: string;
  summary?: string;
}

/** The pool's result object is `{ summary, executor, durationMs, ... }`; anything else is ignored. */
function resultOf(task: Task | undefined): ResultFields {
  const result = task?.result;
  if (typeof result !== 'object' || result === null) return {};
  const fields = result as Record<string, unknown>;
  return {
    ...(typeof fields.durationMs === 'number' ? { durationMs: fields.durationMs } : {}),
    ...(typeof fields.executor === 'string' ? { executor: fields.executor } : {}),
    ...(typeof fields.summary === 'string' ? { summary: fields.summary } : {}),
  };
}

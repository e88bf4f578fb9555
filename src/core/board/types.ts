// The board's public data model. Everything the pool, the CLI and the extension know about a task
// comes through these types; none of them depends on how the board stores tasks.
import { SwarmUserError } from '../errors';
import type { RunnerNeeds } from './routing';

/** Where a task is in its life. `waiting` is a map parent waiting for its children to end. */
export type TaskStatus = 'pending' | 'running' | 'done' | 'dead' | 'cancelled' | 'waiting';

export const TASK_STATUSES: readonly TaskStatus[] = ['pending', 'running', 'done', 'dead', 'cancelled', 'waiting'];

/** What a caller provides to post a task. Everything but the title has a default. */
export interface TaskSpec {
  title: string;
  /** Free-form kind of work, e.g. `fix`, `prompt`, `command`; executors may dispatch on it. */
  type?: string;
  prompt?: string;
  /** Workspace-relative paths this task may touch; overlapping tasks never run at once. */
  files?: string[];
  /** Higher runs first; a whole number in [-9999, 9999]. */
  priority?: number;
  payload?: unknown;
  maxAttempts?: number;
  /** Epoch milliseconds before which the task is not claimable; at most 99,999,999,999,999 (year 5138). */
  notBefore?: number;
  parentId?: string;
  /** Where the task starts on another machine (set by a post to a shared board, not by hand). */
  source?: TaskSource;
  /** Labels a runner must have to take the task (`swarm run --labels`); others hand it back. */
  requires?: string[];
}

/**
 * The poster's working state, for a runner on another machine (docs/remote-git.md): the snapshot
 * commit, a commit the shared remote has that it builds on, and the bundle that carries the rest.
 * The tasks of one post share one snapshot and one bundle artifact.
 */
export interface TaskSource {
  /** Normalised repository identity (`github.com/a/b`, `file:///srv/repo.git`, `unpublished:<root commit>`). */
  repository: string;
  /** Where runners fetch the history from; never with credentials. */
  url?: string;
  /** The workspace folder inside the repository ('' at its top). */
  prefix: string;
  /** The commit the remote has that the bundle builds on (absent for a full bundle). */
  base?: string;
  /** The snapshot commit: the runner's slot starts from exactly this id. */
  snapshot: string;
  /** Names the snapshot: the bundle's one head is `refs/swarm-base/<snapshotId>`. */
  snapshotId: string;
  /** thin: builds on `base`; full: the whole history; none: the snapshot is on the remote already. */
  bundle: 'thin' | 'full' | 'none';
  bundleBytes: number;
  bundleSha256?: string;
  /** The board artifact that holds the bundle (absent for `none`). */
  artifact?: { taskId: string; name: string };
}

/** One recorded failure of one attempt. */
export interface TaskError {
  attempt: number;
  at: number;
  message: string;
  permanent: boolean;
  agent?: string;
  /** `failed` when the agent reported it, `lease-expired` when the board reclaimed the task. */
  kind: 'failed' | 'lease-expired' | 'cancelled';
}

/** A task as read from the board. */
export interface Task {
  id: string;
  title: string;
  type: string;
  prompt: string;
  files: string[];
  priority: number;
  payload: unknown;
  status: TaskStatus;
  /** Claims made so far (the running attempt included). */
  attempts: number;
  maxAttempts: number;
  notBefore?: number;
  parentId?: string;
  source?: TaskSource;
  requires?: string[];
  /**
   * A pending task that claimers could not serve (Redis board): it waits, set aside, for a runner
   * with these labels and this repository, and is claimable again as soon as one asks.
   */
  waitingForRunner?: RunnerNeeds;
  /** Agent that holds the lease, while running. */
  claimedBy?: string;
  leaseExpiresAt?: number;
  /** The completing attempt's result, for done tasks (read with `get`, not `list`). */
  result?: unknown;
  lastError?: TaskError;
  createdAt: number;
  updatedAt: number;
  /** Number of children, for map parents. */
  childCount?: number;
  /**
   * Only on the value an operation returns: side effects that failed after the change was made
   * (an event not logged, a marker not written). The change itself happened; the board's
   * maintenance repairs what these describe where it can.
   */
  warnings?: string[];
}

/** A successful claim: the task and the token that proves the lease. */
export interface Claim {
  task: Task;
  /** Opaque lease token; heartbeat, complete and fail must present it. */
  token: string;
  agent: string;
  leaseExpiresAt: number;
  /** Side effects of the claim that failed after it was made (see Task.warnings). */
  warnings?: string[];
}

export interface Progress {
  total: number;
  done: number;
  dead: number;
  cancelled: number;
  running: number;
  pending: number;
  /**
   * Children that ran to an end (done or dead) over total, 0 to 100. Cancelled children are work
   * that was never done, so they never count: a cancelled map does not read 100 %.
   */
  percent: number;
}

/** A map task's progress from its children's counts: the same arithmetic on both boards. */
export function progressFromCounts(counts: Pick<Progress, 'total' | 'done' | 'dead' | 'cancelled' | 'running'>): Progress {
  const { total, done, dead, cancelled, running } = counts;
  const ended = done + dead + cancelled;
  return {
    total,
    done,
    dead,
    cancelled,
    running,
    pending: Math.max(0, total - ended - running),
    percent: total === 0 ? 0 : Math.round(((done + dead) / total) * 1000) / 10,
  };
}

export interface BoardStats {
  counts: Record<TaskStatus, number>;
  /** Pending tasks that are not due yet (part of `counts.pending`), where the board tells them apart. */
  delayed?: number;
  quarantined: number;
  parents: Record<string, Progress>;
}

export interface RetryPolicy {
  /** First retry delay in ms. */
  baseMs: number;
  /** Largest delay in ms. */
  capMs: number;
  multiplier: number;
  /** Fraction of the delay that is random: the delay lies in [d·(1-jitter), d]. */
  jitter: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1_000, capMs: 5 * 60_000, multiplier: 2, jitter: 0.5 };
export const DEFAULT_LEASE_MS = 30_000;
export const DEFAULT_MAX_ATTEMPTS = 3;

export type BoardEventType =
  | 'posted'
  | 'claimed'
  | 'heartbeat'
  | 'completed'
  | 'failed'
  | 'retry-scheduled'
  | 'dead'
  | 'cancelled'
  | 'requeued'
  | 'reclaimed'
  | 'promoted'
  | 'conflict'
  | 'quarantined'
  | 'parent-completed'
  | 'reopened'
  /** A task no claimer so far could serve waits for a runner with its labels and repository (Redis board). */
  | 'waiting-for-runner'
  /** A claimed task starts in one command with others (detail: the batch's first task and size; the first task's event lists every id: see batchedDetails). */
  | 'batched';

/** One line of the event log. */
export interface BoardEvent {
  at: number;
  type: BoardEventType;
  taskId?: string;
  agent?: string;
  attempt?: number;
  pid: number;
  detail?: Record<string, unknown>;
}

/**
 * Why a lease holder no longer holds its claim: the task was `cancelled`; the lease expired and the
 * board took the task back (`reclaimed`: it is pending again, or another claim holds it); the task
 * `ended` (done or dead, e.g. this claim already completed it); or it is `missing` from the board.
 */
export type LeaseLossCause = 'cancelled' | 'reclaimed' | 'ended' | 'missing';

/** Thrown when a lease holder acts on a task it no longer holds. Match on `cause`, not the message. */
export class LeaseLostError extends SwarmUserError {
  constructor(
    readonly taskId: string,
    message: string,
    override readonly cause: LeaseLossCause,
  ) {
    super('lease-lost', message);
    this.name = 'LeaseLostError';
  }
}

/** Thrown for invalid input: a bad spec, an unknown id, a wrong state. Nothing on the board changed. */
export class BoardInputError extends SwarmUserError {
  constructor(message: string) {
    super('input', message);
    this.name = 'BoardInputError';
  }
}

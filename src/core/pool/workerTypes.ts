// The worker's types shared by the single-task path (worker.ts) and batches (batchRun.ts): its
// options and reports, a running attempt, and the result stored for a done task.
import type { Board } from '../board/interface';
import type { Serves } from '../board/routing';
import type { Claim } from '../board/types';
import type { Executor, HostModelBroker, RateLimiterClient } from '../executors';
import type { ActiveSandbox } from '../sandbox/launcher';
import { localArtifactFile } from './boardAccess';
import type { CollectedChanges, TaskIsolation } from './isolation';
import type { TaskEnded } from './protocol';

export const DEFAULT_MAX_LOG_BYTES = 1024 * 1024;

export type WorkerEvent =
  | { type: 'task-started'; taskId: string; title: string; attempt: number; token: string; startedAt: number }
  | ({ type: 'task-ended' } & TaskEnded)
  | { type: 'idle'; since: number };

export interface WorkerOptions {
  board: Board;
  agentId: string;
  slot: string;
  executor: Executor;
  isolation: Pick<TaskIsolation, 'prepare' | 'collect' | 'abandon' | 'keepBase'>;
  leaseMs: number;
  /** What this agent can serve on a shared board; the board never hands it another task. */
  serves?: Serves;
  limiter?: RateLimiterClient;
  hostModels?: HostModelBroker;
  env?: NodeJS.ProcessEnv;
  /** The host's sandbox: every command of every attempt runs inside it. Undefined: no sandbox. */
  sandbox?: ActiveSandbox;
  maxLogBytes?: number;
  /** Empty-board polling backs off from minPollMs to maxPollMs. */
  minPollMs?: number;
  maxPollMs?: number;
  /** Builds the executors a best-of-N task names (payload.bestOf.executors) from `namedExecutors`. */
  createExecutor?: (config: unknown) => Executor;
  /** The executors the pool's owner configured by name; a task may pick among these, never bring its own. */
  namedExecutors?: Record<string, unknown>;
  /** Best-of-N attempts at once (each needs a workspace of its own); false runs them in turn. */
  parallelAttempts?: boolean;
  /** Sequential mode: return instead of polling when nothing is claimable. */
  stopWhenIdle?: boolean;
  /** How often a running task's log is stored on the board while it grows (default 2 s). */
  logUploadMs?: number;
  /** Agents of the pool (its most): a batch takes about this share of a map's unfinished tasks. Default 1. */
  poolSize?: number;
  report: (event: WorkerEvent) => void;
}

/** Result stored on the board for a done task (see /docs/pool.md). */
export interface TaskResult {
  summary: string;
  executor: string;
  durationMs: number;
  rounds?: number;
  /** The board artifact holding the attempt's output (read it with getArtifact / `swarm log`). */
  logArtifact?: string;
  /** The board artifact holding the result patch. */
  patchArtifact?: string;
  /** On a file board: the file of the log artifact (for people and older readers). */
  logFile?: string;
  /** On a file board: the file of the patch artifact. */
  patchFile?: string;
  base?: string;
  files: CollectedChanges['files'];
  /** For a task that ran in a batch (one command for several tasks of a map): all their ids, in order. */
  batch?: string[];
  /** For best-of-N tasks: how many attempts ran and which one (1-based) won. */
  bestOf?: { attempts: number; winner: number };
  /**
   * Changes the attempt made outside its worktree (detected when it ran without a sandbox): the
   * checkout, the repository's git config or hooks. A task with warnings is never reported clean.
   */
  warnings?: string[];
}

export type Interruption = 'release' | 'cancelled' | 'lease-lost';

export interface CurrentAttempt {
  claim: Claim;
  controller: AbortController;
  interruption?: Interruption;
  /** Until when the lease surely holds, by this machine's clock: renewals move it on. */
  leaseHeldUntil: number;
}

/** The result fields naming a stored artifact: its name, and on a file board its file too. */
export function artifactFields(board: Board, taskId: string, name: string, nameField: 'logArtifact' | 'patchArtifact', fileField: 'logFile' | 'patchFile'): Partial<TaskResult> {
  const file = localArtifactFile(board, taskId, name);
  return { [nameField]: name, ...(file !== undefined && { [fileField]: file }) };
}

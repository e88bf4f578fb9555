// The typed IPC protocol between the pool (host) and one agent process. Pool messages carry
// `channel: 'swarm-pool'` so they share the IPC channel with the rate limiter's and the host
// models' messages without being confused with them. An agent process may host several agents
// (agentsPerProcess): every message names its agent in `agent`.
import type { Task } from '../board/types';
import type { FailureKind } from '../executors/types';
import type { ActiveSandbox } from '../sandbox/launcher';
import type { CollectedChanges, PreparedWorkspace } from './isolation';
import type { Serves } from '../board/routing';

export const POOL_CHANNEL = 'swarm-pool';

/** How an agent gets a working directory: on its own (`none`: the workspace itself) or from the host. */
export type AgentIsolationMode = 'none' | 'host';

export interface AgentInit {
  agentId: string;
  /** Short stable id of the agent's worktree slot. */
  slot: string;
  /**
   * Where the agent opens the board: a folder, or a redis:// URL without the password (which
   * reaches the agent as SWARM_BOARD_PASSWORD in its environment, never through IPC).
   */
  board: string;
  workspaceRoot: string;
  /** Executor config JSON; the host validated it already. */
  executor: unknown;
  /** Executors configured by name, the only ones a best-of-N task may name. */
  namedExecutors?: Record<string, unknown>;
  leaseMs: number;
  /** What this agent can serve on a shared board (ClaimRequest.serves). */
  serves?: Serves;
  isolation: AgentIsolationMode;
  /** The host isolation's kind; best-of-N attempts run at once only where each gets its own folder. */
  isolationKind: string;
  /** Whether the host brokers VS Code language models. */
  hostModels: boolean;
  /** Dispatch held back until this time (usage-limit pause in force when the agent starts). */
  holdUntil?: number;
  /** Size cap of one task's log file. */
  maxLogBytes: number;
  /** The sandbox every command runs in; absent: commands run without one. */
  sandbox?: ActiveSandbox;
  /** The most agents of the pool: a batch takes about this share of a map's unfinished tasks. */
  poolSize?: number;
  /**
   * The process exits only when the host says so (`exit`), not on its own once its last agent
   * ended: the host may have placed another agent into it whose init is still on its way, and only
   * the host knows. Absent (an older host, a test driving the process by hand): it exits on its own.
   */
  exitWhenTold?: boolean;
}

// ---- host → agent

export type HostToAgentBody =
  | { type: 'init'; init: AgentInit }
  | { type: 'ping'; id: number }
  /** Stop claiming until `until` (a usage-limit pause); `resume` lifts it. */
  | { type: 'hold'; until: number }
  | { type: 'resume' }
  /** Tasks are waiting: stop backing off and claim now. */
  | { type: 'wake' }
  /** Finish the current task (if any), claim nothing more, exit. */
  | {
      type: 'drain';
      /**
       * No agent of its process is live after this one: none will be placed there any more, so the
       * process exits on its own once its agents ended, without waiting for the host's `exit`.
       */
      final?: boolean;
    }
  /** Abort the current task if it is `taskId`; the board already cancelled it. */
  | { type: 'cancel'; taskId: string }
  /** The process's last agent ended and the host placed none more into it: exit with `code` (no agent named). */
  | { type: 'exit'; code: number }
  /** What this runner serves changed (a remote added to its clone): claim with this from now on. */
  | { type: 'serves'; serves: Serves }
  | { type: 'isolation-reply'; id: number; ok: true; value: PreparedWorkspace | CollectedChanges | null }
  /** `handBack`: the host cannot serve the task (CannotServeTaskError); the agent hands it back. */
  | { type: 'isolation-reply'; id: number; ok: false; message: string; handBack?: { taskId: string; reason: string } };

// ---- agent → host

export type TaskOutcome = 'done' | 'failed' | 'released' | 'lost' | 'cancelled';

export interface TaskEnded {
  taskId: string;
  outcome: TaskOutcome;
  durationMs: number;
  summary?: string;
  kind?: FailureKind;
  message?: string;
  retryAt?: number;
  /** A done task's warnings (changes outside its worktree without a sandbox). */
  warnings?: string[];
  /** The tasks of the batch it ran in (one command for all), the first being the one that counts the command. */
  batch?: string[];
}

export type IsolationRequest =
  | { op: 'prepare'; task: Task; slot: string; artifactsDir: string }
  | { op: 'collect'; task: Task; slot: string; prepared: PreparedWorkspace; artifactsDir: string }
  | { op: 'keep-base'; taskIds: string[]; base: string }
  | { op: 'abandon'; task: Task; slot: string; prepared: PreparedWorkspace; reason: string };

export type AgentToHostBody =
  | { type: 'ready'; pid: number }
  | { type: 'pong'; id: number }
  | { type: 'task-started'; taskId: string; title: string; attempt: number; token: string; startedAt: number }
  | ({ type: 'task-ended' } & TaskEnded)
  | { type: 'idle'; since: number }
  | { type: 'isolation'; id: number; request: IsolationRequest }
  /** The attempt behind isolation request `id` was cancelled: stop preparing (the reply still comes). */
  | { type: 'isolation-abort'; id: number }
  /** The agent cannot work at all (e.g. its executor config is invalid); the host stops restarting it. */
  | { type: 'fatal'; message: string; /** The board cannot be written: the whole pool stops. */ board?: boolean }
  /** A side effect of a board write that failed after the write committed (the board's onWarning). */
  | { type: 'warning'; message: string }
  /**
   * The agent's worker ended (it drained, or could not work: `code` 2) while its process lives on
   * for other agents. The process exits once its last agent ended (when the host says so, with
   * `exitWhenTold`); the host then sees that exit.
   */
  | { type: 'ended'; code: number };

/** The envelope of every pool message: the channel, and the agent it is for or from. */
interface Envelope {
  channel: typeof POOL_CHANNEL;
  /** The agent the message is for (host → agent) or from (agent → host); absent only in messages of older agents. */
  agent?: string;
}

type Enveloped<M> = M extends unknown ? M & Envelope : never;
export type HostToAgent = Enveloped<HostToAgentBody>;
export type AgentToHost = Enveloped<AgentToHostBody>;
export type PoolMessage = HostToAgent | AgentToHost;

export function isPoolMessage(message: unknown): message is PoolMessage {
  if (typeof message !== 'object' || message === null) return false;
  const candidate = message as { channel?: unknown; type?: unknown };
  return candidate.channel === POOL_CHANNEL && typeof candidate.type === 'string';
}

export function toAgent(body: HostToAgentBody, agent?: string): HostToAgent {
  return { channel: POOL_CHANNEL, ...(agent !== undefined && { agent }), ...body } as HostToAgent;
}

export function toHost(body: AgentToHostBody, agent?: string): AgentToHost {
  return { channel: POOL_CHANNEL, ...(agent !== undefined && { agent }), ...body } as AgentToHost;
}

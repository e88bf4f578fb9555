// The agent pool's public model: what the CLI's progress line, `swarm agents`, the Pool tree and the
// dashboard show. Everything here is plain JSON so it can cross IPC and be written to status files.
import type { EndpointState } from '../ratelimit/types';
import type { SandboxStatus } from '../sandbox/types';

export type AgentState = 'starting' | 'idle' | 'busy' | 'stopping' | 'exited';

/** How the pool runs tasks: child-process agents, or one at a time inside the host (fallback). */
export type PoolMode = 'pool' | 'sequential';

export interface AgentCurrentTask {
  id: string;
  title: string;
  attempt: number;
  startedAt: number;
}

export interface AgentInfo {
  id: string;
  pid?: number;
  state: AgentState;
  currentTask?: AgentCurrentTask;
  /**
   * Every task the agent runs now, in the order they started: the tasks of a batch (one command for
   * several tasks of a map), else its one task. Absent while idle, and in status files of older hosts
   * (use `currentTask` then).
   */
  currentTasks?: AgentCurrentTask[];
  tasksDone: number;
  tasksFailed: number;
  startedAt: number;
  /** Agent plus its child processes, from the resource monitor. */
  cpuPercent?: number;
  rssBytes?: number;
}

/** The tasks an agent runs now: every task of a batch; a host that writes only `currentTask` has one. */
export function currentTasksOf(agent: Pick<AgentInfo, 'currentTask' | 'currentTasks'>): AgentCurrentTask[] {
  if (agent.currentTasks && agent.currentTasks.length > 0) return agent.currentTasks;
  return agent.currentTask ? [agent.currentTask] : [];
}

export interface SystemResources {
  cpuPercent: number;
  totalMemBytes: number;
  availableMemBytes: number;
}

export interface PoolStats {
  hostPid: number;
  boardRoot: string;
  mode: PoolMode;
  running: boolean;
  minAgents: number;
  maxAgents: number;
  busy: number;
  idle: number;
  total: number;
  agents: AgentInfo[];
  tasksDone: number;
  tasksFailed: number;
  /** Sum of the durations of finished attempts (a batch counts once), for the parallelism figure. */
  busyMs: number;
  /** Attempts that ran the executor: a batch of several tasks in one command counts once (absent in status files of older hosts). */
  commands?: number;
  startedAt: number;
  system?: SystemResources;
  limiters: EndpointState[];
  /** Dispatch is held back until this time (a coding-agent CLI reported a usage limit). */
  pausedUntil?: number;
  pauseReason?: string;
  /** Why no new agent is started right now (safe-spawn check), if that is the case. */
  spawnBlockedReason?: string;
  /** Whether commands run sandboxed, and why not (absent in status files of older hosts). */
  sandbox?: SandboxStatus;
}

export type PoolEvent =
  | { type: 'agent-started'; agentId: string; pid?: number }
  | { type: 'agent-exited'; agentId: string; code: number | null; signal: string | null; expected: boolean }
  | { type: 'task-started'; agentId: string; taskId: string; title: string; attempt: number }
  /** `warnings`: what the attempt changed outside its worktree without a sandbox (also in the task's result). */
  | { type: 'task-finished'; agentId: string; taskId: string; durationMs: number; summary: string; warnings?: string[] }
  | { type: 'task-failed'; agentId: string; taskId: string; durationMs: number; kind: string; message: string }
  | { type: 'mode'; mode: PoolMode; reason?: string }
  /** Once per start: whether commands run sandboxed, and why not. */
  | { type: 'sandbox'; status: SandboxStatus }
  | { type: 'warning'; message: string }
  | { type: 'paused'; until: number; reason: string }
  | { type: 'stats'; stats: PoolStats }
  | { type: 'stopped' };

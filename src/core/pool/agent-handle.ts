// One agent as the host sees it: a forked agent process, or the in-host worker of the sequential
// fallback. Its phase lives in `life` (agent-state.ts), which publishes the public state to
// `info.state`; the rest is data: the lease it holds, its slot, its last answer.
import type { SupervisedProcess } from '../process';
import type { HostingProcess } from './agent-process';
import { AgentLifecycle } from './agent-state';
import { toAgent, type HostToAgentBody } from './protocol';
import { createRequester, type Requester } from './request-reply';
import type { AgentInfo } from './types';
import type { AgentWorker, WorkerEvent } from './worker';

export interface AgentHandle {
  info: AgentInfo;
  slot: string;
  inHost: boolean;
  /** Its agent process (shared with the other agents `hosting` holds, when agentsPerProcess > 1). */
  process?: SupervisedProcess;
  hosting?: HostingProcess;
  /** Called when its process reports that this agent's worker ended (the process may live on). */
  ended?: (code: number) => void;
  worker?: AgentWorker;
  /** Its one explicit state; every change goes through it. */
  life: AgentLifecycle;
  /** Lease token of the task it runs, from its task-started report. */
  token?: string;
  /** Every task it runs now, from its reports: several while it runs a batch (batchRun.ts). */
  runningTasks: Set<string>;
  idleSince?: number;
  /** Requests to its process that wait for a reply (health pings), from when it is forked. */
  requests?: Requester<AgentRequest, void>;
  /** A task cancelled by the user: nothing to hand back. */
  cancelledTask?: string;
  /** Isolation requests the host is running for this agent, to abort when it cancels or exits. */
  isolationRequests: Map<number, AbortController>;
}

/** A forked agent, before its process exists: starting until it reports ready. */
export function agentProcessHandle(id: string, slot: string): AgentHandle {
  return withLifecycle({ id, state: 'starting', tasksDone: 0, tasksFailed: 0, startedAt: Date.now() }, slot, false);
}

/** The sequential fallback's worker, running in this process: ready and idle at once. */
export function inHostHandle(id: string, slot: string): AgentHandle {
  return withLifecycle({ id, pid: process.pid, state: 'idle', tasksDone: 0, tasksFailed: 0, startedAt: Date.now() }, slot, true);
}

function withLifecycle(info: AgentInfo, slot: string, inHost: boolean): AgentHandle {
  const initial = inHost ? 'idle' : 'starting';
  const life = new AgentLifecycle(info.id, initial, (state) => (info.state = state), () => info.currentTask !== undefined);
  return { info, slot, inHost, life, isolationRequests: new Map(), runningTasks: new Set() };
}

/** What the host asks an agent process and waits for: a health ping, answered by a pong with its id. */
export type AgentRequest = { type: 'ping' };

/** Opens the request channel to the agent's process (once it is forked). */
export function openAgentRequests(handle: AgentHandle): Requester<AgentRequest, void> {
  handle.requests = createRequester<AgentRequest, void>(
    (id, body) => {
      const child = handle.process?.child;
      if (!child?.connected) throw new Error('its IPC channel is closed');
      child.send(toAgent({ ...body, id }, handle.info.id), (error) => error && undefined);
    },
    { peer: `agent ${handle.info.id}` },
  );
  return handle.requests;
}

/** The lowest slot id no agent uses (a slot's worktree is reused by the next agent in it). */
export function freeSlot(agents: Iterable<AgentHandle>): string {
  const used = new Set([...agents].map((agent) => agent.slot));
  for (let index = 1; ; index++) if (!used.has(`s${index}`)) return `s${index}`;
}

/** A message to an agent process; nothing for the in-host worker or an agent already gone. */
export function sendToAgent(handle: AgentHandle, body: HostToAgentBody): void {
  const child = handle.process?.child;
  if (!child?.connected) return;
  try {
    child.send(toAgent(body, handle.info.id), (error) => error && undefined);
  } catch {
    // The agent exited; its exit handler cleans up.
  }
}

/**
 * What an agent's report (from its process or the in-host worker) changes on its handle: the lease
 * it holds, its current task, since when it idles, its phase. The supervisor reads these when the
 * agent exits (which task to hand back or fail).
 */
export function recordWorkerEvent(handle: AgentHandle, event: WorkerEvent): void {
  switch (event.type) {
    case 'idle':
      handle.runningTasks.clear();
      handle.info.currentTasks = undefined;
      handle.idleSince = event.since;
      handle.life.taskEnded();
      return;
    case 'task-started':
      handle.runningTasks.add(event.taskId);
      handle.token = event.token;
      handle.idleSince = undefined;
      handle.info.currentTask = { id: event.taskId, title: event.title, attempt: event.attempt, startedAt: event.startedAt };
      // A batch reports each of its tasks as started: all of them are current, not only the last.
      handle.info.currentTasks = [...(handle.info.currentTasks ?? []).filter((task) => task.id !== event.taskId), handle.info.currentTask];
      handle.life.taskStarted();
      return;
    case 'task-ended':
      handle.runningTasks.delete(event.taskId);
      handle.token = undefined;
      handle.info.currentTask = undefined;
      handle.info.currentTasks = handle.info.currentTasks?.filter((task) => task.id !== event.taskId);
      if (handle.info.currentTasks?.length === 0) handle.info.currentTasks = undefined;
      handle.idleSince = Date.now();
      handle.life.taskEnded();
      return;
  }
}

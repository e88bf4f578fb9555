// The sequential fallback's agent: one AgentWorker inside the host process that claims and runs
// tasks one at a time and returns once nothing is claimable (the pool starts it again when tasks
// arrive). Used when agent processes cannot start, or when sequential mode is asked for.
import { createExecutor, type HostModelBroker } from '../executors';
import type { RateLimiter } from '../ratelimit';
import type { ActiveSandbox } from '../sandbox/launcher';
import { inHostHandle, type AgentHandle } from './agent-handle';
import type { TaskIsolation } from './isolation';
import { AgentWorker, type WorkerEvent, type WorkerOptions } from './worker';
import type { Serves } from '../board/routing';

export interface InHostAgentOptions {
  board: WorkerOptions['board'];
  /** Executor config JSON; an invalid one throws here (the pool reports it and runs nothing). */
  executor: unknown;
  namedExecutors?: Record<string, unknown>;
  isolation: TaskIsolation;
  leaseMs: number;
  serves?: Serves;
  limiter: RateLimiter;
  hostModels?: HostModelBroker;
  /** The environment of its commands (the host's marks and SWARM_AGENT_ID included). */
  env: NodeJS.ProcessEnv;
  sandbox?: ActiveSandbox;
  maxLogBytes?: number;
  /** A usage-limit pause in force: the worker holds back until then. */
  holdUntil?: number;
  report: (handle: AgentHandle, event: WorkerEvent) => void;
}

/** The in-host agent `id` with its worker, not yet running (the caller runs `worker.run()`). */
export function createInHostAgent(id: string, options: InHostAgentOptions): AgentHandle & { worker: AgentWorker } {
  const executor = createExecutor(options.executor);
  const handle = inHostHandle(id, 's1');
  const worker = new AgentWorker({
    board: options.board,
    agentId: id,
    slot: handle.slot,
    executor,
    isolation: options.isolation,
    leaseMs: options.leaseMs,
    serves: options.serves,
    limiter: options.limiter,
    hostModels: options.hostModels,
    env: options.env,
    sandbox: options.sandbox,
    maxLogBytes: options.maxLogBytes,
    createExecutor,
    namedExecutors: options.namedExecutors,
    parallelAttempts: options.isolation.kind === 'worktree',
    stopWhenIdle: true,
    report: (event) => options.report(handle, event),
  });
  if (options.holdUntil) worker.hold(options.holdUntil);
  return Object.assign(handle, { worker });
}

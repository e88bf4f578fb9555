// Starting one agent process: the fork of dist/agent.js (or a TypeScript agent in tests) with the
// host's environment marks, its output lines into the pool's log, its pool messages to the host,
// and the host's rate limiter and models served to it over IPC.
import { pathToFileURL } from 'url';
import { serveHostModelsOverIpc, type HostModelBroker } from '../executors';
import { forkSupervised, type SupervisedProcess } from '../process';
import { serveLimiterOverIpc, type RateLimiter, type Subscribe } from '../ratelimit';
import type { AgentHandle } from './agent-handle';
import { isPoolMessage, type AgentToHost } from './protocol';

export interface AgentProcessOptions {
  agentScript: string;
  /** Node flags; default none for .js and `--import tsx` for a .ts agentScript (tests). */
  agentExecArgv?: string[];
  workspaceRoot: string;
  env: NodeJS.ProcessEnv;
  limiter: RateLimiter;
  hostModels?: HostModelBroker;
  log: (line: string) => void;
  onMessage: (message: AgentToHost) => void;
}

export interface AgentProcess {
  process: SupervisedProcess;
  /** Stops serving the limiter and models (after the agent exited). */
  dispose(): void;
}

/**
 * An agent process as the supervisor keeps it: the agents it hosts (one, or up to agentsPerProcess)
 * and what ends them all. Named after its first agent (its log lines, the resource monitor).
 */
export interface HostingProcess {
  label: string;
  /** The agents living in it; one is added only while another there is live (see hasRoom). */
  members: Set<AgentHandle>;
  /** Resolves to the started process, or to why it could not start. */
  forked: Promise<AgentProcess | Error>;
  /** Set once it is being killed: every agent in it goes down with it. */
  killing?: string;
  /** Set once its exit was seen. */
  exited: boolean;
  /** Set once one of its agents told the scheduler how the process ended (a crash counts once, not per agent). */
  exitReported?: boolean;
  /** Its exit code and signal. */
  exit?: Promise<{ code: number | null; signal: string | null }>;
  /** Resolves once it exited and its process group was ended (once, for all its agents). */
  reaped?: Promise<void>;
}

/** Forks agent `id`; rejects when the process cannot start. */
export async function forkAgent(id: string, options: AgentProcessOptions): Promise<AgentProcess> {
  const child = await forkSupervised(options.agentScript, [], {
    cwd: options.workspaceRoot,
    env: options.env,
    execArgv: options.agentExecArgv ?? (options.agentScript.endsWith('.ts') ? ['--import', tsxLoader()] : []),
    onStdoutLine: (line) => options.log(`[${id}] ${line}`),
    onStderrLine: (line) => options.log(`[${id}] ${line}`),
  });
  const subscribe: Subscribe = (listener) => {
    child.child.on('message', listener);
    return () => child.child.off('message', listener);
  };
  const sendRaw = (message: unknown): void => {
    if (child.child.connected) child.child.send(message as object, (error) => error && undefined);
  };
  child.child.on('message', (message: unknown) => {
    if (isPoolMessage(message)) options.onMessage(message as AgentToHost);
  });
  const limiterServer = serveLimiterOverIpc(options.limiter, sendRaw, subscribe);
  const modelServer = options.hostModels ? serveHostModelsOverIpc(options.hostModels, sendRaw, subscribe) : undefined;
  return {
    process: child,
    dispose: () => {
      limiterServer.dispose();
      modelServer?.dispose();
    },
  };
}

/** tsx for a TypeScript agent script (tests), resolved here: agents start in the workspace, where
 * a bare `--import tsx` would not be found. */
function tsxLoader(): string {
  try {
    return pathToFileURL(require.resolve('tsx', { paths: [process.cwd(), __dirname] })).href;
  } catch {
    return 'tsx';
  }
}

// The agent process (bundled to dist/agent.js). The pool forks it with an IPC channel and sends it
// one `init` message per agent it is to host (agentsPerProcess; one by default). Each agent runs the
// claim → execute → complete loop on the shared board in an AgentWorker of its own, until it is
// told to drain; the process exits once its last agent ended (when the host says so: it may have
// placed another agent here meanwhile), on SIGTERM, or when its host dies.
// The agents of one process share its board connection, rate-limiter client and host-model client;
// each agent's commands carry its own SWARM_AGENT_ID (in their spawn environment, never in
// process.env), so the host finds and ends one agent's leftovers without touching its siblings'.
import type { Board } from '../core/board/interface';
import { openBoard } from '../core/board/open';
import { createExecutor, createHostModelIpcClient, type Executor, type HostModelIpcClient } from '../core/executors';
import { createLimiterIpcClient, type LimiterIpcClient, type Subscribe } from '../core/ratelimit';
import { exitWhenParentDies } from '../core/process';
import { createIsolationProxy, createNoIsolation } from '../core/pool/isolation-modes';
import { isPoolMessage, toHost, type AgentInit, type AgentToHostBody, type HostToAgent, type IsolationRequest } from '../core/pool/protocol';
import { createRequester } from '../core/pool/request-reply';
import { AgentWorker, boardOutageMessage } from '../core/pool/worker';
import { BOARD_PASSWORD_ENV } from '../core/pool/boardAccess';
import { CannotServeTaskError } from '../core/remote/errors';
import type { CollectedChanges, PreparedWorkspace } from '../core/pool/isolation';

function sendRaw(message: unknown): void {
  // Once the host is gone, send() would report ERR_IPC_CHANNEL_CLOSED as an uncaught 'error'
  // event; the watchdog ends this process instead.
  if (!process.connected) return;
  try {
    process.send?.(message, undefined, undefined, () => undefined);
  } catch {
    // Closed between the check and the send.
  }
}

const subscribe: Subscribe = (listener) => {
  process.on('message', listener);
  return () => process.off('message', listener);
};

// The board's password came in the environment; taken out of it at once, so no command this agent
// runs (the executor, verify, setup) inherits it.
const boardPassword = process.env[BOARD_PASSWORD_ENV];
delete process.env[BOARD_PASSWORD_ENV];

/** One hosted agent: its worker once started, and the messages that came before it. */
interface HostedAgent {
  id: string;
  send(body: AgentToHostBody): void;
  worker?: AgentWorker;
  handle?: (message: HostToAgent) => void;
  /** Fails its isolation requests still waiting once the host is gone. */
  closeRequests?: () => void;
  early: HostToAgent[];
}

const agents = new Map<string, HostedAgent>();
/**
 * Whether this process waits for the host's `exit` once its last agent ended (AgentInit.exitWhenTold):
 * exiting on its own then raced the init of an agent the host had just placed here, which went down
 * with the process before it was ready.
 */
let exitWhenTold = false;
/** SIGTERM came (a stop after its grace period): the process exits once its agents handed their tasks back. */
let terminating = false;
/**
 * A drain said no agent will be placed here any more (its last live agent was drained: a
 * retirement, a cancel, a stop): the process exits on its own once its agents ended, as the host's
 * `exit` would only come a round trip later.
 */
let noMoreAgents = false;
const watchdog = exitWhenParentDies({ beforeExit: () => agents.forEach((agent) => agent.worker?.releaseNow()) });

/** What the agents of this process share, made by the first init. */
interface Shared {
  board: Board;
  limiter: LimiterIpcClient;
  hostModels?: HostModelIpcClient;
}
let shared: Promise<Shared> | undefined;

function main(): void {
  if (!process.send) {
    console.error('dist/agent.js is started by the agent pool (swarm run or the VS Code extension), not by hand.');
    process.exit(2);
  }
  // One listener from the first moment: messages that arrive while an agent is still starting
  // (a hold, a drain, a cancel sent while the board opens) wait in its `early` for its handler.
  process.on('message', (message: unknown) => {
    if (!isPoolMessage(message)) return;
    const body = message as HostToAgent;
    if (body.type === 'init') {
      exitWhenTold ||= body.init.exitWhenTold === true;
      if (!agents.has(body.init.agentId)) void start(body.init);
      return;
    }
    if (body.type === 'exit') return exit(body.code);
    if (body.type === 'drain' && body.final) noMoreAgents = true;
    const agent = addressee(body);
    if (!agent) return;
    if (agent.handle) agent.handle(body);
    else agent.early.push(body);
  });
  // One listener for all agents (one each would pass Node's listener warning at eleven agents).
  process.once('disconnect', () => agents.forEach((agent) => agent.closeRequests?.()));
  // SIGTERM (graceful stop after the grace period): every agent hands its task back, then exit.
  process.on('SIGTERM', () => {
    // On its way out: no agent is placed here any more, so the last one to end need not wait for the host.
    terminating = true;
    if (agents.size === 0) return exit(0);
    for (const agent of agents.values()) {
      agent.worker?.drain();
      agent.worker?.interrupt('release');
    }
    setTimeout(() => {
      agents.forEach((agent) => agent.worker?.releaseNow());
      exit(0);
    }, 3000).unref();
  });
}

/** The agent a message is for; a message naming none is for the only agent (an older host). */
function addressee(message: HostToAgent): HostedAgent | undefined {
  if (message.agent !== undefined) return agents.get(message.agent);
  return agents.size === 1 ? [...agents.values()][0] : undefined;
}

/**
 * The board connection, limiter and model clients of the first init, for every agent. The board's
 * warnings (a side effect that failed after a write committed) are the process's, not one agent's:
 * they go to the host naming no agent, and the host names the process's agents.
 */
function openShared(init: AgentInit): Promise<Shared> {
  shared ??= (async () => {
    const board = await openBoard(init.board, { env: boardPassword ? { [BOARD_PASSWORD_ENV]: boardPassword } : {}, excludeFromGit: false, onWarning: (message) => sendRaw(toHost({ type: 'warning', message })) });
    return { board, limiter: createLimiterIpcClient(sendRaw, subscribe), hostModels: init.hostModels ? createHostModelIpcClient(sendRaw, subscribe) : undefined };
  })();
  return shared;
}

async function start(init: AgentInit): Promise<void> {
  const agent: HostedAgent = { id: init.agentId, early: [], send: (body) => sendRaw(toHost(body, init.agentId)) };
  agents.set(agent.id, agent);
  const code = await runAgent(agent, init).catch((error: unknown) => {
    failProcess(agent, error);
    return undefined;
  });
  // No `ended` then: the host learns of it from the process's exit, once for all its agents (an
  // `ended` first made one crash count twice for the restart backoff).
  if (code === undefined) return;
  agents.delete(agent.id);
  agent.send({ type: 'ended', code });
  if (agents.size === 0 && (!exitWhenTold || terminating || noMoreAgents)) exit(code);
}

/**
 * An unexpected error in one agent ends the whole process, as it did when each agent had a process
 * of its own. The host hears first which agent failed and why: the process's output goes to the
 * pool's log under its first agent's name, and its other agents go down with it.
 */
function failProcess(agent: HostedAgent, error: unknown): void {
  const crash = (): void => {
    throw error;
  };
  const timer = setTimeout(crash, 1000);
  const others = agents.size - 1;
  const goesDown = others === 0 ? 'Its agent process ends' : `Its agent process ends, and the ${others} other agent${others === 1 ? '' : 's'} it hosts with it`;
  const message = `failed unexpectedly: ${error instanceof Error ? error.message : String(error)}. ${goesDown}; the tasks they held are retried.`;
  try {
    // Not a user error: caught just below, where the process crashes at once instead of warning.
    if (!process.connected) throw new Error('the host is gone');
    process.send?.(toHost({ type: 'warning', message }, agent.id), undefined, undefined, () => {
      clearTimeout(timer);
      setImmediate(crash);
    });
  } catch {
    clearTimeout(timer);
    setImmediate(crash);
  }
}

/**
 * One executor per configuration among the agents of this process. Validating a configuration (its
 * schema) cost each agent about 2 ms on its way to its first command, one agent after the other on
 * the process's one thread; a command or agent-CLI executor keeps nothing between attempts (what runs
 * comes from each attempt's context), so the agents share it. A model executor is made per agent.
 */
const sharedExecutors = new Map<string, Executor>();

function executorFor(config: unknown): Executor {
  const key = JSON.stringify(config);
  const known = sharedExecutors.get(key);
  if (known) return known;
  const executor = createExecutor(config);
  const type = typeof config === 'object' && config !== null ? (config as { type?: unknown }).type : undefined;
  if (type === 'command' || type === 'agent') sharedExecutors.set(key, executor);
  return executor;
}

/** Runs one agent until its worker ends; its exit code (2: it cannot work). */
async function runAgent(agent: HostedAgent, init: AgentInit): Promise<number> {
  const { send } = agent;
  let executor: Executor;
  try {
    executor = executorFor(init.executor);
  } catch (error) {
    send({ type: 'fatal', message: error instanceof Error ? error.message : String(error) });
    return 2;
  }
  // Side effects that failed after a board write committed reach the host's log and `swarm run`.
  let resources: Shared;
  try {
    resources = await openShared(init);
  } catch (error) {
    const outage = boardOutageMessage(error);
    send({ type: 'fatal', message: outage ?? (error instanceof Error ? error.message : String(error)), ...(outage !== undefined && { board: true }) });
    return 2;
  }
  // No timeout: a prepare runs the workspace's setup command, which may take long. A host that is
  // gone fails every request still waiting (the watchdog then ends this process).
  const isolationRequests = createRequester<IsolationRequest, PreparedWorkspace | CollectedChanges | null>((id, request) => send({ type: 'isolation', id, request }), { peer: 'the agent host' });
  const closeRequests = (): void => isolationRequests.close('the host closed the IPC channel.');
  agent.closeRequests = closeRequests;
  const isolation =
    init.isolation === 'none'
      ? createNoIsolation(init.workspaceRoot)
      : createIsolationProxy((request, signal) => isolationRequests.request(request, { signal, onAbort: (id) => send({ type: 'isolation-abort', id }) }));
  const worker = new AgentWorker({
    board: resources.board,
    agentId: init.agentId,
    slot: init.slot,
    executor,
    isolation,
    leaseMs: init.leaseMs,
    serves: init.serves,
    limiter: resources.limiter,
    hostModels: resources.hostModels,
    // This agent's mark on every command it starts (the process's own environment names no agent
    // when it hosts several).
    env: { SWARM_AGENT_ID: init.agentId },
    sandbox: init.sandbox,
    maxLogBytes: init.maxLogBytes,
    createExecutor,
    namedExecutors: init.namedExecutors,
    parallelAttempts: init.isolationKind === 'worktree',
    poolSize: init.poolSize,
    report: (event) => send(event),
  });
  agent.worker = worker;
  if (init.holdUntil) worker.hold(init.holdUntil);

  agent.handle = handle;
  for (const message of agent.early.splice(0)) handle(message);
  function handle(message: HostToAgent): void {
    switch (message.type) {
      case 'ping':
        return send({ type: 'pong', id: message.id });
      case 'hold':
        return worker.hold(message.until);
      case 'resume':
        return worker.resume();
      case 'wake':
        return worker.wake();
      case 'drain':
        return worker.drain();
      case 'cancel':
        return worker.interrupt('cancelled', message.taskId);
      case 'serves':
        // The worker claims with the object it was given: updated in place, then a claim at once.
        if (init.serves) Object.assign(init.serves, message.serves);
        return worker.wake();
      case 'isolation-reply':
        if (message.ok) isolationRequests.resolve(message.id, message.value);
        // A task this host cannot serve keeps its type across the channel: the worker hands it back.
        else isolationRequests.reject(message.id, message.handBack ? new CannotServeTaskError(message.handBack.taskId, message.handBack.reason) : new Error(message.message));
        return;
      case 'init':
      case 'exit':
        return;
    }
  }

  send({ type: 'ready', pid: process.pid });
  try {
    await worker.run();
  } catch (error) {
    const outage = boardOutageMessage(error);
    if (outage === undefined) throw error;
    send({ type: 'fatal', message: outage, board: true });
  } finally {
    agent.closeRequests = undefined;
    agent.handle = undefined;
  }
  return 0;
}

let exiting = false;

function exit(code: number): void {
  if (exiting) return;
  exiting = true;
  watchdog.dispose();
  // Let queued IPC messages (task-ended) reach the host before the channel closes.
  const close = shared?.then(async ({ board, limiter, hostModels }) => {
    limiter.dispose();
    hostModels?.dispose();
    await board.close();
  });
  void Promise.resolve(close)
    .catch(() => undefined)
    .then(() => setImmediate(() => process.exit(code)));
}

main();

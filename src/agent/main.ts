// The agent process (bundled to dist/agent.js). The pool forks it with an IPC channel, sends one
// `init` message, and the agent then runs the claim → execute → complete loop on the shared board
// until it is told to drain, gets SIGTERM, or its host dies.
import type { Board } from '../core/board/interface';
import { openBoard } from '../core/board/open';
import { createExecutor, createHostModelIpcClient, type Executor } from '../core/executors';
import { createLimiterIpcClient, type Subscribe } from '../core/ratelimit';
import { exitWhenParentDies } from '../core/process';
import { createIsolationProxy, createNoIsolation } from '../core/pool/isolation-modes';
import { isPoolMessage, toHost, type AgentInit, type AgentToHostBody, type HostToAgent, type IsolationRequest } from '../core/pool/protocol';
import { createRequester } from '../core/pool/request-reply';
import { AgentWorker, boardOutageMessage } from '../core/pool/worker';
import { BOARD_PASSWORD_ENV } from '../core/pool/boardAccess';
import { CannotServeTaskError } from '../core/remote/errors';
import type { CollectedChanges, PreparedWorkspace } from '../core/pool/isolation';

function send(body: AgentToHostBody): void {
  sendRaw(toHost(body));
}

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

let worker: AgentWorker | undefined;
const watchdog = exitWhenParentDies({ beforeExit: () => worker?.releaseNow() });

function main(): void {
  if (!process.send) {
    console.error('dist/agent.js is started by the agent pool (swarm run or the VS Code extension), not by hand.');
    process.exit(2);
  }
  // One listener from the first moment: messages that arrive while the agent is still starting
  // (a hold, a drain, a cancel sent while the board opens) wait in `early` for the handler.
  process.on('message', (message: unknown) => {
    if (!isPoolMessage(message)) return;
    const body = message as HostToAgent;
    if (body.type === 'init') {
      if (!started) {
        started = true;
        void start(body.init);
      }
    } else if (handleMessage) handleMessage(body);
    else early.push(body);
  });
}

let started = false;
let handleMessage: ((message: HostToAgent) => void) | undefined;
const early: HostToAgent[] = [];

async function start(init: AgentInit): Promise<void> {
  let executor: Executor;
  try {
    executor = createExecutor(init.executor);
  } catch (error) {
    send({ type: 'fatal', message: error instanceof Error ? error.message : String(error) });
    return exit(2);
  }
  // Side effects that failed after a board write committed reach the host's log and `swarm run`.
  let board: Board;
  try {
    board = await openBoard(init.board, { env: boardPassword ? { [BOARD_PASSWORD_ENV]: boardPassword } : {}, excludeFromGit: false, onWarning: (message) => send({ type: 'warning', message }) });
  } catch (error) {
    const outage = boardOutageMessage(error);
    send({ type: 'fatal', message: outage ?? (error instanceof Error ? error.message : String(error)), ...(outage !== undefined && { board: true }) });
    return exit(2);
  }
  const limiter = createLimiterIpcClient(sendRaw, subscribe);
  const hostModels = init.hostModels ? createHostModelIpcClient(sendRaw, subscribe) : undefined;
  // No timeout: a prepare runs the workspace's setup command, which may take long. A host that is
  // gone fails every request still waiting (the watchdog then ends this process).
  const isolationRequests = createRequester<IsolationRequest, PreparedWorkspace | CollectedChanges | null>((id, request) => send({ type: 'isolation', id, request }), { peer: 'the agent host' });
  process.once('disconnect', () => isolationRequests.close('the host closed the IPC channel.'));
  const isolation =
    init.isolation === 'none'
      ? createNoIsolation(init.workspaceRoot)
      : createIsolationProxy((request, signal) => isolationRequests.request(request, { signal, onAbort: (id) => send({ type: 'isolation-abort', id }) }));
  const activeWorker = new AgentWorker({
    board,
    agentId: init.agentId,
    slot: init.slot,
    executor,
    isolation,
    leaseMs: init.leaseMs,
    serves: init.serves,
    limiter,
    hostModels,
    sandbox: init.sandbox,
    maxLogBytes: init.maxLogBytes,
    createExecutor,
    namedExecutors: init.namedExecutors,
    parallelAttempts: init.isolationKind === 'worktree',
    poolSize: init.poolSize,
    report: (event) => send(event),
  });
  worker = activeWorker;
  if (init.holdUntil) activeWorker.hold(init.holdUntil);

  handleMessage = handle;
  for (const message of early.splice(0)) handle(message);
  function handle(message: HostToAgent): void {
    switch (message.type) {
      case 'ping':
        return send({ type: 'pong', id: message.id });
      case 'hold':
        return activeWorker.hold(message.until);
      case 'resume':
        return activeWorker.resume();
      case 'wake':
        return activeWorker.wake();
      case 'drain':
        return activeWorker.drain();
      case 'cancel':
        return activeWorker.interrupt('cancelled', message.taskId);
      case 'serves':
        // The worker claims with the object it was given: updated in place, then a claim at once.
        if (init.serves) Object.assign(init.serves, message.serves);
        return activeWorker.wake();
      case 'isolation-reply':
        if (message.ok) isolationRequests.resolve(message.id, message.value);
        // A task this host cannot serve keeps its type across the channel: the worker hands it back.
        else isolationRequests.reject(message.id, message.handBack ? new CannotServeTaskError(message.handBack.taskId, message.handBack.reason) : new Error(message.message));
        return;
      case 'init':
        return;
    }
  }
  // SIGTERM (graceful stop after the grace period): hand the task back, then exit.
  process.on('SIGTERM', () => {
    activeWorker.drain();
    activeWorker.interrupt('release');
    setTimeout(() => {
      activeWorker.releaseNow();
      exit(0);
    }, 3000).unref();
  });

  send({ type: 'ready', pid: process.pid });
  try {
    await activeWorker.run();
  } catch (error) {
    const outage = boardOutageMessage(error);
    if (outage === undefined) throw error;
    send({ type: 'fatal', message: outage, board: true });
  } finally {
    limiter.dispose();
    hostModels?.dispose();
    await board.close().catch(() => undefined);
  }
  exit(0);
}

function exit(code: number): void {
  watchdog.dispose();
  // Let queued IPC messages (task-ended) reach the host before the channel closes.
  setImmediate(() => process.exit(code));
}

main();

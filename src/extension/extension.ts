// Activation: cheap registrations only (views, commands, status bar). The board is opened when a
// view first asks for it, and the pool resumes after a reload on a timer, after activate() returns.
import * as vscode from 'vscode';
import { SwarmSession, errorMessage } from './session';
import { POOL_VIEW, TASKS_VIEW, ContextKeys } from './settings';
import { TasksTreeProvider } from './views/tasksTree';
import { PoolTreeProvider } from './views/poolTree';
import { SwarmStatusBar } from './views/statusBar';
import { registerCommands } from './commands';
import { registerIntegrations } from './integrations';
import { registerFixWithSwarm } from './fix';
import { registerReview } from './review';
import { setContext } from './context';

export interface SwarmExtensionApi {
  session: SwarmSession;
  tasks: TasksTreeProvider;
  pool: PoolTreeProvider;
  /** How long activate() took (its body; the bundle is evaluated before). bench/activation.ts reads it. */
  activationMs: number;
}

/** The session of the running extension, for deactivate(). */
let activeSession: SwarmSession | undefined;

/**
 * Registers the views and commands. A failure is shown once in plain words (with the log) and the
 * extension stays inert instead of half-registered: activate() then returns undefined.
 */
export function activate(context: vscode.ExtensionContext): SwarmExtensionApi | undefined {
  const activationStarted = performance.now();
  const log = vscode.window.createOutputChannel('Agent Swarm', { log: true });
  context.subscriptions.push(log);
  try {
    const api = registerEverything(context, log);
    api.activationMs = performance.now() - activationStarted;
    log.info(`Activated in ${api.activationMs.toFixed(1)} ms`);
    return api;
  } catch (error) {
    reportFailure(log, 'Agent Swarm could not start', error);
    return undefined;
  }
}

function registerEverything(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): SwarmExtensionApi {
  const session = new SwarmSession(context, log);
  activeSession = session;
  const tasks = new TasksTreeProvider(session);
  const pool = new PoolTreeProvider(session);
  context.subscriptions.push(
    session,
    tasks,
    pool,
    vscode.window.createTreeView(TASKS_VIEW, { treeDataProvider: tasks, showCollapseAll: true }),
    vscode.window.createTreeView(POOL_VIEW, { treeDataProvider: pool }),
    new vscode.Disposable(() => {
      if (activeSession === session) activeSession = undefined;
    }),
  );
  void setContext(ContextKeys.running, false);
  registerCommands(context, session, tasks);
  registerIntegrations(context, session);
  registerReview(context, session);
  registerFixWithSwarm(context, session);
  // Deferred: reading the board and resuming the pool stay out of activate()'s time.
  const deferred = setTimeout(() => {
    try {
      afterActivation(context, session);
    } catch (error) {
      reportFailure(log, 'Agent Swarm could not open its board', error);
    }
  }, 0);
  context.subscriptions.push(new vscode.Disposable(() => clearTimeout(deferred)));
  return { session, tasks, pool, activationMs: 0 };
}

/** One plain message with a way to the log, where the full error (with its stack) is written. */
function reportFailure(log: vscode.LogOutputChannel, what: string, error: unknown): void {
  log.error(`${what}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  void vscode.window.showErrorMessage(`${what}: ${errorMessage(error)}. The Agent Swarm log has the details.`, 'Show Log').then((choice) => {
    if (choice) log.show(true);
  });
}

function afterActivation(context: vscode.ExtensionContext, session: SwarmSession): void {
  context.subscriptions.push(new SwarmStatusBar(session));
  session.watchProjectConfig();
  void session.viewBoard().then((board) => setContext(ContextKeys.hasBoard, board !== undefined));
  if (session.wasRunning) void resumePool(session);
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      if (session.wasRunning) void resumePool(session);
    }),
  );
}

async function resumePool(session: SwarmSession): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    session.log.info('The pool was running before the reload; it stays stopped in Restricted Mode until the folder is trusted.');
    return;
  }
  try {
    session.log.info('Resuming the pool (it was running before the window reloaded)');
    await session.start();
  } catch (error) {
    session.log.warn(`The pool could not resume: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Stops the pool and resolves when its agents have ended (VS Code waits for this promise before it
 * disposes context.subscriptions, which release everything else). The "running" flag is kept, so
 * the next window resumes.
 */
export function deactivate(): Promise<void> {
  return activeSession?.stopForShutdown() ?? Promise.resolve();
}

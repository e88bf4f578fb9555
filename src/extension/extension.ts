// Activation: cheap registrations only (views, commands, status bar). The board is opened when a
// view first asks for it, and the pool resumes after a reload on a timer, after activate() returns.
import * as vscode from 'vscode';
import { SwarmSession } from './session';
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

export function activate(context: vscode.ExtensionContext): SwarmExtensionApi {
  const activationStarted = performance.now();
  const log = vscode.window.createOutputChannel('Agent Swarm', { log: true });
  const session = new SwarmSession(context, log);
  const tasks = new TasksTreeProvider(session);
  const pool = new PoolTreeProvider(session);
  context.subscriptions.push(
    log,
    session,
    tasks,
    pool,
    vscode.window.createTreeView(TASKS_VIEW, { treeDataProvider: tasks, showCollapseAll: true }),
    vscode.window.createTreeView(POOL_VIEW, { treeDataProvider: pool }),
  );
  void setContext(ContextKeys.running, false);
  registerCommands(context, session, tasks);
  registerIntegrations(context, session);
  registerReview(context, session);
  registerFixWithSwarm(context, session);
  // Deferred: reading the board and resuming the pool stay out of activate()'s time.
  const deferred = setTimeout(() => afterActivation(context, session), 0);
  context.subscriptions.push(new vscode.Disposable(() => clearTimeout(deferred)));
  const activationMs = performance.now() - activationStarted;
  log.info(`Activated in ${activationMs.toFixed(1)} ms`);
  return { session, tasks, pool, activationMs };
}

function afterActivation(context: vscode.ExtensionContext, session: SwarmSession): void {
  context.subscriptions.push(new SwarmStatusBar(session));
  session.watchProjectConfig();
  void setContext(ContextKeys.hasBoard, session.getBoard() !== undefined);
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

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}

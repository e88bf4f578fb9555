// The palette and view commands. Each handler catches errors and shows them in words the user can
// act on; anything unexpected also goes to the log.
import * as path from 'path';
import * as vscode from 'vscode';
import type { Task } from '../core/board/types';
import { LOG_ARTIFACT } from '../core/board/interface';
import { SwarmUserError } from '../core/errors';
import { plural } from '../core/format';
import { Commands, type CommandId } from './commandIds';
import { VIEW_CONTAINER } from './settings';
import { UserFacingError, errorMessage, type SwarmSession } from './session';
import { postFromEditor } from './post';
import type { TaskNode, TasksTreeProvider } from './views/tasksTree';
import { configureExecutor, executorEnv } from './executorSetup';

type Handler = (...args: never[]) => unknown;

/** Registers a contributed command whose failures are shown to the user (see runReported). */
export function registerReported(context: vscode.ExtensionContext, session: SwarmSession, id: CommandId, handler: Handler): void {
  context.subscriptions.push(vscode.commands.registerCommand(id, (...args: unknown[]) => runReported(session, id, () => (handler as (...a: unknown[]) => unknown)(...args))));
}

export function registerCommands(context: vscode.ExtensionContext, session: SwarmSession, tasks: TasksTreeProvider): void {
  const register = (id: CommandId, handler: Handler): void => registerReported(context, session, id, handler);
  register(Commands.showBoard, () => vscode.commands.executeCommand(`workbench.view.extension.${VIEW_CONTAINER}`));
  register(Commands.showLog, () => session.log.show(true));
  register(Commands.refresh, () => {
    session.retryUnusableBoard();
    tasks.refresh();
  });
  register(Commands.showMore, (node: TaskNode) => tasks.showMore(node));
  register(Commands.start, async () => {
    await session.start({ hostEnv: await executorEnv(context, session) });
    void vscode.window.showInformationMessage(`Agent Swarm started (${session.getPool()?.mode === 'sequential' ? 'one task at a time in the window' : 'agent pool'}). Pending tasks are being worked on.`);
  });
  register(Commands.stop, async () => {
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Stopping the swarm…' }, () => session.stop());
  });
  register(Commands.postTask, () => postTask(session));
  register(Commands.retryFailed, () => retryFailed(session));
  register(Commands.revealBoard, () => revealBoard(session));
  register(Commands.configureExecutor, () => configureExecutor(context, session));
  register(Commands.setBoardPassword, () => setBoardPassword(session));
  register(Commands.retry, (node?: TaskNode) => taskAction(session, node, 'retry'));
  register(Commands.requeue, (node?: TaskNode) => taskAction(session, node, 'requeue'));
  register(Commands.cancel, (node?: TaskNode) => taskAction(session, node, 'cancel'));
  register(Commands.openLog, (node?: TaskNode) => openLog(session, node));
}

/** "Swarm: Set Board Password": kept in VS Code's secret storage, never in settings or the log. */
async function setBoardPassword(session: SwarmSession): Promise<void> {
  const password = await vscode.window.showInputBox({
    title: 'Swarm: Set Board Password',
    prompt: 'The password of the Redis board in agentSwarm.board (kept in VS Code\'s secret storage). Leave empty to forget it.',
    password: true,
    ignoreFocusOut: true,
  });
  if (password === undefined) return;
  await session.setBoardPassword(password);
  void vscode.window.showInformationMessage(password ? 'Board password saved; reconnecting to the board.' : 'Board password forgotten.');
}

/** Runs a command handler; user-facing errors as messages, anything else also logged. */
export async function runReported(session: SwarmSession, id: string, run: () => unknown): Promise<unknown> {
  try {
    return await run();
  } catch (error) {
    // The user's to fix (bad input, a board to configure, a full disk): a message, not a logged bug.
    const forTheUser = error instanceof UserFacingError || error instanceof SwarmUserError;
    if (!forTheUser) session.log.error(`${id} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    const message = forTheUser ? error.message : `${errorMessage(error)}. See the Agent Swarm log for details.`;
    void vscode.window.showErrorMessage(message, 'Show Log').then((choice) => {
      if (choice) session.log.show(true);
    });
    return undefined;
  }
}

/** The task a view command was invoked on (tree node or task id), or a quick pick. */
export function taskOf(node: TaskNode | string | undefined): string | undefined {
  if (typeof node === 'string') return node;
  if (node && node.kind === 'task') return node.task.id;
  return undefined;
}

async function postTask(session: SwarmSession): Promise<Task | undefined> {
  const prompt = await vscode.window.showInputBox({
    title: 'Swarm: Post Task',
    prompt: 'What should an agent do? (the first line becomes the title)',
    placeHolder: 'e.g. Add input validation to src/api/users.ts',
    ignoreFocusOut: true,
  });
  if (!prompt?.trim()) return undefined;
  const editor = vscode.window.activeTextEditor;
  const folder = vscode.workspace.workspaceFolders?.[0];
  const file = editor && folder && editor.document.uri.scheme === 'file' ? vscode.workspace.asRelativePath(editor.document.uri, false) : undefined;
  const pick = file ? await vscode.window.showQuickPick([{ label: `Only ${file}`, files: [file] }, { label: 'Any file', files: [] as string[] }], { title: 'Which files may the task change?' }) : undefined;
  const board = await session.ensureViewBoard();
  const title = prompt.trim().split('\n')[0].slice(0, 120);
  const task = await postFromEditor({ board, workspaceRoot: session.workspaceRoot, log: session.log }, { title, prompt: prompt.trim(), type: 'prompt', files: pick?.files ?? [] });
  session.notifyBoardChanged();
  await offerStart(session, `Posted task "${title}".`);
  return task;
}

/** After posting: start the pool if it is not running (the user decides). */
export async function offerStart(session: SwarmSession, message: string): Promise<void> {
  if (session.isRunning) {
    void vscode.window.setStatusBarMessage(`$(check) ${message}`, 4000);
    return;
  }
  const choice = await vscode.window.showInformationMessage(`${message} The swarm is not running.`, 'Start Swarm');
  if (choice) await vscode.commands.executeCommand(Commands.start);
}

async function retryFailed(session: SwarmSession): Promise<void> {
  const board = await session.viewBoard();
  const dead = board ? (await board.stats()).counts.dead : 0;
  if (!board || dead === 0) {
    void vscode.window.showInformationMessage('No failed tasks to retry.');
    return;
  }
  const requeued = await board.requeueAll();
  session.notifyBoardChanged();
  void vscode.window.showInformationMessage(`Requeued ${plural(requeued.length, 'failed task')}.${session.isRunning ? '' : ' Start the swarm to run them.'}`);
}

async function taskAction(session: SwarmSession, node: TaskNode | undefined, action: 'retry' | 'requeue' | 'cancel'): Promise<void> {
  const id = taskOf(node);
  const board = await session.viewBoard();
  if (!id || !board) throw new UserFacingError('Pick a task in the Swarm Tasks view first.');
  if (action === 'cancel') {
    const pool = session.getPool();
    // The pool also kills the running attempt's process tree; without a pool the board is enough.
    if (pool) await pool.cancelTask(id);
    else await board.cancel(id);
    session.notifyBoardChanged();
    return;
  }
  const task = await board.get(id);
  if (!task) throw new UserFacingError(`Task ${id} is no longer on the board.`);
  // Only dead tasks go back to the queue; a cancelled one is posted again as a copy. Like a local
  // slot, the copy starts from the working state of now (on a shared board: a fresh snapshot).
  if (task.status === 'cancelled') await postFromEditor({ board, workspaceRoot: session.workspaceRoot, log: session.log }, { title: task.title, type: task.type, prompt: task.prompt, files: task.files, priority: task.priority, payload: task.payload, ...(task.requires && { requires: task.requires }) });
  else await board.requeue(id);
  session.notifyBoardChanged();
}

async function openLog(session: SwarmSession, node: TaskNode | undefined): Promise<void> {
  const id = taskOf(node);
  if (id && session.usesRemoteBoard) return openSharedLog(session, id);
  const dir = session.boardDir;
  if (!id || !dir) throw new UserFacingError('Pick a task in the Swarm Tasks view first.');
  // A path only: the editor reads the file, nothing is read here.
  const file = path.join(dir, 'artifacts', id, 'log.txt');
  try {
    await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
  } catch {
    throw new UserFacingError(`Task ${id} has no log yet (${file}); a log is written once an agent runs it.`);
  }
}

/**
 * On a Redis board the log is an artifact on the server, not a file here: a copy of it as it is
 * now opens in an unsaved editor (Open Log again for a newer copy).
 */
async function openSharedLog(session: SwarmSession, id: string): Promise<void> {
  const board = await session.viewBoard();
  if (!board) throw new UserFacingError(session.boardProblem ?? 'The board in agentSwarm.board cannot be used right now; the Agent Swarm log says why.');
  const log = await board.getArtifact(id, LOG_ARTIFACT);
  if (!log) throw new UserFacingError(`Task ${id} has no log on the board ${board.describe()} yet; a log is stored once an agent runs it.`);
  const document = await vscode.workspace.openTextDocument({ content: log.toString('utf8'), language: 'log' });
  await vscode.window.showTextDocument(document, { preview: true });
  void vscode.window.showInformationMessage(`This is a copy of task ${id}'s log as stored on ${board.describe()} now; run Open Log again for a newer one.`);
}

async function revealBoard(session: SwarmSession): Promise<void> {
  if (session.usesRemoteBoard) {
    const board = await session.viewBoard();
    const where = board?.describe() ?? 'the server in agentSwarm.board';
    throw new UserFacingError(`The board is on a Redis server (${where}), not in a folder, so there is nothing to reveal on this machine. Its tasks are in the Swarm Tasks view.`);
  }
  const board = await session.viewBoard();
  const dir = session.boardDir;
  if (!board || !dir) throw new UserFacingError('This folder has no task board yet. Post a task (Swarm: Post Task…) to create .swarm/.');
  await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(path.join(dir, 'board.json')));
}

// Opening a result for review: the multi-file diff editor (`vscode.changes`) for a result with
// several files, the ordinary diff editor for one; a notification offers Apply / Discard.
import * as path from 'path';
import * as vscode from 'vscode';
import type { Board } from '../../core/board/interface';
import { listAllTasks } from '../../core/board/paging';
import { applyRecord, isDiscarded, readTaskPatch, type ResultPlace, type TaskPatch } from '../../core/patch';
import { taskOf } from '../commands';
import { UserFacingError, type SwarmSession } from '../session';
import { Commands } from '../commandIds';
import type { TaskNode } from '../views/tasksTree';
import { resultPickItem, reviewTitle, sortResults } from '../logic/review';
import { resultWarnings } from '../logic/taskTree';
import { plural } from '../../core/format';
import { resultPlace } from './place';
import { resultUri } from './provider';

export interface ReviewTarget {
  board: Board;
  root: string;
  /** The board through the async interface, with the workspace: what the patch module takes. */
  place: ResultPlace;
  taskId: string;
  title: string;
  patch: TaskPatch;
  /** What the attempt changed outside its worktree without a sandbox (result.warnings). */
  warnings: string[];
}

/** The task a command acts on (tree node, id, or a result document URI) with its patch; throws in words the user can act on. */
export async function reviewTarget(session: SwarmSession, taskId: string | undefined): Promise<ReviewTarget> {
  const board = await session.viewBoard();
  const root = session.workspaceRoot;
  if (!board || !root) throw new UserFacingError('This folder has no task board, so there are no results to review. Post a task and start the swarm first.');
  if (!taskId) throw new UserFacingError('Pick a done task in the Swarm Tasks view (or run "Swarm: Review Results") first.');
  const place = resultPlace(board, root);
  const task = await board.get(taskId);
  if (!task) throw new UserFacingError(`Task ${taskId} is no longer on the board.`);
  if (isDiscarded(place, taskId)) throw new UserFacingError(`The result of "${task.title}" was discarded; it is kept for audit only. Retry the task to get a new result.`);
  const patch = await readTaskPatch(place, taskId);
  if (!patch || patch.files.length === 0) throw new UserFacingError(`"${task.title}" has no result to review: it is ${task.status}${task.status === 'done' ? ' and changed no files' : ''}.`);
  return { board, root, place, taskId, title: task.title, patch, warnings: resultWarnings(task) };
}

export function workspaceUri(root: string, relPath: string): vscode.Uri {
  return vscode.Uri.file(path.join(root, ...relPath.split('/')));
}

/** Opens the diff editor on a task's result; resolves once the editor is open. */
export async function openReview(session: SwarmSession, node: TaskNode | string | undefined, options: { notify?: boolean } = {}): Promise<{ taskId: string; files: string[] }> {
  const target = await reviewTarget(session, taskOf(node));
  const { patch, root, taskId } = target;
  const title = reviewTitle({ title: target.title }, patch.files);
  if (patch.files.length === 1) {
    const file = patch.files[0];
    await vscode.commands.executeCommand('vscode.diff', resultUri(taskId, 'original', file.path), resultUri(taskId, 'result', file.path), title, { preview: false });
  } else {
    const resources = patch.files.map((file) => [
      workspaceUri(root, file.path),
      file.status === 'added' ? undefined : resultUri(taskId, 'original', file.path),
      file.status === 'deleted' ? undefined : resultUri(taskId, 'result', file.path),
    ]);
    await vscode.commands.executeCommand('vscode.changes', title, resources);
  }
  if (options.notify !== false) offerActions(target);
  return { taskId, files: patch.files.map((file) => file.path) };
}

/** "Apply" / "Discard" next to the open review; not awaited (the review command returns at once). */
function offerActions(target: ReviewTarget): void {
  const applied = applyRecord(target.place, target.taskId) !== undefined;
  const message = applied ? `Reviewing "${target.title}" (already applied).` : `Reviewing "${target.title}": apply it to your files or discard it.`;
  const buttons = applied ? [] : ['Apply', 'Discard'];
  // A result whose attempt changed things outside its worktree is never presented as clean.
  const warned = target.warnings.length > 0 ? `${message} Warning: ${target.warnings.join(' ')}` : undefined;
  const shown = warned ? vscode.window.showWarningMessage(warned, ...buttons) : vscode.window.showInformationMessage(message, ...buttons);
  void shown.then((choice) => {
    if (choice === 'Apply') void vscode.commands.executeCommand(Commands.apply, target.taskId);
    if (choice === 'Discard') void vscode.commands.executeCommand(Commands.discard, target.taskId);
  });
}

/** Done results not yet applied or discarded, most recent first. */
export async function unappliedResults(board: Board, root: string): Promise<Array<{ taskId: string; title: string; patch: TaskPatch }>> {
  const place = resultPlace(board, root);
  // Every done task, read page by page off this thread; a map child is reviewed with its parent.
  const allDone = await listAllTasks(board, 'done');
  const parents = new Set((await Promise.all([...new Set(allDone.flatMap((task) => (task.parentId ? [task.parentId] : [])))].map((id) => board.get(id)))).flatMap((task) => (task ? [task.id] : [])));
  const done = allDone.filter((task) => !task.parentId || !parents.has(task.parentId));
  const results = [];
  for (const task of sortResults(done)) {
    if (isDiscarded(place, task.id) || applyRecord(place, task.id)) continue;
    const patch = await readTaskPatch(place, task.id);
    if (patch && patch.files.length > 0) results.push({ taskId: task.id, title: task.title, patch });
  }
  return results;
}

/** "Swarm: Review Results": a quick pick of unapplied results, then the review. */
export async function reviewResults(session: SwarmSession): Promise<void> {
  const board = await session.viewBoard();
  const root = session.workspaceRoot;
  const results = board && root ? await unappliedResults(board, root) : [];
  if (results.length === 0) {
    void vscode.window.showInformationMessage('No results to review: no done task has unapplied changes. Results appear here when the swarm finishes tasks that change files.');
    return;
  }
  const items = results.map((result) => resultPickItem({ id: result.taskId, title: result.title }, result.patch.files));
  const pick = await vscode.window.showQuickPick(items, { title: 'Swarm: Review Results', placeHolder: `${plural(results.length, 'result')} to review`, matchOnDetail: true });
  if (pick) await openReview(session, pick.taskId);
}

// Review in the diff editor: the result documents, Review / Review Results, and the actions on a
// result (Apply, Apply This File, Discard, Undo Apply, Request Changes) from the Tasks view, the
// editor title of a result diff and the notification shown with a review. Wired into activate().
import * as vscode from 'vscode';
import { offerStart, registerReported, taskOf } from '../commands';
import { postFollowUpTask } from '../../core/patch/followUp';
import { UserFacingError, type SwarmSession } from '../session';
import { Commands, type CommandId } from '../commandIds';
import { RESULT_SCHEME } from '../settings';
import type { TaskNode } from '../views/tasksTree';
import { applyResult, discardResult, showAppliedFile, undoApply, type ApplyRequest } from './apply';
import { openReview, reviewResults, reviewTarget } from './open';
import { addressOf, ResultContentProvider } from './provider';
import { ReviewTracker } from './tracker';

export function registerReview(context: vscode.ExtensionContext, session: SwarmSession): void {
  const provider = new ResultContentProvider(session);
  const tracker = new ReviewTracker();
  const register = (id: CommandId, handler: (...args: never[]) => unknown): void => registerReported(context, session, id, handler);
  context.subscriptions.push(provider, tracker, vscode.workspace.registerTextDocumentContentProvider(RESULT_SCHEME, provider));
  // A new attempt replaces a task's result: drop cached versions of results that changed.
  context.subscriptions.push(session.onDidChangeBoard(() => void provider.forgetChanged()));
  const forget = (taskId: string) => provider.forget(taskId);
  /** The result an editor-title action is about: the URI VS Code passes, else the active review. */
  const reviewed = (uri?: vscode.Uri): { taskId?: string; path?: string } => {
    const address = addressOf(uri);
    if (address) return { taskId: address.taskId, path: address.path };
    return { taskId: tracker.current?.taskId, path: tracker.current?.path };
  };

  register(Commands.review, (node?: TaskNode | string) => openReview(session, taskOf(node)));
  register(Commands.reviewResults, () => reviewResults(session));
  register(Commands.apply, (node?: TaskNode | string, request?: ApplyRequest) => applyResult(session, taskOf(node), request));
  register(Commands.discard, (node?: TaskNode | string) => discardResult(session, taskOf(node), forget));
  register(Commands.undoApply, (node?: TaskNode | string) => undoApply(session, taskOf(node)));
  register(Commands.applyReviewed, (uri?: vscode.Uri) => applyResult(session, reviewed(uri).taskId));
  register(Commands.discardReviewed, (uri?: vscode.Uri) => discardResult(session, reviewed(uri).taskId, forget));
  register(Commands.applyFile, (uri?: vscode.Uri) => applyOneFile(session, reviewed(uri)));
  register(Commands.requestChanges, (uri?: vscode.Uri | TaskNode | string, comment?: string) => requestChanges(session, uri instanceof vscode.Uri || uri === undefined ? reviewed(uri).taskId : taskOf(uri), comment));
}

async function applyOneFile(session: SwarmSession, reviewed: { taskId?: string; path?: string }): Promise<unknown> {
  if (reviewed.taskId && !reviewed.path) throw new UserFacingError('Click into one file of the result first: Apply This File applies the file the editor shows.');
  const target = await reviewTarget(session, reviewed.taskId);
  const relPath = reviewed.path as string;
  const outcome = await applyResult(session, target.taskId, { paths: [relPath] });
  if (outcome.status === 'applied' || outcome.status === 'applied-3way') await showAppliedFile(target, relPath);
  return outcome;
}

/** A review comment becomes a follow-up task that starts from this result. */
async function requestChanges(session: SwarmSession, taskId: string | undefined, given?: string): Promise<unknown> {
  const target = await reviewTarget(session, taskId);
  const comment =
    given ??
    (await vscode.window.showInputBox({
      title: `Request changes to "${target.title}"`,
      prompt: 'What should the agent change? A follow-up task starts from this result; its result will contain both.',
      placeHolder: 'e.g. Keep the old function name and add a test for the empty case',
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() ? undefined : 'Describe the change you want.'),
    }));
  if (!comment?.trim()) return undefined;
  const task = await postFollowUpTask({ ...target.place, taskId: target.taskId, comment });
  session.notifyBoardChanged();
  session.log.info(`Posted follow-up task ${task.id} to ${target.taskId}`);
  void offerStart(session, `Posted "${task.title}"; it starts from this result.`);
  return task;
}

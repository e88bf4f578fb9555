// Review in the diff editor: the result documents, Review / Review Results, and the actions on a
// result (Apply, Apply This File, Discard, Request Changes) from the Tasks view, the editor title
// of a result diff and the notification shown with a review. Wired into activate().
import * as vscode from 'vscode';
import { runReported, taskOf } from '../commands';
import type { SwarmSession } from '../session';
import { Commands, RESULT_SCHEME } from '../settings';
import type { TaskNode } from '../views/tasksTree';
import { openReview, reviewResults } from './open';
import { ResultContentProvider } from './provider';
import { ReviewTracker } from './tracker';

export function registerReview(context: vscode.ExtensionContext, session: SwarmSession): void {
  const provider = new ResultContentProvider(session);
  const tracker = new ReviewTracker();
  const register = (id: string, handler: (...args: never[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, (...args: unknown[]) => runReported(session, id, () => (handler as (...a: unknown[]) => unknown)(...args))));
  };
  context.subscriptions.push(provider, tracker, vscode.workspace.registerTextDocumentContentProvider(RESULT_SCHEME, provider));
  register(Commands.review, (node?: TaskNode | string) => openReview(session, taskOf(node)));
  register(Commands.reviewResults, () => reviewResults(session));
}

// Knows which result (task and file) the active editor shows, and keeps the `agentSwarm.reviewing`
// context key in step, so the editor-title actions (Apply, Discard, Apply This File, Request
// Changes) appear only on a result diff. Reads the active tab (diff or multi-file diff) and the
// active text editor (the focused file inside a multi-file diff).
import * as vscode from 'vscode';
import type { ResultAddress } from '../logic/review';
import { ContextKeys } from '../settings';
import { setContext } from '../context';
import { DisposableBase } from '../disposable';
import { addressOf } from './provider';

export interface ReviewedResult {
  taskId: string;
  /** The file of the active diff, when one file is focused (a single diff, or a file inside the multi diff). */
  path?: string;
  /** All files the active review tab shows. */
  paths: string[];
}

export class ReviewTracker extends DisposableBase implements vscode.Disposable {
  private currentResult: ReviewedResult | undefined;

  constructor() {
    super();
    const update = () => this.update();
    this.register(vscode.window.onDidChangeActiveTextEditor(update));
    this.register(vscode.window.tabGroups.onDidChangeTabs(update));
    this.register(vscode.window.tabGroups.onDidChangeTabGroups(update));
    this.update();
  }

  /** The result shown by the active editor, if any. */
  get current(): ReviewedResult | undefined {
    return this.currentResult;
  }

  update(): void {
    this.currentResult = reviewedResult();
    void setContext(ContextKeys.reviewing, this.currentResult !== undefined);
  }

  override dispose(): void {
    super.dispose();
    void setContext(ContextKeys.reviewing, false);
  }
}

function reviewedResult(): ReviewedResult | undefined {
  const fromTab = addressesOfTab(vscode.window.tabGroups.activeTabGroup.activeTab);
  const focused = addressOf(vscode.window.activeTextEditor?.document.uri);
  if (fromTab.length === 0) return undefined;
  const taskId = fromTab[0].taskId;
  const paths = [...new Set(fromTab.filter((address) => address.taskId === taskId).map((address) => address.path))];
  const single = paths.length === 1 ? paths[0] : undefined;
  const path = focused && focused.taskId === taskId ? focused.path : single;
  return { taskId, path, paths };
}

/** The result documents an editor tab shows: a diff's two sides, or every pair of a multi-file diff. */
export function addressesOfTab(tab: vscode.Tab | undefined): ResultAddress[] {
  const input = tab?.input;
  if (!input) return [];
  const uris: Array<vscode.Uri | undefined> = [];
  if (input instanceof vscode.TabInputTextDiff) uris.push(input.original, input.modified);
  else if (input instanceof vscode.TabInputText) uris.push(input.uri);
  else if (isMultiDiff(input)) for (const diff of input.textDiffs) uris.push(diff.original, diff.modified);
  return uris.map(addressOf).filter((address): address is ResultAddress => address !== undefined);
}

/** TabInputTextMultiDiff (not in the 1.100 typings, but the host creates it for `vscode.changes` tabs). */
function isMultiDiff(input: unknown): input is { textDiffs: Array<{ original?: vscode.Uri; modified?: vscode.Uri }> } {
  return typeof input === 'object' && input !== null && Array.isArray((input as { textDiffs?: unknown }).textDiffs);
}

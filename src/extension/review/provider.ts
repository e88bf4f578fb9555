// The read-only documents of the diff editor: `swarm-result:/<file>?task=<id>&side=original|result`
// serves a file as the agent started from it (the snapshot) and as the task left it. Versions are
// computed by the core (git, in a throw-away index) once per task and kept until the result changes.
import * as vscode from 'vscode';
import { patchFileVersions, readTaskPatch, type PatchFileEntry, type TaskPatch } from '../../core/patch';
import { binaryNote, parseResultUri, resultUriParts, type ResultAddress, type ResultSide } from '../logic/review';
import { RESULT_SCHEME } from '../settings';
import type { SwarmSession } from '../session';
import { resultPlace } from './place';

export function resultUri(taskId: string, side: ResultSide, relPath: string): vscode.Uri {
  const parts = resultUriParts({ taskId, side, path: relPath });
  return vscode.Uri.from({ scheme: RESULT_SCHEME, path: parts.path, query: parts.query });
}

export function addressOf(uri: vscode.Uri | undefined): ResultAddress | undefined {
  if (!uri || uri.scheme !== RESULT_SCHEME) return undefined;
  return parseResultUri(uri.path, uri.query);
}

interface Versions {
  original?: string;
  proposed?: string;
}

export class ResultContentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changeEmitter.event;
  /** Per task and file: the versions (a promise, so concurrent opens share one git run). */
  private readonly cache = new Map<string, Map<string, Promise<Versions>>>();
  /** The patch text each cached task's versions were computed from. */
  private readonly cachedText = new Map<string, string>();

  constructor(private readonly session: SwarmSession) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const address = addressOf(uri);
    if (!address) return '';
    const patch = await this.patchOf(address.taskId);
    if (!patch) return `The result of task ${address.taskId} is no longer available (the task was removed or its artifacts were deleted).\n`;
    const entry = entryOf(patch, address.path);
    if (!entry) return `The result of task ${address.taskId} does not change ${address.path}.\n`;
    const versions = await this.versions(patch, address.path);
    const content = address.side === 'original' ? versions.original : versions.proposed;
    if (entry.binary) return binaryNote(address.path, address.side, content !== undefined);
    return content ?? '';
  }

  /** The patch of a task, read from the board (throws a user-facing message when there is none). */
  async patchOf(taskId: string): Promise<TaskPatch | undefined> {
    const board = await this.session.viewBoard();
    const root = this.session.workspaceRoot;
    return board && root ? readTaskPatch(resultPlace(board, root), taskId) : undefined;
  }

  private versions(patch: TaskPatch, relPath: string): Promise<Versions> {
    const root = this.session.workspaceRoot;
    if (!root) return Promise.resolve({});
    let perTask = this.cache.get(patch.taskId);
    if (!perTask) this.cache.set(patch.taskId, (perTask = new Map()));
    this.cachedText.set(patch.taskId, patch.text);
    let versions = perTask.get(relPath);
    if (!versions) {
      versions = patchFileVersions(root, patch, relPath).catch((error: unknown) => {
        perTask?.delete(relPath);
        const message = error instanceof Error ? error.message : String(error);
        return { original: `The file versions could not be computed: ${message}\n`, proposed: `The file versions could not be computed: ${message}\n` };
      });
      perTask.set(relPath, versions);
    }
    return versions;
  }

  /** After a board change: forgets the results whose patch is gone or different (a new attempt, a retry). */
  async forgetChanged(): Promise<void> {
    for (const [taskId, text] of [...this.cachedText]) {
      // A result that cannot be read any more is forgotten like a changed one.
      if ((await this.patchOf(taskId).catch(() => undefined))?.text !== text) this.forget(taskId);
    }
  }

  /** Drops what is known about a task's result (after a new attempt, a discard) and refreshes open documents. */
  forget(taskId: string): void {
    const perTask = this.cache.get(taskId);
    this.cache.delete(taskId);
    this.cachedText.delete(taskId);
    if (!perTask) return;
    for (const relPath of perTask.keys()) {
      this.changeEmitter.fire(resultUri(taskId, 'original', relPath));
      this.changeEmitter.fire(resultUri(taskId, 'result', relPath));
    }
  }

  dispose(): void {
    this.cache.clear();
    this.cachedText.clear();
    this.changeEmitter.dispose();
  }
}

export function entryOf(patch: TaskPatch, relPath: string): PatchFileEntry | undefined {
  return patch.files.find((file) => file.path === relPath) ?? patch.files.find((file) => file.from === relPath);
}

// Apply, undo and discard of a task's result in the editor. The core decides what to write (clean,
// three-way, or blocked by conflicts, against the text the user sees, unsaved edits included); the
// writing goes through one WorkspaceEdit, so Edit > Undo reverts it like any refactoring. Files the
// user had not modified are saved afterwards (git, the CLI and verify commands read the disk);
// editors with unsaved changes stay unsaved. The apply is recorded on the board for Undo Apply
// and `swarm undo`.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  assertSafePatchPaths,
  discardTaskPatch,
  editedSinceApply,
  findPatchConflicts,
  markApplyUndone,
  parentFolders,
  planTaskApply,
  plannedVersions,
  readUndoRecord,
  readWorkspaceFile,
  recordTaskApply,
  recordsRoot,
  removalsFirst,
  removedBy,
  versionBefore,
  writeVersion,
  type ApplyOutcome,
  type FileVersion,
  type WriteScope,
} from '../../core/patch';
import { Commands } from '../commandIds';
import { UserFacingError, type SwarmSession } from '../session';
import { plural } from '../../core/format';
import { conflictMessage, overlapWarning } from '../logic/review';
import { reviewTarget, unappliedResults, workspaceUri, type ReviewTarget } from './open';
import { resultPlace } from './place';
import { resultUri } from './provider';
import { addressesOfTab } from './tracker';

export interface ApplyRequest {
  /** Only these files of the result (Apply This File); default every file. */
  paths?: string[];
  /** Write conflicting text files with conflict markers instead of refusing. */
  markers?: boolean;
}

/** Applies a result (or some of its files); resolves with the core's outcome. */
export async function applyResult(session: SwarmSession, taskId: string | undefined, request: ApplyRequest = {}): Promise<ApplyOutcome> {
  const target = await reviewTarget(session, taskId);
  const { root } = target;
  const readOurs = (relPath: string) => editorVersion(root, relPath);
  const plan = await planTaskApply({ ...target.place, taskId: target.taskId, paths: request.paths, mode: request.markers ? 'markers' : 'auto', readOurs });
  const { outcome } = plan;
  if (plan.writable.length === 0) {
    reportUnwritten(target, outcome, request);
    return outcome;
  }
  const overlaps = await overlappingResults(target);
  const versions = plannedVersions(plan.writable);
  const before = new Map([...versions.keys()].map((relPath) => [relPath, currentVersion(root, relPath)]));
  await writeThroughEditor({ workspaceRoot: root, boardRoot: recordsRoot(target.place) }, versions, `Apply "${target.title}"`);
  recordTaskApply(target.place, target.taskId, outcome.status, [...versions].map(([relPath, after]) => ({ path: relPath, before: before.get(relPath) ?? {}, after })));
  session.notifyBoardChanged();
  session.log.info(`Applied task ${target.taskId} (${outcome.status}): ${outcome.files.join(', ')}`);
  reportApplied(target, outcome, overlaps);
  return outcome;
}

/** Restores the files of the last apply, unless they changed since (then nothing is touched). */
export async function undoApply(session: SwarmSession, taskId: string | undefined): Promise<string[]> {
  const board = await session.viewBoard();
  const root = session.workspaceRoot;
  if (!board || !root || !taskId) throw new UserFacingError('Pick an applied task in the Swarm Tasks view first.');
  const place = resultPlace(board, root);
  const undo = readUndoRecord(place, taskId);
  if (!undo) throw new UserFacingError(`Task ${taskId} has no apply to undo (it was not applied, or the apply was already undone).`);
  const edited = editedSinceApply(undo.dir, undo.record.entries, (relPath) => currentVersion(root, relPath), root);
  if (edited.length > 0) {
    throw new UserFacingError(`Cannot undo the apply: ${edited.join(', ')} changed after it. Nothing was restored. Use Edit > Undo in those editors, or revert the files by hand.`);
  }
  const versions = new Map(undo.record.entries.map((entry) => [entry.path, versionBefore(undo.dir, entry)] as const));
  await writeThroughEditor({ workspaceRoot: root, boardRoot: recordsRoot(place) }, versions, `Undo apply of task ${taskId}`);
  markApplyUndone(place, taskId);
  session.notifyBoardChanged();
  session.log.info(`Undid the apply of task ${taskId}: ${[...versions.keys()].join(', ')}`);
  void vscode.window.showInformationMessage(`Undid the apply: ${plural(versions.size, 'file')} restored.`);
  return [...versions.keys()];
}

/** Marks a result discarded (kept for audit) and closes its open review tabs. */
export async function discardResult(session: SwarmSession, taskId: string | undefined, forget: (taskId: string) => void): Promise<void> {
  const target = await reviewTarget(session, taskId);
  await discardTaskPatch(target.place, target.taskId);
  forget(target.taskId);
  await closeReviewTabs(target.taskId);
  session.notifyBoardChanged();
  session.log.info(`Discarded the result of task ${target.taskId}`);
  void vscode.window.setStatusBarMessage(`$(discard) Discarded the result of "${target.title}"; your files are unchanged.`, 5000);
}

/** After Apply This File: the snapshot beside the user's file, where the diff editor's gutter arrows revert single blocks. */
export async function showAppliedFile(target: { taskId: string; root: string }, relPath: string): Promise<void> {
  const original = resultUri(target.taskId, 'original', relPath);
  await vscode.commands.executeCommand('vscode.diff', original, workspaceUri(target.root, relPath), `${relPath} (snapshot ↔ your file, applied)`, { preview: false });
}

// ------------------------------------------------------------------ versions as the user sees them

/** An open editor's unsaved text; undefined when the file on disk is what the user sees. */
function editorVersion(root: string, relPath: string): FileVersion | undefined {
  const document = openDocument(workspaceUri(root, relPath));
  if (!document?.isDirty) return undefined;
  return { content: Buffer.from(document.getText(), 'utf8'), mode: readWorkspaceFile(root, relPath).mode ?? '100644' };
}

function currentVersion(root: string, relPath: string): FileVersion {
  return editorVersion(root, relPath) ?? readWorkspaceFile(root, relPath);
}

function openDocument(uri: vscode.Uri): vscode.TextDocument | undefined {
  return vscode.workspace.textDocuments.find((document) => document.uri.scheme === 'file' && document.uri.fsPath === uri.fsPath);
}

// ------------------------------------------------------------------ writing

/**
 * Writes the versions in one undoable WorkspaceEdit: text files as edits of their documents, new
 * and binary files as file creations with contents, removals as deletions. Symbolic links cannot
 * go through an edit and are written directly. Afterwards saves the documents that had no unsaved
 * changes before, and sets the executable bit where the result asks for it. Every path goes
 * through the core's path safety check first, so nothing is written when one is refused.
 */
async function writeThroughEditor(scope: WriteScope, versions: Map<string, FileVersion>, label: string): Promise<void> {
  assertSafePatchPaths(scope, versions.keys(), removedBy(versions));
  if (swapsFolderAndFile(versions)) {
    // A WorkspaceEdit cannot replace a folder with a file (or the reverse): its operations would
    // meet the folder still there. Written directly, removals first, like symbolic links below.
    for (const [relPath, version] of removalsFirst(versions)) writeVersion(scope, relPath, version);
    return;
  }
  const root = scope.workspaceRoot;
  const edit = new vscode.WorkspaceEdit();
  const dirtyBefore = new Set([...versions.keys()].filter((relPath) => openDocument(workspaceUri(root, relPath))?.isDirty));
  const direct: Array<[string, FileVersion]> = [];
  // Counted here: WorkspaceEdit.size counts text edits only, so an edit of nothing but created or
  // deleted files would look empty and never be applied.
  let changes = 0;
  for (const [relPath, version] of versions) {
    const uri = workspaceUri(root, relPath);
    const onDisk = readWorkspaceFile(root, relPath);
    if (version.mode === '120000' || onDisk.mode === '120000') {
      direct.push([relPath, version]);
      continue;
    }
    changes += 1;
    if (version.content === undefined) edit.deleteFile(uri, { ignoreIfNotExists: true, recursive: false });
    else if (onDisk.content !== undefined && isUtf8Text(version.content) && isUtf8Text(onDisk.content)) {
      const document = await vscode.workspace.openTextDocument(uri);
      if (!document.isDirty) await waitForDiskSync(document, onDisk.content.toString('utf8'), relPath);
      edit.replace(uri, fullRange(document), version.content.toString('utf8'), { label, needsConfirmation: false });
    } else edit.createFile(uri, { overwrite: true, contents: version.content });
  }
  if (changes > 0 && !(await vscode.workspace.applyEdit(edit, { isRefactoring: true }))) {
    throw new UserFacingError(`${label}: VS Code did not apply the edit (a file may be read-only, or changed while applying). Nothing was recorded; try again.`);
  }
  for (const [relPath, version] of direct) writeVersion(scope, relPath, version);
  const unsaved: string[] = [];
  for (const relPath of versions.keys()) {
    const document = openDocument(workspaceUri(root, relPath));
    if (document?.isDirty && !dirtyBefore.has(relPath) && !(await document.save())) unsaved.push(relPath);
  }
  if (unsaved.length > 0) void vscode.window.showWarningMessage(`${label}: ${unsaved.join(', ')} could not be saved; the change is in the editor. Save it yourself, or use Edit > Undo.`);
  for (const [relPath, version] of versions) await setExecutable(path.join(root, relPath), version);
}

/** Whether one of the paths is a folder on the way to another: a file becomes a folder, or the reverse. */
function swapsFolderAndFile(versions: Map<string, FileVersion>): boolean {
  const folders = new Set([...versions.keys()].flatMap(parentFolders));
  return [...versions.keys()].some((relPath) => folders.has(relPath));
}

/**
 * A document without unsaved changes can still lag behind its file (another program just wrote it);
 * an edit and save on it then collides with the newer file. Waits briefly for VS Code to catch up.
 */
async function waitForDiskSync(document: vscode.TextDocument, diskText: string, relPath: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!document.isDirty && document.getText() !== diskText) {
    if (Date.now() > deadline) throw new UserFacingError(`${relPath} changed on disk and VS Code has not reloaded it yet. Nothing was applied; try again in a moment.`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function setExecutable(file: string, version: FileVersion): Promise<void> {
  if (version.content === undefined || version.mode === '120000') return;
  // lstat: chmod follows links, and a link here (planted since) must not change its target's mode.
  const stat = await fs.promises.lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!stat?.isFile()) return;
  const mode = stat.mode & 0o777;
  const wanted = version.mode === '100755' ? mode | 0o111 : mode & ~0o111;
  if (wanted !== mode) await fs.promises.chmod(file, wanted);
}

function fullRange(document: vscode.TextDocument): vscode.Range {
  return new vscode.Range(new vscode.Position(0, 0), document.lineAt(document.lineCount - 1).range.end);
}

/** Text that survives a round trip through a string (editors hold strings; other bytes are written as they are). */
function isUtf8Text(content: Buffer): boolean {
  return !content.subarray(0, 8000).includes(0) && Buffer.from(content.toString('utf8'), 'utf8').equals(content);
}

// ------------------------------------------------------------------ messages

async function overlappingResults(target: ReviewTarget): Promise<Array<{ title: string; files: string[] }>> {
  const others = (await unappliedResults(target.board, target.root)).filter((result) => result.taskId !== target.taskId);
  if (others.length === 0) return [];
  const titles = new Map(others.map((result) => [result.taskId, result.title]));
  return (await findPatchConflicts(target.place, [target.taskId, ...titles.keys()]))
    .filter((conflict) => conflict.taskIds.includes(target.taskId))
    .map((conflict) => ({ title: titles.get(conflict.taskIds.find((id) => id !== target.taskId) ?? '') ?? '', files: conflict.files }));
}

function reportApplied(target: ReviewTarget, outcome: ApplyOutcome, overlaps: Array<{ title: string; files: string[] }>): void {
  const how = outcome.status === 'applied-3way' ? ' with a three-way merge (your edits kept)' : outcome.status === 'conflict' ? ` with conflict markers in ${outcome.conflicts.join(', ')}: resolve them in the editor` : '';
  const message = `Applied "${target.title}"${how}: ${plural(outcome.files.length, 'file')} changed. Edit > Undo or Undo Apply reverts it.`;
  const show = outcome.status === 'conflict' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  void show(message, 'Undo Apply').then((choice) => {
    if (choice) void vscode.commands.executeCommand(Commands.undoApply, target.taskId);
  });
  const warning = overlapWarning(target.title, overlaps);
  if (warning) void vscode.window.showWarningMessage(warning);
  if (outcome.status === 'conflict' && outcome.conflicts[0]) void vscode.window.showTextDocument(workspaceUri(target.root, outcome.conflicts[0]), { preview: false });
}

function reportUnwritten(target: ReviewTarget, outcome: ApplyOutcome, request: ApplyRequest): void {
  if (outcome.status !== 'conflict') {
    void vscode.window.showInformationMessage(`"${target.title}": its changes are already in your files; nothing to apply.`);
    return;
  }
  const conflicts = outcome.conflicts.map((file, index) => ({ path: file, reason: outcome.conflictReasons?.[index] }));
  void vscode.window.showWarningMessage(conflictMessage(target.title, conflicts), 'Apply with Conflict Markers').then((choice) => {
    if (choice) void vscode.commands.executeCommand(Commands.apply, target.taskId, { ...request, markers: true });
  });
}

async function closeReviewTabs(taskId: string): Promise<void> {
  const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs).filter((tab) => addressesOfTab(tab).some((address) => address.taskId === taskId));
  if (tabs.length > 0) await vscode.window.tabGroups.close(tabs);
}

// Results of tasks as patches: reading them for review, applying them to the user's folder
// (clean or three-way, undoable), discarding them, and spotting results that would conflict.
// The board stays the source of truth: a done task's result names its patch file and base
// snapshot; apply/undo/discard records live next to the patch in the task's artifacts folder.
import * as fs from 'fs';
import * as path from 'path';
import type { FileBoard } from '../board';
import { findGitRepository } from '../board/gitExclude';
import { workspaceOfBoard } from '../board/location';
import type { Task } from '../board/types';
import { filesOfPatch } from '../worktree/diff';
import { runGitSync } from '../worktree/git';
import { BASE_REF_PREFIX, PARTIAL_REF_PREFIX } from '../worktree/worktreeIsolation';
import { theirsVersions } from './theirs';
import { editedSinceApply, hashVersion, readWorkspaceFile, legacyUndoFolder, restoreEntries, saveUndoRecord, undoFile, versionBefore, writePlans, type ApplyStatus, type FileVersion, type SavedFile, type UndoRecord } from './apply';
import { ApplyPlanner, blobAt, isObjectId, type FilePlan, type PlanOptions } from './plan';
import { hunksOverlap, parsePatch, type PatchSection } from '../diff/parse';
import { assertSafePatchPaths, type WriteScope } from './paths';
import { isRecord, parseApplyRecord, parseUndoRecord, type ApplyRecord } from './records';
import { makeRealFolders, readRegularFile, replaceFile } from './write';
import { locateRepository } from '../worktree/repo';
import { readPartialWork } from './partial';

export type { ApplyStatus, FileVersion, UndoEntry, UndoRecord } from './apply';
export type { FilePlan, PlanOptions } from './plan';
export { editedSinceApply, hashVersion, plannedVersions, readWorkspaceFile, versionBefore, writeVersion } from './apply';
export { parsePatch, hunksOverlap, unquote, PatchParseError } from '../diff/parse';
export type { PatchSection } from '../diff/parse';
export { assertSafePatchPath, assertSafePatchPaths, UnsafePatchPathError, type WriteScope } from './paths';
export { RecordDamagedError, type ApplyRecord } from './records';

export interface PatchFileEntry {
  path: string;
  from?: string;
  status: 'added' | 'modified' | 'deleted' | 'renamed';
  additions: number;
  deletions: number;
  binary?: boolean;
}

export interface TaskPatch {
  taskId: string;
  patchFile: string;
  base?: string;
  files: PatchFileEntry[];
  text: string;
  /** For a map parent ("fix all"): the children's patches the combined one is made of. */
  parts?: TaskPatch[];
}

export interface ApplyOutcome {
  status: ApplyStatus;
  files: string[];
  conflicts: string[];
  /** Why each conflicting file conflicts, in the order of `conflicts`. */
  conflictReasons?: string[];
  undoId?: string;
  message: string;
}

interface StoredResult {
  patchFile?: string;
  base?: string;
  files?: PatchFileEntry[];
}

const APPLY_RECORD = 'apply.json';
const DISCARD_RECORD = 'discarded.json';
const COMBINED_PATCH = 'combined.patch';

/** The done task's patch, or for a map parent the combined patch of its done children. */
export function readTaskPatch(board: FileBoard, taskId: string): TaskPatch | undefined {
  const task = board.get(taskId);
  if (!task) return undefined;
  if (task.childCount && task.childCount > 0) return aggregateChildPatches(board, taskId)?.patch;
  return patchOfTask(board, task);
}

function patchOfTask(board: FileBoard, task: Task): TaskPatch | undefined {
  const result = (isRecord(task.result) ? task.result : {}) as StoredResult;
  if (task.status !== 'done' || typeof result.patchFile !== 'string' || !result.patchFile) return undefined;
  // Only a patch inside the task's own artifacts folder is read: a board file naming another path
  // (hand-edited, or shipped with a repository) cannot make us read or apply an arbitrary file.
  const artifacts = board.artifactsDir(task.id);
  // A path that leads elsewhere (or names the folder through another route, e.g. a symlinked
  // parent) is looked up by its file name inside the artifacts folder.
  const relative = path.relative(artifacts, path.resolve(artifacts, result.patchFile));
  const inside = !relative.startsWith('..') && !path.isAbsolute(relative);
  const patchFile = path.join(artifacts, inside ? relative : path.basename(result.patchFile));
  // A plain file only: a link there could make `swarm diff` print any file of the machine.
  const text = readRegularFile(patchFile)?.toString('utf8');
  if (text === undefined) return undefined;
  const files = isFileList(result.files) && result.files.length > 0 ? result.files : filesOfPatch(text);
  // Only an object id is a base: anything else would reach git's command line.
  return { taskId: task.id, patchFile, base: isObjectId(result.base) ? result.base : undefined, files, text };
}

const FILE_STATUSES = new Set(['added', 'modified', 'deleted', 'renamed']);

/** The stored file list, when it has the shape the collector writes (it is shown and posted on). */
function isFileList(value: unknown): value is PatchFileEntry[] {
  return (
    Array.isArray(value) &&
    value.every((file) => isRecord(file) && typeof file.path === 'string' && (file.from === undefined || typeof file.from === 'string') && FILE_STATUSES.has(file.status as string) && Number.isFinite(file.additions) && Number.isFinite(file.deletions))
  );
}

export interface FixAllAggregate {
  patch: TaskPatch;
  progress: ReturnType<FileBoard['progress']>;
  /** Children without a patch yet (pending, running, failed, or no changes). */
  missing: string[];
  /** Children whose patches touch the same files. */
  conflicts: Array<{ taskIds: string[]; files: string[] }>;
}

/**
 * "Fix all": the done children of a map task combined into one reviewable patch, written to
 * `<parent artifacts>/combined.patch`. Undefined while no child has produced a patch.
 */
export function aggregateChildPatches(board: FileBoard, parentId: string): FixAllAggregate | undefined {
  const children = board.list().filter((task) => task.parentId === parentId);
  const parts: TaskPatch[] = [];
  const missing: string[] = [];
  for (const child of children) {
    const patch = child.status === 'done' && !isDiscarded(board, child.id) ? patchOfTask(board, board.get(child.id) ?? child) : undefined;
    if (patch) parts.push(patch);
    else missing.push(child.id);
  }
  if (parts.length === 0) return undefined;
  const dir = recordsFolder(board, parentId);
  const patchFile = path.join(dir, COMBINED_PATCH);
  const text = parts.map((part) => (part.text.endsWith('\n') ? part.text : `${part.text}\n`)).join('');
  // Written only when it changed: readers (the UI refreshes often) do not rewrite it each time.
  if (readRegularFile(patchFile)?.toString('utf8') !== text) replaceFile(patchFile, text);
  const patch: TaskPatch = { taskId: parentId, patchFile, files: parts.flatMap((part) => part.files), text, parts };
  return { patch, progress: board.progress(parentId), missing, conflicts: conflictsAmong(parts) };
}

/** File contents for the diff editor: the file as the agent started from it, and after the patch. */
export async function patchFileVersions(workspaceRoot: string, patch: TaskPatch, relPath: string): Promise<{ original?: string; proposed?: string }> {
  const part = patch.parts?.find((candidate) => candidate.files.some((file) => file.path === relPath || file.from === relPath)) ?? patch;
  const entry = part.files.find((file) => file.path === relPath || file.from === relPath);
  if (!entry) throw new Error(`The patch of task ${patch.taskId} does not change ${relPath}.`);
  if (!part.base) throw new Error(`The patch of task ${part.taskId} has no base snapshot; its file versions cannot be shown.`);
  const repo = await locateRepository(workspaceRoot);
  const original = await blobAt(repo, part.base, entry.from ?? entry.path);
  const proposed = (await theirsVersions(repo, part.base, part.text, [entry.path])).get(entry.path);
  return { original: original.content?.toString('utf8'), proposed: proposed?.content?.toString('utf8') };
}

export interface ApplyOptions {
  workspaceRoot: string;
  board: FileBoard;
  taskId: string;
  /** 'auto' (default): clean, else three-way. 'clean': refuse when files changed since the snapshot. 'markers': write conflict markers into conflicting text files. */
  mode?: 'auto' | 'clean' | 'markers';
  /** Apply the partial work kept for a task that did not finish (refs/swarm/<id>) instead of a result. */
  partial?: boolean;
}

export interface ApplyPlanOptions extends ApplyOptions, PlanOptions {
  /** Only these files of the result (workspace-relative); default all. */
  paths?: string[];
}

/** What an apply would do, decided without writing anything. */
export interface ApplyPlan {
  /** The outcome to report; for a plan that may be written, the status the write records. */
  outcome: ApplyOutcome;
  /** The file plans to write: empty when the apply is blocked or nothing is left to do. */
  writable: FilePlan[];
}

/** Where the writers of `options` may write: the workspace, minus its board. */
function scopeOf(options: { workspaceRoot: string; board: FileBoard }): WriteScope {
  return { workspaceRoot: options.workspaceRoot, boardRoot: options.board.root };
}

/** The task's artifacts folder, created when missing, and never a link to somewhere else. */
function recordsFolder(board: FileBoard, taskId: string): string {
  const dir = board.artifactsDir(taskId);
  makeRealFolders(board.root, dir);
  return dir;
}

/** Plans the apply of a task's result (clean, three-way, or blocked by conflicts); writes nothing. */
export async function planTaskApply(options: ApplyPlanOptions): Promise<ApplyPlan> {
  const patch = patchToApply(options.board, options.taskId);
  if (!findGitRepository(options.workspaceRoot)) return ranDirectly(options.taskId, patch);
  const planner = await ApplyPlanner.open(scopeOf(options), partsOf(patch));
  try {
    return await decideApply(planner, patch, options);
  } finally {
    await planner.close();
  }
}

/** One task of a batch apply: what happened, or why it could not be applied. */
export type BatchOutcome = { taskId: string; outcome: ApplyOutcome } | { taskId: string; error: Error };

export interface BatchApplyOptions extends Omit<ApplyOptions, 'taskId'> {
  /** Applied in this order; each sees the files the ones before it wrote. */
  taskIds: string[];
}

/**
 * Applies the results of many tasks (`swarm apply --all-done`), one after the other, with the git
 * work for all of them done up front in a constant number of git processes. A task that cannot be
 * applied (no patch, unsafe path, damaged patch) is reported and does not stop the others.
 */
export async function applyTaskPatches(options: BatchApplyOptions): Promise<BatchOutcome[]> {
  const loaded = await Promise.all(
    options.taskIds.map(async (taskId) => {
      try {
        return { taskId, patch: options.partial ? await partialToApply(options, taskId) : patchToApply(options.board, taskId) };
      } catch (error) {
        return { taskId, error: error as Error };
      }
    }),
  );
  return applyLoaded(options, loaded);
}

/** `swarm apply --all-done`: every result `pendingResults` lists, each task looked up once. */
export async function applyPendingResults(options: Omit<BatchApplyOptions, 'taskIds' | 'partial'>): Promise<BatchOutcome[]> {
  return applyLoaded(options, pendingPatches(options.board).map((patch) => ({ taskId: patch.taskId, patch })));
}

/** Applies loaded results one after the other, the git work for all of them done up front. */
async function applyLoaded(options: Omit<BatchApplyOptions, 'taskIds'>, loaded: Array<{ taskId: string; patch?: TaskPatch; error?: Error }>): Promise<BatchOutcome[]> {
  if (!findGitRepository(options.workspaceRoot)) return loaded.map((item) => (item.patch ? { taskId: item.taskId, outcome: ranDirectly(item.taskId, item.patch).outcome } : { taskId: item.taskId, error: item.error as Error }));
  const scope = scopeOf(options);
  const planner = await ApplyPlanner.open(scope, loaded.flatMap((item) => (item.patch ? partsOf(item.patch) : [])));
  const results: BatchOutcome[] = [];
  try {
    for (const item of loaded) {
      if (!item.patch) {
        results.push({ taskId: item.taskId, error: item.error as Error });
        continue;
      }
      try {
        const taskOptions = { ...options, taskId: item.taskId };
        results.push({ taskId: item.taskId, outcome: writeApply(scope, taskOptions, await decideApply(planner, item.patch, taskOptions)) });
      } catch (error) {
        results.push({ taskId: item.taskId, error: error as Error });
      }
    }
  } finally {
    await planner.close();
  }
  return results;
}

export async function applyTaskPatch(options: ApplyOptions): Promise<ApplyOutcome> {
  const [result] = await applyTaskPatches({ ...options, taskIds: [options.taskId] });
  if ('error' in result) throw result.error;
  return result.outcome;
}

/** The result to apply, or an error that says why there is none. */
function patchToApply(board: FileBoard, taskId: string): TaskPatch {
  const patch = readTaskPatch(board, taskId);
  if (!patch) throw new Error(`Task ${taskId} has no patch to apply (it is not done, made no changes, or its artifacts were removed). Check with \`swarm show ${taskId}\`.`);
  if (isDiscarded(board, taskId)) throw new Error(`The result of task ${taskId} was discarded; it is kept for audit only and cannot be applied.`);
  return patch;
}

async function partialToApply(options: Omit<ApplyOptions, 'taskId'>, taskId: string): Promise<TaskPatch> {
  const task = options.board.get(taskId);
  if (!task) throw new Error(`No task ${taskId} on the board.`);
  if (task.status === 'done') throw new Error(`Task ${taskId} is done: apply its result with \`swarm apply ${taskId}\` (partial work is kept only for tasks that did not finish).`);
  const partial = await readPartialWork(options.workspaceRoot, taskId);
  if (!partial) throw new Error(`Task ${taskId} (${task.status}) has no partial work kept on ${PARTIAL_REF_PREFIX}${taskId}; there is nothing to apply.`);
  return partial;
}

function partsOf(patch: TaskPatch): TaskPatch[] {
  return patch.parts ?? [patch];
}

/** Without git only direct mode exists, and there the agent edited the folder itself. */
function ranDirectly(taskId: string, patch: TaskPatch): ApplyPlan {
  const files = patch.files.map((file) => file.path);
  return { writable: [], outcome: { status: 'already-applied', files, conflicts: [], message: `Task ${taskId} ran directly in this folder (no git repository, no isolation): its changes are already in your files.` } };
}

/** Clean, three-way, or blocked by conflicts: the outcome, and what may be written. */
async function decideApply(planner: ApplyPlanner, patch: TaskPatch, options: ApplyPlanOptions): Promise<ApplyPlan> {
  const wanted = options.paths ? new Set(options.paths) : undefined;
  const plans = (await planAll(planner, patch, options)).filter((plan) => !wanted || wanted.has(plan.path) || (plan.from !== undefined && wanted.has(plan.from)));
  if (wanted && plans.length === 0) throw new Error(`The result of task ${options.taskId} does not change ${[...wanted].join(', ')}.`);
  const files = plans.map((plan) => plan.path);
  const conflictPlans = plans.filter((plan) => plan.kind === 'conflict');
  const merged = plans.some((plan) => plan.kind === 'merged');
  const mode = options.mode ?? 'auto';
  const blocked = conflictPlans.length > 0 || (mode === 'clean' && merged);
  if (plans.every((plan) => plan.kind === 'already')) {
    return { writable: [], outcome: { status: 'already-applied', files, conflicts: [], message: `Task ${options.taskId}: its changes are already in your workspace; nothing to do.` } };
  }
  if (blocked && mode !== 'markers') {
    const conflicting = conflictPlans.length > 0 ? conflictPlans : plans.filter((plan) => plan.kind === 'merged');
    return {
      writable: [],
      outcome: {
        status: 'conflict',
        files,
        conflicts: conflicting.map((plan) => plan.path),
        conflictReasons: conflicting.map((plan) => plan.conflictReason ?? 'your file changed since the task started (clean apply only)'),
        message: `Task ${options.taskId} was not applied: ${conflicting.length} file${conflicting.length === 1 ? '' : 's'} conflict with changes in your workspace (${conflicting.map((plan) => plan.path).join(', ')}). Nothing was written. Resolve by editing those files, or apply with conflict markers (\`swarm apply ${options.taskId} --markers\`).`,
      },
    };
  }
  const status: ApplyStatus = conflictPlans.length > 0 ? 'conflict' : merged ? 'applied-3way' : 'applied';
  const conflicts = conflictPlans.map((plan) => plan.path);
  const message =
    status === 'conflict'
      ? `Task ${options.taskId} applied with conflict markers in ${conflicts.join(', ')}; edit them, or undo with \`swarm undo ${options.taskId}\`.`
      : `Task ${options.taskId} applied${status === 'applied-3way' ? ' with a three-way merge' : ''}: ${files.length} file${files.length === 1 ? '' : 's'} changed. Undo with \`swarm undo ${options.taskId}\`.`;
  // With markers, text conflicts are written with their markers; other conflicts (binary, deleted) keep your file.
  const writable = plans.filter((plan) => plan.kind !== 'conflict' || plan.markers);
  return { writable, outcome: { status, files, conflicts, conflictReasons: conflictPlans.map((plan) => plan.conflictReason ?? ''), message } };
}

/** Writes a decided apply with its undo record and apply record; returns the outcome to report. */
function writeApply(scope: WriteScope, options: ApplyOptions, { outcome, writable }: ApplyPlan): ApplyOutcome {
  if (writable.length === 0) return outcome;
  const { board, taskId } = options;
  // A failed write puts the files back, and the record of the apply before it (if any) with them.
  const recordFile = path.join(recordsFolder(board, taskId), APPLY_RECORD);
  const earlier = readRegularFile(recordFile);
  const recorder = {
    recorded: (saved: UndoRecord) => writeApplyRecord(board, taskId, { status: outcome.status, at: saved.at, undoId: saved.id, files: outcome.files, ...(options.partial ? { partial: true as const } : {}) }),
    rolledBack: () => (earlier ? replaceFile(recordFile, earlier) : fs.rmSync(recordFile, { force: true })),
  };
  const record = writePlans(scope, writable, recordsFolder(board, taskId), outcome.status, recorder, stillAsAppliedBefore(options));
  return { ...outcome, undoId: record.id };
}

/**
 * Files an earlier apply of the task changed that are still as it left them: when an interrupted
 * apply is finished by applying again, the new undo record keeps their saved versions, so an undo
 * goes all the way back instead of only undoing the second half.
 */
function stillAsAppliedBefore(options: ApplyOptions): SavedFile[] {
  const previous = readUndoRecord(options.board, options.taskId, options.workspaceRoot);
  if (!previous) return [];
  return previous.record.entries
    .map((entry) => ({ path: entry.path, before: versionBefore(previous.dir, entry), after: readWorkspaceFile(options.workspaceRoot, entry.path), afterHash: entry.afterHash }))
    .filter((file) => hashVersion(file.after) === file.afterHash)
    .map(({ path: relPath, before, after }) => ({ path: relPath, before, after }));
}

/**
 * Records an apply that someone else wrote (the editor, through its own undoable edit): the
 * versions it replaced and left, so `swarm undo` and the Undo Apply action can restore them.
 */
export function recordTaskApply(board: FileBoard, taskId: string, status: ApplyStatus, files: Array<{ path: string; before: FileVersion; after: FileVersion }>): UndoRecord {
  const record = saveUndoRecord(recordsFolder(board, taskId), status, files);
  writeApplyRecord(board, taskId, { status, at: record.at, undoId: record.id, files: files.map((file) => file.path) });
  return record;
}

function writeApplyRecord(board: FileBoard, taskId: string, record: ApplyRecord): void {
  replaceFile(path.join(recordsFolder(board, taskId), APPLY_RECORD), JSON.stringify(record, null, 2));
}

/**
 * The versions the last apply of a task replaced, with the hash of what it left (for an undo).
 * Records are untrusted input: their shape is checked, and every path in them goes through the
 * one safety check against `workspaceRoot` (default: the folder that holds the board).
 */
export function readUndoRecord(board: FileBoard, taskId: string, workspaceRoot = workspaceOfBoard(board.root)): { dir: string; file: string; record: UndoRecord } | undefined {
  const applied = applyRecord(board, taskId);
  if (!applied) return undefined;
  const artifacts = board.artifactsDir(taskId);
  const legacy = legacyUndoFolder(artifacts, applied.undoId);
  const [dir, file] = fs.lstatSync(undoFile(artifacts, applied.undoId), { throwIfNoEntry: false }) ? [artifacts, undoFile(artifacts, applied.undoId)] : [legacy, path.join(legacy, 'undo.json')];
  if (!fs.lstatSync(file, { throwIfNoEntry: false })) return undefined;
  const record = parseUndoRecord(readRegularFile(file), file);
  assertSafePatchPaths({ workspaceRoot, boardRoot: board.root }, record.entries.map((entry) => entry.path));
  return { dir, file, record };
}


/** Marks the last apply as undone (its record is kept, renamed, for audit). */
export function markApplyUndone(board: FileBoard, taskId: string): void {
  const dir = board.artifactsDir(taskId);
  const applied = applyRecord(board, taskId);
  if (applied) fs.renameSync(path.join(dir, APPLY_RECORD), path.join(dir, `apply-undone-${applied.undoId}.json`));
}

/** The plans of every part of a result; a file two parts change is a conflict. */
async function planAll(planner: ApplyPlanner, patch: TaskPatch, options: PlanOptions): Promise<FilePlan[]> {
  const plans: FilePlan[] = [];
  const owner = new Map<string, string>();
  for (const part of partsOf(patch)) {
    for (const plan of await planner.plan(part, options)) {
      const paths = plan.from ? [plan.path, plan.from] : [plan.path];
      const clash = paths.find((p) => owner.has(p));
      if (clash) plans.push({ ...plan, kind: 'conflict', conflictReason: `changed by both task ${owner.get(clash)} and task ${part.taskId}` });
      else plans.push(plan);
      for (const p of paths) owner.set(p, part.taskId);
    }
  }
  return plans;
}

/** Restores the files of the last apply, refusing (without changing anything) if they were edited since. */
export async function undoTaskApply(options: { workspaceRoot: string; board: FileBoard; taskId: string }): Promise<{ files: string[] }> {
  const undo = readUndoRecord(options.board, options.taskId, options.workspaceRoot);
  if (!undo) throw new Error(`Task ${options.taskId} has not been applied (or was already undone); there is nothing to undo.`);
  const edited = editedSinceApply(undo.dir, undo.record.entries, (relPath) => readWorkspaceFile(options.workspaceRoot, relPath));
  if (edited.length > 0) {
    throw new Error(`Cannot undo task ${options.taskId}: ${edited.join(', ')} changed after the apply. Nothing was restored; revert those edits first, or restore the files by hand from ${undo.file}.`);
  }
  restoreEntries(scopeOf(options), undo.dir, undo.record.entries);
  markApplyUndone(options.board, options.taskId);
  return { files: undo.record.entries.map((entry) => entry.path) };
}

/** Marks the result discarded: it can no longer be applied; the patch file is kept for audit. */
export function discardTaskPatch(board: FileBoard, taskId: string): void {
  const task = board.get(taskId);
  if (!task) throw new Error(`No task ${taskId} on the board.`);
  replaceFile(path.join(recordsFolder(board, taskId), DISCARD_RECORD), JSON.stringify({ at: Date.now() }, null, 2));
  try {
    runGitSync(['update-ref', '-d', `${BASE_REF_PREFIX}${taskId}`], { cwd: workspaceOfBoard(board.root), okCodes: [1, 128] });
  } catch {
    // Not a git workspace, or the ref is already gone: nothing to release.
  }
}

export function isDiscarded(board: FileBoard, taskId: string): boolean {
  return fs.lstatSync(path.join(board.artifactsDir(taskId), DISCARD_RECORD), { throwIfNoEntry: false }) !== undefined;
}

function appliedAsResult(board: FileBoard, taskId: string): boolean {
  const record = applyRecord(board, taskId);
  return record !== undefined && record.partial !== true;
}

/** The task's last apply, if it was not undone; a damaged record throws RecordDamagedError. */
export function applyRecord(board: FileBoard, taskId: string): ApplyRecord | undefined {
  const file = path.join(board.artifactsDir(taskId), APPLY_RECORD);
  if (!fs.lstatSync(file, { throwIfNoEntry: false })) return undefined;
  return parseApplyRecord(readRegularFile(file), file, taskId);
}

/**
 * Done results not yet applied or discarded, oldest first (map parents are applied through their
 * children). A result whose task had its partial work applied before (then was retried) still waits.
 */
export function pendingResults(board: FileBoard): string[] {
  return pendingPatches(board).map((patch) => patch.taskId);
}

function pendingPatches(board: FileBoard): TaskPatch[] {
  return board
    .list({ status: 'done' })
    .filter((task) => !task.childCount && !isDiscarded(board, task.id) && !appliedAsResult(board, task.id))
    .sort((a, b) => a.updatedAt - b.updatedAt)
    .flatMap((task) => readTaskPatch(board, task.id) ?? []);
}

/**
 * Done results (not yet applied or discarded) whose patches would conflict if both were applied:
 * same file with overlapping or adjacent hunks, or the same file added, deleted, renamed or binary.
 */
export function findPatchConflicts(board: FileBoard, taskIds?: string[]): Array<{ taskIds: string[]; files: string[] }> {
  const ids = taskIds ?? board.list({ status: 'done' }).map((task) => task.id);
  const patches = ids
    .filter((id) => !isDiscarded(board, id) && (taskIds !== undefined || !applyRecord(board, id)))
    .map((id) => readTaskPatch(board, id))
    .filter((patch): patch is TaskPatch => patch !== undefined && patch.parts === undefined);
  return conflictsAmong(patches);
}

function conflictsAmong(patches: TaskPatch[]): Array<{ taskIds: string[]; files: string[] }> {
  const sections = patches.map((patch) => ({ id: patch.taskId, byPath: indexSections(patch.text) }));
  const conflicts: Array<{ taskIds: string[]; files: string[] }> = [];
  for (let i = 0; i < sections.length; i += 1) {
    for (let j = i + 1; j < sections.length; j += 1) {
      const files = [...sections[i].byPath.keys()].filter((file) => {
        const a = sections[i].byPath.get(file);
        const b = sections[j].byPath.get(file);
        return a && b && sectionsConflict(a, b);
      });
      if (files.length > 0) conflicts.push({ taskIds: [sections[i].id, sections[j].id], files });
    }
  }
  return conflicts;
}

/** Sections by every path they touch in the original tree (renames count under both names). */
function indexSections(text: string): Map<string, PatchSection> {
  const byPath = new Map<string, PatchSection>();
  for (const section of parsePatch(text)) {
    byPath.set(section.from ?? section.path, section);
    if (section.from) byPath.set(section.path, section);
  }
  return byPath;
}

function sectionsConflict(a: PatchSection, b: PatchSection): boolean {
  if (a.status !== 'modified' || b.status !== 'modified' || a.binary || b.binary) return true;
  return hunksOverlap(a.hunks, b.hunks);
}
export { readPartialWork, tasksWithPartialWork } from './partial';

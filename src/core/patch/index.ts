// Results of tasks as patches: reading them for review, applying them to the user's folder
// (clean or three-way, undoable), discarding them, and spotting results that would conflict.
// The board stays the source of truth: a done task's result names its patch artifact and base
// snapshot, and the patch is read through the board (file or Redis alike). Apply/undo/discard
// records are the user's local state (see place.ts). Reading never writes anything.
import * as fs from 'fs';
import * as path from 'path';
import { ARTIFACT_NAME_PATTERN, type Board } from '../board/interface';
import { mapChildId } from '../board/board';
import { listAllTasks } from '../board/paging';
import { FileBoard } from '../board/fileBoard';
import { findGitRepository } from '../board/gitExclude';
import type { Progress, Task } from '../board/types';
import { filesOfPatch } from '../worktree/diff';
import { runGitSync } from '../worktree/git';
import { BASE_REF_PREFIX, PARTIAL_REF_PREFIX } from '../worktree/worktreeIsolation';
import { theirsVersions } from './theirs';
import { editedSinceApply, hashVersion, readWorkspaceFile, legacyUndoFolder, restoreEntries, saveUndoRecord, undoFile, versionBefore, writePlans, type ApplyStatus, type FileVersion, type SavedFile, type UndoRecord } from './apply';
import { ApplyPlanner, blobAt, isObjectId, type FilePlan, type PlanOptions } from './plan';
import { hunksOverlap, parsePatch, type PatchSection } from '../diff/parse';
import { assertSafePatchPaths, type WriteScope } from './paths';
import { isRecord, parseApplyRecord, parseUndoRecord, type ApplyRecord } from './records';
import { readRegularFile, replaceFile, replaceWithHardLink } from './write';
import { locateRepository, type RepoInfo } from '../worktree/repo';
import { readPartialWork } from './partial';
import { makeRecordsDir, recordsDir, writeScopeOf, type ResultPlace } from './place';
import { ResultActionError } from './errors';

export type { ApplyStatus, FileVersion, UndoEntry, UndoRecord } from './apply';
export type { FilePlan, PlanOptions } from './plan';
export { parentFolders } from './plan';
export { editedSinceApply, hashVersion, plannedVersions, readWorkspaceFile, removalsFirst, removedBy, versionBefore, writeVersion } from './apply';
export { parsePatch, hunksOverlap, unquote, PatchParseError } from '../diff/parse';
export type { PatchSection } from '../diff/parse';
export { assertSafePatchPath, assertSafePatchPaths, UnsafePatchPathError, type WriteScope } from './paths';
export { RecordDamagedError, type ApplyRecord } from './records';
export { ResultActionError } from './errors';
export { recordsDir, recordsRoot, type ResultPlace } from './place';

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
  /** The board artifact the patch was read from (absent for a map's combined patch and partial work). */
  artifact?: string;
  /** Where the patch is, for people: its file on a file board, or the git ref of partial work. */
  patchFile?: string;
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
  /** The patch artifact's name (results written through the board). */
  patchArtifact?: string;
  /** Results written before patches were artifacts: a path inside the task's artifacts folder. */
  patchFile?: string;
  base?: string;
  files?: PatchFileEntry[];
}

const APPLY_RECORD = 'apply.json';
const DISCARD_RECORD = 'discarded.json';

/** The done task's patch, or for a map parent the combined patch of its done children. */
export async function readTaskPatch(place: ResultPlace, taskId: string): Promise<TaskPatch | undefined> {
  const task = await place.board.get(taskId);
  if (!task) return undefined;
  if (task.childCount && task.childCount > 0) return (await aggregateOf(place, task))?.patch;
  return patchOfTask(place.board, task);
}

async function patchOfTask(board: Board, task: Task): Promise<TaskPatch | undefined> {
  const result = (isRecord(task.result) ? task.result : {}) as StoredResult;
  const artifact = task.status === 'done' ? patchArtifactOf(board, task.id, result) : undefined;
  if (!artifact) return undefined;
  // Through the board: only a plain artifact of this very task is read (never a link, never a
  // path a hand-edited or shipped board names), so `swarm diff` cannot print any file of the machine.
  const text = (await board.getArtifact(task.id, artifact))?.toString('utf8');
  if (text === undefined) return undefined;
  const files = isFileList(result.files) && result.files.length > 0 ? result.files : filesOfPatch(text);
  const patchFile = board instanceof FileBoard ? path.join(board.artifactsDir(task.id), artifact) : undefined;
  // Only an object id is a base: anything else would reach git's command line.
  return { taskId: task.id, artifact, ...(patchFile ? { patchFile } : {}), base: isObjectId(result.base) ? result.base : undefined, files, text };
}

/**
 * The name of a result's patch artifact: `patchArtifact`, or for an older result the artifact its
 * `patchFile` path names. A path inside the task's artifacts folder is that artifact; one that
 * leads elsewhere (or names the folder through another route, e.g. a symlinked parent, or was
 * written on another machine) is looked up by its file name among the task's artifacts.
 */
function patchArtifactOf(board: Board, taskId: string, result: StoredResult): string | undefined {
  if (typeof result.patchArtifact === 'string') return ARTIFACT_NAME_PATTERN.test(result.patchArtifact) ? result.patchArtifact : undefined;
  if (typeof result.patchFile !== 'string' || !result.patchFile) return undefined;
  let name = path.basename(result.patchFile);
  if (board instanceof FileBoard) {
    const artifacts = board.artifactsDir(taskId);
    const relative = path.relative(artifacts, path.resolve(artifacts, result.patchFile));
    if (!relative.startsWith('..') && !path.isAbsolute(relative)) name = relative;
  }
  return ARTIFACT_NAME_PATTERN.test(name) ? name : undefined;
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
  progress: Progress;
  /** Children without a patch yet (pending, running, failed, or no changes). */
  missing: string[];
  /** Children whose patches touch the same files. */
  conflicts: Array<{ taskIds: string[]; files: string[] }>;
}

/**
 * "Fix all": the done children of a map task combined into one reviewable patch, in memory (a
 * read writes nothing). Undefined while no child has produced a patch.
 */
export async function aggregateChildPatches(place: ResultPlace, parentId: string): Promise<FixAllAggregate | undefined> {
  const parent = await place.board.get(parentId);
  return parent ? aggregateOf(place, parent) : undefined;
}

async function aggregateOf(place: ResultPlace, parent: Task): Promise<FixAllAggregate | undefined> {
  const [children, progress] = await Promise.all([childrenOf(place.board, parent), place.board.progress(parent.id)]);
  const parts: TaskPatch[] = [];
  const missing: string[] = [];
  for (const child of children) {
    const patch = child.status === 'done' && !isDiscarded(place, child.id) ? await patchOfTask(place.board, child) : undefined;
    if (patch) parts.push(patch);
    else missing.push(child.id);
  }
  if (parts.length === 0) return undefined;
  const text = parts.map((part) => (part.text.endsWith('\n') ? part.text : `${part.text}\n`)).join('');
  const patch: TaskPatch = { taskId: parent.id, files: parts.flatMap((part) => part.files), text, parts };
  return { patch, progress, missing, conflicts: conflictsAmong(parts) };
}

/** Lookups in flight at once while reading a map's children (a remote board answers them in parallel). */
const CHILD_LOOKUPS = 32;

/**
 * A map task's children with their results: the numbered ones by id, and, when the map has more
 * (children added later with its id as parent), those found by paging through the board.
 */
async function childrenOf(board: Board, parent: Task): Promise<Task[]> {
  const ids = Array.from({ length: parent.childCount ?? 0 }, (_, index) => mapChildId(parent.id, index));
  const children: Task[] = [];
  for (let start = 0; start < ids.length; start += CHILD_LOOKUPS) {
    const found = await Promise.all(ids.slice(start, start + CHILD_LOOKUPS).map((id) => board.get(id)));
    children.push(...found.filter((task): task is Task => task !== undefined));
  }
  if ((await board.progress(parent.id)).total <= ids.length) return children;
  const numbered = new Set(ids);
  let cursor: string | undefined;
  do {
    const page = await board.list({ cursor, limit: 1000 });
    for (const task of page.tasks) {
      if (task.parentId !== parent.id || numbered.has(task.id)) continue;
      const full = task.status === 'done' ? await board.get(task.id) : task;
      if (full) children.push(full);
    }
    cursor = page.nextCursor;
  } while (cursor);
  return children;
}

/** File contents for the diff editor: the file as the agent started from it, and after the patch. */
export async function patchFileVersions(workspaceRoot: string, patch: TaskPatch, relPath: string): Promise<{ original?: string; proposed?: string }> {
  const part = patch.parts?.find((candidate) => candidate.files.some((file) => file.path === relPath || file.from === relPath)) ?? patch;
  const entry = part.files.find((file) => file.path === relPath || file.from === relPath);
  if (!entry) throw new ResultActionError('input', `The patch of task ${patch.taskId} does not change ${relPath}.`);
  if (!part.base) throw new ResultActionError('refused', `The patch of task ${part.taskId} has no base snapshot, so its file versions cannot be shown side by side; see its diff with \`swarm diff ${part.taskId}\`.`);
  const repo = await locateRepository(workspaceRoot);
  const original = await blobAt(repo, part.base, entry.from ?? entry.path);
  const proposed = (await theirsVersions(repo, part.base, part.text, [entry.path])).get(entry.path);
  return { original: original.content?.toString('utf8'), proposed: proposed?.content?.toString('utf8') };
}

export interface ApplyOptions extends ResultPlace {
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

/** Where the writers of `options` may write: the workspace, minus its board and records. */
function scopeOf(place: ResultPlace): WriteScope {
  return writeScopeOf(place);
}

/** Plans the apply of a task's result (clean, three-way, or blocked by conflicts); writes nothing. */
export async function planTaskApply(options: ApplyPlanOptions): Promise<ApplyPlan> {
  const patch = await patchToApply(options, options.taskId);
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
  const located = startLocating(options.workspaceRoot);
  const loaded = await Promise.all(
    options.taskIds.map(async (taskId) => {
      try {
        return { taskId, patch: options.partial ? await partialToApply(options, taskId) : await patchToApply(options, taskId) };
      } catch (error) {
        return { taskId, error: error as Error };
      }
    }),
  );
  return applyLoaded(options, loaded, located);
}

/** `swarm apply --all-done`: every result `pendingResults` lists, each task looked up once. */
export async function applyPendingResults(options: Omit<BatchApplyOptions, 'taskIds' | 'partial'>): Promise<BatchOutcome[]> {
  const located = startLocating(options.workspaceRoot);
  return applyLoaded(options, (await pendingPatches(options)).map((patch) => ({ taskId: patch.taskId, patch })), located);
}

/**
 * The workspace's repository, looked up (a git process) while the results are read from the board;
 * undefined without one. Its failure is reported where the planner awaits it.
 */
function startLocating(workspaceRoot: string): Promise<RepoInfo> | undefined {
  if (!findGitRepository(workspaceRoot)) return undefined;
  const located = locateRepository(workspaceRoot);
  located.catch(() => undefined);
  return located;
}

/** Applies loaded results one after the other, the git work for all of them done up front. */
async function applyLoaded(options: Omit<BatchApplyOptions, 'taskIds'>, loaded: Array<{ taskId: string; patch?: TaskPatch; error?: Error }>, located?: Promise<RepoInfo>): Promise<BatchOutcome[]> {
  if (!findGitRepository(options.workspaceRoot)) return loaded.map((item) => (item.patch ? { taskId: item.taskId, outcome: ranDirectly(item.taskId, item.patch).outcome } : { taskId: item.taskId, error: item.error as Error }));
  const scope = scopeOf(options);
  const planner = await ApplyPlanner.open(scope, loaded.flatMap((item) => (item.patch ? partsOf(item.patch) : [])), located);
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
async function patchToApply(place: ResultPlace, taskId: string): Promise<TaskPatch> {
  const patch = await readTaskPatch(place, taskId);
  if (!patch) throw new ResultActionError('input', `Task ${taskId} has no patch to apply (it is not done, made no changes, or its artifacts were removed). Check with \`swarm show ${taskId}\`.`);
  if (isDiscarded(place, taskId)) throw new ResultActionError('refused', `The result of task ${taskId} was discarded; it is kept for audit only and cannot be applied.`);
  return patch;
}

async function partialToApply(options: Omit<ApplyOptions, 'taskId'>, taskId: string): Promise<TaskPatch> {
  const task = await options.board.get(taskId);
  if (!task) throw new ResultActionError('input', `No task ${taskId} on the board.`);
  if (task.status === 'done') throw new ResultActionError('input', `Task ${taskId} is done: apply its result with \`swarm apply ${taskId}\` (partial work is kept only for tasks that did not finish).`);
  const partial = await readPartialWork(options.workspaceRoot, taskId);
  if (!partial) throw new ResultActionError('input', `Task ${taskId} (${task.status}) has no partial work kept on ${PARTIAL_REF_PREFIX}${taskId}; there is nothing to apply.`);
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
  if (wanted && plans.length === 0) throw new ResultActionError('input', `The result of task ${options.taskId} does not change ${[...wanted].join(', ')}.`);
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
  const { taskId } = options;
  // A failed write puts the files back, and the record of the apply before it (if any) with them.
  const dir = makeRecordsDir(options, taskId);
  const recordFile = path.join(dir, APPLY_RECORD);
  const earlier = readRegularFile(recordFile);
  // The undo record carries the apply record's fields and apply.json is a hard link to it: one
  // file created per task instead of two (creating files is most of the time of a large apply).
  const recorder = {
    fields: { files: outcome.files, ...(options.partial ? { partial: true as const } : {}) },
    recorded: (saved: UndoRecord, file: string) => replaceWithHardLink(recordFile, file, () => JSON.stringify(saved)),
    rolledBack: () => (earlier ? replaceFile(recordFile, earlier) : fs.rmSync(recordFile, { force: true })),
  };
  const record = writePlans(scope, writable, dir, outcome.status, recorder, stillAsAppliedBefore(options));
  return { ...outcome, undoId: record.id };
}

/**
 * Files an earlier apply of the task changed that are still as it left them: when an interrupted
 * apply is finished by applying again, the new undo record keeps their saved versions, so an undo
 * goes all the way back instead of only undoing the second half.
 */
function stillAsAppliedBefore(options: ApplyOptions): SavedFile[] {
  const previous = readUndoRecord(options, options.taskId);
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
export function recordTaskApply(place: ResultPlace, taskId: string, status: ApplyStatus, files: Array<{ path: string; before: FileVersion; after: FileVersion }>): UndoRecord {
  const record = saveUndoRecord(makeRecordsDir(place, taskId), status, files);
  writeApplyRecord(place, taskId, { status, at: record.at, undoId: record.id, files: files.map((file) => file.path) });
  return record;
}

function writeApplyRecord(place: ResultPlace, taskId: string, record: ApplyRecord): void {
  replaceFile(path.join(makeRecordsDir(place, taskId), APPLY_RECORD), JSON.stringify(record, null, 2));
}

/**
 * The versions the last apply of a task replaced, with the hash of what it left (for an undo).
 * Records are untrusted input: their shape is checked, and every path in them goes through the
 * one safety check against the workspace.
 */
export function readUndoRecord(place: ResultPlace, taskId: string): { dir: string; file: string; record: UndoRecord } | undefined {
  const applied = applyRecord(place, taskId);
  if (!applied) return undefined;
  const artifacts = recordsDir(place, taskId);
  const legacy = legacyUndoFolder(artifacts, applied.undoId);
  const [dir, file] = fs.lstatSync(undoFile(artifacts, applied.undoId), { throwIfNoEntry: false }) ? [artifacts, undoFile(artifacts, applied.undoId)] : [legacy, path.join(legacy, 'undo.json')];
  if (!fs.lstatSync(file, { throwIfNoEntry: false })) return undefined;
  const record = parseUndoRecord(readRegularFile(file), file);
  // An entry without a saved copy is removed by an undo, before it writes anything.
  assertSafePatchPaths(scopeOf(place), record.entries.map((entry) => entry.path), new Set(record.entries.filter((entry) => !entry.before).map((entry) => entry.path)));
  return { dir, file, record };
}


/** Marks the last apply as undone (its record is kept, renamed, for audit). */
export function markApplyUndone(place: ResultPlace, taskId: string): void {
  const dir = recordsDir(place, taskId);
  const applied = applyRecord(place, taskId);
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
export async function undoTaskApply(options: ResultPlace & { taskId: string }): Promise<{ files: string[] }> {
  const undo = readUndoRecord(options, options.taskId);
  if (!undo) throw new ResultActionError('input', `Task ${options.taskId} has not been applied (or was already undone); there is nothing to undo.`);
  const edited = editedSinceApply(undo.dir, undo.record.entries, (relPath) => readWorkspaceFile(options.workspaceRoot, relPath), options.workspaceRoot);
  if (edited.length > 0) {
    throw new ResultActionError('refused', `Cannot undo task ${options.taskId}: ${edited.join(', ')} changed after the apply. Nothing was restored; revert those edits first, or restore the files by hand from ${undo.file}.`);
  }
  restoreEntries(scopeOf(options), undo.dir, undo.record.entries);
  markApplyUndone(options, options.taskId);
  return { files: undo.record.entries.map((entry) => entry.path) };
}

/** Marks the result discarded: it can no longer be applied; the patch artifact is kept for audit. */
export async function discardTaskPatch(place: ResultPlace, taskId: string): Promise<void> {
  const task = await place.board.get(taskId);
  if (!task) throw new ResultActionError('input', `No task ${taskId} on the board.`);
  replaceFile(path.join(makeRecordsDir(place, taskId), DISCARD_RECORD), JSON.stringify({ at: Date.now() }, null, 2));
  try {
    runGitSync(['update-ref', '-d', `${BASE_REF_PREFIX}${taskId}`], { cwd: place.workspaceRoot, okCodes: [1, 128] });
  } catch {
    // Not a git workspace, or the ref is already gone: nothing to release.
  }
}

export function isDiscarded(place: ResultPlace, taskId: string): boolean {
  return fs.lstatSync(path.join(recordsDir(place, taskId), DISCARD_RECORD), { throwIfNoEntry: false }) !== undefined;
}

function appliedAsResult(place: ResultPlace, taskId: string): boolean {
  const record = applyRecord(place, taskId);
  return record !== undefined && record.partial !== true;
}

/** The task's last apply, if it was not undone; a damaged record throws RecordDamagedError. */
export function applyRecord(place: ResultPlace, taskId: string): ApplyRecord | undefined {
  const file = path.join(recordsDir(place, taskId), APPLY_RECORD);
  if (!fs.lstatSync(file, { throwIfNoEntry: false })) return undefined;
  return parseApplyRecord(readRegularFile(file), file, taskId);
}

/**
 * Done results not yet applied or discarded, oldest first (map parents are applied through their
 * children). A result whose task had its partial work applied before (then was retried) still waits.
 */
export async function pendingResults(place: ResultPlace): Promise<string[]> {
  return (await pendingPatches(place)).map((patch) => patch.taskId);
}

async function pendingPatches(place: ResultPlace): Promise<TaskPatch[]> {
  const waiting = (await listAllTasks(place.board, 'done'))
    .filter((task) => !task.childCount && !isDiscarded(place, task.id) && !appliedAsResult(place, task.id))
    .sort((a, b) => a.updatedAt - b.updatedAt);
  const patches: TaskPatch[] = [];
  for (const task of waiting) {
    const patch = await readTaskPatch(place, task.id);
    if (patch) patches.push(patch);
  }
  return patches;
}


/**
 * Done results (not yet applied or discarded) whose patches would conflict if both were applied:
 * same file with overlapping or adjacent hunks, or the same file added, deleted, renamed or binary.
 */
export async function findPatchConflicts(place: ResultPlace, taskIds?: string[]): Promise<Array<{ taskIds: string[]; files: string[] }>> {
  const ids = taskIds ?? (await listAllTasks(place.board, 'done')).map((task) => task.id);
  const patches: TaskPatch[] = [];
  for (const id of ids) {
    if (isDiscarded(place, id) || (taskIds === undefined && applyRecord(place, id))) continue;
    const patch = await readTaskPatch(place, id);
    if (patch !== undefined && patch.parts === undefined) patches.push(patch);
  }
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

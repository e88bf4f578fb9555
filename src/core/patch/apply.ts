// Writing planned results to the user's working tree, and undoing them. Every path goes through the
// one safety check, every write replaces files without following links, and the previous versions
// are saved first so the apply can be undone, also after a crash half-way.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { FilePlan } from './plan';
import type { FileVersion } from './theirs';
import { assertSafePatchPath, assertSafePatchPaths, UnsafePatchPathError, type WriteScope } from './paths';
import { makeRealFolders, readRegularFile, replaceFile, replaceWithLink } from './write';
import { faultPoint } from '../board/faults';
import { RecordDamagedError, ResultActionError } from './errors';

export type ApplyStatus = 'applied' | 'applied-3way' | 'conflict' | 'already-applied';

export type { FileVersion };

export function readWorkspaceFile(root: string, relPath: string): FileVersion {
  const full = path.join(root, relPath);
  const stat = entryInWorkspace(root, relPath);
  if (!stat || stat.isDirectory()) return {};
  if (stat.isSymbolicLink()) return { mode: '120000', content: Buffer.from(fs.readlinkSync(full)) };
  if (!stat.isFile()) throw notAFile(relPath, stat);
  // Read as it is when opened (a pipe or link put there since the look above is not read).
  const content = readRegularFile(full);
  if (content === undefined) throw notAFile(relPath, fs.lstatSync(full));
  return { mode: stat.mode & 0o111 ? '100755' : '100644', content };
}

/**
 * Something at a path that is neither a file, a link nor a folder: a named pipe (reading one waits
 * for a writer, forever), a device or a socket. A result never replaces one, and nothing is read
 * from it: the apply (or undo) stops before it writes anything.
 */
function notAFile(relPath: string, stat: fs.Stats): ResultActionError {
  const what = stat.isFIFO() ? 'a named pipe (FIFO)' : stat.isSocket() ? 'a socket' : stat.isCharacterDevice() || stat.isBlockDevice() ? 'a device' : 'not a regular file';
  return new ResultActionError('refused', `${relPath} is ${what}, not a file, so it was not read and nothing was written. Move it out of the way and try again.`);
}


/**
 * The entry at `relPath` in the workspace, undefined when there is none. Also undefined when a link
 * or a file stands where a folder on the way should be: such a path is not in the workspace, and
 * reading it would read the link's target (a change may remove a link `d` and add `d/x`).
 */
function entryInWorkspace(root: string, relPath: string): fs.Stats | undefined {
  let folder = root;
  for (const segment of relPath.split('/').slice(0, -1)) {
    folder = path.join(folder, segment);
    if (!lstatIfAny(folder)?.isDirectory()) return undefined;
  }
  return lstatIfAny(path.join(root, relPath));
}

/** The entry at `full`, undefined when there is none (also when a file stands where a folder on the way should be). */
function lstatIfAny(full: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(full, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw error;
  }
}

export interface UndoEntry {
  path: string;
  /**
   * The file before the apply, absent when it did not exist: its bytes in base64 (`data`), or, in
   * records made before that, the name of a file beside the record (`blob`).
   */
  before?: { mode: string; data?: string; blob?: string };
  /** sha256 of the file after the apply, or 'absent'. */
  afterHash: string;
}

export interface UndoRecord {
  id: string;
  at: number;
  status: ApplyStatus;
  entries: UndoEntry[];
  /**
   * Written since the undo record is also the task's apply record (apply.json is a hard link to
   * it, see `linkRecord`): the fields of an ApplyRecord beside the undo's own.
   */
  undoId?: string;
  files?: string[];
  partial?: true;
}

/** Fields of the apply record written into the undo record, so that one file serves as both. */
export interface ApplyFields {
  files: string[];
  partial?: true;
}

/** The caller's record of an apply (apply.json), kept in step with the files being written. */
export interface ApplyRecorder {
  /** Apply-record fields the undo record carries, when `recorded` links it as the apply record. */
  fields?: ApplyFields;
  /** The undo record is saved (in `file`), no file is written yet. */
  recorded(record: UndoRecord, file: string): void;
  /** The write failed and every file was put back: the apply did not happen. */
  rolledBack(): void;
}

/**
 * Writes the plans' results, in an order that survives a kill at any step: first the undo record
 * (each file's previous version and the hash of the version it will get), then the caller's record
 * of the apply, then the files one by one (each replaced atomically). After a kill every file is
 * either as it was or as planned, and an undo puts back the ones that changed.
 */
export function writePlans(scope: WriteScope, plans: FilePlan[], artifactsDir: string, status: ApplyStatus, recorder?: ApplyRecorder, alsoUndo: SavedFile[] = []): UndoRecord {
  const touched = removalsFirst(plannedVersions(plans));
  assertSafePatchPaths(scope, touched.keys(), removedBy(touched));
  const root = scope.workspaceRoot;
  const written = [...touched].map(([relPath, after]) => ({ path: relPath, before: readWorkspaceFile(root, relPath), after }));
  const record = saveBeforeWriting(artifactsDir, status, [...written, ...alsoUndo.filter((file) => !touched.has(file.path))], recorder);
  faultPoint('apply:after-records');
  try {
    for (const [relPath, version] of touched) {
      writeVersion(scope, relPath, version);
      faultPoint('apply:after-a-file');
    }
  } catch (error) {
    const rolledBack = rollBack(scope, artifactsDir, record, error);
    recorder?.rolledBack();
    throw rolledBack;
  }
  // The file system has the last word on the mode (one that cannot keep the executable bit, say);
  // the content is what was just written.
  const onDisk = record.entries.map((entry) => {
    const planned = touched.get(entry.path);
    const written = writtenVersion(root, entry.path, planned);
    // The planned content with the planned mode: the hash the record already has.
    return written.content === planned?.content && written.mode === planned?.mode ? entry.afterHash : hashVersion(written);
  });
  if (onDisk.some((hash, index) => hash !== record.entries[index].afterHash)) {
    record.entries.forEach((entry, index) => (entry.afterHash = onDisk[index]));
    replaceFile(undoFile(artifactsDir, record.id), JSON.stringify(record));
    // A new file: the apply record linked to the old one is linked again.
    recorder?.recorded(record, undoFile(artifactsDir, record.id));
  }
  return record;
}

/** What a path holds after it was written with `planned`: its content, with the mode it got on disk. */
function writtenVersion(root: string, relPath: string, planned: FileVersion | undefined): FileVersion {
  if (planned?.content === undefined || planned.mode === '120000') return readWorkspaceFile(root, relPath);
  const stat = lstatIfAny(path.join(root, relPath));
  if (!stat?.isFile()) return readWorkspaceFile(root, relPath);
  return { content: planned.content, mode: stat.mode & 0o111 ? '100755' : '100644' };
}

/**
 * The files of an undo record changed since the apply: neither as the apply left them nor as they
 * were before it (a file still as before is one an interrupted apply had not reached yet).
 */
export function editedSinceApply(dir: string, entries: UndoEntry[], current: (relPath: string) => FileVersion, root: string): string[] {
  const edited = entries
    .filter((entry) => {
      const now = hashVersion(current(entry.path));
      return now !== entry.afterHash && now !== hashVersion(versionBefore(dir, entry));
    })
    .map((entry) => entry.path);
  // A file the apply replaced with a folder comes back only where that folder holds nothing but
  // what the apply put there: anything else in it was made after the apply.
  const removed = new Set(entries.filter((entry) => !entry.before).map((entry) => entry.path));
  const inTheWay = entries.filter((entry) => entry.before).flatMap((entry) => filesInTheWay(root, entry.path, removed));
  return [...edited, ...inTheWay];
}

/** Most entries of a folder in the way that are named (a message, not a listing). */
const SHOWN_IN_THE_WAY = 5;

/**
 * What keeps a file from being written at `relPath` when a folder is there: whatever the folder
 * holds that the same change does not remove first (files, links, folders left non-empty; an
 * empty folder is named with a trailing "/"). Empty when no folder is in the way.
 */
export function filesInTheWay(root: string, relPath: string, removed: ReadonlySet<string>): string[] {
  const full = path.join(root, relPath);
  if (!entryInWorkspace(root, relPath)?.isDirectory()) return [];
  const blocking: string[] = [];
  // Whether the folder is gone once the removals are done (they remove folders they leave empty).
  const goneAfterRemovals = (dir: string, rel: string): boolean => {
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    let gone = entries.length > 0;
    for (const entry of entries) {
      if (blocking.length >= SHOWN_IN_THE_WAY) return false;
      const entryRel = `${rel}/${entry.name}`;
      if (entry.isDirectory() ? goneAfterRemovals(path.join(dir, entry.name), entryRel) : removed.has(entryRel)) continue;
      gone = false;
      if (!entry.isDirectory()) blocking.push(entryRel);
    }
    if (entries.length === 0) blocking.push(`${rel}/`);
    return gone;
  };
  goneAfterRemovals(full, relPath);
  return blocking;
}

/** A file as an undo record keeps it: its version before an apply, and the one the apply leaves. */
export interface SavedFile {
  path: string;
  before: FileVersion;
  after: FileVersion;
}

/**
 * The undo record (and the caller's apply record), saved before any file is touched; when that
 * fails, nothing is written at all.
 */
function saveBeforeWriting(artifactsDir: string, status: ApplyStatus, files: SavedFile[], recorder: ApplyRecorder | undefined): UndoRecord {
  try {
    const record = saveUndoRecord(artifactsDir, status, files, recorder?.fields);
    recorder?.recorded(record, undoFile(artifactsDir, record.id));
    return record;
  } catch (error) {
    throw new ResultActionError('environment', `Saving your current files for undo failed (${firstLine(error)}), so nothing was written. Fix the cause (free some disk space, for example) and apply again.`, { cause: error });
  }
}

/**
 * After a write failed half-way (a full disk, a folder in the way): puts every file back from the
 * undo record, and says what happened and what the user has now.
 */
function rollBack(scope: WriteScope, artifactsDir: string, record: UndoRecord, error: unknown): Error {
  const cause = firstLine(error);
  try {
    restoreEntries(scope, artifactsDir, record.entries);
  } catch (restoreError) {
    return new Error(`Writing the result failed (${cause}), and putting your files back failed too (${firstLine(restoreError)}). Your previous versions are saved in ${undoFile(artifactsDir, record.id)} (in base64); copy them back by hand.`);
  }
  if (error instanceof UnsafePatchPathError) return error;
  return new Error(`Writing the result failed (${cause}); your files were put back as they were. Fix the cause (free some disk space, for example) and apply again.`);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}

/** The final version of every path the plans change (a rename's source: absent). */
export function plannedVersions(plans: FilePlan[]): Map<string, FileVersion> {
  const touched = new Map<string, FileVersion>();
  for (const plan of plans) {
    if (plan.kind === 'already') continue;
    if (plan.from && plan.from !== plan.path) touched.set(plan.from, {});
    touched.set(plan.path, plan.result);
  }
  return touched;
}

/**
 * The same versions, the removals first: a file that replaces a folder (`d` for `d/x.txt`) or a
 * folder that replaces a file can only be written once what was in its way is gone.
 */
export function removalsFirst(versions: Map<string, FileVersion>): Map<string, FileVersion> {
  return new Map([...versions].sort(([, a], [, b]) => Number(a.content !== undefined) - Number(b.content !== undefined)));
}

/** The paths a change removes (their version is absent), which `removalsFirst` removes before any write. */
export function removedBy(versions: Map<string, FileVersion>): Set<string> {
  return new Set([...versions].filter(([, version]) => version.content === undefined).map(([relPath]) => relPath));
}

/**
 * Where the undo record `id` of a task lives: one file in its artifacts folder, saved copies
 * inside (creating files is the slow part of an apply of many results: one per task, not per file).
 */
export function undoFile(artifactsDir: string, id: string): string {
  return path.join(artifactsDir, `undo-${id}.json`);
}

/** Records made before single-file records: `<artifacts>/undo/<id>/undo.json`, copies beside it. */
export function legacyUndoFolder(artifactsDir: string, id: string): string {
  return path.join(artifactsDir, 'undo', id);
}

/**
 * Saves the versions an apply replaces (`before`), with the hash of what the apply leaves
 * (`after`, when already known) so an undo can tell whether the file moved on.
 */
export function saveUndoRecord(artifactsDir: string, status: ApplyStatus, files: Array<{ path: string; before: FileVersion; after?: FileVersion }>, applyFields?: ApplyFields): UndoRecord {
  const id = `${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
  const record: UndoRecord = { id, at: Date.now(), status, entries: [], ...(applyFields ? { undoId: id, ...applyFields } : {}) };
  for (const file of files) {
    const entry: UndoEntry = { path: file.path, afterHash: file.after ? hashVersion(file.after) : '' };
    if (file.before.content !== undefined) entry.before = { mode: file.before.mode ?? '100644', data: file.before.content.toString('base64') };
    record.entries.push(entry);
  }
  // Written whole or not at all (a temp file renamed into place).
  replaceFile(undoFile(artifactsDir, record.id), JSON.stringify(record));
  return record;
}

/**
 * Writes one version of a workspace file (absent: removes it). The path goes through the one
 * safety check first; the write never follows a symbolic link, neither in the folders on the way
 * nor at the file itself (a link there is replaced, its target untouched).
 */
export function writeVersion(scope: WriteScope, relPath: string, version: FileVersion): void {
  // A removal where a file stands on the way removes nothing (there is nothing under a file).
  assertSafePatchPath(scope, relPath, version.content === undefined ? new Set([relPath]) : undefined);
  const root = path.resolve(scope.workspaceRoot);
  const full = path.join(root, relPath);
  if (version.content === undefined) {
    // rm of a link removes the link itself; a folder is never removed (no `recursive`): a folder
    // at the path means the file is already gone (a folder took its place).
    const existing = lstatIfAny(full);
    if (existing?.isDirectory()) return;
    // Nothing there (also when a file stands where a folder on the way would be): nothing to remove.
    if (existing) fs.rmSync(full, { force: true });
    removeEmptyParents(root, path.dirname(full));
    return;
  }
  makeRealFolders(root, path.dirname(full));
  if (version.mode === '120000') replaceWithLink(full, version.content.toString('utf8'));
  else replaceFile(full, version.content, version.mode === '100755' ? 0o755 : 0o644);
}

function removeEmptyParents(root: string, dir: string): void {
  for (let current = dir; current !== root && current.startsWith(root + path.sep); current = path.dirname(current)) {
    // Not there (a removal before a kill took it, or a file stands in its place): nothing to remove.
    if (!lstatIfAny(current)?.isDirectory()) return;
    if (fs.readdirSync(current).length > 0) return;
    fs.rmdirSync(current);
  }
}

export function hashVersion(version: FileVersion): string {
  if (version.content === undefined) return 'absent';
  return crypto.createHash('sha256').update(version.mode ?? '').update('\0').update(version.content).digest('hex');
}

export function restoreEntries(scope: WriteScope, dir: string, entries: UndoEntry[]): void {
  const versions = removalsFirst(new Map(entries.map((entry) => [entry.path, versionBefore(dir, entry)] as const)));
  assertSafePatchPaths(scope, versions.keys(), removedBy(versions));
  for (const [relPath, version] of versions) {
    writeVersion(scope, relPath, version);
    faultPoint('undo:after-a-file');
  }
}

/** The saved version of one undo entry; `dir` holds the copies of a record made before single-file records (never through a link). */
export function versionBefore(dir: string, entry: UndoEntry): FileVersion {
  if (!entry.before) return {};
  const { data, blob, mode } = entry.before;
  if (data !== undefined) return { content: Buffer.from(data, 'base64'), mode };
  const content = blob === undefined ? undefined : readRegularFile(path.join(dir, blob));
  if (content === undefined) throw new RecordDamagedError('undo record', dir, `its saved copy ${blob} is missing or not a plain file`, `Nothing was restored; restore ${entry.path} by hand.`);
  return { content, mode };
}

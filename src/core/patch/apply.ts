// Applying a task's patch to the user's working tree, three-way when needed, never silently
// overwriting. For every file the engine compares three versions:
//   base   - the file in the snapshot the agent started from (the patch's base commit),
//   theirs - base with the patch applied (computed in a temporary index, nothing touches the user's),
//   ours   - the file in the user's folder now.
// ours == base: take theirs (a clean apply). ours == theirs: already there. Otherwise a text merge
// with `git merge-file`; a conflict anywhere means nothing is written (unless markers are asked
// for). Before writing, the previous contents are saved so the apply can be undone.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { gitText, runGit } from '../worktree/git';
import { locateRepository, type RepoInfo } from '../worktree/repo';
import { parsePatch, type PatchSection } from './parse';
import { theirsVersions, type FileVersion } from './theirs';
import { assertSafePatchPath, assertSafePatchPaths, UnsafePatchPathError, type WriteScope } from './paths';
import { makeRealFolders, readRegularFile, replaceFile, replaceWithLink } from './write';
import { faultPoint } from '../board/faults';

export type ApplyStatus = 'applied' | 'applied-3way' | 'conflict' | 'already-applied';

export type { FileVersion };

export interface FilePlan {
  path: string;
  kind: 'clean' | 'merged' | 'already' | 'conflict';
  /** Final state of `path`; for renames the source `from` is removed. */
  result: FileVersion;
  from?: string;
  conflictReason?: string;
  /** A text conflict whose `result` is the merge with conflict markers (written only when asked). */
  markers?: boolean;
}

export interface PatchInput {
  text: string;
  base?: string;
}

interface Versions {
  base: FileVersion;
  theirs: FileVersion;
}

export interface PlanOptions {
  /**
   * The user's current version of a file, when it is not the one on disk (an editor with unsaved
   * changes); undefined means "read the file".
   */
  readOurs?: (relPath: string) => FileVersion | undefined;
}

/** Computes, for every file of the patch, what applying it would do; writes nothing. */
export async function planPatch(scope: WriteScope, patch: PatchInput, options: PlanOptions = {}): Promise<{ repo: RepoInfo; plans: FilePlan[] }> {
  const sections = parsePatch(patch.text);
  assertSafeSections(scope, sections);
  const repo = await locateRepository(scope.workspaceRoot);
  if (!patch.base || !(await commitExists(repo, patch.base))) throw new Error('The patch has no base snapshot in this repository (it may have been garbage-collected); apply it with `git apply` by hand.');
  const theirs = await theirsVersions(repo, patch.base, patch.text, sections.map((section) => section.path));
  const filters = await gitFilters(repo);
  const plans: FilePlan[] = [];
  for (const section of sections) {
    const base = await blobAt(repo, patch.base, section.from ?? section.path);
    const plan = await planFile(repo, filters, section, { base, theirs: theirs.get(section.path) ?? {} }, options);
    // What gets written goes through the same conversion as a checkout (line endings, filters).
    const written = plan.kind === 'clean' || plan.kind === 'merged' || plan.markers;
    plans.push(written ? { ...plan, result: await filters.toWorkingTree(plan.path, plan.result) } : plan);
  }
  return { repo, plans };
}

/** Every path a patch names (targets and rename sources) through the one safety check. */
export function assertSafeSections(scope: WriteScope, sections: PatchSection[]): void {
  assertSafePatchPaths(scope, sections.flatMap((section) => (section.from ? [section.path, section.from] : [section.path])));
}

/**
 * Git's conversions between the files in the folder and the blobs in the repository (core.autocrlf,
 * `eol` and `filter` attributes). Comparisons and merges happen on the repository form, like git's
 * own; results are written in the working-tree form. Identity when the repository uses none.
 */
interface GitFilters {
  toRepository(relPath: string, version: FileVersion): Promise<FileVersion>;
  toWorkingTree(relPath: string, version: FileVersion): Promise<FileVersion>;
}

async function gitFilters(repo: RepoInfo): Promise<GitFilters> {
  const identity: GitFilters = { toRepository: async (_p, version) => version, toWorkingTree: async (_p, version) => version };
  if (!(await usesConversions(repo))) return identity;
  const cwd = repo.topLevel;
  const convertible = (version: FileVersion) => version.content !== undefined && version.mode !== '120000';
  return {
    toRepository: async (relPath, version) => {
      if (!convertible(version)) return version;
      const sha = await gitText(['hash-object', '-w', '--stdin', `--path=${topPath(repo, relPath)}`], { cwd, input: version.content });
      return { ...version, content: (await runGit(['cat-file', 'blob', sha], { cwd })).stdout };
    },
    toWorkingTree: async (relPath, version) => {
      if (!convertible(version)) return version;
      const sha = await gitText(['hash-object', '-w', '--stdin', '--no-filters'], { cwd, input: version.content });
      return { ...version, content: (await runGit(['cat-file', '--filters', `--path=${topPath(repo, relPath)}`, sha], { cwd })).stdout };
    },
  };
}

async function usesConversions(repo: RepoInfo): Promise<boolean> {
  const config = await runGit(['config', '--get-regexp', '^(core\\.(autocrlf|eol)|filter\\..*)$'], { cwd: repo.topLevel, okCodes: [1] });
  const settings = config.stdout.toString('utf8').trim().split('\n').filter((line) => line && !/^core\.autocrlf false$/i.test(line));
  if (settings.length > 0) return true;
  if (fs.existsSync(path.join(repo.commonDir, 'info', 'attributes'))) return true;
  const attributes = await runGit(['ls-files', '-z', '--', ':(top,glob)**/.gitattributes'], { cwd: repo.topLevel });
  return attributes.stdout.length > 0 || fs.existsSync(path.join(repo.topLevel, '.gitattributes'));
}

async function planFile(repo: RepoInfo, filters: GitFilters, section: PatchSection, versions: Versions, options: PlanOptions): Promise<FilePlan> {
  const root = repo.workspaceRoot;
  const current = (relPath: string) => options.readOurs?.(relPath) ?? readWorkspaceFile(root, relPath);
  const ours = await filters.toRepository(section.from ?? section.path, current(section.from ?? section.path));
  const plan = (kind: FilePlan['kind'], result: FileVersion, conflictReason?: string): FilePlan => {
    const entry: FilePlan = { path: section.path, kind, result };
    if (section.from) entry.from = section.from;
    if (conflictReason) entry.conflictReason = conflictReason;
    return entry;
  };
  if (section.from) {
    const target = await filters.toRepository(section.path, current(section.path));
    if (target.content !== undefined && !sameVersion(target, versions.theirs)) return plan('conflict', target, `the rename target ${section.path} already exists with other content`);
    if (target.content !== undefined && ours.content === undefined) return plan('already', versions.theirs);
  }
  if (sameVersion(ours, versions.base)) return plan('clean', versions.theirs);
  if (sameContent(ours, versions.theirs) && !section.from) return plan('already', versions.theirs);
  if (ours.content === undefined) return plan('conflict', ours, 'the file was deleted in your workspace since the task started');
  if (versions.theirs.content === undefined) return plan('conflict', ours, 'the task deletes the file, but you changed it since');
  if (versions.base.content === undefined) return plan('conflict', ours, 'the task adds the file, but a different file with that name exists now');
  if (isBinary(ours.content) || isBinary(versions.base.content) || isBinary(versions.theirs.content)) return plan('conflict', ours, 'binary file changed both in your workspace and by the task');
  const merged = await mergeFile(ours.content, versions.base.content, versions.theirs.content, section.path);
  const mode = versions.theirs.mode !== versions.base.mode ? versions.theirs.mode : ours.mode;
  if (merged.conflicts > 0) {
    return { ...plan('conflict', { content: merged.content, mode }, `${merged.conflicts} overlapping change${merged.conflicts === 1 ? '' : 's'} with your edits`), markers: true };
  }
  return plan('merged', { content: merged.content, mode });
}

export async function blobAt(repo: RepoInfo, commit: string, relPath: string): Promise<FileVersion> {
  const listed = await gitText(['ls-tree', '-z', commit, '--', topPath(repo, relPath)], { cwd: repo.topLevel });
  const match = /^(\d+) blob ([0-9a-f]+)\t/.exec(listed);
  if (!match) return {};
  return { mode: match[1], content: (await runGit(['cat-file', 'blob', match[2]], { cwd: repo.topLevel })).stdout };
}

function topPath(repo: RepoInfo, relPath: string): string {
  return repo.prefix ? `${repo.prefix}/${relPath}` : relPath;
}

async function commitExists(repo: RepoInfo, commit: string): Promise<boolean> {
  // A base read from the board is untrusted: only an object id may reach git (never an option).
  if (!isObjectId(commit)) return false;
  const result = await runGit(['cat-file', '-e', `${commit}^{commit}`], { cwd: repo.topLevel, okCodes: [1, 128] });
  return result.code === 0;
}

export function isObjectId(value: unknown): value is string {
  return typeof value === 'string' && /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(value);
}

export function readWorkspaceFile(root: string, relPath: string): FileVersion {
  const full = path.join(root, relPath);
  const stat = fs.lstatSync(full, { throwIfNoEntry: false });
  if (!stat || stat.isDirectory()) return {};
  if (stat.isSymbolicLink()) return { mode: '120000', content: Buffer.from(fs.readlinkSync(full)) };
  return { mode: stat.mode & 0o111 ? '100755' : '100644', content: fs.readFileSync(full) };
}

function sameContent(a: FileVersion, b: FileVersion): boolean {
  if (a.content === undefined || b.content === undefined) return a.content === b.content;
  return a.content.equals(b.content);
}

function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return sameContent(a, b) && (a.content === undefined || a.mode === b.mode);
}

function isBinary(content: Buffer): boolean {
  return content.subarray(0, 8000).includes(0);
}

async function mergeFile(ours: Buffer, base: Buffer, theirs: Buffer, label: string): Promise<{ content: Buffer; conflicts: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-merge-'));
  try {
    const files = { ours: path.join(dir, 'ours'), base: path.join(dir, 'base'), theirs: path.join(dir, 'theirs') };
    fs.writeFileSync(files.ours, ours);
    fs.writeFileSync(files.base, base);
    fs.writeFileSync(files.theirs, theirs);
    const result = await runGit(['merge-file', '-p', '-L', `${label} (yours)`, '-L', `${label} (snapshot)`, '-L', `${label} (task)`, files.ours, files.base, files.theirs], {
      cwd: dir,
      okCodes: Array.from({ length: 127 }, (_, i) => i + 1),
    });
    if (result.code > 127) throw new Error(`git merge-file failed on ${label}: ${result.stderr}`);
    return { content: result.stdout, conflicts: result.code };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- writing and undo

export interface UndoEntry {
  path: string;
  /** Saved copy of the file before the apply (relative to the undo folder), absent when it did not exist. */
  before?: { blob: string; mode: string };
  /** sha256 of the file after the apply, or 'absent'. */
  afterHash: string;
}

export interface UndoRecord {
  id: string;
  at: number;
  status: ApplyStatus;
  entries: UndoEntry[];
}

/** The caller's record of an apply (apply.json), kept in step with the files being written. */
export interface ApplyRecorder {
  /** The undo record is saved, no file is written yet. */
  recorded(record: UndoRecord): void;
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
  const touched = plannedVersions(plans);
  assertSafePatchPaths(scope, touched.keys());
  const root = scope.workspaceRoot;
  const written = [...touched].map(([relPath, after]) => ({ path: relPath, before: readWorkspaceFile(root, relPath), after }));
  const record = saveBeforeWriting(artifactsDir, status, [...written, ...alsoUndo.filter((file) => !touched.has(file.path))]);
  const dir = undoFolder(artifactsDir, record.id);
  recorder?.recorded(record);
  faultPoint('apply:after-records');
  try {
    for (const [relPath, version] of touched) {
      writeVersion(scope, relPath, version);
      faultPoint('apply:after-a-file');
    }
  } catch (error) {
    const rolledBack = rollBack(scope, dir, record.entries, error);
    recorder?.rolledBack();
    throw rolledBack;
  }
  // The file system has the last word on what was written (a mode it cannot keep, for example).
  const onDisk = record.entries.map((entry) => hashVersion(readWorkspaceFile(root, entry.path)));
  if (onDisk.some((hash, index) => hash !== record.entries[index].afterHash)) {
    record.entries.forEach((entry, index) => (entry.afterHash = onDisk[index]));
    replaceFile(path.join(dir, 'undo.json'), JSON.stringify(record, null, 2));
  }
  return record;
}

/**
 * The files of an undo record changed since the apply: neither as the apply left them nor as they
 * were before it (a file still as before is one an interrupted apply had not reached yet).
 */
export function editedSinceApply(dir: string, entries: UndoEntry[], current: (relPath: string) => FileVersion): string[] {
  return entries
    .filter((entry) => {
      const now = hashVersion(current(entry.path));
      return now !== entry.afterHash && now !== hashVersion(versionBefore(dir, entry));
    })
    .map((entry) => entry.path);
}

/** A file as an undo record keeps it: its version before an apply, and the one the apply leaves. */
export interface SavedFile {
  path: string;
  before: FileVersion;
  after: FileVersion;
}

/** The undo record, saved before any file is touched; when that fails, nothing is written at all. */
function saveBeforeWriting(artifactsDir: string, status: ApplyStatus, files: SavedFile[]): UndoRecord {
  try {
    return saveUndoRecord(artifactsDir, status, files);
  } catch (error) {
    throw new Error(`Saving your current files for undo failed (${firstLine(error)}), so nothing was written. Fix the cause (free some disk space, for example) and apply again.`);
  }
}

/**
 * After a write failed half-way (a full disk, a folder in the way): puts every file back from the
 * undo record, and says what happened and what the user has now.
 */
function rollBack(scope: WriteScope, dir: string, entries: UndoEntry[], error: unknown): Error {
  const cause = firstLine(error);
  try {
    restoreEntries(scope, dir, entries);
  } catch (restoreError) {
    return new Error(`Writing the result failed (${cause}), and putting your files back failed too (${firstLine(restoreError)}). Your previous versions are saved in ${dir} (undo.json lists them); copy them back by hand.`);
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

/** Where the undo record `id` of a task lives: `<artifacts>/undo/<id>/`. */
export function undoFolder(artifactsDir: string, id: string): string {
  return path.join(artifactsDir, 'undo', id);
}

/**
 * Saves the versions an apply replaces (`before`) under `<artifacts>/undo/<id>/`, with the hash of
 * what the apply leaves (`after`, when already known) so an undo can tell whether the file moved on.
 */
export function saveUndoRecord(artifactsDir: string, status: ApplyStatus, files: Array<{ path: string; before: FileVersion; after?: FileVersion }>): UndoRecord {
  const record: UndoRecord = { id: `${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`, at: Date.now(), status, entries: [] };
  const dir = undoFolder(artifactsDir, record.id);
  makeRealFolders(path.dirname(artifactsDir), dir);
  try {
    files.forEach((file, index) => {
      const entry: UndoEntry = { path: file.path, afterHash: file.after ? hashVersion(file.after) : '' };
      if (file.before.content !== undefined) {
        const blob = `before-${index}`;
        replaceFile(path.join(dir, blob), file.before.content);
        entry.before = { blob, mode: file.before.mode ?? '100644' };
      }
      record.entries.push(entry);
    });
    replaceFile(path.join(dir, 'undo.json'), JSON.stringify(record, null, 2));
  } catch (error) {
    // A half-saved record is worth nothing; the folder is new, so removing it loses nothing.
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return record;
}

/**
 * Writes one version of a workspace file (absent: removes it). The path goes through the one
 * safety check first; the write never follows a symbolic link, neither in the folders on the way
 * nor at the file itself (a link there is replaced, its target untouched).
 */
export function writeVersion(scope: WriteScope, relPath: string, version: FileVersion): void {
  assertSafePatchPath(scope, relPath);
  const root = path.resolve(scope.workspaceRoot);
  const full = path.join(root, relPath);
  if (version.content === undefined) {
    // rm of a link removes the link itself; a folder is never removed (no `recursive`).
    fs.rmSync(full, { force: true });
    removeEmptyParents(root, path.dirname(full));
    return;
  }
  makeRealFolders(root, path.dirname(full));
  if (version.mode === '120000') replaceWithLink(full, version.content.toString('utf8'));
  else replaceFile(full, version.content, version.mode === '100755' ? 0o755 : 0o644);
}

function removeEmptyParents(root: string, dir: string): void {
  for (let current = dir; current !== root && current.startsWith(root + path.sep); current = path.dirname(current)) {
    if (fs.readdirSync(current).length > 0) return;
    fs.rmdirSync(current);
  }
}

export function hashVersion(version: FileVersion): string {
  if (version.content === undefined) return 'absent';
  return crypto.createHash('sha256').update(version.mode ?? '').update('\0').update(version.content).digest('hex');
}

export function restoreEntries(scope: WriteScope, dir: string, entries: UndoEntry[]): void {
  const versions = entries.map((entry) => [entry.path, versionBefore(dir, entry)] as const);
  assertSafePatchPaths(scope, entries.map((entry) => entry.path));
  for (const [relPath, version] of versions) {
    writeVersion(scope, relPath, version);
    faultPoint('undo:after-a-file');
  }
}

/** The saved version of one undo entry (a regular file in the record's folder, never a link). */
export function versionBefore(dir: string, entry: UndoEntry): FileVersion {
  if (!entry.before) return {};
  const content = readRegularFile(path.join(dir, entry.before.blob));
  if (content === undefined) throw new Error(`The undo record in ${dir} is damaged: its saved copy ${entry.before.blob} is missing or not a plain file. Nothing was restored; restore ${entry.path} by hand.`);
  return { content, mode: entry.before.mode };
}

// The one check every writer of results goes through (apply, undo, the editor's apply, follow-ups):
// a path a result, an undo record or a plan names may only lead to a file inside the workspace,
// never into `.git`, never into the task board (wherever it lives), never through a symbolic link.
// A result that could write into the board could post itself a task naming its own command, which
// the next `swarm run` would execute. Checked before anything is read or written; errors name the
// offending path.
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_BOARD_DIR } from '../board/board';
import { SwarmUserError } from '../errors';

/** Where writers may write: inside `workspaceRoot`, but never into `boardRoot`. */
export interface WriteScope {
  workspaceRoot: string;
  boardRoot: string;
}

/** Longest path and name accepted: what Linux and macOS allow, so a write never fails half-way. */
const MAX_PATH_BYTES = 4096;
const MAX_NAME_BYTES = 255;
/** Longest path shown in a message: a crafted name must not flood the terminal or the log. */
const SHOWN_PATH_CHARS = 160;

export class UnsafePatchPathError extends SwarmUserError {
  constructor(
    readonly patchPath: string,
    readonly reason: string,
  ) {
    super('refused', `Refusing to write a file: "${shownPath(patchPath)}" ${reason}. Results may only change files inside the workspace (not in .git, not in the task board, not through symbolic links). Discard this result or fix the patch by hand.`);
    this.name = 'UnsafePatchPathError';
  }
}

function shownPath(relPath: string): string {
  return relPath.length <= SHOWN_PATH_CHARS ? relPath : `${relPath.slice(0, SHOWN_PATH_CHARS)}… (${relPath.length} characters)`;
}

/**
 * Throws UnsafePatchPathError unless `relPath` (workspace-relative) is a safe place to write.
 * `removed`: paths the same change removes before it writes anything (a file or link there, on the
 * way to `relPath`, is gone by the time `relPath` is written: a folder takes the place of a file;
 * and a removed path with a file on its way does not exist, so removing it changes nothing).
 * Each write checks its path again on disk, so a removal that did not happen still stops it.
 */
export function assertSafePatchPath(scope: WriteScope, relPath: unknown, removed: ReadonlySet<string> = NOTHING_REMOVED): asserts relPath is string {
  if (typeof relPath !== 'string') throw new UnsafePatchPathError(String(relPath), 'is not a path');
  assertSafeName(scope, relPath);
  // On disk, only the platform's separator separates names (a backslash is part of a name on POSIX).
  assertNoLinkOnTheWay(scope, relPath, relPath.split(process.platform === 'win32' ? /[\\/]/ : '/'), removed);
}

/**
 * Paths whose names passed the checks that do not look at the disk, per scope: they depend on the
 * path and the scope only, and an apply checks every path three times (reading the patch, before
 * the undo record, at the write). The disk is looked at every time.
 */
const safeNames = new WeakMap<WriteScope, Set<string>>();

function assertSafeName(scope: WriteScope, relPath: string): void {
  let known = safeNames.get(scope);
  if (known?.has(relPath)) return;
  assertPlainRelative(relPath);
  const segments = relPath.split(/[\\/]/);
  if (segments.some((segment) => isGitName(foldName(segment)))) throw new UnsafePatchPathError(relPath, 'is inside a .git directory (or names a .git file)');
  if (isInsideBoardByName(scope, segments)) throw new UnsafePatchPathError(relPath, 'is inside the task board folder');
  if (!known) safeNames.set(scope, (known = new Set()));
  known.add(relPath);
}

const NOTHING_REMOVED: ReadonlySet<string> = new Set();

/** Checks every path first, so a refused one means nothing at all was written (`removed`: see assertSafePatchPath). */
export function assertSafePatchPaths(scope: WriteScope, relPaths: Iterable<unknown>, removed: ReadonlySet<string> = NOTHING_REMOVED): void {
  for (const relPath of relPaths) assertSafePatchPath(scope, relPath, removed);
}

function assertPlainRelative(relPath: string): void {
  if (relPath.length === 0) throw new UnsafePatchPathError(relPath, 'is an empty path');
  if (relPath.includes('\0')) throw new UnsafePatchPathError(relPath, 'contains a NUL byte');
  if (path.isAbsolute(relPath) || path.win32.isAbsolute(relPath) || /^[A-Za-z]:/.test(relPath) || relPath.startsWith('~')) throw new UnsafePatchPathError(relPath, 'is an absolute path');
  const segments = relPath.split(/[\\/]/);
  if (segments.includes('..')) throw new UnsafePatchPathError(relPath, 'contains ".." and would leave the workspace');
  if (segments.some((segment) => segment === '' || segment === '.')) throw new UnsafePatchPathError(relPath, 'is not a plain relative path (it has an empty or "." part)');
  const bytes = Buffer.byteLength(relPath);
  if (bytes > MAX_PATH_BYTES || segments.some((segment) => Buffer.byteLength(segment) > MAX_NAME_BYTES)) {
    throw new UnsafePatchPathError(relPath, `is too long (${bytes} bytes; at most ${MAX_PATH_BYTES}, and ${MAX_NAME_BYTES} per name)`);
  }
}

/**
 * Code points HFS+ ignores in names, as git's `is_hfs_dotgit` lists them: on macOS ".g\u200cit"
 * opens ".git".
 */
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/**
 * A name as a case-insensitive, normalising file system may see it (APFS, HFS+, NTFS), for
 * comparisons only: ignorable code points dropped, compatibility-normalised, lower case, without
 * an NTFS stream suffix (".git::$INDEX_ALLOCATION") or the trailing dots and spaces NTFS drops.
 */
export function foldName(segment: string): string {
  return segment
    .replace(HFS_IGNORED, '')
    .normalize('NFKC')
    .toLowerCase()
    .replace(/:.*$/s, '')
    .replace(/[. ]+$/, '');
}

/** ".git" in any spelling a file system may take for it, including its NTFS short name "GIT~1". */
function isGitName(folded: string): boolean {
  return folded === '.git' || /^git~\d+$/.test(folded);
}

/**
 * By name: the default board folder at the top of the workspace (VS Code and `swarm` use it even
 * when this command's board lives elsewhere), and this board's folder when it is in the workspace.
 */
function isInsideBoardByName(scope: WriteScope, segments: string[]): boolean {
  const folded = segments.map(foldName);
  return factsOf(scope).boardPrefixes.some((prefix) => prefix.every((name, index) => folded[index] === name));
}

/** What the check needs to know of a scope, worked out once per scope object (an apply checks hundreds of paths). */
interface ScopeFacts {
  boardPrefixes: string[][];
  board: fs.Stats | undefined;
}

const scopeFacts = new WeakMap<WriteScope, ScopeFacts>();

function factsOf(scope: WriteScope): ScopeFacts {
  let facts = scopeFacts.get(scope);
  if (!facts) {
    facts = { boardPrefixes: boardNamePrefixes(scope), board: fs.statSync(scope.boardRoot, { throwIfNoEntry: false }) };
    scopeFacts.set(scope, facts);
  }
  return facts;
}

function boardNamePrefixes(scope: WriteScope): string[][] {
  const prefixes = [[foldName(DEFAULT_BOARD_DIR)]];
  for (const [root, board] of [
    [path.resolve(scope.workspaceRoot), path.resolve(scope.boardRoot)],
    [realpathOr(scope.workspaceRoot), realpathOr(scope.boardRoot)],
  ]) {
    const relative = path.relative(root, board);
    if (relative && !relative.startsWith('..') && !path.isAbsolute(relative)) prefixes.push(relative.split(path.sep).map(foldName));
  }
  return prefixes;
}

function realpathOr(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    return path.resolve(dir);
  }
}

/**
 * On disk: every existing folder on the way must be a real folder (not a link, not a file) and
 * not the board itself, recognised by identity (device and inode), so another spelling of its
 * path (case, Unicode normalisation, a symlinked route to the workspace) does not hide it.
 */
function assertNoLinkOnTheWay(scope: WriteScope, relPath: string, segments: string[], removed: ReadonlySet<string>): void {
  const root = path.resolve(scope.workspaceRoot);
  const { board } = factsOf(scope);
  const isBoard = (stat: fs.Stats) => board !== undefined && stat.dev === board.dev && stat.ino === board.ino;
  let current = root;
  for (const [index, segment] of segments.entries()) {
    current = path.join(current, segment);
    const stat = fs.lstatSync(current, { throwIfNoEntry: false });
    if (!stat) return;
    if (isBoard(stat)) throw new UnsafePatchPathError(relPath, 'is inside the task board folder');
    if (index === segments.length - 1) return;
    const shown = segments.slice(0, index + 1).join('/');
    // A file or link the change removes first: nothing is below it yet, the write makes real folders.
    if (!stat.isDirectory() && removed.has(shown)) return;
    // A path the change only removes, with a plain file on its way: it does not exist, so removing
    // it touches nothing (an undo of an apply killed before it wrote anything). A link still counts.
    if (stat.isFile() && removed.has(relPath)) return;
    if (stat.isSymbolicLink()) throw new UnsafePatchPathError(relPath, `goes through the symbolic link "${shown}"`);
    if (!stat.isDirectory()) throw new UnsafePatchPathError(relPath, `needs "${shown}" to be a folder, but it is a file`);
  }
}

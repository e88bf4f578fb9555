// Registrations (`<git common dir>/worktrees/<name>/`) that `git worktree add` left half written
// because it was killed. git marks a registration "initializing" (a `locked` file) first, then writes
// gitdir, HEAD, commondir and the worktree's .git file, and removes the lock last. Killed in between:
// `git worktree remove` refuses the invalid registration, `git worktree prune` skips locked ones,
// `git worktree add --force` refuses the path, and an empty commondir makes every `git worktree`
// command that lists worktrees fail for the whole repository. Only files can repair that.
import * as fs from 'fs';
import * as path from 'path';

/** The reason git writes into `locked` while `git worktree add` runs. */
const CREATION_LOCK = 'initializing';

export interface HalfRegistration {
  /** The registration's admin folder under `<common dir>/worktrees/`. */
  adminDir: string;
  /** The worktree folder it was being made for. */
  worktree: string;
}

/**
 * Registrations of worktrees under `worktreesDir` that still carry git's creation lock. A live
 * `git worktree add` looks the same, so callers decide with `inUse` whether its creator may still run.
 */
export function findHalfRegistrations(commonDir: string, worktreesDir: string): HalfRegistration[] {
  const adminRoot = path.join(commonDir, 'worktrees');
  const inside = resolvedDir(worktreesDir);
  const found: HalfRegistration[] = [];
  for (const name of readdirQuietly(adminRoot)) {
    const adminDir = path.join(adminRoot, name);
    if (readQuietly(path.join(adminDir, 'locked'))?.trim() !== CREATION_LOCK) continue;
    // gitdir names the worktree's .git file; without it the registration cannot be told apart from
    // one a person's `git worktree add` is making right now, so it is left alone.
    const gitFile = readQuietly(path.join(adminDir, 'gitdir'))?.trim();
    if (!gitFile) continue;
    const worktree = path.dirname(gitFile);
    if (path.dirname(resolvedDir(worktree)) !== inside) continue;
    found.push({ adminDir, worktree });
  }
  return found;
}

/**
 * Removes the half-written registrations of slot worktrees whose creator is gone (`inUse` false), or
 * only the one for `worktree` when given. The worktree folders stay for the caller to remove.
 * Returns the worktree folders whose registration was removed.
 */
export function removeHalfRegistrations(commonDir: string, worktreesDir: string, inUse: (worktree: string) => boolean, worktree?: string): string[] {
  const removed: string[] = [];
  for (const half of findHalfRegistrations(commonDir, worktreesDir)) {
    if (worktree !== undefined && resolvedDir(half.worktree) !== resolvedDir(worktree)) continue;
    if (inUse(half.worktree)) continue;
    fs.rmSync(half.adminDir, { recursive: true, force: true });
    removed.push(half.worktree);
  }
  return removed;
}

/** realpath when the folder exists (git writes resolved paths), else realpath of its parent + name. */
function resolvedDir(dir: string): string {
  try {
    return fs.realpathSync(dir);
  } catch {
    const parent = path.dirname(dir);
    return parent === dir ? dir : path.join(resolvedDir(parent), path.basename(dir));
  }
}

function readdirQuietly(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function readQuietly(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

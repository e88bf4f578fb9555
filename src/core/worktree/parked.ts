// Parked slot trees: a slot's checked-out files kept between runs, outside git's worktree list.
//
// Checking out a slot is the slow part of a run's start (every tracked file created: seconds on a
// real repository on a busy disk), and removing it the slow part of a run's end. When a run ends,
// an idle slot's folder is instead moved into `parked/<id>/tree` together with its index (the
// stat data of every file), and its worktree registration is pruned: nothing stays in
// `git worktree list`. The next run's new slot takes a parked tree over: the fresh registration's
// `.git` file moves into the tree, the tree moves to the slot's path and the index into the new
// admin folder; `git clean` and `git reset --hard` then rewrite only what differs from the new
// snapshot. The index's stat data cannot hide a change made while parked: renaming folders keeps
// every file's inode and ctime, and any write to a file changes its ctime.
//
// Every step is a rename, so a kill at any moment leaves either a complete parked entry, a
// `<id>.making-<pid>` or `claimed-<pid>-<id>` folder of a dead process (removed by the next prune),
// or a slot git still knows (reused or removed as before).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { faultPoint } from '../board/faults';
import { isProcessAlive } from './slots';

export const PARKED_DIR = 'parked';
const MAKING = /\.making-(\d+)$/;
const CLAIMED = /^claimed-(\d+)-/;

/** A parked tree taken over by this process: its files and its index. */
export interface ClaimedTree {
  dir: string;
  tree: string;
  index: string;
}

function parkedRoot(worktreesDir: string): string {
  return path.join(worktreesDir, PARKED_DIR);
}

/** The parked folder, only when it is a real folder: a link there is never followed (nor its target emptied). */
function existingParkedRoot(worktreesDir: string): string | undefined {
  const root = parkedRoot(worktreesDir);
  const stat = fs.lstatSync(root, { throwIfNoEntry: false });
  return stat?.isDirectory() ? root : undefined;
}

/** Complete parked entries (not being made, not claimed). */
export function listParked(worktreesDir: string): string[] {
  const root = existingParkedRoot(worktreesDir);
  if (!root) return [];
  return fs
    .readdirSync(root)
    .filter((name) => !MAKING.test(name) && !CLAIMED.test(name))
    .sort()
    .map((name) => path.join(root, name));
}

/** Complete parked entries with when each was parked (for `swarm worktrees`). */
export function describeParked(worktreesDir: string): Array<{ path: string; parkedAt: number }> {
  // The entry's folder is written last when parking (the tree and index move into it).
  return listParked(worktreesDir).map((entry) => ({ path: entry, parkedAt: fs.statSync(entry, { throwIfNoEntry: false })?.mtimeMs ?? 0 }));
}

/**
 * Moves an idle slot's folder and index into a new parked entry. `linked` (included dependencies,
 * paths from the top) are removed from the tree first: the slot that takes it over links its own.
 * Returns false (the slot is left as it was, for the ordinary removal) when something is not as
 * a finished attempt leaves it.
 */
export function parkSlot(worktreesDir: string, slotDir: string, gitDir: string, linked: readonly string[]): boolean {
  const index = path.join(gitDir, 'index');
  if (!fs.lstatSync(index, { throwIfNoEntry: false })?.isFile()) return false;
  const gitFile = path.join(slotDir, '.git');
  if (!fs.lstatSync(gitFile, { throwIfNoEntry: false })?.isFile()) return false;
  fs.mkdirSync(parkedRoot(worktreesDir), { recursive: true });
  const root = existingParkedRoot(worktreesDir);
  if (!root) return false;
  for (const entry of linked) {
    const target = path.join(slotDir, entry);
    const stat = fs.lstatSync(target, { throwIfNoEntry: false });
    // A link (or copied file) as this isolation made it; anything else was changed by an attempt.
    if (stat?.isDirectory()) return false;
    if (stat) fs.rmSync(target, { force: true });
  }
  const id = `${Date.now().toString(36)}-${crypto.randomBytes(4).toString('hex')}`;
  const making = path.join(root, `${id}.making-${process.pid}`);
  fs.mkdirSync(making);
  try {
    moveFile(index, path.join(making, 'index'));
  } catch (error) {
    fs.rmSync(making, { recursive: true, force: true });
    throw error;
  }
  faultPoint('park:after-index');
  fs.rmSync(gitFile, { force: true });
  fs.renameSync(slotDir, path.join(making, 'tree'));
  faultPoint('park:after-tree');
  fs.renameSync(making, path.join(root, id));
  return true;
}

/**
 * Moves a file; across file systems (the worktree folder on another disk than the repository's
 * git folder, where the index lives) by a copy beside the target renamed into place, so a kill
 * never leaves a half-written file under the target's name.
 */
function moveFile(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
  }
  const copy = `${to}.copying-${process.pid}`;
  try {
    fs.copyFileSync(from, copy);
    fs.renameSync(copy, to);
  } catch (error) {
    fs.rmSync(copy, { force: true });
    throw error;
  }
  fs.rmSync(from, { force: true });
}

/** Takes one parked entry for this process (a rename, so two processes never take the same one). */
export function claimParked(worktreesDir: string): ClaimedTree | undefined {
  for (const entry of listParked(worktreesDir)) {
    const claimed = path.join(path.dirname(entry), `claimed-${process.pid}-${path.basename(entry)}`);
    try {
      fs.renameSync(entry, claimed);
    } catch {
      continue; // taken by another process a moment ago
    }
    faultPoint('adopt:after-claim');
    const tree = path.join(claimed, 'tree');
    const index = path.join(claimed, 'index');
    if (fs.lstatSync(tree, { throwIfNoEntry: false })?.isDirectory() && fs.lstatSync(index, { throwIfNoEntry: false })?.isFile()) return { dir: claimed, tree, index };
    fs.rmSync(claimed, { recursive: true, force: true });
  }
  return undefined;
}

/**
 * Puts a claimed tree in place of a slot git has just registered with `--no-checkout` (its folder
 * holds only the `.git` file): the `.git` file moves into the tree, the tree to the slot's path,
 * the index into the slot's admin folder. On failure the claimed entry is removed and the error
 * thrown; the caller recreates the slot from scratch.
 */
export function adoptParked(claimed: ClaimedTree, slotDir: string, gitDir: string): void {
  try {
    const leftovers = fs.readdirSync(slotDir).filter((name) => name !== '.git');
    // Caught by the caller, which makes the slot afresh: never shown as such.
    if (leftovers.length > 0) throw new Error(`the new slot ${slotDir} is not empty`);
    fs.renameSync(path.join(slotDir, '.git'), path.join(claimed.tree, '.git'));
    faultPoint('adopt:after-git-file');
    fs.rmdirSync(slotDir);
    fs.renameSync(claimed.tree, slotDir);
    faultPoint('adopt:after-tree');
    moveFile(claimed.index, path.join(gitDir, 'index'));
  } finally {
    fs.rmSync(claimed.dir, { recursive: true, force: true });
  }
}

/**
 * Removes parked entries a dead process left half made or half taken, and with `all` every entry
 * not in use by a live process (`swarm worktrees --prune`, or above the number kept). Returns how
 * many were removed.
 */
export function removeParked(worktreesDir: string, options: { all?: boolean; keep?: number } = {}): number {
  const root = existingParkedRoot(worktreesDir);
  if (!root) return 0;
  let removed = 0;
  const complete: string[] = [];
  for (const name of fs.readdirSync(root).sort()) {
    const owner = Number((MAKING.exec(name) ?? CLAIMED.exec(name))?.[1]);
    if (owner && isProcessAlive(owner)) continue;
    if (!owner) {
      complete.push(name);
      if (!options.all) continue;
    }
    fs.rmSync(path.join(root, name), { recursive: true, force: true });
    removed += 1;
  }
  // Oldest first beyond the number kept.
  if (!options.all && options.keep !== undefined) {
    for (const name of complete.slice(0, Math.max(0, complete.length - options.keep))) {
      fs.rmSync(path.join(root, name), { recursive: true, force: true });
      removed += 1;
    }
  }
  if (fs.readdirSync(root).length === 0) fs.rmdirSync(root);
  return removed;
}

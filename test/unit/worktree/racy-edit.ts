// Makes git's "racy entry" case deterministic for snapshot tests. An edit that keeps a file's size
// and lands within the timestamp granularity of the last index write leaves the file's stat data
// exactly as the index recorded it; git still sees the edit only because the entry's mtime is not
// older than the index file's own mtime, which makes it re-hash the file. Here both mtimes are set
// to the same whole second in the past and ctime is not trusted (it cannot be set from user space),
// so the race is hit on every run instead of once in a while on a loaded machine.
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { git } from './helpers';

/** A whole second well in the past: the mtime shared by the index and the racily edited file. */
function racySecond(): number {
  return Math.floor(Date.now() / 1000) - 120;
}

/**
 * Puts `rel` (tracked, committed) and the index in the racy state: the index entry records mtime
 * `second` and the index file itself has that mtime. Returns the second for editRacily().
 */
export function makeEntryRacy(root: string, rel: string): number {
  const second = racySecond();
  git(root, ['config', 'core.trustctime', 'false']);
  fs.utimesSync(path.join(root, rel), second, second);
  git(root, ['update-index', '--refresh']);
  fs.utimesSync(path.join(root, '.git', 'index'), second, second);
  return second;
}

/** Rewrites `rel` with same-size content and puts its mtime back to `second`: stat data unchanged. */
export function editRacily(root: string, rel: string, content: string, second: number): void {
  const file = path.join(root, rel);
  if (Buffer.byteLength(content) !== fs.statSync(file).size) throw new Error(`editRacily needs content of the same size as ${rel}`);
  fs.writeFileSync(file, content);
  fs.utimesSync(file, second, second);
}

/**
 * Files git itself reports as modified in the working tree, read without letting git rewrite the
 * index (which would refresh the racy entry and hide the case under test).
 */
export function modifiedAccordingToGit(root: string): string[] {
  const out = execFileSync('git', ['--no-optional-locks', 'diff', '--name-only'], { cwd: root, encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

export function indexMtimeSecond(root: string): number {
  return Math.floor(fs.statSync(path.join(root, '.git', 'index')).mtimeMs / 1000);
}

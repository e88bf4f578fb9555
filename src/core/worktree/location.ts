// Where agent-slot worktrees live: a per-repository folder in the user's cache, outside the
// checkout. Slots inside the checkout (the old `.git/swarm/worktrees`) let tools that search upward
// for their configuration (ESLint, TypeScript, Prettier, EditorConfig, package.json) also load the
// workspace's own files, so a task's result could depend on files outside its snapshot.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WorktreeError } from './errors';

/** Name of the file in each repository's folder that says which repository it belongs to. */
export const REPOSITORY_MARK = '.repository';

export interface RepoLocation {
  topLevel: string;
  commonDir: string;
}

/** `$XDG_CACHE_HOME/agent-swarm/worktrees` (else `~/.cache/...`): the parent of every repository's folder. */
export function worktreesCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const cache = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cache, 'agent-swarm', 'worktrees');
}

/** `<name of the checkout>-<hash of its git folder>`: readable, and distinct per repository. */
export function repositoryFolderName(repo: RepoLocation): string {
  const hash = crypto.createHash('sha256').update(realish(repo.commonDir)).digest('hex').slice(0, 12);
  const name = path.basename(repo.topLevel).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40) || 'repo';
  return `${name}-${hash}`;
}

/**
 * The default worktrees folder of a repository. A cache folder that is itself inside the checkout
 * (HOME or XDG_CACHE_HOME pointing into it) would bring the problem back: the system's temp folder
 * is used then.
 */
export function defaultWorktreesDir(repo: RepoLocation, env: NodeJS.ProcessEnv = process.env): string {
  const preferred = path.join(worktreesCacheRoot(env), repositoryFolderName(repo));
  if (!isWithin(preferred, repo.topLevel) && !isWithin(preferred, repo.commonDir)) return preferred;
  const user = typeof process.getuid === 'function' ? String(process.getuid()) : os.userInfo().username;
  return path.join(os.tmpdir(), `agent-swarm-${user}`, 'worktrees', repositoryFolderName(repo));
}

/** The folder used before worktrees moved out of the checkout; prune empties it. */
export function legacyWorktreesDir(repo: RepoLocation): string {
  return path.join(repo.commonDir, 'swarm', 'worktrees');
}

/** A configured folder inside the checkout is refused: it would reach the workspace's configuration. */
export function assertOutsideCheckout(dir: string, repo: RepoLocation): void {
  if (!isWithin(dir, repo.topLevel)) return;
  throw new WorktreeError(
    'config',
    `The worktrees folder ${dir} is inside your checkout ${repo.topLevel}: tools that look upward for their configuration would read your files from the agents' worktrees. ` +
      'Set "worktrees.dir" in swarm.config.json to a folder outside the checkout, or remove it to use the default (in your cache folder).',
  );
}

/** Records which repository a worktrees folder belongs to (read by sweepForgottenRepositories). */
export function markRepository(dir: string, repo: RepoLocation): void {
  const mark = path.join(dir, REPOSITORY_MARK);
  if (fs.existsSync(mark)) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(mark, `${realish(repo.commonDir)}\n`);
}

/**
 * Removes the folders of repositories that no longer exist (a deleted clone, a temp checkout):
 * nothing else would ever free them. Only folders carrying a mark whose git folder is gone.
 * Returns the removed folders.
 */
export function sweepForgottenRepositories(root: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return removed;
  }
  for (const name of names) {
    const folder = path.join(root, name);
    let owner: string;
    try {
      owner = fs.readFileSync(path.join(folder, REPOSITORY_MARK), 'utf8').trim();
    } catch {
      continue;
    }
    if (!path.isAbsolute(owner) || fs.existsSync(owner)) continue;
    fs.rmSync(folder, { recursive: true, force: true });
    removed.push(folder);
  }
  return removed;
}

/** Whether `candidate` is `dir` or inside it (real paths where they exist). */
export function isWithin(candidate: string, dir: string): boolean {
  const relative = path.relative(realish(dir), realish(candidate));
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** realpath when the path exists, else realpath of its nearest existing parent + the rest. */
export function realish(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(realish(parent), path.basename(p));
  }
}

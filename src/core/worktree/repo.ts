// Where the user's repository is and how to take a snapshot of its current working state without
// touching the user's working tree or index: a copy of the index (GIT_INDEX_FILE) is updated with
// the tracked changes and the untracked files a task names, written as a tree and, when it differs
// from HEAD, as a commit whose parent is HEAD. Only new objects are written to the object store.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { findGitRepository } from '../board/gitExclude';
import { gitText, refreshStatData, runGit, STAGE_INTO_ONE_PACK } from './git';
import { SwarmUserError } from '../errors';

export interface RepoInfo {
  /** Top of the working tree that contains the workspace. */
  topLevel: string;
  /** The workspace's git directory (differs from commonDir when the workspace is itself a worktree). */
  gitDir: string;
  commonDir: string;
  /** Workspace folder relative to topLevel, '' or 'sub/dir' (forward slashes). */
  prefix: string;
  workspaceRoot: string;
}

export class NotAGitRepositoryError extends SwarmUserError {
  constructor(readonly workspaceRoot: string) {
    super(
      'environment',
      `${workspaceRoot} is not inside a git repository. Agent Swarm isolates each task in its own git worktree, ` +
        'which needs git: run `git init && git add -A && git commit -m initial` in the folder, ' +
        'or opt into running agents directly in your folder (no isolation; agents edit your files in place) ' +
        'with isolation "direct" (CLI: --isolation direct).',
    );
    this.name = 'NotAGitRepositoryError';
  }
}

/** Throws NotAGitRepositoryError when the workspace is not in a git repository. Synchronous: no git spawn. */
export function assertGitWorkspace(workspaceRoot: string): void {
  if (!findGitRepository(workspaceRoot)) throw new NotAGitRepositoryError(workspaceRoot);
}

export async function locateRepository(workspaceRoot: string): Promise<RepoInfo> {
  const root = path.resolve(workspaceRoot);
  assertGitWorkspace(root);
  const [topLevel, gitDir, commonDir] = (await gitText(['rev-parse', '--show-toplevel', '--absolute-git-dir', '--git-common-dir'], { cwd: root })).split('\n');
  const realRoot = fs.realpathSync(root);
  const prefix = path.relative(topLevel, realRoot).split(path.sep).join('/');
  return { topLevel, gitDir, commonDir: path.resolve(root, commonDir), prefix, workspaceRoot: root };
}

export async function headCommit(cwd: string, env?: Record<string, string>): Promise<string | undefined> {
  const result = await runGit(['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { cwd, env, okCodes: [1, 128] });
  return result.code === 0 ? result.stdout.toString('utf8').trim() : undefined;
}

async function headAndTree(cwd: string, env?: Record<string, string>): Promise<{ commit: string; tree: string } | undefined> {
  const result = await runGit(['rev-parse', 'HEAD^{commit}', 'HEAD^{tree}'], { cwd, env, okCodes: [1, 128] });
  const [commit, tree] = result.stdout.toString('utf8').trim().split('\n');
  return result.code === 0 && commit && tree ? { commit, tree } : undefined;
}

export interface SnapshotOptions {
  /** Untracked paths (workspace-relative) to include, e.g. the files a task names. */
  untracked?: string[];
  /** Include every untracked, not ignored file (direct isolation diffs against this). */
  allUntracked?: boolean;
  /** Extra git environment (a shadow GIT_DIR for non-git folders). */
  env?: Record<string, string>;
  message?: string;
}

/** Commit id of the working state of the repository that contains `cwd` (HEAD itself when clean). */
export async function snapshotWorkingState(repo: Pick<RepoInfo, 'topLevel' | 'gitDir' | 'prefix'>, options: SnapshotOptions = {}): Promise<string> {
  const tmpDir = path.join(repo.gitDir, 'swarm-tmp');
  fs.mkdirSync(tmpDir, { recursive: true });
  const tempIndex = path.join(tmpDir, `snapshot-${process.pid}-${crypto.randomBytes(4).toString('hex')}.index`);
  const userIndex = path.join(repo.gitDir, 'index');
  try {
    // Copying keeps the stat cache; refreshStatData renews what it cannot trust (a copied or
    // checked-out repository's), so `add -u` only hashes files that really changed.
    copyIndex(userIndex, tempIndex);
    const env = { ...options.env, GIT_INDEX_FILE: tempIndex };
    const cwd = repo.topLevel;
    const named = options.allUntracked ? [] : (options.untracked ?? []).map((file) => joinPrefix(repo.prefix, file)).filter((file) => isInside(file) && fs.existsSync(path.join(cwd, file)));
    // Which named files are untracked does not depend on the tracked changes being staged, so git
    // is asked while it stages them (the index it reads is replaced whole, never half-written).
    const [listed] = await Promise.all([
      named.length > 0 ? runGit(['ls-files', '-z', '--others', '--exclude-standard', '--', ...named], { cwd, env }) : undefined,
      (async () => {
        await refreshStatData(cwd, env);
        await runGit([...STAGE_INTO_ONE_PACK, 'add', options.allUntracked ? '-A' : '-u', '--', '.'], { cwd, env });
      })(),
    ]);
    const untracked = listed ? listed.stdout.toString('utf8').split('\0').filter(Boolean) : [];
    if (untracked.length > 0) await runGit([...STAGE_INTO_ONE_PACK, 'add', '--', ...untracked], { cwd, env });
    const [tree, head] = await Promise.all([gitText(['write-tree'], { cwd, env }), headAndTree(cwd, options.env)]);
    if (head && head.tree === tree) return head.commit;
    const parents = head ? ['-p', head.commit] : [];
    return await gitText(['commit-tree', tree, ...parents, '-m', options.message ?? 'Agent Swarm snapshot of the working state'], { cwd, env: options.env });
  } finally {
    fs.rmSync(tempIndex, { force: true });
  }
}

/**
 * Copies an index so that git's racy-entry check still holds on the copy. A same-size edit made
 * within the timestamp granularity of an index write leaves the file's stat data as the index
 * recorded it; git finds such an edit only because it re-hashes every entry whose mtime is not
 * older than the index file's own mtime. A plain copy gets a new mtime, so git would trust those
 * entries and miss the edit. The copy therefore takes the original's mtime, rounded down to the
 * second (never later than the original: at worst a few more files are re-hashed). The mtime is
 * read before the copy, so an index replaced in between only makes more entries racy, never fewer.
 * Returns false when there is no index to copy (a repository with nothing staged yet).
 */
export function copyIndex(source: string, target: string): boolean {
  const stat = fs.statSync(source, { throwIfNoEntry: false });
  if (!stat) return false;
  try {
    fs.copyFileSync(source, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const second = Math.floor(stat.mtimeMs / 1000);
  fs.utimesSync(target, second, second);
  return true;
}

function joinPrefix(prefix: string, file: string): string {
  const clean = file.split(path.sep).join('/').replace(/^\.\//, '');
  return prefix ? `${prefix}/${clean}` : clean;
}

function isInside(relative: string): boolean {
  return !path.isAbsolute(relative) && !relative.split('/').includes('..');
}

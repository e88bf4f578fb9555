// Runner side: which local repository holds a task's history. Either the clone the runner was
// started in (when one of its remotes is the task's repository) or a cache folder with one bare
// repository per repository identity, created and fetched as needed. Each repository is changed
// under a lock file, so several runner processes on one machine can share the cache.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isProcessAlive } from '../process/liveness';
import { GitCommandError, gitText, runGit } from '../worktree/git';
import { RemoteGitError } from './errors';
import { isLocalUrl, normaliseRepositoryUrl, stripCredentials } from './identity';
import { withLock, type LockOptions } from './lock';
import { checkedFetchConfig } from './objectChecks';

export interface RepositorySourceOptions {
  /** The repository the runner was started in, used when one of its remotes is the task's repository. */
  clone?: string;
  /** Cache folder: one bare repository per repository identity (`--repo-cache`). */
  reposDir?: string;
  /**
   * Let tasks name repositories by local path (`/srv/repo.git`, `file://`). Off by default: a task
   * from the board could otherwise copy any repository this machine can read into an agent's hands.
   */
  allowLocalUrls?: boolean;
  lock?: LockOptions;
  log?: (line: string) => void;
}

export interface LocalRepository {
  /** Git directory to fetch into and add worktrees from (bare for a cache repository). */
  gitDir: string;
  kind: 'clone' | 'cache';
  /** The remote (name) to fetch missing history from; undefined for an unpublished repository. */
  fetchFrom?: string;
  /** The remote's URL, for messages. */
  url?: string;
  /** Held while changing the repository. */
  lockFile: string;
}

/** Refs a cache repository keeps from its remote: branches only (our own refs/swarm-* stay ours). */
const CACHE_REFSPEC = '+refs/heads/*:refs/heads/*';

/**
 * Finds (or, in the cache, creates) the repository for `identity`. `url` is where its history
 * lives (absent for an unpublished repository, whose history comes only in full bundles).
 */
export async function repositoryFor(identity: string, url: string | undefined, options: RepositorySourceOptions): Promise<LocalRepository> {
  // The runner's own clone first: its remotes are the runner's choice, local paths included.
  const clone = options.clone ? await matchingClone(options.clone, identity) : undefined;
  if (clone) return clone;
  if (url && isLocalUrl(url) && !options.allowLocalUrls) {
    throw new RemoteGitError('config', `The task names the local repository ${url}; this runner only fetches from network remotes. Start it with local repositories allowed if that is intended.`);
  }
  if (!options.reposDir) {
    const where = options.clone ? `the runner's repository ${options.clone} has no remote for it` : 'the runner was not started in a clone of it';
    throw new RemoteGitError('no-repository', `The task is for ${identity}, but ${where} and no repository cache is set: start the runner in a clone of ${identity}, or give it a repository cache folder.`);
  }
  return ensureCacheRepository(path.resolve(options.reposDir), identity, url, options);
}

/** The runner's own clone when one of its remotes normalises to `identity`. */
async function matchingClone(clone: string, identity: string): Promise<LocalRepository | undefined> {
  const { commonDir, remotes } = await cloneIdentity(clone);
  const lockFile = path.join(commonDir, 'swarm-remote.lock');
  // A repository without a remote is known by its root commit: a clone that has it can take the
  // task's full bundle (it needs nothing else).
  const root = /^unpublished:([0-9a-f]{40,64})$/.exec(identity)?.[1];
  if (root) {
    const has = await runGit(['cat-file', '-e', `${root}^{commit}`], { cwd: clone, okCodes: [1, 128] });
    return has.code === 0 ? { gitDir: commonDir, kind: 'clone', lockFile } : undefined;
  }
  const remote = remotes.find((candidate) => candidate.identity === identity);
  return remote ? { gitDir: commonDir, kind: 'clone', fetchFrom: remote.name, url: stripCredentials(remote.url), lockFile } : undefined;
}

interface CloneIdentity {
  commonDir: string;
  remotes: Array<{ name: string; url: string; identity: string | undefined }>;
}

/**
 * A clone's git folder and remotes, read once per process (three git commands, and one more per
 * remote, that every task would otherwise repeat): a runner's clone does not move, and a remote
 * changed while the runner runs is seen by the next runner. A failed read is not kept.
 */
const cloneIdentities = new Map<string, Promise<CloneIdentity>>();

function cloneIdentity(clone: string): Promise<CloneIdentity> {
  const key = path.resolve(clone);
  let known = cloneIdentities.get(key);
  if (!known) {
    known = readCloneIdentity(key);
    cloneIdentities.set(key, known);
    known.catch(() => cloneIdentities.delete(key));
  }
  return known;
}

async function readCloneIdentity(clone: string): Promise<CloneIdentity> {
  const found = fs.existsSync(clone) ? await runGit(['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: clone, okCodes: [128] }) : undefined;
  if (!found || found.code !== 0) throw new RemoteGitError('config', `The runner's repository ${clone} is not a git repository; start the runner in a clone, or give it only a repository cache folder.`);
  const commonDir = found.stdout.toString('utf8').trim();
  const names = (await gitText(['remote'], { cwd: clone })).split('\n').filter(Boolean);
  const remotes = await Promise.all(
    names.map(async (name) => {
      const url = await gitText(['remote', 'get-url', name], { cwd: clone });
      return { name, url, identity: identityOf(url, clone) };
    }),
  );
  return { commonDir, remotes };
}

function identityOf(url: string, baseDir: string): string | undefined {
  try {
    return normaliseRepositoryUrl(url, baseDir);
  } catch {
    return undefined;
  }
}

/** `github.com_a_b-1f2e3d4c.git`: readable, and unique per identity whatever characters it has. */
export function cacheFolderName(identity: string): string {
  const readable = identity.replace(/^[a-z]+:\/*/, '').replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._-]+/, '').slice(-60);
  const hash = crypto.createHash('sha256').update(identity).digest('hex').slice(0, 12);
  return `${readable || 'repo'}-${hash}.git`;
}

async function ensureCacheRepository(reposDir: string, identity: string, url: string | undefined, options: RepositorySourceOptions): Promise<LocalRepository> {
  const gitDir = path.join(reposDir, cacheFolderName(identity));
  const lockFile = `${gitDir}.lock`;
  const repository: LocalRepository = { gitDir, kind: 'cache', fetchFrom: url ? 'origin' : undefined, url, lockFile };
  if (isCacheRepository(gitDir)) return repository;
  await withLock(
    lockFile,
    async () => {
      if (isCacheRepository(gitDir)) return;
      removeAbandonedCreations(reposDir, path.basename(gitDir));
      await createCacheRepository(gitDir, url, options);
    },
    options.lock,
  );
  return repository;
}

/** A cache repository exists once its folder is in place: creation renames a finished one there. */
function isCacheRepository(gitDir: string): boolean {
  return fs.existsSync(path.join(gitDir, 'HEAD'));
}

/**
 * Clones into a temporary folder and renames it into place when complete, so a crash or a full disk
 * never leaves a half-made repository where runners would use it.
 */
async function createCacheRepository(gitDir: string, url: string | undefined, options: RepositorySourceOptions): Promise<void> {
  const temp = `${gitDir}.creating-${process.pid}`;
  fs.rmSync(temp, { recursive: true, force: true });
  const emptyTemplate = path.join(path.dirname(gitDir), '.empty-template');
  fs.mkdirSync(emptyTemplate, { recursive: true });
  try {
    // No sample hooks, and no remote-tracking layout: branches map onto branches.
    await runGit(['init', '-q', '--bare', `--template=${emptyTemplate}`, temp], { cwd: path.dirname(gitDir) });
    await runGit(['config', 'core.hooksPath', '/dev/null'], { cwd: temp });
    if (url) {
      await runGit(['remote', 'add', 'origin', url], { cwd: temp });
      await runGit(['config', '--replace-all', 'remote.origin.fetch', CACHE_REFSPEC], { cwd: temp });
      await runGit(['config', 'remote.origin.tagOpt', '--no-tags'], { cwd: temp });
      options.log?.(`cloning ${url} into the repository cache`);
      await fetchHistory({ gitDir: temp, fetchFrom: 'origin', kind: 'cache', url });
    }
    fs.renameSync(temp, gitDir);
  } catch (error) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw error;
  }
}

/** Temporary clones left by processes that died while creating them (kill -9, power loss). */
function removeAbandonedCreations(reposDir: string, name: string): void {
  for (const entry of fs.readdirSync(reposDir)) {
    const match = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.creating-(\\d+)$`).exec(entry);
    if (match && !isProcessAlive(Number(match[1]))) fs.rmSync(path.join(reposDir, entry), { recursive: true, force: true });
  }
}

/**
 * Fetches the remote's branches (a clone's own remote uses its configured refspecs). Objects
 * fetched into a cache repository are checked (no `.git` paths in trees, no malformed objects).
 */
export async function fetchHistory(repository: Pick<LocalRepository, 'gitDir' | 'fetchFrom' | 'kind' | 'url'>): Promise<void> {
  const what = repository.url ?? repository.fetchFrom;
  const checks = repository.kind === 'cache' ? checkedFetchConfig() : [];
  try {
    await runGit([...checks, '-c', 'protocol.ext.allow=never', 'fetch', '--quiet', '--prune', '--no-tags', '--no-write-fetch-head', repository.fetchFrom ?? 'origin'], { cwd: repository.gitDir });
  } catch (error) {
    if (error instanceof GitCommandError) {
      const detail = error.stderr.trim().split('\n').slice(-2).join(' ');
      if (/No space left/i.test(error.stderr)) throw new RemoteGitError('disk-full', `Fetching ${what} failed: the disk is full (${detail}). Free space and try again.`);
      if (/fsck error/i.test(error.stderr)) throw new RemoteGitError('untrusted-input', `The history fetched from ${what} failed git's object checks (${detail}); this machine will not use it.`);
      throw new RemoteGitError('fetch-failed', `Fetching ${what} failed: ${detail || `exit ${error.code}`}. Check the network and this machine's access to the repository; the task will be retried.`);
    }
    throw error;
  }
}

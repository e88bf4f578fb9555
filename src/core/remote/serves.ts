// What a runner can serve, for the board to route on (ClaimRequest.serves): its labels, the
// repositories it holds (every remote of its clone, or any with a repository cache folder), and
// whether it runs tasks posted without a snapshot. Worked out when the runner starts, from the
// same settings its workspace uses (createRunnerIsolation), so the board never routes to it a task
// its workspace would refuse for its labels or repository; and again while it runs when its clone's
// remotes may have changed (RunnerServesWatch), so a remote added later is served without a restart.
import * as fs from 'fs';
import * as path from 'path';
import { gitText, runGit } from '../worktree/git';
import type { Serves } from '../board/routing';
import { normaliseRepositoryUrl } from './identity';

export interface RunnerServesOptions {
  /** The runner's clone (the workspace, when it is inside a git clone). */
  clone?: string;
  /** Repository cache folder (`--repos DIR`): it serves any repository. */
  reposDir?: string;
  labels?: readonly string[];
  /** It has a local workspace for tasks posted without a snapshot. */
  unsourced: boolean;
}

/** `strict`: a git command that fails throws instead of counting as a clone that serves nothing. */
export async function runnerServes(options: RunnerServesOptions, strict = false): Promise<Serves> {
  const labels = [...new Set(options.labels ?? [])];
  if (options.reposDir !== undefined) return { labels, repositories: 'any', unsourced: options.unsourced };
  return { labels, repositories: options.clone ? await cloneIdentities(options.clone, strict) : [], unsourced: options.unsourced };
}

/**
 * The identities a clone serves (as repositories.ts matches them): each remote's normalised URL,
 * and `unpublished:<root>` for the root commits of its branches (a repository without a remote is
 * known by its root commit). A remote whose URL does not parse is left out: the clone cannot fetch it.
 */
async function cloneIdentities(clone: string, strict: boolean): Promise<string[]> {
  const identities = new Set<string>();
  // At start, a clone git cannot read serves no repository here; its workspace reports the problem
  // itself when a task needs it, with the pool's own message. Strict (a recompute while running),
  // the failure throws, so one failed spawn does not take away what the runner served.
  const listed = await runGit(['remote'], { cwd: clone, okCodes: strict ? [] : [128] }).catch((error: unknown) => {
    if (strict) throw error;
    return undefined;
  });
  if (!listed || listed.code !== 0) return [];
  const remotes = listed.stdout.toString('utf8').split('\n').filter(Boolean);
  for (const remote of remotes) {
    const url = await gitText(['remote', 'get-url', remote], { cwd: clone });
    try {
      identities.add(normaliseRepositoryUrl(url, clone));
    } catch {
      // not a repository URL: tasks cannot name it either
    }
  }
  const roots = await runGit(['rev-list', '--max-parents=0', '--branches', 'HEAD'], { cwd: clone, okCodes: [128] }); // 128: no commit yet
  if (roots.code === 0) for (const root of roots.stdout.toString('utf8').split('\n').filter(Boolean)) identities.add(`unpublished:${root}`);
  return [...identities].sort();
}

/** How often the clone's config file and branch refs are looked at (a few stats), and how often everything is worked out again. */
export interface ServesWatchTiming {
  checkMs?: number;
  refreshMs?: number;
}

const CHECK_MS = 5_000;
const REFRESH_MS = 3_600_000;

/**
 * What a runner serves, kept current while it runs, at the cost of a few stats every few seconds:
 * the clone's remotes live in its git config file, which `git remote add` (or set-url, rename,
 * remove) rewrites; its root commits are those of its branches and HEAD, which change only when a
 * branch ref or HEAD is written. Git writes every ref through a lock file renamed into place, so a
 * new or moved branch changes the mtime of its folder under refs/heads/ (or packed-refs, or HEAD).
 * Only when one of these changed is the answer worked out again with git. Everything is worked out
 * again hourly too (a ref format this does not know). `serves` is updated in place: whoever holds it
 * (the pool's scheduler, an agent in the same process) claims with the new value at once;
 * `onChange` tells the pool to pass it to its agent processes.
 */
export class RunnerServesWatch {
  private timers: NodeJS.Timeout[] = [];
  private stamp: string | undefined;
  private working?: Promise<boolean>;

  private constructor(
    private readonly options: RunnerServesOptions,
    /** What to stat; undefined when nothing can change (a repository cache serves any, or no clone). */
    private readonly watched: WatchedFiles | undefined,
    readonly serves: Serves,
  ) {
    this.stamp = watched ? stampOfClone(watched) : undefined;
  }

  static async open(options: RunnerServesOptions): Promise<RunnerServesWatch> {
    const watched = options.clone !== undefined && options.reposDir === undefined ? await watchedFilesOf(options.clone) : undefined;
    return new RunnerServesWatch(options, watched, { ...(await runnerServes(options)) });
  }

  /** Checks every `checkMs` (and refreshes every `refreshMs`) until stop(); `onChange` after each change. */
  start(onChange: () => void, timing: ServesWatchTiming = {}): void {
    if (!this.watched || this.timers.length > 0) return;
    const after = (changed: Promise<boolean>) => void changed.then((yes) => yes && onChange(), () => undefined);
    this.timers = [setInterval(() => after(this.check()), timing.checkMs ?? CHECK_MS), setInterval(() => after(this.refresh()), timing.refreshMs ?? REFRESH_MS)];
    for (const timer of this.timers) timer.unref();
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Works it out again only if the clone's config file, branch refs or HEAD changed; whether `serves` changed. */
  check(): Promise<boolean> {
    if (!this.watched) return Promise.resolve(false);
    if (stampOfClone(this.watched) === this.stamp) return Promise.resolve(false);
    return this.refresh();
  }

  /** Works it out again (one at a time); whether `serves` changed. */
  refresh(): Promise<boolean> {
    this.working ??= this.recompute().finally(() => (this.working = undefined));
    return this.working;
  }

  private async recompute(): Promise<boolean> {
    // The stamp first: a change made while git reads is seen by the next check.
    if (this.watched) this.stamp = stampOfClone(this.watched);
    let fresh: Serves;
    try {
      fresh = await runnerServes(this.options, true);
    } catch {
      // Keep serving what it served; the next check (a few seconds on) tries again.
      this.stamp = undefined;
      return false;
    }
    if (sameServes(fresh, this.serves)) return false;
    Object.assign(this.serves, fresh);
    return true;
  }
}

/** The files whose change can change what the clone serves, resolved once at start. */
interface WatchedFiles {
  /** The repository's (shared by its worktrees): its remotes. */
  config: string;
  /** The repository's branches: folders of loose refs, and the packed ones. */
  branches: string;
  packedRefs: string;
  /** The clone's own HEAD (a worktree has its own): `rev-list HEAD` reads it. */
  head: string;
}

async function watchedFilesOf(clone: string): Promise<WatchedFiles | undefined> {
  const found = await runGit(['rev-parse', '--git-common-dir', '--git-dir'], { cwd: clone, okCodes: [128] }).catch(() => undefined);
  if (!found || found.code !== 0) return undefined;
  const [commonDir, gitDir] = found.stdout.toString('utf8').trim().split('\n').map((dir) => path.resolve(clone, dir));
  return { config: path.join(commonDir, 'config'), branches: path.join(commonDir, 'refs', 'heads'), packedRefs: path.join(commonDir, 'packed-refs'), head: path.join(gitDir ?? commonDir, 'HEAD') };
}

/** One string that changes when any watched file or branch folder does. */
function stampOfClone(watched: WatchedFiles): string {
  return [stampOf(watched.config), stampOf(watched.packedRefs), stampOf(watched.head), ...folderStamps(watched.branches)].join(' ');
}

/** The stamps of a folder and of every folder below it (branch names with slashes live in subfolders). */
function folderStamps(dir: string): string[] {
  const stamps = [stampOf(dir)];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return stamps; // gone or unreadable: its own stamp says so
  }
  for (const entry of entries) if (entry.isDirectory()) stamps.push(...folderStamps(path.join(dir, entry.name)));
  return stamps;
}

/** What changes when git rewrites a file (it writes config.lock and renames it over config), or a folder's entries. */
function stampOf(file: string): string {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  return stat ? `${stat.ino}:${stat.size}:${stat.mtimeMs}` : 'absent';
}

function sameServes(a: Serves, b: Serves): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

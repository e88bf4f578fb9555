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

/** How often the clone's config file is looked at (one stat), and how often everything is worked out again. */
export interface ServesWatchTiming {
  checkMs?: number;
  refreshMs?: number;
}

const CHECK_MS = 5_000;
const REFRESH_MS = 3_600_000;

/**
 * What a runner serves, kept current while it runs, at the cost of one stat every few seconds: the
 * clone's remotes live in its git config file, which `git remote add` (or set-url, rename, remove)
 * rewrites, so only when that file changed is the answer worked out again with git. Everything is
 * worked out again hourly too (a branch fetched since may bring another root commit). `serves` is
 * updated in place: whoever holds it (the pool's scheduler, an agent in the same process) claims
 * with the new value at once; `onChange` tells the pool to pass it to its agent processes.
 */
export class RunnerServesWatch {
  private timers: NodeJS.Timeout[] = [];
  private configStamp: string | undefined;
  private working?: Promise<boolean>;

  private constructor(
    private readonly options: RunnerServesOptions,
    /** The clone's config file; undefined when nothing can change (a repository cache serves any, or no clone). */
    private readonly configFile: string | undefined,
    readonly serves: Serves,
  ) {
    this.configStamp = configFile ? stampOf(configFile) : undefined;
  }

  static async open(options: RunnerServesOptions): Promise<RunnerServesWatch> {
    const configFile = options.clone !== undefined && options.reposDir === undefined ? await configFileOf(options.clone) : undefined;
    return new RunnerServesWatch(options, configFile, { ...(await runnerServes(options)) });
  }

  /** Checks every `checkMs` (and refreshes every `refreshMs`) until stop(); `onChange` after each change. */
  start(onChange: () => void, timing: ServesWatchTiming = {}): void {
    if (!this.configFile || this.timers.length > 0) return;
    const after = (changed: Promise<boolean>) => void changed.then((yes) => yes && onChange(), () => undefined);
    this.timers = [setInterval(() => after(this.check()), timing.checkMs ?? CHECK_MS), setInterval(() => after(this.refresh()), timing.refreshMs ?? REFRESH_MS)];
    for (const timer of this.timers) timer.unref();
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** Works it out again only if the clone's config file changed; whether `serves` changed. */
  check(): Promise<boolean> {
    if (!this.configFile) return Promise.resolve(false);
    const stamp = stampOf(this.configFile);
    if (stamp === this.configStamp) return Promise.resolve(false);
    return this.refresh();
  }

  /** Works it out again (one at a time); whether `serves` changed. */
  refresh(): Promise<boolean> {
    this.working ??= this.recompute().finally(() => (this.working = undefined));
    return this.working;
  }

  private async recompute(): Promise<boolean> {
    // The stamp first: a change made while git reads is seen by the next check.
    if (this.configFile) this.configStamp = stampOf(this.configFile);
    let fresh: Serves;
    try {
      fresh = await runnerServes(this.options, true);
    } catch {
      // Keep serving what it served; the next check (a few seconds on) tries again.
      this.configStamp = undefined;
      return false;
    }
    if (sameServes(fresh, this.serves)) return false;
    Object.assign(this.serves, fresh);
    return true;
  }
}

/** The config file of the clone's repository (shared by its worktrees), resolved once at start. */
async function configFileOf(clone: string): Promise<string | undefined> {
  const found = await runGit(['rev-parse', '--git-common-dir'], { cwd: clone, okCodes: [128] }).catch(() => undefined);
  if (!found || found.code !== 0) return undefined;
  return path.join(path.resolve(clone, found.stdout.toString('utf8').trim()), 'config');
}

/** What changes when git rewrites a file (it writes config.lock and renames it over config). */
function stampOf(file: string): string {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  return stat ? `${stat.ino}:${stat.size}:${stat.mtimeMs}` : 'absent';
}

function sameServes(a: Serves, b: Serves): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

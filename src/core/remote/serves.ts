// What a runner can serve, for the board to route on (ClaimRequest.serves): its labels, the
// repositories it holds (every remote of its clone, or any with a repository cache folder), and
// whether it runs tasks posted without a snapshot. Worked out once when the runner starts, from the
// same settings its workspace uses (createRunnerIsolation), so the board never routes to it a task
// its workspace would refuse for its labels or repository.
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

export async function runnerServes(options: RunnerServesOptions): Promise<Serves> {
  const labels = [...new Set(options.labels ?? [])];
  if (options.reposDir !== undefined) return { labels, repositories: 'any', unsourced: options.unsourced };
  return { labels, repositories: options.clone ? await cloneIdentities(options.clone) : [], unsourced: options.unsourced };
}

/**
 * The identities a clone serves (as repositories.ts matches them): each remote's normalised URL,
 * and `unpublished:<root>` for the root commits of its branches (a repository without a remote is
 * known by its root commit). A remote whose URL does not parse is left out: the clone cannot fetch it.
 */
async function cloneIdentities(clone: string): Promise<string[]> {
  const identities = new Set<string>();
  // A clone git cannot read serves no repository here; its workspace reports the problem itself
  // when a task needs it, with the pool's own message.
  const listed = await runGit(['remote'], { cwd: clone, okCodes: [128] }).catch(() => undefined);
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
  const roots = await runGit(['rev-list', '--max-parents=0', '--branches', 'HEAD'], { cwd: clone, okCodes: [128] });
  if (roots.code === 0) for (const root of roots.stdout.toString('utf8').split('\n').filter(Boolean)) identities.add(`unpublished:${root}`);
  return [...identities].sort();
}

// The work of a task that did not finish (dead, cancelled, or waiting for a retry) is kept as a
// commit on refs/swarm/<id> whose parent is the snapshot its attempt started from. On request
// (`swarm diff|apply <id> --partial`) it is shown and applied like a result: a patch against that
// snapshot, through the same planner, checks and undo records.
import { PARTIAL_REF_PREFIX } from '../worktree/worktreeIsolation';
import { diffCommits } from '../worktree/diff';
import { gitText, runGit } from '../worktree/git';
import { locateRepository } from '../worktree/repo';
import type { TaskPatch } from './index';

/** The task's partial work as a patch, or undefined when none was kept (or it is empty). */
export async function readPartialWork(workspaceRoot: string, taskId: string): Promise<TaskPatch | undefined> {
  const repo = await locateRepository(workspaceRoot);
  const ref = `${PARTIAL_REF_PREFIX}${taskId}`;
  const found = await runGit(['rev-parse', '--verify', '-q', `${ref}^{commit}`], { cwd: repo.topLevel, okCodes: [1, 128] });
  if (found.code !== 0) return undefined;
  const commit = found.stdout.toString('utf8').trim();
  const base = await gitText(['rev-parse', `${commit}^1`], { cwd: repo.topLevel });
  const diff = await diffCommits({ cwd: repo.topLevel, base, target: commit, prefix: repo.prefix });
  if (diff.text.length === 0) return undefined;
  return { taskId, patchFile: ref, base, files: diff.files, text: diff.text };
}

/** Ids of the tasks that have partial work kept, in one `git for-each-ref`. */
export async function tasksWithPartialWork(workspaceRoot: string): Promise<Set<string>> {
  const repo = await locateRepository(workspaceRoot);
  const listed = await gitText(['for-each-ref', '--format=%(refname)', PARTIAL_REF_PREFIX], { cwd: repo.topLevel });
  return new Set(
    listed
      .split('\n')
      .filter(Boolean)
      .map((ref) => ref.slice(PARTIAL_REF_PREFIX.length)),
  );
}

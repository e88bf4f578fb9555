// Workspace isolation for agent attempts: git worktrees per agent slot (default) or the user's
// folder itself (direct, opt-in). See docs/worktrees.md.
import type { TaskIsolation } from '../pool/isolation';
import { killDeadHostLeftovers } from '../process/orphans';
import { DirectIsolation } from './directIsolation';
import { describeParked } from './parked';
import { WorktreeIsolation, type WorktreeInfo, type WorktreeIsolationOptions } from './worktreeIsolation';

export { WorktreeIsolation, readWorktreeIncludeFile, DEFAULT_INCLUDE, DEFAULT_MAX_SLOTS, DEFAULT_DISK_BUDGET_BYTES, PARTIAL_REF_PREFIX, BASE_REF_PREFIX } from './worktreeIsolation';
export type { WorktreeIsolationOptions, WorktreeInfo } from './worktreeIsolation';
export { DirectIsolation, shadowGitDir } from './directIsolation';
export { defaultWorktreesDir, worktreesCacheRoot } from './location';
export { NotAGitRepositoryError, assertGitWorkspace, locateRepository, snapshotWorkingState } from './repo';
export type { RepoInfo } from './repo';
export { GitCommandError } from './git';
export { WorktreeError } from './errors';

/** One git worktree per agent slot; throws NotAGitRepositoryError (with what to do) outside git. */
export function createWorktreeIsolation(options: WorktreeIsolationOptions): WorktreeIsolation & TaskIsolation {
  return new WorktreeIsolation(options);
}

/** Agents work in the user's folder; collect() diffs against a snapshot taken by prepare(). */
export function createDirectIsolation(workspaceRoot: string): TaskIsolation {
  return new DirectIsolation(workspaceRoot);
}

export async function listWorktrees(workspaceRoot: string, options: Omit<WorktreeIsolationOptions, 'workspaceRoot'> = {}): Promise<WorktreeInfo[]> {
  return new WorktreeIsolation({ ...options, workspaceRoot }).list();
}

/** Trees of earlier runs' idle slots, parked for the next run's slots (see parked.ts). */
export async function listParkedWorktrees(workspaceRoot: string, options: Omit<WorktreeIsolationOptions, 'workspaceRoot'> = {}): Promise<Array<{ path: string; parkedAt: number }>> {
  return describeParked(await new WorktreeIsolation({ ...options, workspaceRoot }).worktreesDir());
}

export async function worktreesDiskUsage(workspaceRoot: string, options: Omit<WorktreeIsolationOptions, 'workspaceRoot'> = {}): Promise<{ bytes: number; budgetBytes: number }> {
  return new WorktreeIsolation({ ...options, workspaceRoot }).diskUsage();
}

/**
 * Removes half-created, orphaned and unregistered slot worktrees; keeps partial work of crashed
 * attempts. First ends what agent hosts that died left running (it could write into the slots).
 */
export async function pruneWorktrees(workspaceRoot: string, options: Omit<WorktreeIsolationOptions, 'workspaceRoot'> & { idle?: boolean } = {}): Promise<number> {
  await killDeadHostLeftovers();
  return new WorktreeIsolation({ ...options, workspaceRoot }).pruneCount({ idle: options.idle });
}

/**
 * Deletes the base and partial-work refs (`refs/swarm-base/<id>`, `refs/swarm/<id>`) that `keep`
 * does not keep; returns how many. The caller knows from the board which results still wait.
 */
export async function pruneSwarmRefs(workspaceRoot: string, keep: (taskId: string, kind: 'base' | 'partial') => boolean): Promise<number> {
  return new WorktreeIsolation({ workspaceRoot }).pruneRefs(keep);
}

// The pool's isolation, chosen once when it starts: worktrees in a git repository, the folder itself
// (`direct`, `none`), or an isolation the caller brings; without a sandbox, guarded so that changes
// an attempt makes outside its slot are detected and flagged.
import { findGitRepository } from '../board/gitExclude';
import { guardIsolation } from '../sandbox/escapeGuard';
import { NotAGitRepositoryError, createDirectIsolation, createWorktreeIsolation } from '../worktree';
import type { TaskIsolation } from './isolation';
import { createNoIsolation } from './isolation-modes';

export type IsolationChoice = TaskIsolation | 'worktree' | 'direct' | 'none';

export interface IsolationSetup {
  /** Default: 'worktree' in a git repository; outside one, NotAGitRepositoryError. */
  choice: IsolationChoice | undefined;
  workspaceRoot: string;
  /** Whether attempts run in a sandbox (then no guard is needed). */
  sandboxed: boolean;
  log: (line: string) => void;
  warn: (message: string) => void;
}

export function setUpIsolation(setup: IsolationSetup): TaskIsolation {
  return guardWithoutSandbox(chosenIsolation(setup), setup);
}

function chosenIsolation({ choice, workspaceRoot, log }: IsolationSetup): TaskIsolation {
  // Outside git there is no isolation to give; working in the user's folder is their choice to make.
  if (choice === undefined && !findGitRepository(workspaceRoot)) throw new NotAGitRepositoryError(workspaceRoot);
  const chosen = choice ?? 'worktree';
  if (typeof chosen !== 'string') return chosen;
  switch (chosen) {
    case 'worktree':
      return createWorktreeIsolation({ workspaceRoot, log });
    case 'direct':
      return createDirectIsolation(workspaceRoot);
    case 'none':
      return createNoIsolation(workspaceRoot);
  }
}

/**
 * Without a sandbox, what an attempt changed outside its slot is detected afterwards (the checkout,
 * the repository's config and hooks) and flagged in its result. Not for `none` (agents never ask
 * the host to prepare) and, for the checkout, not for `direct` (attempts work in it by design).
 */
function guardWithoutSandbox(isolation: TaskIsolation, { sandboxed, workspaceRoot, warn }: IsolationSetup): TaskIsolation {
  if (sandboxed || isolation.kind === 'none') return isolation;
  const repo = findGitRepository(workspaceRoot);
  if (!repo) return isolation;
  const targets = { checkout: isolation.kind === 'direct' ? undefined : repo.topLevel, gitCommonDir: repo.commonDir };
  return guardIsolation(isolation, targets, warn);
}

// The seam between the agent pool and workspace isolation. The pool knows nothing about git: it asks
// an isolation for a working directory per attempt, runs the executor and verify there, then asks
// it to turn the directory's changes into a reviewable result. Two implementations exist:
// `createWorktreeIsolation` (src/core/worktree: one git worktree per agent slot, the default) and
// `createDirectIsolation` (runs in the workspace itself; only when the user opts out of isolation).
import type { Task } from '../board/types';
import type { ActiveSandbox } from '../sandbox/launcher';
import type { SandboxScope } from '../sandbox/types';

export interface PreparedWorkspace {
  /** Absolute directory the executor and verify command run in. */
  cwd: string;
  /** Opaque snapshot id (a commit), kept so collect/save know what the attempt started from. */
  snapshot?: string;
  /** What the attempt's commands may write inside the sandbox; without it only `cwd` (see worker). */
  sandbox?: SandboxPaths;
}

/** The sandbox scope of an attempt as the isolation knows it (see SandboxScope in core/sandbox). */
export type SandboxPaths = Omit<SandboxScope, 'cwd'>;

/** What an attempt produced, stored with the task's result on the board. */
export interface CollectedChanges {
  /** Absolute path of the patch file under the task's artifacts directory, if anything changed. */
  patchFile?: string;
  /** Files changed relative to the workspace root, with line stats. */
  files: Array<{ path: string; status: 'added' | 'modified' | 'deleted' | 'renamed'; additions: number; deletions: number; binary?: boolean; from?: string }>;
  /** The snapshot the patch applies to (three-way apply uses it as the base). */
  base?: string;
  /** What the attempt changed outside its worktree (detected without a sandbox); shown with the result. */
  warnings?: string[];
}

export interface TaskIsolation {
  /** Short name for logs and status ("worktree", "direct"). */
  readonly kind: string;
  /**
   * Makes a working directory for one attempt of `task` in agent slot `slot` (a small stable id;
   * a slot's directory is reused between tasks). `artifactsDir` is the agent's scratch folder for the
   * task's files; it may not exist yet (made by whoever writes there first).
   */
  prepare(task: Task, slot: string, artifactsDir: string, signal?: AbortSignal): Promise<PreparedWorkspace>;
  /** After a successful attempt: the changes as a patch stored in `artifactsDir` (made if missing). */
  collect(task: Task, slot: string, prepared: PreparedWorkspace, artifactsDir: string): Promise<CollectedChanges>;
  /**
   * After a batch (several tasks in one attempt, collected as the first): keeps `base` reachable for
   * the review and three-way apply of the other tasks that have changes, as collect does for its task.
   */
  keepBase?(taskIds: string[], base: string): Promise<void>;
  /**
   * After a failed, cancelled or lease-lost attempt: keep the partial work where the next attempt can
   * find it (e.g. a commit on a `refs/swarm/` ref). Must not throw for a directory that is gone.
   */
  abandon(task: Task, slot: string, prepared: PreparedWorkspace, reason: string): Promise<void>;
  /**
   * Before the first claims, while the agents that will claim still boot: make these slots ready
   * for their first task (optional; a prepare must work the same without it). Returns at once;
   * nothing in the slots is touched before `when` is fulfilled (the host's sweep of what dead hosts
   * left), and a rejected `when` gives the warm-up up.
   */
  warmUp?(slots: string[], when: Promise<unknown>): void;
  /** Start and shutdown housekeeping: prune orphans and stale registrations. */
  prune?(): Promise<void>;
  /** When the pool stops (after its agents): free what a finished run no longer needs (idle slots). */
  release?(): Promise<void>;
  /** The pool's sandbox for commands the isolation runs itself (a setup command), and the
   * environment marks those commands carry. */
  useSandbox?(sandbox: ActiveSandbox | undefined, commandEnv: Record<string, string>): void;
}

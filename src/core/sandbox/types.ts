// The sandbox's vocabulary: the modes a user picks, the settings that widen or narrow the wall, and
// the per-command policy (an ordered list of folders made writable or read-only again) that the
// platform back ends (bubblewrap on Linux, sandbox-exec on macOS) turn into their own syntax.
import { SwarmUserError } from '../errors';

/** `auto`: sandbox where the platform tool works, say once when not; `required`: refuse to run
 * without one; `off`: no sandbox (changes outside the worktree are then detected and flagged). */
export type SandboxMode = 'auto' | 'required' | 'off';

export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'required', 'off'];

export type SandboxTool = 'bwrap' | 'sandbox-exec';

export interface SandboxSettings {
  mode: SandboxMode;
  /** Network access for sandboxed commands (default on: agent CLIs call their APIs). */
  network: boolean;
  /** Folders under $HOME (or absolute) that package managers write: writable when they exist. */
  cacheDirs: string[];
  /** Further folders or files the commands may write (absolute, or `~/...`). */
  allowWrite: string[];
}

/**
 * Cache folders writable by default, relative to $HOME. Package managers keep their download caches
 * there, so `npm install`, `pip install`, `cargo build` and the like work inside the wall. Only
 * `.npm` and `.cache` are created when missing; the others are used when they exist.
 */
export const DEFAULT_CACHE_DIRS: readonly string[] = [
  '.npm',
  '.cache',
  '.yarn',
  '.pnpm-store',
  '.local/share/pnpm',
  '.bun/install/cache',
  '.cargo/registry',
  '.cargo/git',
  'go/pkg/mod',
  '.m2/repository',
  '.gradle/caches',
  '.nuget/packages',
];

/** Cache folders created when missing: nearly every tool writes one of these two. */
export const CREATED_CACHE_DIRS: readonly string[] = ['.npm', '.cache'];

/**
 * Sockets of daemons that would do anything for whoever connects (start a privileged container):
 * hidden behind /dev/null, because a read-only mount does not stop connect().
 */
export const MASKED_SOCKETS: readonly string[] = ['/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock', '/run/podman/podman.sock', '/run/buildkit/buildkitd.sock'];

export const DEFAULT_SANDBOX_SETTINGS: SandboxSettings = { mode: 'auto', network: true, cacheDirs: [...DEFAULT_CACHE_DIRS], allowWrite: [] };

/** The host's decision, made once at pool start and shown in the run header, the Pool view and the log. */
export interface SandboxStatus {
  mode: SandboxMode;
  /** True when commands run inside the wall. */
  active: boolean;
  tool?: SandboxTool;
  network: boolean;
  /** Why commands run without a sandbox (when not active). */
  reason?: string;
}

/** One layer of the policy: a path made writable, or read-only again inside a writable one. */
export interface SandboxMount {
  path: string;
  write: boolean;
}

/**
 * What one command may write. Everything starts read-only; `mounts` are applied in order, so a
 * later read-only entry protects a folder inside an earlier writable one (the board inside a
 * workspace) and a later writable entry opens a folder inside a protected one (the slot's git admin
 * folder inside the repository's `.git`). Paths are absolute and resolved (no symlinks).
 */
export interface SandboxPolicy {
  mounts: SandboxMount[];
  /** Host paths that must stay visible although /tmp is private (Linux): the checkout, $HOME, PATH entries. */
  visible: string[];
  network: boolean;
  /** Daemon sockets hidden from the command (Docker and the like: connect() works on a read-only mount). */
  masked?: string[];
  /** macOS: a private temp folder per command (Linux mounts a fresh /tmp). */
  tmpDir?: string;
}

/** The paths of one attempt, from the isolation that prepared it (never guessed from a layout). */
export interface SandboxScope {
  /** Working directory of the command. */
  cwd: string;
  /** What the attempt needs to write: its worktree, the worktree's git admin folder, the object store. */
  writable: string[];
  /** Read-only even when inside a writable path (the board, a `.git` folder, other slots). */
  protect: string[];
  /** Files inside `writable` that stay read-only (the worktree's `.git` file, the admin folder's `commondir`). */
  protectAfter?: string[];
  /** Host paths the commands must be able to read (the checkout, for linked node_modules). */
  readable?: string[];
}

export class SandboxUnavailableError extends SwarmUserError {
  constructor(message: string) {
    super('environment', message);
    this.name = 'SandboxUnavailableError';
  }
}

// Errors of the git transport between machines. Each says what happened and what to do next, and
// whether retrying can help: the pool fails a task permanently (dead-letter) when `permanent`.
import { SwarmUserError, type UserErrorKind } from '../errors';

export type RemoteGitProblem =
  /** A bundle or patch over its size cap (the developer must push or raise the cap). */
  | 'too-large'
  /** The commits a bundle builds on are neither here nor on the remote after a fetch. */
  | 'missing-base'
  /** A bundle, patch or descriptor that is malformed, tampered with or names other refs. */
  | 'untrusted-input'
  /** No repository on this machine matches the task's repository. */
  | 'no-repository'
  /** Bad options (an unknown remote, several remotes and none chosen). */
  | 'config'
  /** Fetching from the remote failed (network, credentials); retrying may help. */
  | 'fetch-failed'
  /** Another process held a repository lock for too long; retrying may help. */
  | 'busy'
  /** No space left on this machine's disk; retrying after freeing space helps. */
  | 'disk-full';

const TRANSIENT: readonly RemoteGitProblem[] = ['fetch-failed', 'busy', 'disk-full'];

/** What the person does about each problem (see SwarmUserError). */
const KIND_BY_PROBLEM: Record<RemoteGitProblem, UserErrorKind> = {
  'too-large': 'refused',
  'missing-base': 'environment',
  'untrusted-input': 'refused',
  'no-repository': 'environment',
  config: 'config',
  'fetch-failed': 'unavailable',
  busy: 'unavailable',
  'disk-full': 'environment',
};

export class RemoteGitError extends SwarmUserError {
  readonly permanent: boolean;

  constructor(
    readonly problem: RemoteGitProblem,
    message: string,
  ) {
    super(KIND_BY_PROBLEM[problem], message);
    this.name = 'RemoteGitError';
    this.permanent = !TRANSIENT.includes(problem);
  }
}

export function untrusted(message: string): RemoteGitError {
  return new RemoteGitError('untrusted-input', message);
}

/** Formats a byte count in MB with one decimal, for size-cap messages. */
export function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** ENOSPC from Node or "No space left on device" from git. */
export function isDiskFull(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, stderr, message } = error as { code?: unknown; stderr?: unknown; message?: unknown };
  return code === 'ENOSPC' || [stderr, message].some((text) => typeof text === 'string' && /No space left on device/i.test(text));
}

/** Runs `work`, turning a full disk (from git or Node) into one clear, retryable error. */
export async function reportingDiskFull<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RemoteGitError && error.problem !== 'fetch-failed') throw error;
    if (!isDiskFull(error)) throw error;
    throw new RemoteGitError('disk-full', `${what} failed: the disk is full. Free space on this machine and try again.`);
  }
}

/**
 * This runner cannot serve the task (no clone or cache for its repository, a local URL it may not
 * fetch, a label it lacks): not the task's fault, so the agent hands the claim back with `reason`
 * instead of failing it, and avoids claiming it again in a loop (HandBackBackoff).
 */
export class CannotServeTaskError extends Error {
  constructor(
    readonly taskId: string,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'CannotServeTaskError';
  }
}

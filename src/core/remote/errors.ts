// Errors of the git transport between machines. Each says what happened and what to do next, and
// whether retrying can help: the pool fails a task permanently (dead-letter) when `permanent`.

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
  | 'busy';

const TRANSIENT: readonly RemoteGitProblem[] = ['fetch-failed', 'busy'];

export class RemoteGitError extends Error {
  readonly permanent: boolean;

  constructor(
    readonly problem: RemoteGitProblem,
    message: string,
  ) {
    super(message);
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

// Exit codes of the `swarm` command line (documented in the README; scripts rely on them).
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOTHING_TO_CLAIM = 3;
export const EXIT_LEASE_LOST = 4;

/** Invalid command-line input: printed as one line, exit code 2, nothing on the board changed. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Ends the command with a specific exit code after printing `message` (if any) to stderr. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

// What happens after a board operation has committed (its one rename): events, markers, lease
// entries, directory fsyncs, a parent's promotion. None of them may turn a committed change into a
// reported failure, so each runs here: a failure becomes a warning that travels with the result
// (and to the board's warning sink), and the board's maintenance repairs what can be repaired.

/** Plain words for the file-system errors a board meets; the code stays in brackets for searches. */
const PLAIN_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'an input/output error',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files on this system',
  ENOTDIR: 'a path component is not a folder',
  EISDIR: 'a folder is in the way of a file',
  ENOENT: 'a file or folder is missing',
  ENAMETOOLONG: 'a file name is too long',
  ELOOP: 'too many symbolic links',
  EBUSY: 'the file is busy',
  EEXIST: 'a file is in the way',
};

/** `no space left on the device (ENOSPC)` for an errno error, the message for anything else. */
export function describeError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code && PLAIN_ERRORS[code]) return `${PLAIN_ERRORS[code]} (${code})`;
  if (code) return `${code}: ${(error as Error).message}`;
  return error instanceof Error ? error.message : String(error);
}

/** Collects the warnings of one operation's after-commit side effects. */
export class AfterCommit {
  readonly warnings: string[] = [];

  constructor(private readonly report: (warning: string) => void) {}

  /**
   * Runs one side effect. `failure` says, in a sentence ending before the reason, what did not
   * happen: "t1 is done, but its 'completed' event was not written to events.jsonl".
   */
  attempt(failure: string | (() => string), effect: () => void): boolean {
    try {
      effect();
      return true;
    } catch (error) {
      this.warn(`${typeof failure === 'function' ? failure() : failure}: ${describeError(error)}.`);
      return false;
    }
  }

  warn(warning: string): void {
    this.warnings.push(warning);
    this.report(warning);
  }

  /** The value with this operation's warnings attached (only when there are any). */
  attach<T extends object>(value: T): T & { warnings?: string[] } {
    return this.warnings.length > 0 ? { ...value, warnings: [...this.warnings] } : value;
  }
}

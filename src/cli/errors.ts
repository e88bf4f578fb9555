// Exit codes of the `swarm` command line (documented in the README; scripts rely on them), and the
// one-line messages of errors that come from the machine rather than from the user's input.
import { SwarmUserError, type UserErrorKind } from '../core/errors';
import { formatConfigProblem, type ConfigProblem } from '../core/config/problems';
import { escapeTerminal } from './format';
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_NOTHING_TO_CLAIM = 3;
export const EXIT_LEASE_LOST = 4;

/**
 * The exit code of each kind of user error: what the person fixes (their input or configuration,
 * 2) or a lost lease (4) have codes of their own; everything else is a failure (1).
 */
export const EXIT_CODE_BY_KIND: Readonly<Record<UserErrorKind, number>> = {
  input: EXIT_USAGE,
  config: EXIT_USAGE,
  'lease-lost': EXIT_LEASE_LOST,
  environment: EXIT_FAILURE,
  unavailable: EXIT_FAILURE,
  refused: EXIT_FAILURE,
};

/** Invalid command-line input: printed as one line, exit code 2, nothing on the board changed. */
export class UsageError extends SwarmUserError {
  constructor(message: string) {
    super('input', message);
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

/** swarm.config.json cannot be used: each problem on a line of its own, what did not happen, and what to do. */
export function invalidConfigFile(file: string, problems: readonly ConfigProblem[], consequence: string): ExitError {
  const lines = problems.map((problem) => `  ${formatConfigProblem(problem)}`).join('\n');
  return new ExitError(EXIT_USAGE, `${file} is invalid, so ${consequence}:\n${lines}\nFix the file (or move it away) and run again.`);
}

/** The machine is in the way (a full disk, a read-only or foreign folder): one line, exit code 1. */
export class EnvironmentError extends SwarmUserError {
  constructor(message: string) {
    super('environment', message);
    this.name = 'EnvironmentError';
  }
}

const VERBS: Record<string, string> = {
  open: 'open',
  write: 'write',
  read: 'read',
  mkdir: 'create the folder',
  rename: 'move',
  unlink: 'remove',
  rmdir: 'remove the folder',
  scandir: 'list the folder',
  utime: 'update',
  fsync: 'flush to disk',
  stat: 'look at',
  lstat: 'look at',
  copyfile: 'copy',
  symlink: 'link',
  link: 'link',
  chmod: 'change the mode of',
};

/** What to do about each file-system error, said to a person. */
const ADVICE: Record<string, string> = {
  ENOSPC: 'The disk is full: free some space and run the command again.',
  EDQUOT: 'Your disk quota is used up: free some space and run the command again.',
  EROFS: 'The file system is read-only: remount it read-write, or point --board at a writable folder.',
  EACCES: 'Permission denied: give your user access to the board folder, or point --board at a folder you own.',
  EPERM: 'The operation is not permitted: check the folder\'s owner and attributes, or point --board at a folder you own.',
  ENOTDIR: 'A part of this path is a file, not a folder: point --board at a folder.',
  EISDIR: 'A folder is where a file was expected: move it away.',
  ENOENT: 'It does not exist: check the path.',
  EMFILE: 'This process has too many open files: raise the limit (ulimit -n) and run the command again.',
  ENFILE: 'The system has too many open files: close some programs and run the command again.',
  EIO: 'The disk reported an input/output error: check the disk.',
  ENAMETOOLONG: 'A file name is too long: use a shorter --board path.',
  ELOOP: 'A symbolic link loops: fix the links on the board path.',
  EBUSY: 'The file is busy: close the program that holds it and run the command again.',
};

export function isFileSystemError(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return error instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** `could not write /b/.swarm/tmp/x: no space left on the device (ENOSPC). The disk is full: …` */
export function fileSystemErrorLine(error: NodeJS.ErrnoException): string {
  const code = error.code ?? 'EUNKNOWN';
  const verb = error.syscall ? VERBS[error.syscall] ?? error.syscall : 'use';
  const target = error.path ? ` ${error.path}` : '';
  const reason = error.message.replace(/^E[A-Z]+: /, '').replace(/,.*$/, '');
  const advice = ADVICE[code] ?? 'Check the board folder and run the command again.';
  return `could not ${verb}${target}: ${reason} (${code}). ${advice}`;
}

/**
 * Makes any text safe to print as one line on a terminal: line breaks become spaces, and control
 * characters (C0, DEL, C1) and bidirectional overrides are shown as escapes instead of acting.
 */
export function plainLine(text: string): string {
  return escapeTerminal(text.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ')).trim();
}

// The one git runner of the core: porcelain and plumbing alike, with what the worktree and patch
// code need on almost every call: a private index through GIT_INDEX_FILE or a slot's hardened
// environment, stdin input, raw byte output, exit codes that carry meaning (`git merge-file`
// returns the number of conflicts, `git rev-parse --verify -q` 1 for "no such ref") and a trace of
// every command. simple-git was dropped (docs/worktrees.md, "Why no git library"): it has no
// worktree API, refuses to run under an environment npm sets (EDITOR), and its `worktree add` took
// twice as long as this runner's.
import { spawn, spawnSync } from 'child_process';
import { recordPhase } from '../trace';

export interface GitRunOptions {
  cwd: string;
  /** Extra environment, e.g. GIT_INDEX_FILE for a temporary index. */
  env?: Record<string, string>;
  input?: string | Buffer;
  /** Exit codes that are not errors (0 is always accepted). */
  okCodes?: number[];
}

export interface GitResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export class GitCommandError extends Error {
  constructor(
    readonly args: string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed (exit ${code}): ${stderr.trim() || 'no message'}`);
    this.name = 'GitCommandError';
  }
}

/** Variables a parent git (a hook, a `git rebase -x`) may set that would redirect our commands. */
const INHERITED_GIT_VARIABLES = ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_PREFIX', 'GIT_OBJECT_DIRECTORY', 'GIT_COMMON_DIR'];

export function gitEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of INHERITED_GIT_VARIABLES) delete env[name];
  // Fixed identity for snapshot and partial-work commits, so a repository without user.name works.
  env.GIT_AUTHOR_NAME = 'Agent Swarm';
  env.GIT_AUTHOR_EMAIL = 'swarm@localhost';
  env.GIT_COMMITTER_NAME = 'Agent Swarm';
  env.GIT_COMMITTER_EMAIL = 'swarm@localhost';
  env.GIT_TERMINAL_PROMPT = '0';
  env.LC_ALL = 'C';
  // Never let a read-only command (diff, status) refresh and rewrite the user's index.
  env.GIT_OPTIONAL_LOCKS = '0';
  return { ...env, ...extra };
}

/**
 * Configuration for the host's git commands in a folder an agent's commands wrote to: no
 * fsmonitor and no hooks, whatever a configuration file says (environment config beats files).
 */
export function hardenedGitConfig(): Record<string, string> {
  return {
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'core.fsmonitor',
    GIT_CONFIG_VALUE_0: 'false',
    GIT_CONFIG_KEY_1: 'core.hooksPath',
    GIT_CONFIG_VALUE_1: '/dev/null',
  };
}

/**
 * `git add` options that write the blobs it stages into one pack instead of one loose object file
 * each (git's bulk check-in, used for blobs above core.bigFileThreshold). Creating a file costs about
 * 1 ms on some disks, so staging a result of 300 changed files took 0.32 s as loose objects against
 * 0.06 s as one pack. Only the `add` sees the setting: diffs still treat the files as text.
 */
export const STAGE_INTO_ONE_PACK = ['-c', 'core.bigFileThreshold=1'];

/**
 * Records the current stat data of every index entry whose file is unchanged, before a `git add`
 * with STAGE_INTO_ONE_PACK. Under that setting git checks a file whose stat data it cannot trust
 * (an index copied from another folder or made by a checkout, a racily clean entry) by deflating
 * the whole file as if to write it into a pack, and again when it writes the index: 68 ms for an
 * index of 630 files that all needed the check, against 10 ms for this refresh, which hashes them
 * plainly. Afterwards the `add` hashes only the files that really changed (14 ms in all). Only
 * stat data is written, and git's own racy-entry rule still guards an edit made in the same second.
 * Exit code 1 (an unmerged entry) only means that the `add` has more to do.
 */
export async function refreshStatData(cwd: string, env: Record<string, string> | undefined): Promise<void> {
  await runGit(['update-index', '-q', '--refresh'], { cwd, env, okCodes: [1] });
}

/** SWARM_TRACE_GIT=1 prints every git command with its duration to stderr (for the benchmark). */
const TRACE = process.env.SWARM_TRACE_GIT === '1';

export function runGit(args: string[], options: GitRunOptions): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('git', args, { cwd: options.cwd, env: gitEnvironment(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (TRACE) process.stderr.write(`[git ${Date.now() - started} ms] ${args.join(' ').slice(0, 120)}\n`);
      recordPhase(`git ${gitSubcommand(args)}`, Date.now() - started);
      const result: GitResult = { code: code ?? 1, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') };
      if (result.code === 0 || options.okCodes?.includes(result.code)) resolve(result);
      else reject(new GitCommandError(args, result.code, result.stderr));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

/** The git subcommand of an argument list (after any `-c key=value` options), for the trace. */
function gitSubcommand(args: string[]): string {
  let index = 0;
  while (args[index] === '-c') index += 2;
  return args[index] ?? '';
}

/** stdout of a successful git command as trimmed text. */
export async function gitText(args: string[], options: GitRunOptions): Promise<string> {
  return (await runGit(args, options)).stdout.toString('utf8').trim();
}

/** Synchronous variant for the few callers that must stay synchronous (board-side helpers). */
export function runGitSync(args: string[], options: GitRunOptions): GitResult {
  const started = Date.now();
  const result = spawnSync('git', args, { cwd: options.cwd, env: gitEnvironment(options.env), input: options.input ?? '' });
  recordPhase(`git ${gitSubcommand(args)}`, Date.now() - started);
  const code = result.status ?? 1;
  const stderr = result.stderr?.toString('utf8') ?? String(result.error ?? '');
  if (code !== 0 && !options.okCodes?.includes(code)) throw new GitCommandError(args, code, stderr);
  return { code, stdout: result.stdout ?? Buffer.alloc(0), stderr };
}

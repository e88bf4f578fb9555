// Runs a shell command in its own process group and guarantees that, when the returned promise
// settles, nothing the command started is still running: not on timeout, not on cancel, and not
// after a normal exit that left background jobs behind. Self-contained on purpose (the pool's broader
// process utilities live elsewhere); Linux gets exact bookkeeping from /proc, other systems use the
// process group alone.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';

export interface GroupRunOptions {
  /** Shell script, run as `/bin/sh -c script`. */
  script: string;
  cwd: string;
  /** The complete environment of the command. */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Kill the group after this long; no limit when undefined. */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL. */
  graceMs?: number;
  /** Receives stdout and stderr as they arrive, until the run is cancelled. */
  onOutput?: (chunk: string) => void;
  /** How much of the latest output to keep for `tail`. */
  tailChars?: number;
}

export interface GroupRunResult {
  exitCode: number | null;
  /** The signal that ended the shell, if one did. */
  exitSignal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** The last `tailChars` characters of combined output. */
  tail: string;
  durationMs: number;
  pid?: number;
}

export const DEFAULT_GRACE_MS = 5_000;
/** How long to wait for processes to disappear after SIGKILL before giving up on them. */
const KILL_WAIT_MS = 5_000;
const POLL_MS = 50;

export function runInProcessGroup(options: GroupRunOptions): Promise<GroupRunResult> {
  const started = Date.now();
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const tailChars = options.tailChars ?? 16_000;
  return new Promise<GroupRunResult>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', options.script], {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true, // setsid(): the shell leads a new process group we can kill as a whole
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    let timedOut = false;
    let aborted = options.signal?.aborted ?? false;
    let killing: Promise<void> | undefined;
    const pid = child.pid;

    const collect = (stream: NodeJS.ReadableStream): Promise<void> => {
      const decoder = new StringDecoder('utf8');
      const take = (text: string): void => {
        if (text === '') return;
        tail = (tail + text).slice(-tailChars);
        if (!aborted) options.onOutput?.(text);
      };
      stream.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
      return new Promise<void>((done) => stream.once('close', () => (take(decoder.end()), done())));
    };
    const outputClosed = Promise.all([collect(child.stdout), collect(child.stderr)]);

    const killGroup = (): Promise<void> => (killing ??= pid === undefined ? Promise.resolve() : killProcessTree(pid, graceMs));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => ((timedOut = true), void killGroup()), options.timeoutMs);
    const onAbort = (): void => {
      aborted = true;
      void killGroup();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (aborted) onAbort();

    child.once('error', (error) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.once('exit', (exitCode, exitSignal) => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      void (async () => {
        // Background jobs outlive the shell unless we end them; they would also hold the pipes open.
        await killGroup();
        await Promise.race([outputClosed, sleep(2_000)]);
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ exitCode, exitSignal, timedOut, aborted, tail, durationMs: Date.now() - started, pid });
      })();
    });
  });
}

/**
 * SIGTERM to the process group led by `pid` and to every descendant (some leave the group), then
 * SIGKILL to whatever is left after `graceMs`. Resolves once all of them are gone, or after a last
 * bounded wait if the kernel will not let them go (uninterruptible sleep).
 */
export async function killProcessTree(pid: number, graceMs: number = DEFAULT_GRACE_MS): Promise<void> {
  const targets = new Set(descendantsOf(pid));
  if (isGroupGone(pid) && [...targets].every(isProcessGone)) return;
  signalAll(pid, targets, 'SIGTERM');
  if (await waitUntilGone(pid, targets, graceMs)) return;
  for (const late of descendantsOf(pid)) targets.add(late);
  signalAll(pid, targets, 'SIGKILL');
  await waitUntilGone(pid, targets, KILL_WAIT_MS);
}

function signalAll(pgid: number, pids: Set<number>, signal: NodeJS.Signals): void {
  trySignal(-pgid, signal);
  for (const pid of pids) trySignal(pid, signal);
}

function trySignal(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    /* already gone */
  }
}

async function waitUntilGone(pgid: number, pids: Set<number>, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (isGroupGone(pgid) && [...pids].every(isProcessGone)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

// ---- Process table -----------------------------------------------------------------------------

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
}

const hasProcFs = process.platform === 'linux' && fs.existsSync('/proc/self/stat');

function readStat(pid: number | string): ProcStat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses; the fields after its last ')' do not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid: Number(pid), state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function processTable(): ProcStat[] {
  if (!hasProcFs) return [];
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readStat(name))
    .filter((stat): stat is ProcStat => stat !== undefined && stat.state !== 'Z');
}

/** Live (non-zombie) descendants of `pid`; empty where /proc is unavailable. */
export function descendantsOf(pid: number): number[] {
  const table = processTable();
  const found: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const stat of table) {
      if (stat.ppid === parent && !found.includes(stat.pid)) {
        found.push(stat.pid);
        frontier.push(stat.pid);
      }
    }
  }
  return found;
}

/** Live (non-zombie) members of process group `pgid`. */
export function processGroupMembers(pgid: number): number[] {
  return processTable().filter((stat) => stat.pgrp === pgid).map((stat) => stat.pid);
}

/**
 * True when `pid` no longer runs. A zombie counts as gone: it runs nothing, and in containers whose
 * init does not reap, orphans stay zombies forever.
 */
export function isProcessGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  return hasProcFs ? (readStat(pid)?.state ?? 'Z') === 'Z' : false;
}

function isGroupGone(pgid: number): boolean {
  if (hasProcFs) return processGroupMembers(pgid).length === 0;
  try {
    process.kill(-pgid, 0);
    return false;
  } catch {
    return true;
  }
}

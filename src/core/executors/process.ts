// Runs a shell command in its own process group and guarantees that, when the returned promise
// settles, nothing the command started is still running: not on timeout, not on cancel, and not
// after a normal exit that left background jobs behind. Ending processes is the shared
// terminate() of ../process (group + descendants, SIGTERM, grace, SIGKILL, wait until gone).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive } from '../process/liveness';
import { readProcStat } from '../process/linux-proc';
import { findMarkedProcesses } from '../process/marked';
import { DEFAULT_GRACE_MS, terminate, TerminationTimeoutError } from '../process/terminate';
import type { CommandSandbox } from '../sandbox/launcher';
import { recordPhase } from '../trace';

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
  /** Run the shell inside this sandbox (bubblewrap, sandbox-exec); without it the command runs as is. */
  sandbox?: CommandSandbox;
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
  /** Paths the sandbox refused to let the command write (filled in by runTemplate). */
  refusedWrites?: string[];
}

export { DEFAULT_GRACE_MS };
/** Every process of one run carries `SWARM_RUN=<id>`: how a daemon that left the tree is found. */
export const RUN_MARK = 'SWARM_RUN';
/** How long to wait for processes to disappear after SIGKILL before giving up on them. */
const KILL_WAIT_MS = 5_000;
/** How long a sandbox's namespace may take to end after its bwrap exited before the group is swept instead. */
const NAMESPACE_END_WAIT_MS = 1_000;

export function runInProcessGroup(options: GroupRunOptions): Promise<GroupRunResult> {
  const started = Date.now();
  // A monotonic start for the sweep: a wall clock stepped back must not make a long command look short.
  const startedMonotonic = performance.now();
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const tailChars = options.tailChars ?? 16_000;
  return new Promise<GroupRunResult>((resolve, reject) => {
    const runId = randomUUID();
    const env = { ...(options.env ?? process.env), [RUN_MARK]: runId };
    const launch = options.sandbox?.launch(options.script, options.cwd, env);
    const child = spawn(launch?.file ?? '/bin/sh', launch?.args ?? ['-c', options.script], {
      cwd: options.cwd,
      env: launch?.env ?? env,
      detached: true, // setsid(): the shell (or the sandbox around it) leads a new process group we can kill as a whole
      stdio: launch?.infoFd === 3 ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    });
    const stdout = child.stdout as Readable;
    const stderr = child.stderr as Readable;
    const namespaceInit = launch?.infoFd === 3 ? readNamespaceInit(child.stdio[3] as Readable | null) : Promise.resolve(undefined);
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
    const outputClosed = Promise.all([collect(stdout), collect(stderr)]);

    // Inside a sandbox its PID namespace ends every process; outside, daemons are found by the run's mark.
    const marked = launch ? undefined : (): number[] => (pid === undefined ? [] : findMarkedProcesses(RUN_MARK, runId, { newerThan: pid - 1, newerSince: startedMonotonic }));
    const killGroup = (): Promise<void> => (killing ??= pid === undefined ? Promise.resolve() : killProcessTree(pid, graceMs, marked));
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
      launch?.cleanup();
      reject(error);
    });
    child.once('exit', (exitCode, exitSignal) => {
      const exitedAt = Date.now();
      recordPhase('command', exitedAt - started);
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      void (async () => {
        // Background jobs outlive the shell unless we end them; they would also hold the pipes open.
        // A bubblewrap sandbox that ended by itself needs no sweep: its PID namespace is torn down
        // (every process in it killed and reaped) by the time its init is a zombie. Waiting for that
        // costs a stat read; the group sweep would scan /proc for the init's lingering zombie.
        if (killing || !(await namespaceEnded(await namespaceInit))) await killGroup();
        await Promise.race([outputClosed, sleep(2_000)]);
        stdout.destroy();
        stderr.destroy();
        launch?.cleanup();
        recordPhase('command teardown', Date.now() - exitedAt);
        resolve({ exitCode, exitSignal, timedOut, aborted, tail, durationMs: Date.now() - started, pid });
      })();
    });
  });
}

/** The pid (in our namespace) of the sandbox's PID-namespace init, from bwrap's --info-fd JSON. */
function readNamespaceInit(stream: Readable | null): Promise<number | undefined> {
  if (!stream) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.once('close', () => {
      const pid = Number(/"child-pid":\s*(\d+)/.exec(text)?.[1]);
      resolve(Number.isInteger(pid) && pid > 0 ? pid : undefined);
    });
    stream.once('error', () => resolve(undefined));
  });
}

/** True once the namespace's init exited (zombie or reaped); false when unknown or still running after a short wait. */
async function namespaceEnded(initPid: number | undefined): Promise<boolean> {
  if (initPid === undefined) return false;
  const ended = (): boolean => {
    const stat = readProcStat(initPid);
    return stat === undefined || stat.state === 'Z';
  };
  const deadline = Date.now() + NAMESPACE_END_WAIT_MS;
  while (!ended()) {
    if (Date.now() > deadline) return false;
    await sleep(1);
  }
  return true;
}

/**
 * SIGTERM to the process group led by `pid`, to every descendant (some leave the group) and to the
 * processes `findMore` finds (daemons that left the tree, found by their mark), then
 * SIGKILL to whatever is left after `graceMs`. Resolves once all of them are gone, or after a last
 * bounded wait if the kernel will not let them go (uninterruptible sleep): the caller's run is over
 * either way, and the pool's own supervision ends the agent if something truly hangs.
 */
export async function killProcessTree(pid: number, graceMs: number = DEFAULT_GRACE_MS, findMore?: () => number[]): Promise<void> {
  try {
    await terminate({ group: pid, roots: [pid], includeRoots: true, findMore }, { graceMs, killWaitMs: KILL_WAIT_MS });
  } catch (error) {
    if (!(error instanceof TerminationTimeoutError)) throw error;
  }
}

/**
 * True when `pid` no longer runs. A zombie counts as gone: it runs nothing, and in containers whose
 * init does not reap, orphans stay zombies forever.
 */
export function isProcessGone(pid: number): boolean {
  return !isProcessAlive(pid);
}

// Child processes the swarm can always take back: each starts as the leader of its own process
// group, so that stop() ends it together with everything it started (shells, test runners, their
// children), and resolves only once the whole group is gone.
import { fork, spawn, type ChildProcess, type StdioOptions } from 'child_process';
import * as readline from 'readline';
import type { Readable } from 'stream';
import { terminate, type TerminateOptions, type TerminationResult } from './terminate';

/** How a process ended: an exit code, or the signal that killed it. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SupervisedOptions {
  cwd?: string;
  /** Merged over the parent's environment; a value of `undefined` removes that variable. */
  env?: Record<string, string | undefined>;
  /** Called per line of output (without the line break). Without a callback the stream is ignored. */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Errors after a successful start (e.g. a failed signal or IPC send); they never throw. */
  onError?: (error: Error) => void;
  /** `pipe` to write to `child.stdin`; the default `ignore` gives the child /dev/null. */
  stdin?: 'pipe' | 'ignore';
}

export interface ForkSupervisedOptions extends SupervisedOptions {
  /** IPC encoding: `advanced` (structured clone) carries Maps, Dates, typed arrays, errors. */
  serialization?: 'json' | 'advanced';
  /** Node flags for the child; default: the parent's (as child_process.fork does). */
  execArgv?: string[];
}

export interface StopResult extends TerminationResult {
  exit: ExitInfo;
}

export interface SupervisedProcess {
  readonly pid: number;
  /** The underlying child: IPC (`send`, `on('message')`) for forked ones, `stdin` when piped. */
  readonly child: ChildProcess;
  /** Resolves when the process itself exits (its children may live on; stop() ends them). */
  readonly exited: Promise<ExitInfo>;
  /** Resolves after exit once its output streams are closed too: all output lines were delivered.
   * A background grandchild holding the streams open delays this until stop() or its exit. */
  readonly closed: Promise<ExitInfo>;
  /** Set once the process has exited. */
  readonly exitInfo: ExitInfo | undefined;
  /** SIGTERM to the whole process group (and to descendants that left it), SIGKILL after
   * `graceMs` (default 5000), resolved once none of them is alive. Safe to call more than once. */
  stop(options?: TerminateOptions): Promise<StopResult>;
}

/** Starts a command in its own process group. Resolves once it runs; rejects when it cannot start
 * (e.g. ENOENT for an unknown command), with Node's error. */
export function spawnSupervised(command: string, args: readonly string[], options: SupervisedOptions = {}): Promise<SupervisedProcess> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: mergeEnv(options.env),
    detached: true,
    windowsHide: true,
    stdio: stdioFor(options, false),
  });
  return supervise(child, options);
}

/** Forks a Node module in its own process group with an IPC channel. */
export function forkSupervised(modulePath: string, args: readonly string[], options: ForkSupervisedOptions = {}): Promise<SupervisedProcess> {
  const child = fork(modulePath, args, {
    cwd: options.cwd,
    env: mergeEnv(options.env),
    detached: true,
    serialization: options.serialization ?? 'json',
    execArgv: options.execArgv,
    stdio: stdioFor(options, true),
  });
  return supervise(child, options);
}

export function mergeEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

function stdioFor(options: SupervisedOptions, withIpc: boolean): StdioOptions {
  const stdio: StdioOptions = [
    options.stdin ?? 'ignore',
    options.onStdoutLine ? 'pipe' : 'ignore',
    options.onStderrLine ? 'pipe' : 'ignore',
  ];
  return withIpc ? [...stdio, 'ipc'] : stdio;
}

function supervise(child: ChildProcess, options: SupervisedOptions): Promise<SupervisedProcess> {
  return new Promise((resolve, reject) => {
    const failToStart = (error: Error): void => reject(error);
    child.once('error', failToStart);
    child.once('spawn', () => {
      child.off('error', failToStart);
      // An 'error' event without a listener would crash the host; report it instead.
      child.on('error', (error) => options.onError?.(error));
      resolve(createSupervisedProcess(child, options));
    });
  });
}

function createSupervisedProcess(child: ChildProcess, options: SupervisedOptions): SupervisedProcess {
  const pid = child.pid as number; // set once 'spawn' fired
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const closed = new Promise<ExitInfo>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  forwardLines(child.stdout, options.onStdoutLine);
  forwardLines(child.stderr, options.onStderrLine);

  let stopping: Promise<StopResult> | undefined;
  const terminateGroup = async (stopOptions?: TerminateOptions): Promise<StopResult> => {
    const result = await terminate({ group: pid, roots: [pid], includeRoots: true }, stopOptions);
    return { ...result, exit: await exited };
  };
  const stop = (stopOptions?: TerminateOptions): Promise<StopResult> => {
    // A second stop with no grace ("force stop") does not wait for the first one's grace period.
    if (stopping && stopOptions?.graceMs === 0) return terminateGroup(stopOptions);
    stopping ??= terminateGroup(stopOptions).catch((error: unknown) => {
      stopping = undefined; // let the caller try again
      throw error;
    });
    return stopping;
  };

  return {
    pid,
    child,
    exited,
    closed,
    get exitInfo() {
      return exitInfo;
    },
    stop,
  };
}

function forwardLines(stream: Readable | null, onLine: ((line: string) => void) | undefined): void {
  if (!stream || !onLine) return;
  stream.setEncoding('utf8');
  // readline handles \r\n, multi-byte characters split across chunks, and a last unterminated line.
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

// Knows every process a test run started and ends them all, by pid: the process groups it spawned
// (code-server runs detached, as the leader of its own group), their descendants, and any process
// that carries the run's tag in its environment (which catches a terminal shell that started its
// own session, or a child re-parented to init). Used on success, failure, timeout and signals.
import * as fs from 'fs';
import { randomUUID } from 'crypto';

/** Environment variable with the run's tag, inherited by everything the run starts. */
export const RUN_TAG_ENV = 'SWARM_TEST_RUN_ID';

interface Tracked {
  name: string;
  pid: number;
  /** The pid leads its own process group (spawned detached). */
  group: boolean;
}

const hasProc = fs.existsSync('/proc/self/stat');

/** Parent pid and state of a process from /proc, or undefined when it is gone. */
function procStat(pid: number): { ppid: number; state: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]) };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  if (!hasProc) return [];
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = hasProc ? procStat(pid) : { state: 'R', ppid: 0 };
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Every descendant of `root` (children, grandchildren, ...), from /proc. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const stat = procStat(pid);
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(pid);
    children.set(stat.ppid, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    for (const child of children.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Processes whose environment carries `RUN_TAG_ENV=tag`. */
export function taggedProcesses(tag: string): number[] {
  const needle = Buffer.from(`${RUN_TAG_ENV}=${tag}\0`);
  return allPids().filter((pid) => {
    if (pid === process.pid) return false;
    try {
      return fs.readFileSync(`/proc/${pid}/environ`).includes(needle);
    } catch {
      return false;
    }
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ProcessTracker {
  /** Tag put in the environment of everything this run starts. */
  readonly tag = randomUUID();
  private readonly tracked: Tracked[] = [];
  private readonly onExit = () => this.killAllSync();

  constructor() {
    // Last resort: if the launcher exits without cleaning up, kill synchronously on the way out.
    process.on('exit', this.onExit);
  }

  /** The environment to start a child with: `base` plus the run's tag. */
  env(base: NodeJS.ProcessEnv = process.env, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...base, ...extra, [RUN_TAG_ENV]: this.tag };
  }

  track(name: string, pid: number | undefined, group: boolean): void {
    if (pid) this.tracked.push({ name, pid, group });
  }

  /** Pids of everything this run started that is still alive. */
  alive(): number[] {
    const pids = new Set<number>();
    for (const entry of this.tracked) {
      if (isAlive(entry.pid)) pids.add(entry.pid);
      for (const pid of descendants(entry.pid)) pids.add(pid);
    }
    for (const pid of taggedProcesses(this.tag)) pids.add(pid);
    pids.delete(process.pid);
    return [...pids].filter(isAlive);
  }

  /**
   * Ends everything: SIGTERM to the groups and every known pid, then SIGKILL to what is left after
   * `graceMs`. Returns the pids still alive afterwards (none, unless something is badly wrong).
   */
  async killAll(graceMs = 3000): Promise<number[]> {
    let pids = this.alive();
    if (pids.length === 0) return [];
    for (const entry of this.tracked) if (entry.group) signal(-entry.pid, 'SIGTERM');
    for (const pid of pids) signal(pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      await sleep(100);
      pids = pids.filter(isAlive);
      if (pids.length === 0) break;
    }
    // Anything started meanwhile (or that ignored SIGTERM) gets SIGKILL.
    for (let round = 0; round < 3; round++) {
      pids = this.alive();
      if (pids.length === 0) break;
      for (const entry of this.tracked) if (entry.group) signal(-entry.pid, 'SIGKILL');
      for (const pid of pids) signal(pid, 'SIGKILL');
      await sleep(200);
    }
    return this.alive();
  }

  /** Synchronous SIGKILL of everything, for process 'exit'. */
  killAllSync(): void {
    for (const entry of this.tracked) if (entry.group) signal(-entry.pid, 'SIGKILL');
    for (const pid of this.alive()) signal(pid, 'SIGKILL');
  }

  /** Stops watching for process exit (after a clean killAll). */
  dispose(): void {
    process.off('exit', this.onExit);
  }
}

// Shared by the process and monitor tests: waiting on real pids, and never leaving a process behind.
import { readFileSync } from 'fs';
import { spawnSupervised, type SupervisedProcess } from '../../../src/core/process';

/** True while `kill(pid, 0)` finds the pid and /proc does not call it a zombie. Written
 * independently of isProcessAlive so that the tests do not check the code with itself. */
export function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Collects stdout lines and lets a test wait for a number of them. */
export class LineCollector {
  readonly lines: string[] = [];
  readonly push = (line: string): void => {
    this.lines.push(line);
  };

  async waitForLines(count: number, timeoutMs = 15000): Promise<string[]> {
    await waitFor(() => this.lines.length >= count, timeoutMs, `${count} output lines (got ${JSON.stringify(this.lines)})`);
    return this.lines.slice(0, count);
  }
}

/** Everything a test started, SIGKILLed afterwards whatever happened (groups and single pids). */
export class ProcessJanitor {
  private readonly groups = new Set<number>();
  private readonly pids = new Set<number>();

  watchGroup(pgid: number): void {
    this.groups.add(pgid);
  }

  watchPids(...pids: number[]): void {
    pids.forEach((pid) => this.pids.add(pid));
  }

  cleanUp(): void {
    for (const pgid of this.groups) tryKill(-pgid);
    for (const pid of this.pids) tryKill(pid);
    this.groups.clear();
    this.pids.clear();
  }
}

function tryKill(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Starts `sh -c script` supervised, collecting its stdout lines. */
export async function startShell(script: string, janitor: ProcessJanitor): Promise<{ proc: SupervisedProcess; out: LineCollector }> {
  const out = new LineCollector();
  const proc = await spawnSupervised('sh', ['-c', script], { onStdoutLine: out.push });
  janitor.watchGroup(proc.pid);
  return { proc, out };
}

export const isLinux = process.platform === 'linux';

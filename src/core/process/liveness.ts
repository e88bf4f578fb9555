// Is a process (or a process group) still there, and signalling it without tripping over races.
// `kill(pid, 0)` alone is not enough: a zombie (exited, not yet reaped) still answers it, and in
// containers whose PID 1 never reaps, orphaned zombies stay forever. On Linux the state is read.
import { hasLinuxProc, readAllProcStats, readProcStat } from './linux-proc';

/** Node's errno errors, narrowed without `any`. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** What `kill(target, 0)` finds: a pid, or a process group when `target` is -pgid. EPERM means it
 * exists but belongs to another user. */
function signalZero(target: number): 'ours' | 'foreign' | 'none' {
  try {
    process.kill(target, 0);
    return 'ours';
  } catch (error) {
    return errorCode(error) === 'EPERM' ? 'foreign' : 'none';
  }
}

/** True while the process runs; false once it exited, including as an unreaped zombie. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const found = signalZero(pid);
  if (found === 'none') return false;
  if (!hasLinuxProc) return true;
  const stat = readProcStat(pid);
  // Another user's process may be hidden from /proc (mounted with hidepid): it exists, and its
  // state cannot be read, so it counts as running rather than as a dead writer to clean up after.
  if (stat === undefined) return found === 'foreign';
  return stat.state !== 'Z';
}

/** True while any member of the process group runs (zombies do not count on Linux). */
export function isProcessGroupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 0) return false;
  if (process.platform === 'win32') return isProcessAlive(pgid);
  const found = signalZero(-pgid);
  if (found === 'none') return false;
  if (!hasLinuxProc) return true;
  // Slow path (a scan of /proc): only reached while kill() still finds the group. A group of
  // another user's processes may be hidden from /proc (hidepid): it counts as running.
  const members = readAllProcStats().filter((stat) => stat.pgid === pgid);
  if (members.length === 0) return found === 'foreign';
  return members.some((stat) => stat.state !== 'Z');
}

/** Sends a signal to a pid (or to a group when `target` is -pgid); false if it was already gone.
 * Other errors (EPERM: not ours) are thrown, since silently failing to kill is the worst outcome. */
export function sendSignal(target: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(target, signal);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return false;
    throw error;
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `isDone` every `pollMs` until it returns true (→ true) or `timeoutMs` passes (→ false). */
export async function pollUntil(isDone: () => boolean, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (isDone()) return true;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    await delay(Math.min(pollMs, remaining));
  }
}

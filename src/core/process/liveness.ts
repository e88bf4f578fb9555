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

/** Whether `kill(target, 0)` finds something: a pid, or a process group when `target` is -pgid.
 * EPERM means it exists but belongs to someone else, which still counts as alive. */
function signalZeroFinds(target: number): boolean {
  try {
    process.kill(target, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/** True while the process runs; false once it exited, including as an unreaped zombie. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!signalZeroFinds(pid)) return false;
  if (!hasLinuxProc) return true;
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** True while any member of the process group runs (zombies do not count on Linux). */
export function isProcessGroupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 0) return false;
  if (process.platform === 'win32') return isProcessAlive(pgid);
  if (!signalZeroFinds(-pgid)) return false;
  if (!hasLinuxProc) return true;
  // Slow path (a scan of /proc): only reached while kill() still finds the group.
  return readAllProcStats().some((stat) => stat.pgid === pgid && stat.state !== 'Z');
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

// Runs inside an agent process. Agents are started detached (a process group of their own, so the
// host can kill their whole tree), which also means nothing ends them when the host dies: a host
// crash would leave agents running and editing files with nobody watching. This watchdog notices
// the loss of the parent and ends the agent together with everything it started.
import { hasLinuxProc, readAllProcStats } from './linux-proc';
import { isProcessAlive } from './liveness';
import { terminate } from './terminate';

export type ParentLossReason = 'ipc-disconnected' | 'parent-changed' | 'parent-gone';

export interface ParentWatchdogOptions {
  /** How often the parent pid is checked, for processes without an IPC channel. Default 1000 ms. */
  checkMs?: number;
  /** How long the agent's own children get after SIGTERM before SIGKILL. Default 1000 ms. */
  graceMs?: number;
  /** Exit code of the agent. Default 1. */
  exitCode?: number;
  /** Last words (flush a log, release a lease), limited to `beforeExitTimeoutMs` (default 2000). */
  beforeExit?: (reason: ParentLossReason) => void | Promise<void>;
  beforeExitTimeoutMs?: number;
}

export interface Watchdog {
  /** Stops watching (e.g. on an orderly shutdown). */
  dispose(): void;
}

/** Exits this process (after ending its own children) when the IPC channel to the parent closes,
 * when it is re-parented, or when the original parent pid is gone. */
export function exitWhenParentDies(options: ParentWatchdogOptions = {}): Watchdog {
  const originalParent = process.ppid;
  let handled = false;
  const onParentLost = (reason: ParentLossReason): void => {
    if (handled) return;
    handled = true;
    dispose();
    void endSelfAndChildren(reason, options);
  };
  const onDisconnect = (): void => onParentLost('ipc-disconnected');
  const checkParent = (): void => {
    if (process.ppid !== originalParent) onParentLost('parent-changed');
    else if (!isProcessAlive(originalParent)) onParentLost('parent-gone');
  };

  // The IPC channel closes the moment the parent dies, so it is the fast path; the timer covers
  // children started without IPC. Neither keeps the process alive on its own.
  if (process.send) process.on('disconnect', onDisconnect);
  const timer = setInterval(checkParent, options.checkMs ?? 1000);
  timer.unref();
  function dispose(): void {
    clearInterval(timer);
    process.off('disconnect', onDisconnect);
  }
  return { dispose };
}

async function endSelfAndChildren(reason: ParentLossReason, options: ParentWatchdogOptions): Promise<void> {
  try {
    await runBeforeExit(reason, options);
    await terminate(
      { roots: [process.pid], includeRoots: false, extraPids: ownGroupMembers() },
      { graceMs: options.graceMs ?? 1000, killWaitMs: 3000 },
    );
  } finally {
    process.exit(options.exitCode ?? 1);
  }
}

async function runBeforeExit(reason: ParentLossReason, options: ParentWatchdogOptions): Promise<void> {
  if (!options.beforeExit) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, options.beforeExitTimeoutMs ?? 2000);
  });
  try {
    await Promise.race([Promise.resolve().then(() => options.beforeExit?.(reason)), timeout]);
  } catch {
    // Last words that fail must not keep the agent alive.
  } finally {
    clearTimeout(timer);
  }
}

/** Members of this process's group other than itself, when it leads the group: they include
 * orphans whose parent already exited. A process that does not lead its group shares it with
 * its parent, which must not be touched, so then only descendants are ended. */
function ownGroupMembers(): number[] {
  if (!hasLinuxProc) return [];
  const stats = readAllProcStats();
  const self = stats.find((stat) => stat.pid === process.pid);
  if (!self || self.pgid !== process.pid) return [];
  return stats.filter((stat) => stat.pgid === process.pid && stat.pid !== process.pid && stat.state !== 'Z').map((stat) => stat.pid);
}

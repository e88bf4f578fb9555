// The one way this project ends processes: SIGTERM, a grace period, SIGKILL, and a wait until they
// are really gone. Used by SupervisedProcess.stop(), killTree() and the parent-death watchdog.
// A cancelled agent that keeps running (and keeps editing files) is the failure users report most,
// so "stopped" is only reported once no target is alive any more, and otherwise it throws.
import { delay, isProcessGroupAlive, sendSignal } from './liveness';
import { captureIdentity, isSameProcessAlive, listDescendants, type ProcessIdentity } from './process-tree';

export interface TerminateOptions {
  /** How long processes get to exit after SIGTERM before SIGKILL. Default 5000 ms; 0 kills at once. */
  graceMs?: number;
  /** How long to wait after SIGKILL before giving up with an error. Default 10000 ms. */
  killWaitMs?: number;
}

export interface TerminationResult {
  /** True when SIGTERM was not enough and SIGKILL was sent. */
  escalated: boolean;
  /** Every pid that was signalled one by one (the group, if any, was signalled as a whole too). */
  pids: number[];
}

/** What to end. */
export interface TerminationTargets {
  /** A process group to signal as a whole with kill(-pgid): atomic, and catches orphans. */
  group?: number;
  /** Processes whose descendants are ended too; collected again before SIGKILL (trees grow). */
  roots: number[];
  /** Whether the roots themselves are ended (false when the caller is the root). */
  includeRoots: boolean;
  /** Further pids to end. */
  extraPids?: number[];
  /** Pids never to signal one by one (the calling process is always left out). */
  excludePids?: number[];
  /** Looked up again at every collection (before SIGTERM and before SIGKILL): processes found by a
   * mark rather than by parent links, such as daemons that left the tree. */
  findMore?: () => number[];
}

export class TerminationTimeoutError extends Error {
  constructor(readonly alivePids: number[], killWaitMs: number) {
    super(`Processes still alive ${killWaitMs} ms after SIGKILL: ${alivePids.join(', ') || '(process group members)'}`);
    this.name = 'TerminationTimeoutError';
  }
}

export const DEFAULT_GRACE_MS = 5000;
export const DEFAULT_KILL_WAIT_MS = 10000;

export async function terminate(targets: TerminationTargets, options: TerminateOptions = {}): Promise<TerminationResult> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const killWaitMs = options.killWaitMs ?? DEFAULT_KILL_WAIT_MS;
  const known = new Map<number, ProcessIdentity>();
  // Never the caller itself, whatever the tree looks like.
  const excluded = new Set([process.pid, ...(targets.excludePids ?? [])]);

  await collectTargets(targets, known, excluded);
  if (graceMs > 0) {
    signalTargets(targets.group, known, 'SIGTERM');
    if (await waitUntilGone(targets.group, known, graceMs)) return { escalated: false, pids: [...known.keys()] };
  }
  // Children forked during the grace period, or orphaned by a parent that already exited.
  await collectTargets(targets, known, excluded);
  signalTargets(targets.group, known, 'SIGKILL');
  if (await waitUntilGone(targets.group, known, killWaitMs)) return { escalated: graceMs > 0, pids: [...known.keys()] };
  throw new TerminationTimeoutError(alivePids(known), killWaitMs);
}

async function collectTargets(targets: TerminationTargets, known: Map<number, ProcessIdentity>, excluded: Set<number>): Promise<void> {
  const remember = (pid: number): void => {
    if (!excluded.has(pid) && !known.has(pid)) known.set(pid, captureIdentity(pid));
  };
  if (targets.includeRoots) targets.roots.forEach(remember);
  (targets.extraPids ?? []).forEach(remember);
  (targets.findMore?.() ?? []).forEach(remember);
  // Descendants of the roots and of every known process still alive: a process whose parent
  // exited was re-parented away from the root, but is still found through `known`.
  const parents = new Set([...targets.roots, ...alivePids(known)]);
  for (const parent of parents) {
    for (const pid of await listDescendants(parent)) remember(pid);
  }
}

function signalTargets(group: number | undefined, known: Map<number, ProcessIdentity>, signal: NodeJS.Signals): void {
  if (group !== undefined) signalGroup(group, signal);
  for (const identity of known.values()) {
    // The identity check keeps a late signal from hitting a new process that reused the pid.
    if (isSameProcessAlive(identity)) sendSignal(identity.pid, signal);
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  // Windows has no process groups; there the pids collected from the tree are all there is.
  if (process.platform !== 'win32') sendSignal(-pgid, signal);
}

function alivePids(known: Map<number, ProcessIdentity>): number[] {
  return [...known.values()].filter(isSameProcessAlive).map((identity) => identity.pid);
}

/** Polls until no known process and no group member is alive. The poll slows down from 25 ms to
 * 250 ms: quick exits are noticed at once, and a long grace period does not burn CPU. */
async function waitUntilGone(group: number | undefined, known: Map<number, ProcessIdentity>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let pollMs = 25;
  for (;;) {
    // Known pids first: cheap. The group check may scan /proc, so it runs only once they are gone.
    const gone = alivePids(known).length === 0 && (group === undefined || !isProcessGroupAlive(group));
    if (gone) return true;
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    await delay(Math.min(pollMs, remaining));
    pollMs = Math.min(pollMs * 2, 250);
  }
}

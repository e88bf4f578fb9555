// Finding a process's descendants. Linux walks /proc/<pid>/task/*/children (cost grows with the
// tree, not with the machine); elsewhere pidtree asks `ps` for the whole table.
import pidtree from 'pidtree';
import { canListChildrenDirectly, hasLinuxProc, readAllProcStats, readChildPids, readProcStat } from './linux-proc';
import { isProcessAlive } from './liveness';

/** All descendants of `pid` (children, grandchildren, ...), not including `pid` itself.
 * A process that already exited yields an empty list. */
export async function listDescendants(pid: number): Promise<number[]> {
  if (hasLinuxProc) return listDescendantsFromProc(pid);
  try {
    return await pidtree(pid);
  } catch {
    // pidtree rejects when the pid is not in the table any more: no descendants left to find.
    return [];
  }
}

/** Linux only, synchronous: descendants through children files, or a full /proc scan on kernels
 * built without them. */
export function listDescendantsFromProc(pid: number): number[] {
  return canListChildrenDirectly() ? walkChildren(pid) : descendantsFromParentLinks(pid, readAllProcStats());
}

/** Breadth-first walk over children files; `seen` guards against pid reuse making a cycle. */
function walkChildren(rootPid: number): number[] {
  const found: number[] = [];
  const seen = new Set<number>([rootPid]);
  const queue = [rootPid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const child of readChildPids(parent)) {
      if (seen.has(child)) continue;
      seen.add(child);
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Descendants from a full list of (pid, ppid) pairs. */
export function descendantsFromParentLinks(rootPid: number, links: ReadonlyArray<{ pid: number; ppid: number }>): number[] {
  const childrenByParent = new Map<number, number[]>();
  for (const { pid, ppid } of links) {
    const siblings = childrenByParent.get(ppid);
    if (siblings) siblings.push(pid);
    else childrenByParent.set(ppid, [pid]);
  }
  const found: number[] = [];
  const seen = new Set<number>([rootPid]);
  const queue = [rootPid];
  while (queue.length > 0) {
    for (const child of childrenByParent.get(queue.shift() as number) ?? []) {
      if (seen.has(child)) continue;
      seen.add(child);
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** A pid plus, on Linux, its start time: enough to tell the process from a later one that was
 * given the same pid, so that a delayed SIGKILL never hits a stranger. */
export interface ProcessIdentity {
  pid: number;
  startTicks?: number;
}

export function captureIdentity(pid: number): ProcessIdentity {
  return { pid, startTicks: hasLinuxProc ? readProcStat(pid)?.startTicks : undefined };
}

/** True while the very process of `identity` still runs (not a zombie, not a pid reuse). */
export function isSameProcessAlive(identity: ProcessIdentity): boolean {
  if (!hasLinuxProc || identity.startTicks === undefined) return isProcessAlive(identity.pid);
  const stat = readProcStat(identity.pid);
  return stat !== undefined && stat.state !== 'Z' && stat.startTicks === identity.startTicks;
}

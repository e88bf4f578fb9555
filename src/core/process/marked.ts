// Processes found by an environment mark. A process that daemonises (double fork + setsid) leaves
// both the process group and the parent chain of whoever started it, so neither a group kill nor a
// walk of descendants finds it; its environment still carries what its ancestors exported. Linux
// only (/proc/<pid>/environ); elsewhere nothing is found.
import * as fs from 'fs';
import { hasLinuxProc, listAllPids } from './linux-proc';

export interface MarkSearch {
  /** Only processes started after this pid was handed out (pids grow until they wrap around). */
  newerThan?: number;
  /** Left out of the result (the caller itself is always left out). */
  exclude?: readonly number[];
}

/** Pids of live processes whose environment holds `name=value`. */
export function findMarkedProcesses(name: string, value: string, search: MarkSearch = {}): number[] {
  if (!hasLinuxProc) return [];
  const mark = Buffer.from(`${name}=${value}\0`);
  const excluded = new Set([process.pid, ...(search.exclude ?? [])]);
  const found: number[] = [];
  for (const pid of candidates(search.newerThan)) {
    if (excluded.has(pid)) continue;
    if (environHas(pid, mark)) found.push(pid);
  }
  return found;
}

/** The environment of `pid` as NAME=value pairs (undefined when it is gone or not readable). */
export function readEnviron(pid: number): Map<string, string> | undefined {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined;
  }
  const variables = new Map<string, string>();
  for (const entry of raw.toString('utf8').split('\0')) {
    const equals = entry.indexOf('=');
    if (equals > 0) variables.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return variables;
}

function environHas(pid: number, mark: Buffer): boolean {
  try {
    const environ = fs.readFileSync(`/proc/${pid}/environ`);
    // The mark either starts the block or follows the NUL that ends the previous variable.
    for (let index = environ.indexOf(mark); index >= 0; index = environ.indexOf(mark, index + 1)) {
      if (index === 0 || environ[index - 1] === 0) return true;
    }
    return false;
  } catch {
    return false; // gone meanwhile, or not ours to read
  }
}

/** Every pid, or those newer than `newerThan`: above it, or, once pids wrapped, below the last one handed out. */
function candidates(newerThan: number | undefined): number[] {
  const pids = listAllPids();
  if (newerThan === undefined) return pids;
  const last = lastPidHandedOut();
  if (last === undefined) return pids;
  const wrapped = last < newerThan;
  return pids.filter((pid) => pid > newerThan || (wrapped && pid <= last));
}

function lastPidHandedOut(): number | undefined {
  try {
    const value = Number(fs.readFileSync('/proc/sys/kernel/ns_last_pid', 'latin1').trim());
    return Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Marks every process the swarm starts for an attempt carries (see pool/orphans.ts, executors/process.ts). */
export const SWARM_MARKS = ['SWARM_TASK_ID', 'SWARM_RUN', 'SWARM_AGENT_ID', 'SWARM_HOST'] as const;

export interface ProcessInside {
  pid: number;
  /** Carries a swarm mark: started for an attempt (not, say, the user's shell that cd'ed there). */
  marked: boolean;
}

/** Live processes working inside `folder`: their working directory is in it, or their SWARM_DIR
 * (the task directory the swarm gave them) is. The caller itself is left out. */
export function findProcessesInside(folder: string): ProcessInside[] {
  if (!hasLinuxProc) return [];
  let root: string;
  try {
    root = fs.realpathSync(folder);
  } catch {
    return [];
  }
  const inside = (candidate: string | undefined): boolean => candidate !== undefined && (candidate === root || candidate.startsWith(`${root}/`));
  const found: ProcessInside[] = [];
  for (const pid of listAllPids()) {
    if (pid === process.pid) continue;
    const environ = readEnviron(pid);
    let cwd: string | undefined;
    try {
      cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      cwd = undefined;
    }
    if (!inside(cwd) && !inside(environ?.get('SWARM_DIR'))) continue;
    found.push({ pid, marked: SWARM_MARKS.some((mark) => environ?.has(mark)) });
  }
  return found;
}

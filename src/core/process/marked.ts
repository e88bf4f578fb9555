// Processes found by an environment mark. A process that daemonises (double fork + setsid) leaves
// both the process group and the parent chain of whoever started it, so neither a group kill nor a
// walk of descendants finds it; its environment still carries what its ancestors exported. Linux
// only (/proc/<pid>/environ); elsewhere nothing is found.
import * as fs from 'fs';
import { hasLinuxProc, listAllPids } from './linux-proc';

export interface MarkSearch {
  /** Only processes started after this pid was handed out (pids grow until they wrap around). */
  newerThan?: number;
  /** When `newerThan` was handed out, on the monotonic clock (performance.now(): a wall clock
   * stepped back would make a long command look short). Shortly after, the pids handed out since are
   * few and known (newerThan + 1 up to the last one handed out), so only those are opened instead
   * of a listing of all of /proc: what makes the sweep after a short command cheap. */
  newerSince?: number;
  /** Left out of the result (the caller itself is always left out). */
  exclude?: readonly number[];
}

/** Pids of live processes whose environment holds `name=value`. */
export function findMarkedProcesses(name: string, value: string, search: MarkSearch = {}): number[] {
  if (!hasLinuxProc) return [];
  const mark = Buffer.from(`${name}=${value}\0`);
  const excluded = new Set([process.pid, ...(search.exclude ?? [])]);
  const found: number[] = [];
  for (const pid of candidates(search.newerThan, search.newerSince)) {
    if (excluded.has(pid)) continue;
    if (environHas(pid, mark) && isProcess(pid)) found.push(pid);
  }
  return found;
}

/** The environment of `pid` as NAME=value pairs (undefined when it is gone or not readable). */
export function readEnviron(pid: number): Map<string, string> | undefined {
  const raw = readRawEnviron(pid);
  if (!raw) return undefined;
  const variables = new Map<string, string>();
  for (const entry of raw.toString('utf8').split('\0')) {
    const equals = entry.indexOf('=');
    if (equals > 0) variables.set(entry.slice(0, equals), entry.slice(equals + 1));
  }
  return variables;
}

function environHas(pid: number, mark: Buffer): boolean {
  const environ = readRawEnviron(pid);
  if (!environ) return false; // gone meanwhile, or not ours to read
  // The mark either starts the block or follows the NUL that ends the previous variable.
  for (let index = environ.indexOf(mark); index >= 0; index = environ.indexOf(mark, index + 1)) {
    if (index === 0 || environ[index - 1] === 0) return true;
  }
  return false;
}

/** The environment block of `pid` as it is, NUL-separated (undefined when it is gone or not ours to read). */
export function readRawEnviron(pid: number): Buffer | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/environ`);
  } catch {
    return undefined;
  }
}

/**
 * Every value `name` has in an environment block, without parsing the rest of it (a scan of /proc
 * reads every process's block); a name set twice gives both values, the effective one last.
 */
export function environValues(environ: Buffer, name: Buffer): string[] {
  const values: string[] = [];
  for (let index = environ.indexOf(name); index >= 0; index = environ.indexOf(name, index + 1)) {
    // The name either starts the block or follows the NUL that ends the previous variable.
    if (index > 0 && environ[index - 1] !== 0) continue;
    const start = index + name.length;
    const end = environ.indexOf(0, start);
    values.push(environ.toString('utf8', start, end < 0 ? environ.length : end));
  }
  return values;
}

/** Every pid, or those newer than `newerThan`: above it, or, once pids wrapped, below the last one handed out. */
function candidates(newerThan: number | undefined, newerSince: number | undefined): number[] {
  if (newerThan === undefined) return listAllPids();
  const last = lastPidHandedOut();
  if (last === undefined) return listAllPids();
  if (newerSince !== undefined && performance.now() - newerSince <= RANGE_TRUSTED_MS && pidMax() >= SMALLEST_TRUSTED_PID_MAX) {
    const handedOut = pidsHandedOutAfter(newerThan, last, pidMax());
    if (handedOut !== undefined) return handedOut;
  }
  const wrapped = last < newerThan;
  return listAllPids().filter((pid) => pid > newerThan || (wrapped && pid <= last));
}

/**
 * How long after `newerThan` was handed out the pids handed out since are taken to be exactly
 * newerThan + 1 ... last (wrapping at pid_max). Wrong only if pid_max pids (32,768 at least: a
 * machine set to fewer lists /proc) were handed out within this time, which no machine does in a
 * quarter of a second.
 */
const RANGE_TRUSTED_MS = 250;
const SMALLEST_TRUSTED_PID_MAX = 32_768;
/** Past this many pids handed out, listing /proc is as cheap as opening each one. */
const MOST_PIDS_OPENED = 256;

/**
 * The pids (and thread ids: they share the numbers) handed out after `after` up to `last`, given
 * that pids wrap below `pidMax`; undefined when they are too many to open one by one.
 */
export function pidsHandedOutAfter(after: number, last: number, pidMax: number): number[] | undefined {
  const count = last >= after ? last - after : pidMax - 1 - after + last;
  if (count > MOST_PIDS_OPENED) return undefined;
  const pids: number[] = [];
  for (let pid = after + 1; pids.length < count; pid++) {
    if (pid >= pidMax) pid = 1;
    pids.push(pid);
  }
  return pids;
}

let pidMaxValue: number | undefined;

/** pid_max: pids are handed out below it, then start again from the bottom. */
function pidMax(): number {
  pidMaxValue ??= readNumber('/proc/sys/kernel/pid_max') ?? 1 << 22;
  return pidMaxValue;
}

/**
 * Whether `pid` is a process rather than a thread of one. Thread ids share the pid numbers and
 * /proc/<tid>/environ shows the environment of the thread's process; that process is found by its
 * own pid, so its threads are not reported beside it.
 */
export function isProcess(pid: number): boolean {
  try {
    return /^Tgid:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'))?.[1] === String(pid);
  } catch {
    return false;
  }
}

function lastPidHandedOut(): number | undefined {
  return readNumber('/proc/sys/kernel/ns_last_pid');
}

function readNumber(file: string): number | undefined {
  try {
    const value = Number(fs.readFileSync(file, 'latin1').trim());
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

// Direct readers of Linux's /proc. Measured on this project's 2-core box, reading the stat files of
// 8 agent trees this way takes about 2 ms, while `ps` (pidtree) or a scan of every /proc entry takes
// 10-40 ms; so Linux reads /proc and other platforms go through pidtree/pidusage (see usage.ts).
// The reads are synchronous on purpose: each is a tiny in-memory pseudo-file, and going through
// libuv's thread pool costs more than the read itself (a full async scan measured 3x slower).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';

/** True where /proc has the layout these readers expect. */
export const hasLinuxProc: boolean = process.platform === 'linux' && fs.existsSync('/proc/self/stat');

/** The fields of /proc/<pid>/stat this project uses. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** Process group id. */
  pgid: number;
  /** One-letter state: R running, S sleeping, Z zombie, ... */
  state: string;
  /** User plus system CPU time of the process itself, in clock ticks. */
  cpuTicks: number;
  /** Start time in clock ticks since boot; with the pid it identifies a process across pid reuse. */
  startTicks: number;
  /** Resident set size in pages. */
  rssPages: number;
}

/** Field positions in /proc/<pid>/stat counted from the state field (proc(5) numbers minus 3). */
const STAT_FIELD = { state: 0, ppid: 1, pgrp: 2, utime: 11, stime: 12, starttime: 19, rss: 21 } as const;

/** Parses one /proc/<pid>/stat line. The command name may hold spaces and parentheses, so the
 * fields are taken after the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const nameEnd = text.lastIndexOf(')');
  if (nameEnd < 0) return undefined;
  const fields = text.slice(nameEnd + 2).split(' ');
  if (fields.length <= STAT_FIELD.rss) return undefined;
  const numberAt = (index: number): number => Number(fields[index]);
  return {
    pid: Number(text.slice(0, text.indexOf(' '))),
    ppid: numberAt(STAT_FIELD.ppid),
    pgid: numberAt(STAT_FIELD.pgrp),
    state: fields[STAT_FIELD.state] ?? '?',
    cpuTicks: numberAt(STAT_FIELD.utime) + numberAt(STAT_FIELD.stime),
    startTicks: numberAt(STAT_FIELD.starttime),
    rssPages: numberAt(STAT_FIELD.rss),
  };
}

/** Reads /proc/<pid>/stat; undefined when the process is gone (or never was). */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return undefined;
  }
}

let childrenFilesSupported: boolean | undefined;

/** Whether the kernel offers /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN). */
export function canListChildrenDirectly(): boolean {
  childrenFilesSupported ??= hasLinuxProc && fs.existsSync(`/proc/self/task/${process.pid}/children`);
  return childrenFilesSupported;
}

/** Direct children of a process, read from the children file of each of its threads (a child
 * belongs to the thread that forked it, and Node forks from worker threads too). */
export function readChildPids(pid: number): number[] {
  let threadIds: string[];
  try {
    threadIds = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children: number[] = [];
  for (const threadId of threadIds) {
    let text: string;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${threadId}/children`, 'latin1');
    } catch {
      continue;
    }
    for (const word of text.split(' ')) {
      if (word.length > 0) children.push(Number(word));
    }
  }
  return children;
}

/** Every pid currently listed in /proc. */
export function listAllPids(): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    const code = name.charCodeAt(0);
    if (code >= 48 && code <= 57) pids.push(Number(name));
  }
  return pids;
}

/** Reads the stat of every process. About 17 µs per process; used only where a whole-table view
 * is needed (finding process-group members before a kill, or when children files are missing). */
export function readAllProcStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const pid of listAllPids()) {
    const stat = readProcStat(pid);
    if (stat) stats.push(stat);
  }
  return stats;
}

/** Seconds since boot, as a float, from /proc/uptime. */
export function readUptimeSeconds(): number {
  return Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
}

export interface KernelUnits {
  clockTicksPerSecond: number;
  pageSizeBytes: number;
}

let kernelUnits: KernelUnits | undefined;

/**
 * Clock ticks per second and page size, read once from the kernel's auxiliary vector of this
 * process (Node exposes neither), else asked from getconf; 100 and 4096 are the Linux defaults
 * when both fail. The vector needs no child process: two getconf runs cost ~10 ms each, on the
 * path of every pool's start (and synchronously, where that is the editor's thread).
 */
export function getKernelUnits(): KernelUnits {
  if (kernelUnits) return kernelUnits;
  const fromVector = readAuxiliaryVector();
  kernelUnits = {
    clockTicksPerSecond: positive(fromVector.get(AT_CLKTCK)) ?? readGetconf('CLK_TCK') ?? 100,
    pageSizeBytes: positive(fromVector.get(AT_PAGESZ)) ?? readGetconf('PAGESIZE') ?? 4096,
  };
  return kernelUnits;
}

/** Entry types of the auxiliary vector (<elf.h>). */
const AT_PAGESZ = 6;
const AT_CLKTCK = 17;

/**
 * The numeric entries of /proc/self/auxv: pairs of native words (type, value), ended by type 0.
 * Empty when it cannot be read or the word size is not known for this architecture.
 */
export function readAuxiliaryVector(): Map<number, number> {
  const entries = new Map<number, number>();
  const wordBytes = NATIVE_WORD_BYTES[process.arch];
  if (process.platform !== 'linux' || wordBytes === undefined) return entries;
  let vector: Buffer;
  try {
    vector = fs.readFileSync('/proc/self/auxv');
  } catch {
    return entries;
  }
  const little = os.endianness() === 'LE';
  const word = (offset: number): number => {
    if (wordBytes === 4) return little ? vector.readUInt32LE(offset) : vector.readUInt32BE(offset);
    return Number(little ? vector.readBigUInt64LE(offset) : vector.readBigUInt64BE(offset));
  };
  for (let offset = 0; offset + 2 * wordBytes <= vector.length; offset += 2 * wordBytes) {
    const type = word(offset);
    if (type === 0) break;
    entries.set(type, word(offset + wordBytes));
  }
  return entries;
}

const NATIVE_WORD_BYTES: Partial<Record<string, number>> = { x64: 8, arm64: 8, ppc64: 8, s390x: 8, riscv64: 8, loong64: 8, mips64el: 8, ia32: 4, arm: 4, mips: 4, mipsel: 4, ppc: 4, s390: 4 };

function positive(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : undefined;
}

function readGetconf(name: string): number | undefined {
  try {
    return positive(Number(execFileSync('getconf', [name], { encoding: 'utf8', timeout: 2000 }).trim()));
  } catch {
    return undefined;
  }
}

/** The Linux fields of /proc/meminfo the monitor uses, in bytes. */
export interface MemInfo {
  totalBytes: number;
  freeBytes: number;
  availableBytes: number;
}

/** Parses /proc/meminfo. MemAvailable (kernel 3.14+) counts reclaimable cache, which MemFree and
 * os.freemem() do not; without it the free figure is used. */
export function readMemInfo(): MemInfo | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/meminfo', 'latin1');
  } catch {
    return undefined;
  }
  const kibibytes = (key: string): number | undefined => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const totalBytes = kibibytes('MemTotal');
  const freeBytes = kibibytes('MemFree');
  if (totalBytes === undefined || freeBytes === undefined) return undefined;
  return { totalBytes, freeBytes, availableBytes: kibibytes('MemAvailable') ?? freeBytes };
}

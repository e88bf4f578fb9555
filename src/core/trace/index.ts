// SWARM_TRACE=<file>: where a task's time goes. Every traced phase (claim, prepare, execute,
// collect, complete; inside them the snapshot, slot reset, sandbox, git) appends one JSON line
// `{"pid":…,"phase":"prepare","ms":12.3,"at":…,"task":"…"}` to the file; `at` is when the phase
// ended (epoch ms), so the lines of several processes make one timeline (bench/pool.ts reads it). Lines are short and written with
// O_APPEND, so the agents of a run share one file. Without the variable a phase costs one lookup.
import * as fs from 'fs';

export interface TraceLine {
  pid: number;
  phase: string;
  ms: number;
  /** When the phase ended, in milliseconds since the epoch (0.1 ms steps). */
  at: number;
  task?: string;
}

let openFile: { path: string; fd: number } | undefined;

/** The trace file named by SWARM_TRACE, open for appending; undefined when tracing is off or the file cannot be opened. */
function traceFd(): number | undefined {
  const file = process.env.SWARM_TRACE;
  if (!file) return undefined;
  if (openFile?.path === file) return openFile.fd;
  try {
    if (openFile) fs.closeSync(openFile.fd);
    openFile = undefined;
    openFile = { path: file, fd: fs.openSync(file, 'a') };
    return openFile.fd;
  } catch {
    return undefined; // tracing never fails the work it measures
  }
}

/** Records that `phase` took `ms` (for phases measured by hand). */
export function recordPhase(phase: string, ms: number, task?: string): void {
  const fd = traceFd();
  if (fd === undefined) return;
  const line: TraceLine = { pid: process.pid, phase, ms: tenths(ms), at: tenths(performance.timeOrigin + performance.now()), ...(task !== undefined && { task }) };
  try {
    fs.writeSync(fd, `${JSON.stringify(line)}\n`);
  } catch {
    // A full disk loses trace lines, never the task.
  }
}

function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Runs `work`, recording how long it took (also when it throws). */
export async function tracePhase<T>(phase: string, task: string | undefined, work: () => Promise<T>): Promise<T> {
  if (!process.env.SWARM_TRACE) return work();
  const started = performance.now();
  try {
    return await work();
  } finally {
    recordPhase(phase, performance.now() - started, task);
  }
}

/** Synchronous variant of tracePhase. */
export function tracePhaseSync<T>(phase: string, task: string | undefined, work: () => T): T {
  if (!process.env.SWARM_TRACE) return work();
  const started = performance.now();
  try {
    return work();
  } finally {
    recordPhase(phase, performance.now() - started, task);
  }
}

/** Reads a trace file back: per phase, how many times it ran and its total and mean time. */
export function summarizeTrace(file: string): Array<{ phase: string; count: number; totalMs: number; meanMs: number }> {
  const totals = new Map<string, { count: number; totalMs: number }>();
  for (const text of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!text) continue;
    let line: TraceLine;
    try {
      line = JSON.parse(text) as TraceLine;
    } catch {
      continue; // a line torn by a killed process
    }
    const entry = totals.get(line.phase) ?? { count: 0, totalMs: 0 };
    entry.count += 1;
    entry.totalMs += line.ms;
    totals.set(line.phase, entry);
  }
  return [...totals].map(([phase, { count, totalMs }]) => ({ phase, count, totalMs, meanMs: totalMs / count })).sort((a, b) => b.totalMs - a.totalMs);
}

// CPU % and memory of whole process trees (an agent and everything it started). CPU % comes from
// the growth of each process's CPU time between two samples, like top; 100 % is one core.
// Processes that start and end between two samples are not seen (their CPU time is lost).
import { descendantCpuLimit } from './cpus';
import { defaultUsageReader, type ProcessUsage, type ProcessUsageReader } from './process-usage';

export interface ProcessTreeSample {
  /** The root of the tree. */
  pid: number;
  /** Sum over the tree; 100 is one core fully busy. */
  cpuPercent: number;
  /** Sum of resident memory over the tree (shared pages counted per process, as `ps` does). */
  rssBytes: number;
  /** Processes in the tree; 0 once the root is gone. */
  processCount: number;
}

interface CpuReading {
  cpuMs: number;
  startKey?: number;
}

/** Keeps the previous CPU readings, so each sample reports the CPU used since the last one. */
export class ProcessTreeSampler {
  private previous = new Map<number, CpuReading>();
  private previousAt: number | undefined;
  private readonly maxPercentPerProcess = 100 * descendantCpuLimit();

  constructor(private readonly reader: ProcessUsageReader = defaultUsageReader()) {}

  async sample(rootPids: readonly number[]): Promise<Map<number, ProcessTreeSample>> {
    const trees = await this.reader.readTrees(rootPids);
    const now = performance.now();
    const windowMs = this.previousAt === undefined ? undefined : now - this.previousAt;
    const readings = new Map<number, CpuReading>();
    const samples = new Map<number, ProcessTreeSample>();
    for (const root of rootPids) {
      const usages = trees.get(root) ?? [];
      let cpuPercent = 0;
      let rssBytes = 0;
      for (const usage of usages) {
        cpuPercent += this.cpuPercentOf(usage, windowMs);
        rssBytes += usage.rssBytes;
        readings.set(usage.pid, { cpuMs: usage.cpuMs, startKey: usage.startKey });
      }
      samples.set(root, { pid: root, cpuPercent, rssBytes, processCount: usages.length });
    }
    this.previous = readings;
    this.previousAt = now;
    return samples;
  }

  private cpuPercentOf(usage: ProcessUsage, windowMs: number | undefined): number {
    const before = this.previous.get(usage.pid);
    const sameProcess = before !== undefined && before.startKey === usage.startKey;
    let percent: number;
    if (windowMs !== undefined && sameProcess) {
      percent = ((usage.cpuMs - before.cpuMs) / windowMs) * 100;
    } else if (windowMs !== undefined && usage.ageMs <= windowMs) {
      // Born since the last sample: all of its CPU time falls into this window.
      percent = (usage.cpuMs / windowMs) * 100;
    } else {
      // First sight of an older process: its lifetime average is the best there is.
      percent = (usage.cpuMs / Math.max(usage.ageMs, 1)) * 100;
    }
    // Clock-tick rounding can overshoot for very young processes; no process exceeds the cores it may use.
    return Math.min(Math.max(percent, 0), this.maxPercentPerProcess);
  }
}

/** One tree, measured over `windowMs` (default 500): two readings that far apart. */
export async function sampleProcessTree(pid: number, options: { windowMs?: number; reader?: ProcessUsageReader } = {}): Promise<ProcessTreeSample> {
  const sampler = new ProcessTreeSampler(options.reader);
  await sampler.sample([pid]);
  await new Promise((resolve) => setTimeout(resolve, options.windowMs ?? 500));
  const samples = await sampler.sample([pid]);
  return samples.get(pid) as ProcessTreeSample;
}

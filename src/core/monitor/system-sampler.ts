// Whole-machine CPU and memory. CPU % comes from os.cpus() time deltas between two samples
// (0-100 for the whole machine); free memory from /proc/meminfo MemAvailable on Linux, since
// os.freemem() ignores the page cache the kernel hands back on demand.
import * as os from 'os';
import { readMemInfo } from '../process/linux-proc';

export interface SystemSample {
  /** Busy share of all cores since the previous sample, 0-100. */
  cpuPercent: number;
  cpuCount: number;
  totalMemBytes: number;
  /** Memory not used at all (MemFree). */
  freeMemBytes: number;
  /** Memory available for new processes without swapping (MemAvailable; = free elsewhere). */
  availableMemBytes: number;
  /** 1, 5 and 15 minute load averages (0 on Windows). */
  loadavg: [number, number, number];
}

interface CpuTimes {
  busy: number;
  total: number;
}

function readCpuTimes(): CpuTimes {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

export class SystemSampler {
  private previous: CpuTimes = readCpuTimes();
  private lastCpuPercent = 0;

  sample(): SystemSample {
    const current = readCpuTimes();
    const totalDelta = current.total - this.previous.total;
    // Two samples within one clock tick see no change: keep the last value rather than report 0.
    if (totalDelta > 0) this.lastCpuPercent = clampPercent(((current.busy - this.previous.busy) / totalDelta) * 100);
    this.previous = current;
    const [one = 0, five = 0, fifteen = 0] = os.loadavg();
    return {
      cpuPercent: this.lastCpuPercent,
      cpuCount: os.cpus().length,
      ...readMemory(),
      loadavg: [one, five, fifteen],
    };
  }

  /** Memory only, read now; leaves the CPU window alone (for checks between samples). */
  memory(): Pick<SystemSample, 'totalMemBytes' | 'freeMemBytes' | 'availableMemBytes'> {
    return readMemory();
  }
}

function readMemory(): Pick<SystemSample, 'totalMemBytes' | 'freeMemBytes' | 'availableMemBytes'> {
  const meminfo = readMemInfo();
  if (meminfo) return { totalMemBytes: meminfo.totalBytes, freeMemBytes: meminfo.freeBytes, availableMemBytes: meminfo.availableBytes };
  const free = os.freemem();
  return { totalMemBytes: os.totalmem(), freeMemBytes: free, availableMemBytes: free };
}

function clampPercent(percent: number): number {
  return Math.min(100, Math.max(0, percent));
}

/** The machine measured over `windowMs` (default 250). */
export async function sampleSystem(options: { windowMs?: number } = {}): Promise<SystemSample> {
  const sampler = new SystemSampler();
  await new Promise((resolve) => setTimeout(resolve, options.windowMs ?? 250));
  return sampler.sample();
}

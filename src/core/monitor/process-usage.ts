// Raw CPU time and memory of process trees. Two readers: /proc on Linux (targeted: it reads only the
// tracked trees, about 2 ms for 8 agent trees) and pidtree + pidusage (`ps`) everywhere else.
// Both return cumulative CPU time; turning that into a percentage is the sampler's job.
import pidtree from 'pidtree';
import pidusage from 'pidusage';
import {
  getKernelUnits,
  hasLinuxProc,
  readProcStat,
  readUptimeSeconds,
} from '../process/linux-proc';
import { descendantsFromParentLinks, listDescendantsFromProc } from '../process/process-tree';

export interface ProcessUsage {
  pid: number;
  /** User plus system CPU time used so far, in milliseconds. */
  cpuMs: number;
  rssBytes: number;
  /** Time since the process started, in milliseconds. */
  ageMs: number;
  /** With the pid, identifies the process across pid reuse; undefined where unknown. */
  startKey?: number;
}

export interface ProcessUsageReader {
  readonly name: string;
  /** Usage of each root and of all its descendants (root first). A root that is gone maps to []. */
  readTrees(rootPids: readonly number[]): Promise<Map<number, ProcessUsage[]>>;
}

/** Linux: stat files of the tracked trees only. Synchronous reads; see linux-proc.ts for why. */
export const procfsUsageReader: ProcessUsageReader = {
  name: 'procfs',
  async readTrees(rootPids) {
    const { clockTicksPerSecond, pageSizeBytes } = getKernelUnits();
    const uptimeMs = readUptimeSeconds() * 1000;
    const trees = new Map<number, ProcessUsage[]>();
    for (const root of rootPids) {
      const usages: ProcessUsage[] = [];
      for (const pid of [root, ...listDescendantsFromProc(root)]) {
        const stat = readProcStat(pid);
        if (!stat || stat.state === 'Z') continue;
        usages.push({
          pid,
          cpuMs: (stat.cpuTicks * 1000) / clockTicksPerSecond,
          rssBytes: stat.rssPages * pageSizeBytes,
          ageMs: Math.max(0, uptimeMs - (stat.startTicks * 1000) / clockTicksPerSecond),
          startKey: stat.startTicks,
        });
      }
      trees.set(root, usages);
    }
    return trees;
  },
};

/** Portable: one `ps` for the parent links of every process (pidtree), one for the usage of the
 * tracked trees (pidusage). `usePs` makes pidusage use `ps` on Linux too (for tests). */
export function createPsUsageReader(options: { usePs?: boolean } = {}): ProcessUsageReader {
  return {
    name: 'ps',
    async readTrees(rootPids) {
      const links = await pidtree(-1, { advanced: true });
      const running = new Set(links.map((link) => link.pid));
      const treePids = new Map<number, number[]>();
      for (const root of rootPids) {
        treePids.set(root, running.has(root) ? [root, ...descendantsFromParentLinks(root, links)] : []);
      }
      const usage = await readPidusage([...new Set([...treePids.values()].flat())], options.usePs === true);
      const trees = new Map<number, ProcessUsage[]>();
      for (const [root, pids] of treePids) {
        trees.set(root, pids.flatMap((pid) => usage.get(pid) ?? []));
      }
      return trees;
    },
  };
}

async function readPidusage(pids: number[], usePs: boolean): Promise<Map<number, ProcessUsage>> {
  const usage = new Map<number, ProcessUsage>();
  if (pids.length === 0) return usage;
  // maxage 0: pidusage keeps no history of its own (we compute CPU % from cpu time ourselves).
  const options = { maxage: 0, usePs };
  let stats: Record<string, pidusage.Status>;
  try {
    stats = await pidusage(pids, options);
  } catch {
    // The batch fails as a whole when a pid exited since pidtree listed it; ask one by one.
    stats = {};
    for (const pid of pids) {
      try {
        stats[pid] = await pidusage(pid, options);
      } catch {
        // exited meanwhile
      }
    }
  }
  for (const stat of Object.values(stats)) {
    if (stat) usage.set(stat.pid, { pid: stat.pid, cpuMs: stat.ctime, rssBytes: stat.memory, ageMs: stat.elapsed });
  }
  return usage;
}

export function defaultUsageReader(): ProcessUsageReader {
  return hasLinuxProc ? procfsUsageReader : createPsUsageReader();
}

// The resource monitor: samples every tracked agent's process tree (the agent and all it started)
// and the machine, keeps a ring buffer of snapshots, warns when a limit is crossed, reports agents
// over their memory limit (the pool stops them), and answers the pool's safe-spawn check.
import fs from 'node:fs';
import path from 'node:path';
import type { SystemResources } from '../pool/types';
import { formatBytes, formatPercent } from './format';
import { defaultUsageReader, type ProcessUsageReader } from './process-usage';
import { RingBuffer } from './ring-buffer';
import { SystemSampler, type SystemSample } from './system-sampler';
import { ProcessTreeSampler } from './tree-sampler';
import { TypedEmitter, type Disposable } from './typed-emitter';

export { formatBytes, formatPercent } from './format';
export { RingBuffer } from './ring-buffer';
export { SystemSampler, sampleSystem, type SystemSample } from './system-sampler';
export { ProcessTreeSampler, sampleProcessTree, type ProcessTreeSample } from './tree-sampler';
export { defaultUsageReader, procfsUsageReader, createPsUsageReader, type ProcessUsage, type ProcessUsageReader } from './process-usage';
export { TypedEmitter, type Disposable } from './typed-emitter';

export interface MonitorLimits {
  /** Resident memory of one agent's tree; above it the agent gets an `agent-over-memory` event. */
  agentMemoryBytes?: number;
  /** Resident memory of all agent trees together. */
  totalMemoryBytes?: number;
  /** Whole-machine CPU, 0-100; judged on the average of the last few samples, so one spike does not count. */
  maxCpuPercent?: number;
  /** Memory the machine must keep available (MemAvailable) for another agent to start. */
  minFreeMemoryBytes?: number;
}

export interface AgentUsage {
  agentId: string;
  pid: number;
  /** Sum over the tree; 100 is one core. */
  cpuPercent: number;
  rssBytes: number;
  /** Processes in the tree; 0 once the agent is gone. */
  processCount: number;
}

export interface MonitorSnapshot {
  at: number;
  system: SystemResources;
  agents: AgentUsage[];
  totalAgentRssBytes: number;
}

export type MonitorEvent =
  | { type: 'snapshot'; snapshot: MonitorSnapshot }
  | { type: 'agent-over-memory'; agentId: string; pid: number; rssBytes: number; limitBytes: number }
  | { type: 'warning'; message: string };

export interface ResourceMonitorOptions {
  /** Time between samples after start(). Default 1000. */
  intervalMs?: number;
  /** Snapshots kept in history(). Default 300 (five minutes at the default interval). */
  historySize?: number;
  limits?: MonitorLimits;
  /**
   * Where the Linux proc filesystem is (default /proc). Read for the machine's memory (meminfo);
   * pointing it at a directory with a crafted meminfo lets tests play a machine low on memory.
   * Process trees are always read from the live system.
   */
  procRoot?: string;
  /** How process trees are read; defaults to /proc on Linux and `ps` elsewhere. */
  reader?: ProcessUsageReader;
}

/** Samples averaged for the CPU ceiling. */
const CPU_SMOOTHING_SAMPLES = 3;

type LimitName = 'total-memory' | 'cpu' | 'free-memory';

interface MonitorEvents {
  event: MonitorEvent;
}

export class ResourceMonitor {
  private readonly intervalMs: number;
  private readonly limits: MonitorLimits;
  private readonly procRoot: string | undefined;
  private readonly tracked = new Map<string, number>();
  private readonly buffer: RingBuffer<MonitorSnapshot>;
  private readonly treeSampler: ProcessTreeSampler;
  private readonly systemSampler = new SystemSampler();
  private readonly emitter = new TypedEmitter<MonitorEvents>();
  /** Limits currently exceeded, so a warning is given once per crossing. */
  private readonly crossed = new Set<LimitName>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<MonitorSnapshot> | undefined;

  constructor(options: ResourceMonitorOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.limits = { ...options.limits };
    this.procRoot = options.procRoot === undefined || path.resolve(options.procRoot) === '/proc' ? undefined : options.procRoot;
    this.buffer = new RingBuffer(options.historySize ?? 300);
    this.treeSampler = new ProcessTreeSampler(options.reader ?? defaultUsageReader());
  }

  /** Samples now and then every intervalMs. The timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
    this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Watches `pid` and every process below it under `agentId`; a new pid replaces the old one. */
  track(agentId: string, pid: number): void {
    this.tracked.set(agentId, pid);
  }

  untrack(agentId: string): void {
    this.tracked.delete(agentId);
  }

  /** Takes a sample at once. Calls made while one is running share it. */
  sampleNow(): Promise<MonitorSnapshot> {
    this.inFlight ??= this.takeSample().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  latest(): MonitorSnapshot | undefined {
    return this.buffer.latest();
  }

  /** Recent snapshots, oldest first. */
  history(): MonitorSnapshot[] {
    return this.buffer.toArray();
  }

  /**
   * The safe-spawn check: no new agent while the machine is short of memory, the agents together
   * are over their memory budget, or the CPU is over its ceiling. Memory available is read fresh;
   * the rest comes from the latest samples (nothing blocks before the first one).
   */
  canSpawn(): { ok: true } | { ok: false; reason: string } {
    const { minFreeMemoryBytes, totalMemoryBytes, maxCpuPercent } = this.limits;
    if (minFreeMemoryBytes !== undefined) {
      const available = this.readMemory().availableMemBytes;
      if (available < minFreeMemoryBytes) {
        return { ok: false, reason: `Only ${formatBytes(available)} of memory is available, below the ${formatBytes(minFreeMemoryBytes)} kept free; no new agent starts until memory frees up.` };
      }
    }
    const latest = this.buffer.latest();
    if (latest && totalMemoryBytes !== undefined && latest.totalAgentRssBytes >= totalMemoryBytes) {
      return { ok: false, reason: `The agents use ${formatBytes(latest.totalAgentRssBytes)} of memory together, at or over the ${formatBytes(totalMemoryBytes)} limit; no new agent starts until it drops.` };
    }
    const cpu = this.recentCpuPercent();
    if (cpu !== undefined && maxCpuPercent !== undefined && cpu >= maxCpuPercent) {
      return { ok: false, reason: `The CPU is ${formatPercent(cpu)} busy, at or over the ${formatPercent(maxCpuPercent)} ceiling; no new agent starts until it calms down.` };
    }
    return { ok: true };
  }

  onEvent(listener: (event: MonitorEvent) => void): Disposable {
    return this.emitter.on('event', listener);
  }

  private tick(): void {
    this.sampleNow().catch((error: unknown) => {
      this.emitter.emit('event', { type: 'warning', message: `The resource monitor could not take a sample: ${error instanceof Error ? error.message : String(error)}` });
    });
  }

  private async takeSample(): Promise<MonitorSnapshot> {
    const agents = [...this.tracked];
    const trees = await this.treeSampler.sample(agents.map(([, pid]) => pid));
    const system = this.readSystem();
    const usages: AgentUsage[] = agents.map(([agentId, pid]) => {
      const tree = trees.get(pid);
      return { agentId, pid, cpuPercent: round(tree?.cpuPercent ?? 0), rssBytes: tree?.rssBytes ?? 0, processCount: tree?.processCount ?? 0 };
    });
    const snapshot: MonitorSnapshot = {
      at: Date.now(),
      system,
      agents: usages,
      totalAgentRssBytes: usages.reduce((sum, usage) => sum + usage.rssBytes, 0),
    };
    this.buffer.push(snapshot);
    this.emitter.emit('event', { type: 'snapshot', snapshot });
    this.reportAgentsOverMemory(usages);
    this.reportLimitCrossings(snapshot);
    return snapshot;
  }

  /** Repeats on every sample while an agent stays over, so a stop that failed is asked for again. */
  private reportAgentsOverMemory(usages: AgentUsage[]): void {
    const limitBytes = this.limits.agentMemoryBytes;
    if (limitBytes === undefined) return;
    for (const usage of usages) {
      // An agent untracked while this sample ran (stopped already) is not reported.
      if (usage.rssBytes > limitBytes && this.tracked.get(usage.agentId) === usage.pid) {
        this.emitter.emit('event', { type: 'agent-over-memory', agentId: usage.agentId, pid: usage.pid, rssBytes: usage.rssBytes, limitBytes });
      }
    }
  }

  private reportLimitCrossings(snapshot: MonitorSnapshot): void {
    const { totalMemoryBytes, maxCpuPercent, minFreeMemoryBytes } = this.limits;
    const cpu = this.recentCpuPercent();
    this.crossing(
      'total-memory',
      totalMemoryBytes !== undefined && snapshot.totalAgentRssBytes > totalMemoryBytes,
      () => `The agents use ${formatBytes(snapshot.totalAgentRssBytes)} of memory together, over the ${formatBytes(totalMemoryBytes ?? 0)} limit. No new agents start until it drops; lower the number of agents if this persists.`,
    );
    this.crossing(
      'cpu',
      maxCpuPercent !== undefined && cpu !== undefined && cpu > maxCpuPercent,
      () => `The CPU is ${formatPercent(cpu ?? 0)} busy, over the ${formatPercent(maxCpuPercent ?? 0)} ceiling. No new agents start until it calms down.`,
    );
    this.crossing(
      'free-memory',
      minFreeMemoryBytes !== undefined && snapshot.system.availableMemBytes < minFreeMemoryBytes,
      () => `Only ${formatBytes(snapshot.system.availableMemBytes)} of memory is available, below the ${formatBytes(minFreeMemoryBytes ?? 0)} kept free. No new agents start until memory frees up.`,
    );
  }

  private crossing(name: LimitName, over: boolean, message: () => string): void {
    if (!over) {
      this.crossed.delete(name);
      return;
    }
    if (this.crossed.has(name)) return;
    this.crossed.add(name);
    this.emitter.emit('event', { type: 'warning', message: message() });
  }

  private recentCpuPercent(): number | undefined {
    const recent = this.buffer.toArray(CPU_SMOOTHING_SAMPLES);
    if (recent.length === 0) return undefined;
    return recent.reduce((sum, snapshot) => sum + snapshot.system.cpuPercent, 0) / recent.length;
  }

  private readSystem(): SystemResources {
    const sample = this.systemSampler.sample();
    const memory = this.procRoot === undefined ? sample : { ...sample, ...this.readMemory() };
    return { cpuPercent: round(sample.cpuPercent), totalMemBytes: memory.totalMemBytes, availableMemBytes: memory.availableMemBytes };
  }

  private readMemory(): Pick<SystemSample, 'totalMemBytes' | 'availableMemBytes'> {
    if (this.procRoot !== undefined) {
      const fromRoot = readMeminfoAt(path.join(this.procRoot, 'meminfo'));
      if (fromRoot) return fromRoot;
    }
    const { totalMemBytes, availableMemBytes } = this.systemSampler.memory();
    return { totalMemBytes, availableMemBytes };
  }
}

/** MemTotal and MemAvailable (MemFree on kernels without it) of a meminfo file, in bytes. */
function readMeminfoAt(file: string): Pick<SystemSample, 'totalMemBytes' | 'availableMemBytes'> | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
  const kibibytes = (key: string): number | undefined => {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : undefined;
  };
  const totalMemBytes = kibibytes('MemTotal');
  const availableMemBytes = kibibytes('MemAvailable') ?? kibibytes('MemFree');
  return totalMemBytes === undefined || availableMemBytes === undefined ? undefined : { totalMemBytes, availableMemBytes };
}

function round(percent: number): number {
  return Math.round(percent * 10) / 10;
}

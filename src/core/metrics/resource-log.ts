// A compact on-disk record of the pool's resource figures, so a report written later (by the CLI,
// after the window closed) still knows the run's CPU and memory peaks. One JSON line per window of
// a few seconds holding each agent's highest figures in that window: peaks survive the downsampling.
import * as fs from 'fs';
import * as path from 'path';
import type { PoolStats } from '../pool/types';
import { resourceSampleOf } from './collector';
import type { PoolSource } from './feed';
import type { ResourceSample } from './types';

export const RESOURCE_LOG_DIR = 'metrics';
export const RESOURCE_LOG_FILE = 'resources.jsonl';
const ROTATED_FILE = 'resources.1.jsonl';

export interface ResourceLogOptions {
  /** Window whose peaks make one line (default 5 s). */
  windowMs?: number;
  /** Size at which the log is rotated to resources.1.jsonl (default 4 MB); two files at most. */
  maxBytes?: number;
}

export function resourceLogPath(boardRoot: string): string {
  return path.join(boardRoot, RESOURCE_LOG_DIR, RESOURCE_LOG_FILE);
}

export class ResourceLog {
  readonly file: string;
  private readonly windowMs: number;
  private readonly maxBytes: number;
  private window: ResourceSample | undefined;

  constructor(boardRoot: string, options: ResourceLogOptions = {}) {
    this.file = resourceLogPath(boardRoot);
    this.windowMs = options.windowMs ?? 5_000;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  }

  /** Folds a stats snapshot into the current window; writes the window out once it is old enough. */
  record(stats: PoolStats, at: number = Date.now()): void {
    const sample = resourceSampleOf(stats, at);
    this.window = this.window ? mergePeaks(this.window, sample) : sample;
    if (at - this.window.at >= this.windowMs) this.flush();
  }

  /** Writes the current window, if any. */
  flush(): void {
    if (!this.window) return;
    const line = JSON.stringify(this.window) + '\n';
    this.window = undefined;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const size = fs.statSync(this.file, { throwIfNoEntry: false })?.size ?? 0;
    if (size + line.length > this.maxBytes) fs.renameSync(this.file, path.join(path.dirname(this.file), ROTATED_FILE));
    fs.appendFileSync(this.file, line);
  }
}

/** Keeps the highest figure of each agent and of the machine; the window keeps its start time. */
function mergePeaks(window: ResourceSample, next: ResourceSample): ResourceSample {
  const agents = new Map(window.agents.map((agent) => [agent.id, { ...agent }]));
  for (const agent of next.agents) {
    const seen = agents.get(agent.id);
    if (!seen) agents.set(agent.id, { ...agent });
    else {
      seen.cpuPercent = Math.max(seen.cpuPercent, agent.cpuPercent);
      seen.rssBytes = Math.max(seen.rssBytes, agent.rssBytes);
    }
  }
  const system =
    window.system && next.system
      ? { cpuPercent: Math.max(window.system.cpuPercent, next.system.cpuPercent), usedBytes: Math.max(window.system.usedBytes, next.system.usedBytes) }
      : (window.system ?? next.system);
  return { at: window.at, liveAgents: Math.max(window.liveAgents, next.liveAgents), agents: [...agents.values()], ...(system ? { system } : {}) };
}

/** Every recorded sample of a board, oldest first; torn or foreign lines are skipped. */
export function readResourceLog(boardRoot: string): ResourceSample[] {
  const dir = path.join(boardRoot, RESOURCE_LOG_DIR);
  const samples: ResourceSample[] = [];
  for (const name of [ROTATED_FILE, RESOURCE_LOG_FILE]) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, name), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const sample = parseSample(line);
      if (sample) samples.push(sample);
    }
  }
  return samples.sort((a, b) => a.at - b.at);
}

function parseSample(line: string): ResourceSample | undefined {
  if (line.trim().length === 0) return undefined;
  try {
    const value = JSON.parse(line) as Partial<ResourceSample>;
    if (typeof value.at !== 'number' || !Array.isArray(value.agents)) return undefined;
    return { at: value.at, liveAgents: value.liveAgents ?? value.agents.length, agents: value.agents, ...(value.system ? { system: value.system } : {}) };
  } catch {
    return undefined;
  }
}

/** Records a pool's resource figures into its board's resource log while the pool runs. */
export function recordPoolResources(
  pool: PoolSource,
  boardRoot: string,
  options: ResourceLogOptions & { sampleMs?: number; onError?: (error: unknown) => void } = {},
): { dispose(): void } {
  const log = new ResourceLog(boardRoot, options);
  const record = (stats: PoolStats): void => {
    if (!stats.running) return;
    try {
      log.record(stats);
    } catch (error) {
      options.onError?.(error);
    }
  };
  const sample = (): void => {
    try {
      record(pool.stats());
    } catch (error) {
      options.onError?.(error);
    }
  };
  const timer = setInterval(sample, options.sampleMs ?? 1_000);
  timer.unref?.();
  const subscription = pool.onEvent((event) => {
    if (event.type === 'stats') record(event.stats);
  });
  return {
    dispose: () => {
      clearInterval(timer);
      subscription.dispose();
      try {
        log.flush();
      } catch (error) {
        options.onError?.(error);
      }
    },
  };
}

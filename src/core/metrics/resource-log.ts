// A compact record of the pool's resource figures, so a report written later (by the CLI, after the
// window closed) still knows the run's CPU and memory peaks. One JSON line per window of a few
// seconds holding each agent's highest figures in that window: peaks survive the downsampling. A
// file board keeps the lines in its folder (metrics/resources.jsonl); the Redis board keeps them on
// the server (appendResourceLine/readResourceLines), each with the id of the host that wrote it.
import * as fs from 'fs';
import * as path from 'path';
import type { PoolStats } from '../pool/types';
import { resourceSampleOf } from './collector';
import type { PoolSource } from './feed';
import { RESOURCE_WINDOW_MS, type ResourceSample } from './types';
import { FileBoard } from '../board/fileBoard';

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

/** Where a board keeps its resource log: a file board's folder, or the Redis board's list. */
export interface ResourceStore {
  /** Appends one window's line (JSON, no newline); a remote store may finish later. */
  append(line: string): void | Promise<void>;
  /** Every kept line, oldest first. */
  lines(): Promise<string[]>;
}

/** The folder of the pool's resource log beside a file board (undefined for any other board). */
export function resourceLogRoot(board: unknown): string | undefined {
  return board instanceof FileBoard ? board.root : undefined;
}

/** The part of the Redis board (redis/board.ts) that keeps resource lines; duck-typed so the metrics never load it. */
interface ResourceLinesBoard {
  appendResourceLine(line: string): Promise<void>;
  readResourceLines(): Promise<string[]>;
}

function keepsResourceLines(board: unknown): board is ResourceLinesBoard {
  const candidate = board as Partial<ResourceLinesBoard> | null;
  return typeof candidate?.appendResourceLine === 'function' && typeof candidate.readResourceLines === 'function';
}

/** The store of a board that keeps a resource log, or undefined (a board that keeps none). */
export function resourceStoreOf(board: unknown, options: Pick<ResourceLogOptions, 'maxBytes'> = {}): ResourceStore | undefined {
  const root = resourceLogRoot(board);
  if (root !== undefined) return fileResourceStore(root, options);
  if (!keepsResourceLines(board)) return undefined;
  return { append: (line) => board.appendResourceLine(line), lines: () => board.readResourceLines() };
}

/** The log in a file board's folder: resources.jsonl, rotated once to resources.1.jsonl. */
export function fileResourceStore(boardRoot: string, options: Pick<ResourceLogOptions, 'maxBytes'> = {}): ResourceStore {
  const file = resourceLogPath(boardRoot);
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  return {
    append: (text) => {
      const line = text + '\n';
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
      if (size + line.length > maxBytes) fs.renameSync(file, path.join(path.dirname(file), ROTATED_FILE));
      fs.appendFileSync(file, line);
    },
    lines: async () => readLogLines(boardRoot),
  };
}

export class ResourceLog {
  private readonly store: ResourceStore;
  private readonly windowMs: number;
  private readonly host: string | undefined;
  private readonly onError: (error: unknown) => void;
  private window: ResourceSample | undefined;
  private writing: Promise<void> = Promise.resolve();

  /** `target`: a file board's folder, or any store; `host` marks the lines on a board several hosts share. */
  constructor(target: string | ResourceStore, options: ResourceLogOptions & { host?: string; onError?: (error: unknown) => void } = {}) {
    this.store = typeof target === 'string' ? fileResourceStore(target, options) : target;
    this.windowMs = options.windowMs ?? RESOURCE_WINDOW_MS;
    this.host = options.host;
    this.onError = options.onError ?? (() => undefined);
  }

  /** Folds a stats snapshot into the current window; writes the window out once it is old enough. */
  record(stats: PoolStats, at: number = Date.now()): void {
    const sample = resourceSampleOf(stats, at);
    this.window = this.window ? mergePeaks(this.window, sample) : sample;
    if (at - this.window.at >= this.windowMs) this.flush();
  }

  /**
   * Writes the current window, if any. A file store writes before this returns (and throws its
   * error); a remote store's write finishes later: `settled()` waits for it, `onError` hears its failure.
   */
  flush(): void {
    if (!this.window) return;
    const line = JSON.stringify(this.host === undefined ? this.window : { ...this.window, host: this.host });
    this.window = undefined;
    const written = this.store.append(line);
    if (written) this.writing = this.writing.then(() => written).catch(this.onError);
  }

  /** Resolves when every line handed to a remote store was written (or failed). */
  settled(): Promise<void> {
    return this.writing;
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

/** Every recorded sample of a file board, oldest first; torn or foreign lines are skipped. */
export function readResourceLog(boardRoot: string): ResourceSample[] {
  return samplesOfLines(readLogLines(boardRoot));
}

/** Every sample of a board that keeps a resource log (none for a board that keeps none). */
export async function readBoardResources(board: unknown): Promise<ResourceSample[]> {
  const store = resourceStoreOf(board);
  return store ? samplesOfLines(await store.lines()) : [];
}

function readLogLines(boardRoot: string): string[] {
  const dir = path.join(boardRoot, RESOURCE_LOG_DIR);
  const lines: string[] = [];
  for (const name of [ROTATED_FILE, RESOURCE_LOG_FILE]) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, name), 'utf8');
    } catch {
      continue;
    }
    lines.push(...text.split('\n'));
  }
  return lines;
}

function samplesOfLines(lines: string[]): ResourceSample[] {
  return lines.flatMap((line) => parseSample(line) ?? []).sort((a, b) => a.at - b.at);
}

/**
 * A line as a sample. Lines of a shared board carry their host's id: its agents' ids are prefixed
 * with it, so agents of two machines that share a name stay apart.
 */
function parseSample(line: string): ResourceSample | undefined {
  if (line.trim().length === 0) return undefined;
  try {
    const value = JSON.parse(line) as Partial<ResourceSample> & { host?: unknown };
    if (typeof value.at !== 'number' || !Array.isArray(value.agents)) return undefined;
    const host = typeof value.host === 'string' ? value.host : undefined;
    const agents = host === undefined ? value.agents : value.agents.map((agent) => ({ ...agent, id: `${host}/${agent.id}` }));
    return { at: value.at, ...(host !== undefined && { host }), liveAgents: value.liveAgents ?? value.agents.length, agents, ...(value.system ? { system: value.system } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * Records a pool's resource figures into its board's resource log while the pool runs. `dispose()`
 * writes the last window and resolves once a remote store has it.
 */
export function recordPoolResources(
  pool: PoolSource,
  target: string | ResourceStore,
  options: ResourceLogOptions & { sampleMs?: number; host?: string; onError?: (error: unknown) => void } = {},
): { dispose(): Promise<void> } {
  const log = new ResourceLog(target, options);
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
      return log.settled();
    },
  };
}

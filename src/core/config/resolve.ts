// Precedence: CLI flags over VS Code settings over swarm.config.json over built-in defaults, field
// by field. Named entries (executors, rate limits) are replaced whole: half of one executor and
// half of another is never what anyone meant.
import * as os from 'os';
import * as path from 'path';
import type { EndpointLimits } from '../ratelimit/types';
import type { ExecutorConfigInput } from '../executors/config';
import { AGENT_NAMES } from '../executors/presets';
import type { SandboxSettings } from '../sandbox/types';
import { ConfigError } from './errors';
import { type ConfigProblem, jsonPathText, schemaProblems } from './problems';
import { type SwarmConfig, type SwarmConfigInput, swarmConfigSchema } from './schema';

export type ConfigLayerName = 'file' | 'settings' | 'flags';

export interface ConfigLayers {
  file?: SwarmConfigInput;
  settings?: SwarmConfigInput;
  flags?: SwarmConfigInput;
}

export interface EffectiveConfig {
  config: SwarmConfig;
  /** Which layer each set field came from, by JSON path (`pool.maxAgents`, `executors.fast`). */
  origins: Record<string, ConfigLayerName>;
  /** Problems in the merged result, attributed to the layer that set the field; config is then the file's alone. */
  errors: ConfigProblem[];
}

const LAYER_ORDER: readonly ConfigLayerName[] = ['file', 'settings', 'flags'];
const SECTIONS = ['pool', 'worktrees', 'sandbox'] as const;
const NAMED = ['executors', 'rateLimits'] as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function resolveEffectiveConfig(layers: ConfigLayers): EffectiveConfig {
  const merged: Record<string, unknown> = {};
  const origins: Record<string, ConfigLayerName> = {};
  for (const layerName of LAYER_ORDER) {
    const layer = withSandboxObject(layers[layerName] as Record<string, unknown> | undefined);
    if (!layer) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined || key === '$schema') continue;
      if ((SECTIONS as readonly string[]).includes(key) || (NAMED as readonly string[]).includes(key)) {
        if (!isPlainObject(value)) {
          merged[key] = value;
          origins[key] = layerName;
          continue;
        }
        const section = { ...(isPlainObject(merged[key]) ? merged[key] : {}) };
        for (const [field, fieldValue] of Object.entries(value)) {
          if (fieldValue === undefined) continue;
          section[field] = fieldValue;
          origins[jsonPathText([key, field])] = layerName;
        }
        merged[key] = section;
      } else {
        merged[key] = value;
        origins[key] = layerName;
      }
    }
  }
  const parsed = swarmConfigSchema.safeParse(merged);
  if (parsed.success) return { config: parsed.data, origins, errors: [] };
  const problems = schemaProblems('', '', undefined, merged, parsed.error).map((problem) => ({ ...problem, file: originOf(problem.path, origins) }));
  const fileOnly = swarmConfigSchema.safeParse(layers.file ?? {});
  return { config: fileOnly.success ? fileOnly.data : {}, origins, errors: problems };
}

/** `"sandbox": "off"` is short for `{ "mode": "off" }`; merged field by field like the other sections. */
function withSandboxObject(layer: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!layer || typeof layer.sandbox !== 'string') return layer;
  return { ...layer, sandbox: { mode: layer.sandbox } };
}

function originOf(pathText: string, origins: Record<string, ConfigLayerName>): string {
  let best: ConfigLayerName | undefined;
  let bestLength = -1;
  for (const [key, layer] of Object.entries(origins)) {
    if ((pathText === key || pathText.startsWith(`${key}.`) || pathText.startsWith(`${key}[`)) && key.length > bestLength) {
      best = layer;
      bestLength = key.length;
    }
  }
  return best === undefined ? 'configuration' : best === 'file' ? 'swarm.config.json' : best === 'settings' ? 'VS Code settings' : 'command-line flags';
}

/**
 * The executor to run: `name` (a flag or setting), else `defaultExecutor`, else the only entry.
 * A bare agent CLI name works without an entry. The top-level `verify` applies to an executor
 * that has none of its own. Undefined when nothing is chosen.
 */
export function selectExecutor(config: SwarmConfig, name?: string): ExecutorConfigInput | undefined {
  const executors = config.executors ?? {};
  const chosen = name ?? config.defaultExecutor ?? (Object.keys(executors).length === 1 ? Object.keys(executors)[0] : undefined);
  if (chosen === undefined) return undefined;
  let entry: ExecutorConfigInput | undefined = executors[chosen];
  if (entry === undefined && (AGENT_NAMES as readonly string[]).includes(chosen)) entry = { type: 'agent', agent: chosen as (typeof AGENT_NAMES)[number] };
  if (entry === undefined) {
    throw new ConfigError(`No executor named "${chosen}" in swarm.config.json; define it under "executors" or use one of: ${[...Object.keys(executors), ...AGENT_NAMES].join(', ')}.`);
  }
  return entry.verify === undefined && config.verify !== undefined ? { ...entry, verify: config.verify } : entry;
}

/**
 * Every named executor of the configuration (the file's top-level verify applied as selectExecutor
 * does): the only executors a task may ask for by name (best of N). Tasks never bring their own.
 */
export function namedExecutorsFrom(config: SwarmConfig): Record<string, ExecutorConfigInput> {
  return Object.fromEntries(Object.keys(config.executors ?? {}).map((name) => [name, selectExecutor(config, name) as ExecutorConfigInput]));
}

const MB = 1024 * 1024;

/** The pool's options from `pool` (AgentPool's PoolOptions fields). */
export function poolSettingsFrom(config: SwarmConfig): {
  minAgents?: number;
  maxAgents?: number;
  agentsPerProcess?: number | 'auto';
  idleTimeoutMs?: number;
  leaseMs?: number;
  limits?: { agentMemoryBytes?: number; totalMemoryBytes?: number; maxCpuPercent?: number };
} {
  const pool = config.pool ?? {};
  const limits = {
    ...(pool.agentMemoryMB !== undefined && { agentMemoryBytes: Math.round(pool.agentMemoryMB * MB) }),
    ...(pool.totalMemoryMB !== undefined && { totalMemoryBytes: Math.round(pool.totalMemoryMB * MB) }),
    ...(pool.maxCpuPercent !== undefined && { maxCpuPercent: pool.maxCpuPercent }),
  };
  return {
    ...(pool.minAgents !== undefined && { minAgents: pool.minAgents }),
    ...(pool.maxAgents !== undefined && { maxAgents: pool.maxAgents }),
    ...(pool.agentsPerProcess !== undefined && { agentsPerProcess: pool.agentsPerProcess }),
    ...(pool.idleTimeoutMs !== undefined && { idleTimeoutMs: pool.idleTimeoutMs }),
    ...(pool.leaseMs !== undefined && { leaseMs: pool.leaseMs }),
    ...(Object.keys(limits).length > 0 && { limits }),
  };
}

/** How long a runner keeps the bundles of ended tasks, from `pool.keepResultsDays` (undefined: the default). */
export function keepResultsMsFrom(config: SwarmConfig): number | undefined {
  const days = config.pool?.keepResultsDays;
  return days === undefined ? undefined : Math.round(days * 86_400_000);
}

/** WorktreeIsolation options from `worktrees`. */
export function worktreeSettingsFrom(config: SwarmConfig): { include?: string[]; setupCommand?: string; maxSlots?: number; diskBudgetBytes?: number; worktreesDir?: string; keepIdleSlots?: boolean } {
  const worktrees = config.worktrees ?? {};
  return {
    ...(worktrees.dir !== undefined && { worktreesDir: worktrees.dir === '~' || worktrees.dir.startsWith('~/') ? path.join(os.homedir(), worktrees.dir.slice(1)) : worktrees.dir }),
    ...(worktrees.keepIdleSlots !== undefined && { keepIdleSlots: worktrees.keepIdleSlots }),
    ...(worktrees.include !== undefined && { include: worktrees.include }),
    ...(worktrees.setupCommand !== undefined && { setupCommand: worktrees.setupCommand }),
    ...(worktrees.maxSlots !== undefined && { maxSlots: worktrees.maxSlots }),
    ...(worktrees.diskBudgetMB !== undefined && { diskBudgetBytes: Math.round(worktrees.diskBudgetMB * MB) }),
  };
}

/** The pool's sandbox settings from `sandbox` (a mode, or the object form); absent fields keep the defaults. */
export function sandboxSettingsFrom(config: SwarmConfig): Partial<SandboxSettings> {
  const sandbox = typeof config.sandbox === 'string' ? { mode: config.sandbox } : (config.sandbox ?? {});
  return {
    ...(sandbox.mode !== undefined && { mode: sandbox.mode }),
    ...(sandbox.network !== undefined && { network: sandbox.network }),
    ...(sandbox.cacheDirs !== undefined && { cacheDirs: sandbox.cacheDirs }),
    ...(sandbox.allowWrite !== undefined && { allowWrite: sandbox.allowWrite }),
  };
}

/** Rate limiter caps per endpoint; an absent field keeps the limiter's default. */
export function rateLimitsFrom(config: SwarmConfig, defaults: EndpointLimits = { concurrency: 4, intervalCap: Infinity, intervalMs: 60_000 }): Record<string, EndpointLimits> {
  const limits: Record<string, EndpointLimits> = {};
  for (const [endpoint, limit] of Object.entries(config.rateLimits ?? {})) {
    limits[endpoint] = {
      concurrency: limit.concurrency ?? defaults.concurrency,
      intervalCap: limit.requestsPerMinute ?? Infinity,
      intervalMs: limit.requestsPerMinute !== undefined ? 60_000 : defaults.intervalMs,
    };
  }
  return limits;
}

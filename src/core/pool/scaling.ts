// The pool's scaling decisions, as plain functions of what it sees: how many agents it wants and
// which idle ones to retire. The pool (pool.ts) acts on them: it starts and drains agents.
import type { AgentHandle } from './agent-handle';
import { usableCpuCount } from '../monitor/cpus';

export interface ScalingLimits {
  minAgents: number;
  maxAgents: number;
  idleTimeoutMs: number;
}

/** Enough live agents for the running and the claimable tasks, never below minAgents or above maxAgents. */
export function wantedAgents(busy: number, claimable: number, limits: Pick<ScalingLimits, 'minAgents' | 'maxAgents'>): number {
  return Math.min(limits.maxAgents, Math.max(limits.minAgents, busy + claimable));
}

/**
 * Idle agents past the idle timeout, first ones first, as many as leave minAgents live agents.
 * `live`: the agents not already draining.
 */
export function agentsToRetire(live: readonly AgentHandle[], limits: Pick<ScalingLimits, 'minAgents' | 'idleTimeoutMs'>, now: number): AgentHandle[] {
  const retired: AgentHandle[] = [];
  let surplus = live.length - limits.minAgents;
  for (const agent of live) {
    if (surplus <= 0) break;
    if (agent.info.state === 'idle' && agent.idleSince !== undefined && now - agent.idleSince >= limits.idleTimeoutMs) {
      retired.push(agent);
      surplus--;
    }
  }
  return retired;
}

/** How many agents one agent process hosts: a number ≥ 1, or `auto`. */
export type AgentsPerProcess = number | 'auto';

/**
 * Agents that `auto` puts into one process even with a CPU for each: a Node start-up per agent
 * costs more CPU than the agents' own work (they wait on their commands), and on 2 cores with 2
 * agents one process made the lodash run 9 % faster and saved 0.3 s of CPU (docs/pool.md). Four
 * also bounds what one kill takes down to what 8 agents on 2 cores already shared.
 */
export const AUTO_AGENTS_SHARING_A_PROCESS = 4;

/**
 * `auto`: up to AUTO_AGENTS_SHARING_A_PROCESS agents share a process, and more where agents
 * outnumber the CPUs the pool may use times that (ceil(maxAgents / cpus): no more agent processes
 * than CPUs; affinity and cgroup CPU quota count, see monitor/cpus.ts).
 */
export function resolveAgentsPerProcess(setting: AgentsPerProcess | undefined, maxAgents: number, cpus = usableCpuCount()): number {
  if (setting === 'auto') return Math.max(1, Math.ceil(maxAgents / Math.max(1, cpus)), Math.min(maxAgents, AUTO_AGENTS_SHARING_A_PROCESS));
  return Math.max(1, Math.floor(setting ?? 1));
}

/** A setting's text (`4`, `auto`) as agentsPerProcess; undefined when it is neither. */
export function parseAgentsPerProcess(value: unknown): AgentsPerProcess | undefined {
  if (value === 'auto') return 'auto';
  const count = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isInteger(count) && count >= 1 ? count : undefined;
}

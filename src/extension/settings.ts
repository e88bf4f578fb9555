// Typed access to the `agentSwarm.*` settings and context keys in one place (command ids: commandIds.ts).
import * as vscode from 'vscode';
import type { SwarmConfigInput } from '../core/config';
import { parseAgentsPerProcess } from '../core/pool/scaling';

export const SECTION = 'agentSwarm';

export const ContextKeys = {
  running: 'agentSwarm.running',
  hasBoard: 'agentSwarm.hasBoard',
  hasFailed: 'agentSwarm.hasFailed',
  hasResults: 'agentSwarm.hasResults',
  reviewing: 'agentSwarm.reviewing',
} as const;

export const VIEW_CONTAINER = 'agentSwarm';
export const TASKS_VIEW = 'agentSwarm.tasks';
export const POOL_VIEW = 'agentSwarm.pool';
export const RESULT_SCHEME = 'swarm-result';
export const POOL_RUNNING_STATE = 'agentSwarm.poolWasRunning';

/**
 * A setting's value only when the user set it (user, workspace or folder settings), never the
 * default: defaults must not hide what swarm.config.json says.
 */
export function userSetValue<T>(config: vscode.WorkspaceConfiguration, key: string): T | undefined {
  const inspected = config.inspect<T>(key);
  if (!inspected) return undefined;
  return inspected.workspaceFolderValue ?? inspected.workspaceValue ?? inspected.globalValue;
}

/** A positive number the user set; 0 means "no limit / automatic" in these settings, so it sets nothing. */
function positiveSetting(config: vscode.WorkspaceConfiguration, key: string): number | undefined {
  const value = userSetValue<number>(config, key);
  return typeof value === 'number' && value > 0 ? value : undefined;
}

/**
 * The VS Code settings as a configuration layer over swarm.config.json (see core/config resolve):
 * only the settings the user set. The executor setting is handled apart (see executorSetting).
 */
export function settingsConfigLayer(): SwarmConfigInput {
  const config = vscode.workspace.getConfiguration(SECTION);
  const minAgents = userSetValue<number>(config, 'pool.minAgents');
  const idleSeconds = positiveSetting(config, 'pool.idleTimeoutSeconds');
  const agentsPerProcess = parseAgentsPerProcess(userSetValue<unknown>(config, 'pool.agentsPerProcess'));
  const pool: NonNullable<SwarmConfigInput['pool']> = {
    ...(typeof minAgents === 'number' && { minAgents }),
    ...(positiveSetting(config, 'pool.maxAgents') !== undefined && { maxAgents: positiveSetting(config, 'pool.maxAgents') }),
    ...(agentsPerProcess !== undefined && { agentsPerProcess }),
    ...(idleSeconds !== undefined && { idleTimeoutMs: idleSeconds * 1000 }),
    ...(positiveSetting(config, 'limits.agentMemoryMB') !== undefined && { agentMemoryMB: positiveSetting(config, 'limits.agentMemoryMB') }),
    ...(positiveSetting(config, 'limits.totalMemoryMB') !== undefined && { totalMemoryMB: positiveSetting(config, 'limits.totalMemoryMB') }),
    ...(positiveSetting(config, 'limits.maxCpuPercent') !== undefined && { maxCpuPercent: positiveSetting(config, 'limits.maxCpuPercent') }),
  };
  const verify = userSetValue<string>(config, 'verify')?.trim();
  const sandbox = sandboxSettings(config);
  return {
    ...(Object.keys(pool).length > 0 && { pool }),
    ...(verify && { verify }),
    ...(Object.keys(sandbox).length > 0 && { sandbox }),
  };
}

/** agentSwarm.sandbox, .sandboxNetwork and .sandboxAllowWrite, when the user set them (machine-scoped). */
function sandboxSettings(config: vscode.WorkspaceConfiguration): Exclude<NonNullable<SwarmConfigInput['sandbox']>, string> {
  const mode = userSetValue<string>(config, 'sandbox');
  const network = userSetValue<boolean>(config, 'sandboxNetwork');
  const allowWrite = userSetValue<string[]>(config, 'sandboxAllowWrite');
  return {
    ...((mode === 'auto' || mode === 'required' || mode === 'off') && { mode }),
    ...(typeof network === 'boolean' && { network }),
    ...(Array.isArray(allowWrite) && allowWrite.length > 0 && { allowWrite }),
  };
}

export function isolationSetting(): 'worktree' | 'direct' | 'auto' {
  return vscode.workspace.getConfiguration(SECTION).get<'worktree' | 'direct' | 'auto'>('isolation', 'auto');
}

/** The executor setting (object, shorthand or the name of a swarm.config.json entry) when the user set one. */
export function executorSetting(): unknown {
  const executor = userSetValue<unknown>(vscode.workspace.getConfiguration(SECTION), 'executor');
  if (executor === undefined || executor === null || executor === '') return undefined;
  return executor;
}

export function lensSettings(): { enabled: boolean; todo: boolean } {
  const config = vscode.workspace.getConfiguration(SECTION);
  return { enabled: config.get<boolean>('codeLens.enabled', true), todo: config.get<boolean>('codeLens.todo', false) };
}

/** The agentSwarm.board setting (machine-scoped): empty for the workspace's .swarm, a path or a redis:// URL. */
export function boardSetting(): string {
  const value = vscode.workspace.getConfiguration(SECTION).get<string>('board', '');
  return typeof value === 'string' ? value.trim() : '';
}

// Typed access to the `agentSwarm.*` settings, command ids and context keys in one place.
import * as vscode from 'vscode';
import type { ResourceLimits } from '../core/pool';

export const SECTION = 'agentSwarm';

export const Commands = {
  start: 'agentSwarm.start',
  stop: 'agentSwarm.stop',
  postTask: 'agentSwarm.postTask',
  fixFile: 'agentSwarm.fixFile',
  fixProblems: 'agentSwarm.fixProblems',
  fixAllProblems: 'agentSwarm.fixAllProblems',
  reviewResults: 'agentSwarm.reviewResults',
  retryFailed: 'agentSwarm.retryFailed',
  openDashboard: 'agentSwarm.openDashboard',
  exportReport: 'agentSwarm.exportReport',
  configureExecutor: 'agentSwarm.configureExecutor',
  revealBoard: 'agentSwarm.revealBoardFolder',
  showBoard: 'agentSwarm.showBoard',
  showLog: 'agentSwarm.showLog',
  refresh: 'agentSwarm.refresh',
  // Task item actions (view/item/context).
  review: 'agentSwarm.task.review',
  apply: 'agentSwarm.task.apply',
  discard: 'agentSwarm.task.discard',
  undoApply: 'agentSwarm.task.undoApply',
  retry: 'agentSwarm.task.retry',
  cancel: 'agentSwarm.task.cancel',
  requeue: 'agentSwarm.task.requeue',
  openLog: 'agentSwarm.task.openLog',
  showMore: 'agentSwarm.tasks.showMore',
  // Review editor title actions.
  applyReviewed: 'agentSwarm.review.apply',
  discardReviewed: 'agentSwarm.review.discard',
  applyFile: 'agentSwarm.review.applyFile',
  requestChanges: 'agentSwarm.review.requestChanges',
} as const;

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

export interface PoolSettings {
  minAgents: number;
  maxAgents: number | undefined;
  idleTimeoutMs: number;
  limits: ResourceLimits;
  isolation: 'worktree' | 'direct' | 'auto';
}

export function poolSettings(): PoolSettings {
  const config = vscode.workspace.getConfiguration(SECTION);
  const maxAgents = config.get<number>('pool.maxAgents', 0);
  const agentMemoryMb = config.get<number>('limits.agentMemoryMB', 0);
  const totalMemoryMb = config.get<number>('limits.totalMemoryMB', 0);
  const maxCpuPercent = config.get<number>('limits.maxCpuPercent', 0);
  return {
    minAgents: config.get<number>('pool.minAgents', 0),
    maxAgents: maxAgents > 0 ? maxAgents : undefined,
    idleTimeoutMs: config.get<number>('pool.idleTimeoutSeconds', 60) * 1000,
    limits: {
      agentMemoryBytes: agentMemoryMb > 0 ? agentMemoryMb * 1024 * 1024 : undefined,
      totalMemoryBytes: totalMemoryMb > 0 ? totalMemoryMb * 1024 * 1024 : undefined,
      maxCpuPercent: maxCpuPercent > 0 ? maxCpuPercent : undefined,
    },
    isolation: config.get<'worktree' | 'direct' | 'auto'>('isolation', 'auto'),
  };
}

/** The executor configuration (object or shorthand), with `verify` from its own setting when set. */
export function executorSetting(): unknown {
  const config = vscode.workspace.getConfiguration(SECTION);
  const executor = config.get<unknown>('executor');
  const verify = config.get<string>('verify', '').trim();
  if (executor === undefined || executor === null || executor === '') return undefined;
  if (typeof executor === 'object' && verify && !('verify' in (executor as object))) return { ...(executor as object), verify };
  return executor;
}

export function lensSettings(): { enabled: boolean; todo: boolean } {
  const config = vscode.workspace.getConfiguration(SECTION);
  return { enabled: config.get<boolean>('codeLens.enabled', true), todo: config.get<boolean>('codeLens.todo', false) };
}

// The Tasks view's model: which groups exist, what each task item says, and which actions it
// offers. Pure (no vscode) so it is unit-tested in plain Node; the TreeDataProvider only maps it.
import type { Progress, Task, TaskStatus } from '../../core/board/types';
import { describeNeeds } from '../../core/board/routing';
import { formatDuration, plural } from './format';

/** Groups in the order the view shows them: what needs attention first. */
export const STATUS_GROUPS: readonly TaskStatus[] = ['running', 'pending', 'waiting', 'done', 'dead', 'cancelled'];

export const STATUS_LABELS: Record<TaskStatus, string> = {
  running: 'Running',
  pending: 'Pending',
  waiting: 'Waiting for subtasks',
  done: 'Done',
  dead: 'Failed',
  cancelled: 'Cancelled',
};

/** Icon of a task item: its status, or a warning sign for a done task whose result has warnings. */
export function taskIcon(task: Task): string {
  return task.status === 'done' && resultWarnings(task).length > 0 ? 'warning' : STATUS_ICONS[task.status];
}

/** Codicon ids (without `$()`) per status. */
export const STATUS_ICONS: Record<TaskStatus, string> = {
  running: 'sync~spin',
  pending: 'clock',
  waiting: 'list-tree',
  done: 'pass',
  dead: 'error',
  cancelled: 'circle-slash',
};

/** How many tasks one group (or one map parent) renders before a "Show more" item. */
export const DEFAULT_PAGE_SIZE = 200;

export interface TaskGroup {
  status: TaskStatus;
  /** Top-level tasks (children of map parents appear under their parent). */
  tasks: Task[];
}

/** Top-level tasks grouped by status, newest first in each group; empty groups are left out. */
export function groupTasks(tasks: readonly Task[]): TaskGroup[] {
  const byStatus = new Map<TaskStatus, Task[]>();
  for (const task of tasks) {
    if (task.parentId) continue;
    const list = byStatus.get(task.status) ?? [];
    list.push(task);
    byStatus.set(task.status, list);
  }
  return STATUS_GROUPS.filter((status) => byStatus.has(status)).map((status) => ({
    status,
    tasks: sortTasks(byStatus.get(status) ?? [], status),
  }));
}

/** Running and pending by priority then age (the order they run in); the rest newest first. */
export function sortTasks(tasks: Task[], status: TaskStatus): Task[] {
  if (status === 'pending' || status === 'running') {
    return tasks.sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt);
  }
  return tasks.sort((a, b) => b.updatedAt - a.updatedAt);
}

/** Children of each map parent, in posting order. */
export function childrenByParent(tasks: readonly Task[]): Map<string, Task[]> {
  const children = new Map<string, Task[]>();
  for (const task of tasks) {
    if (!task.parentId) continue;
    const list = children.get(task.parentId) ?? [];
    list.push(task);
    children.set(task.parentId, list);
  }
  for (const list of children.values()) list.sort((a, b) => a.createdAt - b.createdAt);
  return children;
}

export function groupLabel(group: TaskGroup): string {
  return `${STATUS_LABELS[group.status]} (${group.tasks.length})`;
}

/** Warnings in a done task's result: what its commands changed outside its worktree without a sandbox. */
export function resultWarnings(task: Task): string[] {
  const warnings = (task.result as { warnings?: unknown } | undefined)?.warnings;
  return Array.isArray(warnings) ? warnings.filter((warning): warning is string => typeof warning === 'string') : [];
}

/** The grey text after the title: warnings, agent, progress, duration. */
export function taskDescription(task: Task, now: number, progress?: Progress): string {
  const parts: string[] = [];
  const warnings = resultWarnings(task).length;
  if (warnings > 0) parts.push(`⚠ ${plural(warnings, 'warning')}`);
  if (progress && progress.total > 0) parts.push(`${progress.done + progress.dead + progress.cancelled}/${progress.total} · ${progress.percent}%`);
  if (task.status === 'running' && task.claimedBy) parts.push(task.claimedBy);
  const duration = taskDurationMs(task, now);
  if (duration !== undefined) parts.push(formatDuration(duration));
  if (task.status === 'pending' && task.attempts > 0) parts.push(`retry ${task.attempts + 1}/${task.maxAttempts}`);
  if (task.status === 'pending' && task.waitingForRunner) parts.push(task.waitingForRunner.labels.length > 0 ? `waiting for a runner with ${task.waitingForRunner.labels.join(', ')}` : 'waiting for a runner');
  return parts.join(' · ');
}

/** Running: time since the last update (the claim); ended: the result's duration or created → ended. */
export function taskDurationMs(task: Task, now: number): number | undefined {
  if (task.status === 'running') return Math.max(0, now - task.updatedAt);
  const result = task.result as { durationMs?: unknown } | undefined;
  if (result && typeof result.durationMs === 'number') return result.durationMs;
  if (task.status === 'done' || task.status === 'dead' || task.status === 'cancelled') return Math.max(0, task.updatedAt - task.createdAt);
  return undefined;
}

/** Markdown tooltip: prompt (shortened), files, last error. */
export function taskTooltip(task: Task): string {
  const lines = [`**${escapeMarkdown(task.title)}**`, '', `\`${task.id}\` · ${task.type} · ${STATUS_LABELS[task.status]} · attempt ${task.attempts}/${task.maxAttempts}`];
  if (task.prompt) lines.push('', escapeMarkdown(shorten(task.prompt, 600)));
  if (task.files.length > 0) lines.push('', `Files: ${task.files.slice(0, 10).map((file) => `\`${file}\``).join(', ')}${task.files.length > 10 ? ` and ${task.files.length - 10} more` : ''}`);
  for (const warning of resultWarnings(task)) lines.push('', `⚠ ${escapeMarkdown(shorten(warning, 600))}`);
  if (task.status === 'pending' && task.waitingForRunner) lines.push('', `Waiting for ${escapeMarkdown(describeNeeds(task.waitingForRunner))}: no runner that asked so far could serve it.`);
  if (task.lastError) lines.push('', `Last error (attempt ${task.lastError.attempt}): ${escapeMarkdown(shorten(task.lastError.message, 400))}`);
  return lines.join('\n');
}

/** Flags of a task item, joined into its `contextValue` (menus match them with regular expressions). */
export interface TaskActionState {
  hasPatch: boolean;
  applied: boolean;
  discarded: boolean;
  hasLog: boolean;
}

/**
 * `contextValue` of a task item: `task` plus one flag per available action, e.g.
 * `task:done:review:apply:discard:log`. package.json menus test `viewItem =~ /:apply(:|$)/`.
 */
export function taskContextValue(task: Task, state: TaskActionState): string {
  const flags: string[] = ['task', task.status];
  const reviewable = task.status === 'done' && state.hasPatch;
  if (reviewable) flags.push('review');
  if (reviewable && !state.applied && !state.discarded) flags.push('apply', 'discard');
  if (state.applied) flags.push('applied');
  if (task.status === 'dead' || task.status === 'cancelled') flags.push('retry');
  if (task.status === 'dead') flags.push('requeue');
  if (task.status === 'pending' || task.status === 'running' || task.status === 'waiting') flags.push('cancel');
  if (state.hasLog) flags.push('log');
  return flags.join(':');
}

export function shorten(text: string, max: number): string {
  const oneLine = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return oneLine;
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_{}[\]<>#|])/g, '\\$1');
}

/** Status bar text: `$(sync~spin) 12/40 · 3 busy` while agents work, `$(organization) 40/40 · idle` when the pool waits, `$(organization) 40/40` when it is stopped. */
export function statusBarText(input: { done: number; total: number; busy: number; running: boolean }): string {
  if (input.total === 0 && !input.running) return '$(organization) Swarm';
  // The spinner means work in progress: a pool waiting with no busy agent is shown as idle.
  if (!input.running) return `$(organization) ${input.done}/${input.total}`;
  if (input.busy === 0) return `$(organization) ${input.done}/${input.total} · idle`;
  return `$(sync~spin) ${input.done}/${input.total} · ${input.busy} busy`;
}

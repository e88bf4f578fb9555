// Routing on a shared board: what a claimer can serve (its labels and repositories), what a task
// needs (its `requires` and the repository of its snapshot), and whether the two meet. Both boards
// apply the same rule in their claim, so a runner never claims a task it would only hand back.
import type { Task } from './types';

/**
 * What a claimer can serve (`ClaimRequest.serves`). Absent: everything (a local pool).
 * A runner serves the tasks whose every required label it has and whose repository it holds.
 */
export interface Serves {
  labels: readonly string[];
  /** Normalised repository identities (`github.com/a/b`), or 'any' for a repository cache (`--repos`). */
  repositories: readonly string[] | 'any';
  /** Whether it runs tasks posted without a snapshot (it has a local workspace of its own). */
  unsourced: boolean;
}

/** What a task needs of a runner: its labels, and its repository (absent: a runner with a local workspace). */
export interface RunnerNeeds {
  labels: string[];
  repository?: string;
}

export function needsOf(task: Pick<Task, 'requires' | 'source'>): RunnerNeeds {
  return { labels: [...(task.requires ?? [])].sort(), ...(task.source ? { repository: task.source.repository } : {}) };
}

/** Whether a claimer that serves `serves` may take the task (no `serves`: it serves everything). */
export function servesTask(serves: Serves | undefined, task: Pick<Task, 'requires' | 'source'>): boolean {
  if (!serves) return true;
  const labels = new Set(serves.labels);
  if (!(task.requires ?? []).every((label) => labels.has(label))) return false;
  if (!task.source) return serves.unsourced;
  return serves.repositories === 'any' || serves.repositories.includes(task.source.repository);
}

/**
 * The route key of a task's needs: `<labels, comma-separated, sorted>|<repository or ''>`. Labels
 * never hold `,` or `|` (LABEL_PATTERN), so the first `|` ends them. Tasks with one key are parked
 * and woken together on the Redis board.
 */
export function routeKeyOf(needs: RunnerNeeds): string {
  return `${needs.labels.join(',')}|${needs.repository ?? ''}`;
}

export function needsOfRouteKey(key: string): RunnerNeeds {
  const separator = key.indexOf('|');
  const labels = key.slice(0, separator).split(',').filter(Boolean);
  const repository = key.slice(separator + 1);
  return { labels, ...(repository ? { repository } : {}) };
}

/** "a runner with the labels gpu, linux for github.com/a/b", for status lines and events. */
export function describeNeeds(needs: RunnerNeeds): string {
  const labels = needs.labels.length === 0 ? '' : ` with the label${needs.labels.length === 1 ? '' : 's'} ${needs.labels.join(', ')}`;
  const where = needs.repository ? ` for ${needs.repository}` : ' that runs tasks without a snapshot (one with a local workspace)';
  return `a runner${labels}${where}`;
}

/** The wire form of `serves` for the Redis board's claim script (JSON), '' for "everything". */
export function servesWire(serves: Serves | undefined): string {
  if (!serves) return '';
  return JSON.stringify({ labels: [...serves.labels], repos: serves.repositories === 'any' ? 'any' : [...serves.repositories], unsourced: serves.unsourced });
}

/**
 * How many of the tasks a board set aside (QueueStats.parked, by route key) a claimer that serves
 * `serves` cannot take: a pool does not start or wake agents for them (no `serves`: it takes all).
 */
export function parkedNotServed(parked: Record<string, number> | undefined, serves: Serves | undefined): number {
  if (!parked || !serves) return 0;
  let count = 0;
  for (const [key, tasks] of Object.entries(parked)) {
    const needs = needsOfRouteKey(key);
    const task = { requires: needs.labels, ...(needs.repository !== undefined && { source: { repository: needs.repository } as Task['source'] }) };
    if (!servesTask(serves, task)) count += tasks;
  }
  return count;
}

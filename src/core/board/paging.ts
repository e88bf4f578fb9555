// Pages of tasks, oldest first (creation time, then id), for both boards. The file board pages by
// file name: a task's creation time is in its pending/delayed name and in its id (ids are made
// from the creation time), so a page of 100 reads 100 task bodies however large the board is.
import { BoardInputError, TASK_STATUSES, type Task, type TaskStatus } from './types';
import type { Board, ListQuery } from './interface';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1) throw new BoardInputError(`List limit ${String(limit)} is not a positive whole number.`);
  return Math.min(limit, MAX_PAGE_SIZE);
}

/** Where a page ends: the last task's `<createdAt>:<id>`. */
export function listCursor(task: Pick<Task, 'createdAt' | 'id'>): string {
  return `${task.createdAt}:${task.id}`;
}

export function parseListCursor(cursor: string): { createdAt: number; id: string } {
  const match = typeof cursor === 'string' ? /^(\d{1,15}):([a-z0-9.]{3,81})$/.exec(cursor) : null;
  if (!match) throw new BoardInputError(`${JSON.stringify(cursor)} is not a list cursor; pass back the nextCursor of a previous page.`);
  return { createdAt: Number(match[1]), id: match[2] };
}

/** Something with a place in list order. */
export interface Ordered {
  createdAt: number;
  id: string;
}

export function compareOrder(a: Ordered, b: Ordered): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The creation time an id was made from (`newTaskId`: `t` + base-36 milliseconds + 2 counter
 * characters + 4 hex characters; a map child adds `.NNNN` to its parent's id), or undefined for
 * an id of another shape, whose time must then be read from its body.
 */
export function createdAtOfId(id: string): number | undefined {
  const base = id.replace(/\.\d+$/, '');
  const match = /^t([0-9a-z]+)[0-9a-z]{2}[0-9a-f]{4}$/.exec(base);
  if (!match) return undefined;
  const time = parseInt(match[1], 36);
  return Number.isSafeInteger(time) ? time : undefined;
}

/**
 * The slice of `sorted` (in list order, without duplicates) that a query asks for: after its
 * cursor, or from its offset, at most its limit. `more` says whether entries follow the slice.
 */
export function pageSlice<T extends Ordered>(sorted: readonly T[], query: ListQuery): { slice: T[]; more: boolean } {
  const limit = clampLimit(query.limit);
  let start = 0;
  if (query.cursor !== undefined) start = firstAfter(sorted, parseListCursor(query.cursor));
  else if (query.offset !== undefined) {
    if (!Number.isFinite(query.offset) || query.offset < 0) throw new BoardInputError(`List offset ${String(query.offset)} is not a whole number of tasks to skip.`);
    start = Math.trunc(query.offset);
  }
  return { slice: sorted.slice(start, start + limit), more: start + limit < sorted.length };
}

/** Index of the first entry after `after` in list order (binary search). */
function firstAfter(sorted: readonly Ordered[], after: Ordered): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareOrder(sorted[middle], after) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Every task (of a status), oldest first, read page by page through any board. For reports and
 * batch commands that need them all; views should page instead.
 */
export async function listAllTasks(board: Pick<Board, 'list'>, status?: TaskStatus): Promise<Task[]> {
  const tasks: Task[] = [];
  let cursor: string | undefined;
  do {
    const page = await board.list({ status, cursor, limit: MAX_PAGE_SIZE });
    tasks.push(...page.tasks);
    cursor = page.nextCursor;
  } while (cursor);
  return tasks;
}

/** A status filter both boards accept: one of TASK_STATUSES, or none. */
export function assertStatus(status: unknown): void {
  if (status !== undefined && !TASK_STATUSES.includes(status as TaskStatus)) {
    throw new BoardInputError(`"${String(status)}" is not a task status (${TASK_STATUSES.join(', ')}).`);
  }
}

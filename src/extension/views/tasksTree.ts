// The Tasks view: tasks grouped by status with counts, map parents expanding to their children,
// actions through `contextValue`. Every read goes through the async board (its engine in a worker
// thread) and each group lists one page (~100 tasks) at a time with a "Load more" item, so a board
// of 10,000 tasks never blocks the extension host.
import * as vscode from 'vscode';
import type { Board } from '../../core/board/interface';
import { mapChildId } from '../../core/board/board';
import type { Progress, Task, TaskStatus } from '../../core/board/types';
import { STATUS_GROUPS, STATUS_ICONS, STATUS_LABELS, taskContextValue, taskDescription, taskIcon, taskTooltip, type TaskGroup } from '../logic/taskTree';
import { BoardReachability, offlineLabel, offlineTooltip, type OfflineState } from '../logic/offline';
import { Commands } from '../commandIds';
import { DisposableBase } from '../disposable';
import type { SwarmSession } from '../session';

/** Tasks one page of a group (or of a map parent's children) lists. */
export const TASKS_PAGE_SIZE = 100;
/** The board lists at most this many tasks per call; a refresh re-reads what was shown in steps of it. */
const LIST_LIMIT = 1_000;

export interface TaskActionState {
  hasPatch: boolean;
  applied: boolean;
  discarded: boolean;
  hasLog: boolean;
}

export type TaskNode =
  | { kind: 'group'; group: TaskGroup; count: number }
  | { kind: 'task'; task: Task; progress?: Progress; state?: TaskActionState }
  | { kind: 'more'; parentKey: string; hidden: number }
  /** First row while the board cannot be reached: the rows below are the last state read. */
  | { kind: 'offline'; state: OfflineState };

/** How often a view that lost its board tries again (besides the board's own change events). */
export const OFFLINE_RETRY_MS = 3_000;

/** What a group has read so far: its top-level tasks in list order and where the next page starts. */
interface GroupPages {
  tasks: Task[];
  /** Tasks read (children of map parents included, they are shown under their parent). */
  read: number;
  total: number;
  nextCursor?: string;
}

export class TasksTreeProvider extends DisposableBase implements vscode.TreeDataProvider<TaskNode>, vscode.Disposable {
  private readonly changeEmitter = this.register(new vscode.EventEmitter<TaskNode | undefined>());
  readonly onDidChangeTreeData = this.changeEmitter.event;
  /** Pages read per group since the last refresh; a refresh reads as many tasks again. */
  private readonly groups = new Map<TaskStatus, Promise<GroupPages>>();
  /** Tasks each group showed before the last refresh, so "Load more" survives board changes. */
  private readonly shown = new Map<string, number>();
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Whether the board answers; while it does not, the rows last read are shown under an offline row. */
  readonly reachability = new BoardReachability();
  /** The rows each parent (by key; '' for the top) last showed, for when the board cannot be read. */
  private readonly lastRows = new Map<string, TaskNode[]>();

  constructor(
    private readonly session: SwarmSession,
    private readonly pageSize = TASKS_PAGE_SIZE,
  ) {
    super();
    this.register(session.onDidChangeBoard(() => this.scheduleRefresh()));
  }

  /** Coalesces bursts of board changes into one redraw. */
  scheduleRefresh(delayMs = 200): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, delayMs);
  }

  refresh(): void {
    this.groups.clear();
    this.changeEmitter.fire(undefined);
  }

  /** "Load more": reads the group's next page (a map parent's children are read a page at a time too). */
  async showMore(node: TaskNode): Promise<void> {
    if (node.kind !== 'more') return;
    this.shown.set(node.parentKey, (this.shown.get(node.parentKey) ?? this.pageSize) + this.pageSize);
    const status = groupStatusOf(node.parentKey);
    if (status) {
      const board = await this.session.viewBoard();
      const pages = await this.groups.get(status);
      if (board && pages?.nextCursor) this.groups.set(status, readMore(board, status, pages, this.pageSize));
    }
    this.changeEmitter.fire(undefined);
  }

  async getChildren(node?: TaskNode): Promise<TaskNode[]> {
    const key = node === undefined ? '' : node.kind === 'group' ? groupKey(node.group.status) : node.kind === 'task' ? `parent:${node.task.id}` : undefined;
    if (key === undefined) return [];
    const board = await this.session.viewBoard();
    if (!board) return [];
    try {
      const rows = !node ? await this.groupNodes(board) : node.kind === 'group' ? await this.groupPage(board, node.group.status) : node.kind === 'task' ? await this.childPage(board, node.task) : [];
      this.lastRows.set(key, rows);
      this.reachability.seen();
      return rows;
    } catch (error) {
      const offline = this.reachability.failed(error);
      if (!offline) throw error;
      // The pages read before the board went away are read again once it is back.
      this.groups.clear();
      this.scheduleRefresh(OFFLINE_RETRY_MS);
      const last = this.lastRows.get(key) ?? [];
      return key === '' ? [{ kind: 'offline', state: offline }, ...last] : last;
    }
  }

  /** Groups with their counts from the board's stats (one call, whatever the board's size). */
  private async groupNodes(board: Board): Promise<TaskNode[]> {
    const { counts } = await board.stats();
    return STATUS_GROUPS.filter((status) => (counts[status] ?? 0) > 0).map((status) => ({ kind: 'group', group: { status, tasks: [] }, count: counts[status] }));
  }

  private async groupPage(board: Board, status: TaskStatus): Promise<TaskNode[]> {
    const key = groupKey(status);
    let pages = this.groups.get(status);
    if (!pages) {
      pages = readGroup(board, status, this.shown.get(key) ?? this.pageSize);
      this.groups.set(status, pages);
    }
    const { tasks, total, read, nextCursor } = await pages;
    const nodes = await Promise.all(tasks.map((task) => this.taskNode(board, task)));
    if (nextCursor) nodes.push({ kind: 'more', parentKey: key, hidden: total - read });
    return nodes;
  }

  /** A map parent's children by their ids (a page at a time), without listing the board. */
  private async childPage(board: Board, parent: Task): Promise<TaskNode[]> {
    const count = parent.childCount ?? 0;
    const key = `parent:${parent.id}`;
    const limit = Math.min(count, this.shown.get(key) ?? this.pageSize);
    const children = await Promise.all(Array.from({ length: limit }, (_, index) => board.get(mapChildId(parent.id, index))));
    const nodes = await Promise.all(children.filter((task): task is Task => task !== undefined).map((task) => this.taskNode(board, task)));
    if (count > limit) nodes.push({ kind: 'more', parentKey: key, hidden: count - limit });
    return nodes;
  }

  private async taskNode(board: Board, task: Task): Promise<TaskNode> {
    const [progress, state] = await Promise.all([(task.childCount ?? 0) > 0 ? board.progress(task.id) : undefined, actionState(board, task)]);
    return { kind: 'task', task, progress, state };
  }

  getTreeItem(node: TaskNode): vscode.TreeItem {
    if (node.kind === 'group') {
      const item = new vscode.TreeItem(`${STATUS_LABELS[node.group.status]} (${node.count})`, groupExpanded(node.group.status) ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `group:${node.group.status}`;
      item.iconPath = new vscode.ThemeIcon(STATUS_ICONS[node.group.status]);
      item.contextValue = `group:${node.group.status}`;
      return item;
    }
    if (node.kind === 'offline') {
      const item = new vscode.TreeItem(offlineLabel(node.state), vscode.TreeItemCollapsibleState.None);
      item.id = 'offline';
      item.tooltip = offlineTooltip(node.state);
      item.iconPath = new vscode.ThemeIcon('debug-disconnect', new vscode.ThemeColor('editorWarning.foreground'));
      item.contextValue = 'offline';
      return item;
    }
    if (node.kind === 'more') {
      const item = new vscode.TreeItem(`Load more (${node.hidden} not shown)`, vscode.TreeItemCollapsibleState.None);
      item.id = `more:${node.parentKey}`;
      item.iconPath = new vscode.ThemeIcon('ellipsis');
      item.command = { command: Commands.showMore, title: 'Load more', arguments: [node] };
      item.contextValue = 'more';
      return item;
    }
    return this.taskItem(node.task, node.progress, node.state ?? NO_ACTIONS);
  }

  private taskItem(task: Task, progress: Progress | undefined, state: TaskActionState): vscode.TreeItem {
    const hasChildren = (task.childCount ?? 0) > 0;
    const item = new vscode.TreeItem(task.title, hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = `task:${task.id}`;
    item.description = taskDescription(task, Date.now(), progress);
    item.tooltip = new vscode.MarkdownString(taskTooltip(task));
    const icon = taskIcon(task);
    item.iconPath = new vscode.ThemeIcon(icon, task.status === 'dead' ? new vscode.ThemeColor('errorForeground') : icon === 'warning' ? new vscode.ThemeColor('editorWarning.foreground') : undefined);
    item.contextValue = taskContextValue(task, state);
    if (task.status === 'done' && state.hasPatch && !state.discarded) {
      item.command = { command: Commands.review, title: 'Review', arguments: [{ kind: 'task', task }] };
    }
    return item;
  }

  getParent(): undefined {
    return undefined;
  }

  override dispose(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    super.dispose();
  }
}

function groupExpanded(status: TaskStatus): boolean {
  return status === 'running' || status === 'pending' || status === 'dead' || status === 'waiting' || status === 'done';
}

const NO_ACTIONS: TaskActionState = { hasPatch: false, applied: false, discarded: false, hasLog: false };

function groupKey(status: TaskStatus): string {
  return `group:${status}`;
}

function groupStatusOf(key: string): TaskStatus | undefined {
  const status = key.startsWith('group:') ? key.slice('group:'.length) : undefined;
  return STATUS_GROUPS.find((known) => known === status);
}

/** The first `want` tasks of a group (rounded up to whole pages of the board's list). */
async function readGroup(board: Board, status: TaskStatus, want: number): Promise<GroupPages> {
  let pages: GroupPages = { tasks: [], read: 0, total: 0 };
  let first = true;
  while (first || (pages.nextCursor && pages.read < want)) {
    pages = await readMore(board, status, pages, Math.min(LIST_LIMIT, Math.max(1, want - pages.read)));
    first = false;
  }
  return pages;
}

/** The next page after what `pages` read; children of map parents stay under their parent. */
async function readMore(board: Board, status: TaskStatus, pages: GroupPages, limit: number): Promise<GroupPages> {
  const page = await board.list({ status, limit, ...(pages.nextCursor ? { cursor: pages.nextCursor } : {}) });
  return {
    tasks: [...pages.tasks, ...page.tasks.filter((task) => !task.parentId)],
    read: pages.read + page.tasks.length,
    total: page.total,
    nextCursor: page.nextCursor,
  };
}

/** Which actions a task item offers, from its artifacts (one worker call per rendered item). */
async function actionState(board: Board, task: Task): Promise<TaskActionState> {
  const names = new Set((await board.listArtifacts(task.id)).map((artifact) => artifact.name));
  const isParent = (task.childCount ?? 0) > 0;
  return {
    hasPatch: isParent ? task.status === 'done' || task.status === 'waiting' : names.has('result.patch'),
    applied: names.has('apply.json'),
    discarded: names.has('discarded.json'),
    hasLog: names.has('log.txt'),
  };
}

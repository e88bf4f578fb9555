// The Tasks view: tasks grouped by status with counts, map parents expanding to their children,
// actions through `contextValue`. One board listing per refresh; each group renders at most a page
// of items and a "Show more" item, so 10,000 tasks stay fast.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Progress, Task, TaskStatus } from '../../core/board/types';
import { DEFAULT_PAGE_SIZE, STATUS_ICONS, childrenByParent, groupLabel, groupTasks, taskContextValue, taskDescription, taskIcon, taskTooltip, type TaskGroup } from '../logic/taskTree';
import { Commands } from '../commandIds';
import { DisposableBase } from '../disposable';
import type { SwarmSession } from '../session';

export type TaskNode =
  | { kind: 'group'; group: TaskGroup }
  | { kind: 'task'; task: Task; progress?: Progress }
  | { kind: 'more'; parentKey: string; hidden: number };

interface Snapshot {
  groups: TaskGroup[];
  children: Map<string, Task[]>;
  total: number;
}

export class TasksTreeProvider extends DisposableBase implements vscode.TreeDataProvider<TaskNode>, vscode.Disposable {
  private readonly changeEmitter = this.register(new vscode.EventEmitter<TaskNode | undefined>());
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private snapshot: Snapshot | undefined;
  /** Items shown per group / parent, raised by "Show more". */
  private readonly limits = new Map<string, number>();
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly session: SwarmSession,
    private readonly pageSize = DEFAULT_PAGE_SIZE,
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
    this.snapshot = undefined;
    this.changeEmitter.fire(undefined);
  }

  showMore(node: TaskNode): void {
    if (node.kind !== 'more') return;
    this.limits.set(node.parentKey, (this.limits.get(node.parentKey) ?? this.pageSize) + this.pageSize * 5);
    this.changeEmitter.fire(undefined);
  }

  /** The current listing (read once per refresh); for tests and the status bar. */
  current(): Snapshot {
    if (this.snapshot) return this.snapshot;
    const board = this.session.getBoard();
    const tasks = board ? board.list() : [];
    this.snapshot = { groups: groupTasks(tasks), children: childrenByParent(tasks), total: tasks.length };
    return this.snapshot;
  }

  getChildren(node?: TaskNode): TaskNode[] {
    const snapshot = this.current();
    if (!node) return snapshot.groups.map((group) => ({ kind: 'group', group }));
    if (node.kind === 'group') return this.page(`group:${node.group.status}`, node.group.tasks, snapshot);
    if (node.kind === 'task') return this.page(`parent:${node.task.id}`, snapshot.children.get(node.task.id) ?? [], snapshot);
    return [];
  }

  private page(key: string, tasks: Task[], snapshot: Snapshot): TaskNode[] {
    const limit = this.limits.get(key) ?? this.pageSize;
    const nodes: TaskNode[] = tasks.slice(0, limit).map((task) => ({ kind: 'task', task, progress: progressOf(snapshot.children.get(task.id)) }));
    if (tasks.length > limit) nodes.push({ kind: 'more', parentKey: key, hidden: tasks.length - limit });
    return nodes;
  }

  getTreeItem(node: TaskNode): vscode.TreeItem {
    if (node.kind === 'group') {
      const item = new vscode.TreeItem(groupLabel(node.group), groupExpanded(node.group.status) ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `group:${node.group.status}`;
      item.iconPath = new vscode.ThemeIcon(STATUS_ICONS[node.group.status]);
      item.contextValue = `group:${node.group.status}`;
      return item;
    }
    if (node.kind === 'more') {
      const item = new vscode.TreeItem(`Show more (${node.hidden} not shown)`, vscode.TreeItemCollapsibleState.None);
      item.id = `more:${node.parentKey}`;
      item.iconPath = new vscode.ThemeIcon('ellipsis');
      item.command = { command: Commands.showMore, title: 'Show more', arguments: [node] };
      item.contextValue = 'more';
      return item;
    }
    return this.taskItem(node.task, node.progress);
  }

  private taskItem(task: Task, progress: Progress | undefined): vscode.TreeItem {
    const hasChildren = (task.childCount ?? 0) > 0;
    const item = new vscode.TreeItem(task.title, hasChildren ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = `task:${task.id}`;
    item.description = taskDescription(task, Date.now(), progress);
    item.tooltip = new vscode.MarkdownString(taskTooltip(task));
    const icon = taskIcon(task);
    item.iconPath = new vscode.ThemeIcon(icon, task.status === 'dead' ? new vscode.ThemeColor('errorForeground') : icon === 'warning' ? new vscode.ThemeColor('editorWarning.foreground') : undefined);
    const state = this.actionState(task);
    item.contextValue = taskContextValue(task, state);
    if (task.status === 'done' && state.hasPatch && !state.discarded) {
      item.command = { command: Commands.review, title: 'Review', arguments: [{ kind: 'task', task }] };
    }
    return item;
  }

  /** Artifact flags read only for rendered items (a few stat calls each). */
  private actionState(task: Task): { hasPatch: boolean; applied: boolean; discarded: boolean; hasLog: boolean } {
    const board = this.session.getBoard();
    if (!board) return { hasPatch: false, applied: false, discarded: false, hasLog: false };
    const dir = board.artifactsDir(task.id);
    const exists = (name: string): boolean => fs.existsSync(path.join(dir, name));
    const isParent = (task.childCount ?? 0) > 0;
    return {
      hasPatch: isParent ? task.status === 'done' || task.status === 'waiting' : exists('result.patch'),
      applied: exists('apply.json'),
      discarded: exists('discarded.json'),
      hasLog: exists('log.txt'),
    };
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

function progressOf(children: Task[] | undefined): Progress | undefined {
  if (!children || children.length === 0) return undefined;
  const count = (status: TaskStatus): number => children.filter((child) => child.status === status).length;
  const done = count('done');
  const dead = count('dead');
  const cancelled = count('cancelled');
  const running = count('running');
  const total = children.length;
  return { total, done, dead, cancelled, running, pending: total - done - dead - cancelled - running, percent: Math.round(((done + dead + cancelled) / total) * 1000) / 10 };
}

// The Pool view: capacity, agents (state, task, CPU, memory, uptime), system figures, limiters.
// Redraws on pool stats events, at most once a second.
import * as vscode from 'vscode';
import { poolRows, type PoolRow } from '../logic/poolView';
import { DisposableBase } from '../disposable';
import type { SwarmSession } from '../session';

export class PoolTreeProvider extends DisposableBase implements vscode.TreeDataProvider<PoolRow>, vscode.Disposable {
  private readonly changeEmitter = this.register(new vscode.EventEmitter<PoolRow | undefined>());
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private lastDraw = 0;
  private pending: NodeJS.Timeout | undefined;

  constructor(private readonly session: SwarmSession) {
    super();
    this.register(session.onDidChangePool(() => this.redraw()));
    this.register(session.onPoolEvent(() => this.redraw()));
  }

  private redraw(): void {
    if (this.pending) return;
    const wait = Math.max(0, 1000 - (Date.now() - this.lastDraw));
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.lastDraw = Date.now();
      this.changeEmitter.fire(undefined);
    }, wait);
  }

  getChildren(row?: PoolRow): PoolRow[] {
    if (row) return row.children ?? [];
    const pool = this.session.getPool();
    if (!pool) return [];
    return poolRows(pool.stats(), Date.now());
  }

  getTreeItem(row: PoolRow): vscode.TreeItem {
    const item = new vscode.TreeItem(row.label, row.children && row.children.length > 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
    item.id = row.id;
    item.description = row.description;
    item.tooltip = row.tooltip;
    item.iconPath = new vscode.ThemeIcon(row.icon);
    item.contextValue = row.id.split(':')[0];
    return item;
  }

  override dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    super.dispose();
  }
}

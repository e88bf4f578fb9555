// The Pool view: capacity, agents (state, task, CPU, memory, uptime), system figures, limiters.
// Redraws on pool stats events, at most once a second.
import * as vscode from 'vscode';
import { poolRows, type PoolRow } from '../logic/poolView';
import type { SwarmSession } from '../session';

export class PoolTreeProvider implements vscode.TreeDataProvider<PoolRow>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<PoolRow | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private lastDraw = 0;
  private pending: NodeJS.Timeout | undefined;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly session: SwarmSession) {
    this.subscriptions = [session.onDidChangePool(() => this.redraw()), session.onPoolEvent(() => this.redraw())];
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

  dispose(): void {
    if (this.pending) clearTimeout(this.pending);
    for (const subscription of this.subscriptions) subscription.dispose();
    this.changeEmitter.dispose();
  }
}

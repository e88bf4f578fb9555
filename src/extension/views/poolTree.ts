// The Pool view: capacity, agents (state, task, CPU, memory, uptime), system figures, limiters,
// and the other hosts working on the board (on this machine or others, from their records on the
// board). Redraws on pool stats events, at most once a second, and every few seconds for the hosts.
import * as os from 'os';
import * as vscode from 'vscode';
import { listHostStatuses } from '../../core/pool/status-file';
import { otherHostsRow, poolRows, type PoolRow } from '../logic/poolView';
import { BoardReachability, offlineLabel, offlineTooltip } from '../logic/offline';
import { DisposableBase } from '../disposable';
import type { SwarmSession } from '../session';

/** How often the other hosts are read again while nothing else redraws the view. */
const HOSTS_REFRESH_MS = 5_000;

export class PoolTreeProvider extends DisposableBase implements vscode.TreeDataProvider<PoolRow>, vscode.Disposable {
  private readonly changeEmitter = this.register(new vscode.EventEmitter<PoolRow | undefined>());
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private lastDraw = 0;
  private pending: NodeJS.Timeout | undefined;
  /** Whether the board answers; while it does not, the hosts last read stay under an offline row. */
  readonly reachability = new BoardReachability();
  private lastHosts: PoolRow | undefined;

  constructor(private readonly session: SwarmSession) {
    super();
    this.register(session.onDidChangePool(() => this.redraw()));
    this.register(session.onPoolEvent(() => this.redraw()));
    const hostsTimer = setInterval(() => this.redraw(), HOSTS_REFRESH_MS);
    this.register({ dispose: () => clearInterval(hostsTimer) });
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

  async getChildren(row?: PoolRow): Promise<PoolRow[]> {
    if (row) return row.children ?? [];
    const pool = this.session.getPool();
    const rows = pool ? poolRows(pool.stats(), Date.now()) : [];
    const hosts = await this.otherHosts();
    return hosts ? [...rows, hosts] : rows;
  }

  /**
   * The other hosts' row. While the board cannot be reached, the hosts as last read, marked offline
   * with the time they were read; nothing for other failures (the views say why elsewhere).
   */
  private async otherHosts(): Promise<PoolRow | undefined> {
    try {
      const board = await this.session.viewBoard();
      if (!board) return undefined;
      this.lastHosts = otherHostsRow(await listHostStatuses(board), { pid: process.pid, host: os.hostname() }, Date.now());
      this.reachability.seen();
      return this.lastHosts;
    } catch (error) {
      const offline = this.reachability.failed(error);
      if (!offline) return undefined;
      return { id: 'offline', label: offlineLabel(offline), tooltip: offlineTooltip(offline), icon: 'debug-disconnect', ...(this.lastHosts ? { children: [this.lastHosts] } : {}) };
    }
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

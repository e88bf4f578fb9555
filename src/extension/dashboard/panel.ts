// The dashboard panel: one per window. It owns a MetricsFeed on the open board, posts updates to
// the webview while visible (the feed already throttles to two a second), and answers the
// webview's requests. The webview is not retained while hidden: it reloads when shown again, says
// `ready`, gets the current update, and restores its own view state with getState/setState.
import * as os from 'os';
import * as vscode from 'vscode';
import type { Board } from '../../core/board/interface';
import type { BoardStats } from '../../core/board/types';
import { plural } from '../../core/format';
import { MetricsFeed, type MetricsSnapshot } from '../../core/metrics';
import { listHostStatuses, type HostView } from '../../core/pool/status-file';
import { BoardReachability } from '../logic/offline';
import { currentTasksOf, type PoolStats } from '../../core/pool/types';
import { Commands } from '../commandIds';
import type { DashboardDeps } from './deps';
import { DisposableBase } from '../disposable';
import { dashboardHtml, dashboardResourceRoots } from './html';
import {
  DASHBOARD_VIEW_TYPE,
  isWebviewMessage,
  type DashboardRequest,
  type DashboardUpdate,
  type HostMessage,
  type HostRowView,
  type PoolView,
  type WebviewMessage,
} from '../../shared/dashboardProtocol';

/** What integration tests may observe of the open panel (through an internal command). */
export interface DashboardProbe {
  html: string;
  visible: boolean;
  /** `ready` handshakes received: proof that the page's script ran under the CSP. */
  readyCount: number;
  updatesPosted: number;
  lastUpdate?: DashboardUpdate;
}

export class DashboardPanel extends DisposableBase implements vscode.Disposable {
  private static current: DashboardPanel | undefined;

  private feed: MetricsFeed | undefined;
  private feedBoard: Board | undefined;
  /** The board's counts, read asynchronously after each change (buildUpdate must not wait). */
  private counts: BoardStats['counts'] | undefined;
  private ready = false;
  private readyCount = 0;
  private updatesPosted = 0;
  private lastUpdate: DashboardUpdate | undefined;
  /** The other hosts on the board (any machine), live and gone, as last read. */
  private hosts: HostView[] = [];
  /** Whether the board answers; while it does not, the page keeps the last state, marked offline. */
  private readonly reachability = new BoardReachability();
  private readingBoard = false;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly deps: DashboardDeps,
  ) {
    super();
    panel.webview.options = { enableScripts: true, localResourceRoots: dashboardResourceRoots(extensionUri) };
    panel.iconPath = {
      light: vscode.Uri.joinPath(extensionUri, 'media', 'dashboard', 'icon-light.svg'),
      dark: vscode.Uri.joinPath(extensionUri, 'media', 'dashboard', 'icon-dark.svg'),
    };
    panel.webview.html = dashboardHtml(panel.webview, extensionUri);
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(panel.webview.onDidReceiveMessage((message: unknown) => this.onMessage(message)));
    this.register(
      panel.onDidChangeViewState(() => {
        // A hidden webview is torn down; the reloaded page asks again with `ready`.
        if (!panel.visible) this.ready = false;
      }),
    );
    this.register(deps.onDidChangeBoard(() => this.attachBoard()));
    this.register(deps.onDidChangePool(() => this.feed?.setPool(deps.getPool())));
    // Hosts and counts are read again every few seconds: other machines' pools change without an
    // event here, and a board that went away is noticed (and its return) without one either.
    const timer = setInterval(() => void this.readBoardState(), BOARD_STATE_MS);
    this.register({ dispose: () => clearInterval(timer) });
    this.attachBoard();
  }

  /** Reveals the dashboard, creating it on first use. */
  static show(extensionUri: vscode.Uri, deps: DashboardDeps): DashboardPanel {
    const existing = DashboardPanel.current;
    if (existing) {
      existing.panel.reveal(undefined);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'Swarm Dashboard', vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: dashboardResourceRoots(extensionUri),
    });
    return (DashboardPanel.current = new DashboardPanel(panel, extensionUri, deps));
  }

  /** Takes over a panel VS Code restored after a reload. */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, deps: DashboardDeps): DashboardPanel {
    DashboardPanel.current?.dispose();
    return (DashboardPanel.current = new DashboardPanel(panel, extensionUri, deps));
  }

  static probe(): DashboardProbe | undefined {
    return DashboardPanel.current?.probeState();
  }

  static disposeCurrent(): void {
    DashboardPanel.current?.panel.dispose();
  }

  /** Handles one message as if the webview had posted it; returns the reply (tests use this too). */
  async handle(message: unknown): Promise<HostMessage | undefined> {
    if (!isWebviewMessage(message)) {
      this.deps.log.warn(`Dashboard: ignored a malformed message from the webview: ${safeJson(message)}`);
      return undefined;
    }
    return this.dispatch(message);
  }

  static async handleMessage(message: unknown): Promise<HostMessage | undefined> {
    const current = DashboardPanel.current;
    if (!current) throw new Error('The Swarm dashboard is not open.');
    return current.handle(message);
  }

  override dispose(): void {
    if (this.isDisposed) return;
    if (DashboardPanel.current === this) DashboardPanel.current = undefined;
    this.feed?.dispose();
    this.feed = undefined;
    super.dispose();
    this.panel.dispose();
  }

  // ---------------------------------------------------------------- internals

  private probeState(): DashboardProbe {
    return {
      html: this.panel.webview.html,
      visible: this.panel.visible,
      readyCount: this.readyCount,
      updatesPosted: this.updatesPosted,
      ...(this.lastUpdate ? { lastUpdate: this.lastUpdate } : {}),
    };
  }

  private attachBoard(): void {
    void this.attachViewBoard().catch((error: unknown) => this.deps.log.warn(`Dashboard: reading the board failed: ${errorText(error)}`));
  }

  private async attachViewBoard(): Promise<void> {
    const board = await this.deps.viewBoard();
    if (this.isDisposed) return;
    if (board !== this.feedBoard || !this.feed) {
      this.feed?.dispose();
      this.feed = undefined;
      this.feedBoard = board;
      if (board) {
        this.feed = new MetricsFeed({
          board,
          pool: this.deps.getPool(),
          onSnapshot: (snapshot) => this.pushUpdate(snapshot),
          otherPools: () => this.hosts.filter((host) => !host.gone),
          onError: (error) => this.onReadError(error),
        });
      }
    }
    if (!board) this.counts = undefined;
    await this.readBoardState();
  }

  /** Reads the board's counts and its hosts; a board out of reach keeps the last ones, marked offline. */
  private async readBoardState(): Promise<void> {
    const board = this.feedBoard;
    if (!board || this.readingBoard || this.isDisposed) return;
    this.readingBoard = true;
    try {
      const [stats, hosts] = await Promise.all([board.stats(), listHostStatuses(board)]);
      if (board !== this.feedBoard) return;
      this.counts = stats.counts;
      this.hosts = hosts.filter((host) => !(host.hostPid === process.pid && (host.host === undefined || host.host === os.hostname())));
      this.reachability.seen();
    } catch (error) {
      this.onReadError(error);
    } finally {
      this.readingBoard = false;
    }
    this.pushUpdate();
  }

  /** Said once per outage in the log; the page says it for as long as it lasts. */
  private onReadError(error: unknown): void {
    const wasOffline = this.reachability.state !== undefined;
    const offline = this.reachability.failed(error);
    if (!offline || !wasOffline) this.deps.log.warn(`Dashboard: reading the board failed: ${errorText(error)}`);
    if (offline && !wasOffline) this.pushUpdate();
  }

  private onMessage(message: unknown): void {
    void this.handle(message).then(
      (reply) => {
        if (reply) void this.panel.webview.postMessage(reply);
      },
      (error: unknown) => this.deps.log.error(`Dashboard: handling a webview message failed: ${errorText(error)}`),
    );
  }

  private async dispatch(message: WebviewMessage): Promise<HostMessage | undefined> {
    if (message.type === 'ready') {
      this.ready = true;
      this.readyCount++;
      this.pushUpdate();
      return undefined;
    }
    try {
      const text = await this.perform(message.request);
      this.feed?.refresh();
      return { type: 'reply', requestId: message.requestId, ok: true, message: text };
    } catch (error) {
      this.deps.log.warn(`Dashboard: ${message.request.kind} failed: ${errorText(error)}`);
      return { type: 'reply', requestId: message.requestId, ok: false, error: errorText(error) };
    }
  }

  private async perform(request: DashboardRequest): Promise<string> {
    switch (request.kind) {
      case 'requeue': {
        const task = await (await this.requireBoard()).requeue(request.taskId);
        this.deps.log.info(`Dashboard: requeued ${task.id} (${task.title})`);
        return `Requeued "${task.title}".`;
      }
      case 'requeueAll': {
        const tasks = await (await this.requireBoard()).requeueAll();
        this.deps.log.info(`Dashboard: requeued ${tasks.length} dead tasks`);
        return `Requeued ${plural(tasks.length, 'task')}.`;
      }
      case 'exportReport': {
        const written = await vscode.commands.executeCommand<vscode.Uri | undefined>(Commands.exportReport);
        return written ? `Report written to ${written.fsPath}.` : 'No report was written.';
      }
    }
  }

  private async requireBoard(): Promise<Board> {
    const board = await this.deps.viewBoard();
    if (!board) throw new Error('No Swarm board is open in this workspace. Post a task first, then try again.');
    return board;
  }

  /** Posts the current state; nothing is computed while no page is there to draw it. */
  private pushUpdate(snapshot?: MetricsSnapshot): void {
    if (this.isDisposed || !this.ready || !this.panel.visible) return;
    const update = this.buildUpdate(snapshot);
    this.lastUpdate = update;
    this.updatesPosted++;
    void this.panel.webview.postMessage({ type: 'update', update } satisfies HostMessage);
  }

  private buildUpdate(snapshot: MetricsSnapshot | undefined): DashboardUpdate {
    const board = this.feedBoard;
    const pool = this.deps.getPool();
    const update: DashboardUpdate = {};
    if (board && this.counts) update.board = { root: board.describe(), counts: this.counts };
    const external = this.feed?.otherPoolStats()[0];
    if (pool) update.pool = poolView(() => pool.stats());
    else if (external) update.pool = poolView(() => external, external.hostPid);
    if (this.feed) update.metrics = snapshot ?? this.feed.snapshot();
    if (this.hosts.length > 0) update.hosts = this.hosts.map(hostRowView);
    const offline = this.reachability.state;
    if (offline) update.offline = { ...offline };
    return update;
  }
}

/** How often the panel reads the board's counts and hosts (besides after each board change). */
const BOARD_STATE_MS = 2_000;

function hostRowView(host: HostView): HostRowView {
  return {
    name: host.host ?? 'this machine',
    hostPid: host.hostPid,
    busy: host.busy,
    maxAgents: host.maxAgents,
    agents: host.agents.filter((agent) => agent.state !== 'exited').length,
    gone: host.gone,
    updatedAt: host.updatedAt,
  };
}

function poolView(read: () => PoolStats, hostPid?: number): PoolView | undefined {
  let stats: PoolStats;
  try {
    stats = read();
  } catch {
    return undefined;
  }
  return {
    ...(hostPid !== undefined ? { hostPid } : {}),
    running: stats.running,
    mode: stats.mode,
    busy: stats.busy,
    total: stats.total,
    maxAgents: stats.maxAgents,
    ...(stats.pausedUntil !== undefined ? { pausedUntil: stats.pausedUntil } : {}),
    ...(stats.pauseReason ? { pauseReason: stats.pauseReason } : {}),
    ...(stats.spawnBlockedReason ? { spawnBlockedReason: stats.spawnBlockedReason } : {}),
    agents: stats.agents
      .filter((agent) => agent.state !== 'exited')
      .map((agent) => ({
        id: agent.id,
        state: agent.state,
        // A batch: the titles of all its tasks.
        ...(currentTasksOf(agent).length > 0 ? { taskTitle: currentTasksOf(agent).map((task) => task.title).join(', ') } : {}),
        ...(agent.cpuPercent !== undefined ? { cpuPercent: agent.cpuPercent } : {}),
        ...(agent.rssBytes !== undefined ? { rssBytes: agent.rssBytes } : {}),
      })),
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value).slice(0, 200);
  } catch {
    return String(value);
  }
}

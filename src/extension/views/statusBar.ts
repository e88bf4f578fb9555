// The status-bar item: done/total and busy agents, a spinner while the pool runs; opens the panel.
import * as vscode from 'vscode';
import { statusBarText } from '../logic/taskTree';
import { Commands } from '../commandIds';
import { ContextKeys } from '../settings';
import type { SwarmSession } from '../session';
import { setContext } from '../context';
import { DisposableBase } from '../disposable';

export class SwarmStatusBar extends DisposableBase implements vscode.Disposable {
  private readonly item = this.register(vscode.window.createStatusBarItem('agentSwarm.status', vscode.StatusBarAlignment.Left, 50));
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly session: SwarmSession) {
    super();
    this.item.name = 'Agent Swarm';
    this.item.command = Commands.showBoard;
    this.register(session.onDidChangeBoard(() => this.schedule()));
    this.register(session.onDidChangePool(() => this.schedule()));
    this.register(session.onPoolEvent(() => this.schedule()));
    this.update();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.update();
    }, 500);
  }

  /** Reads the counts through the async board (a worker thread), then redraws. */
  update(): void {
    void this.render().catch((error: unknown) => this.session.log.warn(`Status bar: the board could not be read: ${error instanceof Error ? error.message : String(error)}`));
  }

  private async render(): Promise<void> {
    const board = await this.session.viewBoard();
    const pool = this.session.getPool();
    if (!board && !pool) {
      this.item.hide();
      return;
    }
    const counts = board ? (await board.stats()).counts : undefined;
    const total = counts ? Object.values(counts).reduce((sum, count) => sum + count, 0) : 0;
    const done = counts?.done ?? 0;
    const busy = pool?.stats().busy ?? 0;
    this.item.text = statusBarText({ done, total, busy, running: pool !== undefined });
    this.item.tooltip = counts
      ? `Agent Swarm: ${done} done, ${counts.running} running, ${counts.pending} pending, ${counts.dead} failed of ${total}${pool ? ` · ${busy} agents busy` : ' · pool stopped'}\nClick to open the Swarm panel.`
      : 'Agent Swarm';
    void setContext(ContextKeys.hasFailed, (counts?.dead ?? 0) > 0);
    void setContext(ContextKeys.hasResults, done > 0);
    this.item.show();
  }

  override dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    super.dispose();
  }
}

// The dashboard: the `agentSwarm.openDashboard` command, the panel's restore after a reload, and
// the recording of the pool's resource figures into the board (for reports written later).
import * as vscode from 'vscode';
import { recordPoolResources, resourceLogRoot, resourceStoreOf } from '../../core/metrics';
import { hostRecordId } from '../../core/pool/status-file';
import { Commands, InternalCommands } from '../commandIds';
import type { DashboardDeps } from './deps';
import { DashboardPanel, type DashboardProbe } from './panel';
import { DASHBOARD_VIEW_TYPE, type HostMessage } from '../../shared/dashboardProtocol';

export type { DashboardDeps, DashboardPool } from './deps';
export { DASHBOARD_VIEW_TYPE } from '../../shared/dashboardProtocol';


export function registerDashboard(context: vscode.ExtensionContext, deps: DashboardDeps): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.openDashboard, () => {
      DashboardPanel.show(context.extensionUri, deps);
    }),
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      // The page restores its own view state (getState); the host only reattaches the live feed.
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
        DashboardPanel.revive(panel, context.extensionUri, deps);
      },
    }),
    vscode.commands.registerCommand(InternalCommands.dashboardProbe, (): DashboardProbe | undefined => DashboardPanel.probe()),
    vscode.commands.registerCommand(InternalCommands.dashboardMessage, (message: unknown): Promise<HostMessage | undefined> => DashboardPanel.handleMessage(message)),
    new vscode.Disposable(() => DashboardPanel.disposeCurrent()),
    resourceRecording(deps),
  );
}

/**
 * Keeps one resource recorder on the current pool and board, replaced only when either of them is
 * replaced (onDidChangeBoard also fires for every change of the board's contents). A file board's
 * figures go to its folder; a Redis board's (agentSwarm.board) to the server, marked with this host.
 */
function resourceRecording(deps: DashboardDeps): vscode.Disposable {
  let recorder: { dispose(): Promise<void> } | undefined;
  let recorded: { pool: unknown; board: unknown } = { pool: undefined, board: undefined };
  let generation = 0;
  const onError = (error: unknown): void => deps.log.warn(`Recording pool resources failed: ${error instanceof Error ? error.message : String(error)}`);
  const restart = (): void => {
    const pool = deps.getPool();
    // No pool, nothing to record: the board is not even looked up (activation stays cheap).
    const board = pool ? deps.getBoard() : undefined;
    if (pool === recorded.pool && board === recorded.board) return;
    recorded = { pool, board };
    const started = ++generation;
    void recorder?.dispose();
    recorder = undefined;
    if (!pool) return;
    if (board) {
      recorder = recordPoolResources(pool, board.root, { onError });
      return;
    }
    void deps.viewBoard().then((shared) => {
      const store = resourceLogRoot(shared) === undefined ? resourceStoreOf(shared) : undefined;
      if (started !== generation || !shared || !store) return;
      recorder = recordPoolResources(pool, store, { onError, host: hostRecordId(shared) });
    }, onError);
  };
  const subscriptions = [deps.onDidChangePool(restart), deps.onDidChangeBoard(restart)];
  restart();
  return new vscode.Disposable(() => {
    generation++;
    for (const subscription of subscriptions) subscription.dispose();
    void recorder?.dispose();
  });
}

// What the dashboard and the report command need from the rest of the extension.
import type * as vscode from 'vscode';
import type { FileBoardEngine as FileBoard } from '../../core/board';
import type { AgentPool } from '../../core/pool';

/** The part of AgentPool the dashboard reads: its stats and its events. */
export type DashboardPool = Pick<AgentPool, 'stats' | 'onEvent'>;

export interface DashboardDeps {
  getBoard(): FileBoard | undefined;
  getPool(): DashboardPool | undefined;
  onDidChangePool: vscode.Event<void>;
  onDidChangeBoard: vscode.Event<void>;
  log: vscode.LogOutputChannel;
}

// What the dashboard and the report command need from the rest of the extension.
import type * as vscode from 'vscode';
import type { FileBoardEngine as FileBoard } from '../../core/board';
import type { Board } from '../../core/board/interface';
import type { AgentPool } from '../../core/pool';

/** The part of AgentPool the dashboard reads: its stats and its events. */
export type DashboardPool = Pick<AgentPool, 'stats' | 'onEvent'>;

export interface DashboardDeps {
  /** The pool's engine (resource recording follows the running pool only). */
  getBoard(): FileBoard | undefined;
  /** The board the dashboard reads and writes: async, its engine off the extension host's thread. */
  viewBoard(): Promise<Board | undefined>;
  getPool(): DashboardPool | undefined;
  onDidChangePool: vscode.Event<void>;
  onDidChangeBoard: vscode.Event<void>;
  log: vscode.LogOutputChannel;
}

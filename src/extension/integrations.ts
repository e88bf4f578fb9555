// Wires in the modules other engineers build: the dashboard, the report command, chat.
import type * as vscode from 'vscode';
import { registerDashboard } from './dashboard';
import { registerReportCommand } from './dashboard/report';
import { registerChatIntegrations } from './chat';
import type { SwarmSession } from './session';

export function registerIntegrations(context: vscode.ExtensionContext, session: SwarmSession): void {
  const deps = {
    getBoard: () => session.getBoard(),
    viewBoard: () => session.viewBoard(),
    getPool: () => session.getPool(),
    onDidChangePool: session.onDidChangePool,
    onDidChangeBoard: session.onDidChangeBoard,
    log: session.log,
  };
  registerDashboard(context, deps);
  registerReportCommand(context, deps);
  // Chat posts work, so it may create the board; without a folder it gets none and says so.
  registerChatIntegrations(context, { getBoard: () => session.ensureViewBoard().catch(() => undefined), workspaceRoot: () => session.workspaceRoot, boardDir: () => session.boardDir, log: session.log });
}

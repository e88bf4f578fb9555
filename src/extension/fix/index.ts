// "Fix with swarm": the code lens, the quick fix and the three fix commands, wired into activate().
import * as vscode from 'vscode';
import { runReported } from '../commands';
import type { SwarmSession } from '../session';
import { Commands } from '../settings';
import { FixLensProvider } from './lens';
import { FixQuickFixProvider } from './quickFix';
import { fixAllProblems, fixFile, fixProblems } from './commands';

const FILE_DOCUMENTS: vscode.DocumentSelector = { scheme: 'file' };

export function registerFixWithSwarm(context: vscode.ExtensionContext, session: SwarmSession): void {
  const lenses = new FixLensProvider();
  context.subscriptions.push(
    lenses,
    vscode.languages.registerCodeLensProvider(FILE_DOCUMENTS, lenses),
    vscode.languages.registerCodeActionsProvider(FILE_DOCUMENTS, new FixQuickFixProvider(), FixQuickFixProvider.metadata),
    vscode.commands.registerCommand(Commands.fixProblems, (uri?: unknown, where?: unknown) => runReported(session, Commands.fixProblems, () => fixProblems(session, uri, where))),
    vscode.commands.registerCommand(Commands.fixFile, (uri?: unknown) => runReported(session, Commands.fixFile, () => fixFile(session, uri))),
    vscode.commands.registerCommand(Commands.fixAllProblems, (folder?: unknown) => runReported(session, Commands.fixAllProblems, () => fixAllProblems(session, folder))),
  );
}

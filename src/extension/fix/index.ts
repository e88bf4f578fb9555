// "Fix with swarm": the code lens, the quick fix and the three fix commands, wired into activate().
import * as vscode from 'vscode';
import { registerReported } from '../commands';
import type { SwarmSession } from '../session';
import { Commands } from '../commandIds';
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
  );
  registerReported(context, session, Commands.fixProblems, (uri?: unknown, where?: unknown) => fixProblems(session, uri, where));
  registerReported(context, session, Commands.fixFile, (uri?: unknown) => fixFile(session, uri));
  registerReported(context, session, Commands.fixAllProblems, (folder?: unknown) => fixAllProblems(session, folder));
}

// "Fix with swarm" in the light bulb: one quick fix for the errors and warnings under the cursor.
import * as vscode from 'vscode';
import { Commands } from '../commandIds';
import { isFixable } from '../logic/fixLens';

export class FixQuickFixProvider implements vscode.CodeActionProvider {
  static readonly metadata: vscode.CodeActionProviderMetadata = { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] };

  provideCodeActions(document: vscode.TextDocument, _range: vscode.Range | vscode.Selection, context: vscode.CodeActionContext): vscode.CodeAction[] {
    if (context.only && !context.only.contains(vscode.CodeActionKind.QuickFix)) return [];
    const diagnostics = context.diagnostics.filter(isFixable);
    if (diagnostics.length === 0) return [];
    const action = new vscode.CodeAction('Fix with swarm', vscode.CodeActionKind.QuickFix);
    action.diagnostics = diagnostics;
    action.command = {
      title: 'Fix with swarm',
      command: Commands.fixProblems,
      tooltip: 'Post a task for an agent to fix this problem',
      arguments: [document.uri, diagnostics],
    };
    return [action];
  }
}

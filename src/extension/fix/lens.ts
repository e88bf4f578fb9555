// The "Fix with swarm" code lens above lines with errors and warnings (and, by setting, TODO/FIXME
// comments). Lenses are computed from the live diagnostics on each request; the provider only
// tells VS Code when to ask again (diagnostics or settings changed), debounced.
import * as vscode from 'vscode';
import { DisposableBase } from '../disposable';
import { Commands } from '../commandIds';
import { SECTION, lensSettings } from '../settings';
import { fixableProblems, groupLensLines, lensTitle, lensTooltip, todoProblems } from '../logic/fixLens';

const REFRESH_DEBOUNCE_MS = 250;

export class FixLensProvider extends DisposableBase implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = this.register(new vscode.EventEmitter<void>());
  readonly onDidChangeCodeLenses = this.changed.event;
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    super();
    this.register(
      vscode.languages.onDidChangeDiagnostics((event) => {
        if (event.uris.some((uri) => uri.scheme === 'file')) this.refreshSoon();
      }),
    );
    this.register(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration(`${SECTION}.codeLens`)) this.changed.fire();
      }),
    );
    // TODO comments move with edits; only relevant while the TODO lens is on.
    this.register(
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.document.uri.scheme === 'file' && lensSettings().todo) this.refreshSoon();
      }),
    );
  }

  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const settings = lensSettings();
    if (!settings.enabled) return [];
    const problems = fixableProblems(vscode.languages.getDiagnostics(document.uri));
    if (settings.todo) problems.push(...todoProblems(document.getText()));
    return groupLensLines(problems)
      .filter((group) => group.line < document.lineCount)
      .map((group) => {
        const range = new vscode.Range(group.line, 0, Math.min(group.endLine, document.lineCount - 1), 0);
        return new vscode.CodeLens(range, {
          title: lensTitle(group),
          tooltip: lensTooltip(group),
          command: Commands.fixProblems,
          arguments: [document.uri, range],
        });
      });
  }

  private refreshSoon(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed.fire();
    }, REFRESH_DEBOUNCE_MS);
  }

  override dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    super.dispose();
  }
}

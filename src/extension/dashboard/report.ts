// `agentSwarm.exportReport`: writes a Markdown or HTML report of the board's run and opens it.
import * as vscode from 'vscode';
import { renderRunReport, reportFormatForPath } from '../../core/report';
import { Commands } from '../commandIds';
import type { DashboardDeps } from './deps';


export interface ExportReportOptions {
  /** Open the written report (default true): Markdown in the preview, HTML in an editor. */
  open?: boolean;
}

/**
 * Registers the command. It takes an optional target Uri (no save dialog then; the format follows
 * the extension: .html/.htm → HTML, else Markdown) and returns the Uri written, or undefined when
 * the user cancelled.
 */
export function registerReportCommand(context: vscode.ExtensionContext, deps: Pick<DashboardDeps, 'viewBoard' | 'log'>): void {
  context.subscriptions.push(
    vscode.commands.registerCommand(Commands.exportReport, (target?: vscode.Uri, options: ExportReportOptions = {}) => exportReport(deps, target, options)),
  );
}

async function exportReport(deps: Pick<DashboardDeps, 'viewBoard' | 'log'>, target: vscode.Uri | undefined, options: ExportReportOptions): Promise<vscode.Uri | undefined> {
  const board = await deps.viewBoard();
  if (!board) {
    void vscode.window.showErrorMessage('Swarm: there is no board in this workspace to report on. Post a task or run "Swarm: Start" first.');
    return undefined;
  }
  const uri = target ?? (await askForTarget());
  if (!uri) return undefined;
  const format = reportFormatForPath(uri.path);
  try {
    const text = await renderRunReport(board, format);
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    deps.log.error(`Export report to ${uri.toString(true)} failed: ${reason}`);
    void vscode.window.showErrorMessage(`Swarm: the report could not be written to ${uri.fsPath}: ${reason}. Choose another location and try again.`);
    return undefined;
  }
  deps.log.info(`Report written to ${uri.toString(true)} (${format})`);
  if (options.open ?? true) await openReport(uri, format);
  return uri;
}

async function askForTarget(): Promise<vscode.Uri | undefined> {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
  return vscode.window.showSaveDialog({
    title: 'Export Swarm Run Report',
    saveLabel: 'Export Report',
    ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `swarm-report-${stamp}.md`) } : {}),
    filters: { Markdown: ['md'], HTML: ['html'] },
  });
}

async function openReport(uri: vscode.Uri, format: 'markdown' | 'html'): Promise<void> {
  if (format === 'markdown') {
    try {
      await vscode.commands.executeCommand('markdown.showPreview', uri);
      return;
    } catch {
      // The built-in Markdown extension may be disabled: the editor still shows the report.
    }
  }
  await vscode.window.showTextDocument(uri, { preview: true });
}

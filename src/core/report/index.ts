// Run reports (Markdown and self-contained HTML) of a board's run; vscode-free, used by `swarm
// report` and the extension's Export Report command.
import { renderHtml } from './html';
import { renderMarkdown } from './markdown';
import { buildRunReport, type ReportBoard, type ReportOptions } from './model';

export { buildRunReport, type RunReport, type ReportTask, type ReportFailure, type ReportBoard, type ReportOptions } from './model';
export { renderMarkdown } from './markdown';
export { renderHtml, escapeHtml } from './html';
export { formatDuration, formatParallelism, formatTime, formatBytes } from './format';

export type ReportFormat = 'markdown' | 'html';

/** Builds and renders a report in one call. */
export async function renderRunReport(board: ReportBoard, format: ReportFormat, options: ReportOptions = {}): Promise<string> {
  const report = await buildRunReport(board, options);
  return format === 'html' ? renderHtml(report) : renderMarkdown(report);
}

/** `.html`/`.htm` files get HTML, everything else Markdown. */
export function reportFormatForPath(file: string): ReportFormat {
  return /\.html?$/i.test(file) ? 'html' : 'markdown';
}

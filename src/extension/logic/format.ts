// Labels and figures shown in the Swarm views and status bar. Pure functions (no vscode), so
// they are unit-tested in plain Node.

// Durations, sizes and plurals read the same as in the CLI, the dashboard and the reports.
export { formatBytes, formatDuration, plural } from '../../core/format';

export function formatPercent(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '' : `${Math.round(value)}%`;
}

// Figures as people read them in a report. Durations and sizes come from the one formatter.
export { formatBytes, formatDuration } from '../format';

export function formatParallelism(parallelism: number): string {
  return parallelism > 0 ? parallelism.toFixed(2) : '–';
}

export function formatTime(epochMs: number | undefined): string {
  return epochMs === undefined ? '–' : new Date(epochMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// Human-readable output for the terminal. With --json, commands print JSON instead and nothing else.
import { BoardEvent, BoardStats, Task, TaskError } from '../core/board';

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

function pad(text: string, width: number): string {
  return truncate(text, width).padEnd(width);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
  return `${Math.floor(ms / 3_600_000)}h${Math.round((ms % 3_600_000) / 60_000)}m`;
}

export function formatTaskTable(tasks: Task[]): string {
  if (tasks.length === 0) return 'No tasks.';
  const header = `${pad('ID', 22)} ${pad('STATUS', 9)} ${pad('PRI', 5)} ${pad('TRIES', 5)} ${pad('AGENT', 12)} TITLE`;
  const rows = tasks.map((task) =>
    [
      pad(task.id, 22),
      pad(task.status, 9),
      pad(String(task.priority), 5),
      pad(`${task.attempts}/${task.maxAttempts}`, 5),
      pad(task.claimedBy ?? '-', 12),
      truncate(task.title, 60),
    ].join(' '),
  );
  return [header, ...rows].join('\n');
}

export function formatTask(task: Task, errors: TaskError[]): string {
  const lines = [
    `${task.id}  ${task.title}`,
    `  status:    ${task.status}${task.claimedBy ? ` (held by ${task.claimedBy})` : ''}`,
    `  type:      ${task.type}    priority: ${task.priority}    attempts: ${task.attempts}/${task.maxAttempts}`,
    `  created:   ${new Date(task.createdAt).toISOString()}    updated: ${new Date(task.updatedAt).toISOString()}`,
  ];
  if (task.leaseExpiresAt) lines.push(`  lease:     until ${new Date(task.leaseExpiresAt).toISOString()}`);
  if (task.notBefore) lines.push(`  not before: ${new Date(task.notBefore).toISOString()}`);
  if (task.parentId) lines.push(`  parent:    ${task.parentId}`);
  if (task.childCount !== undefined) lines.push(`  children:  ${task.childCount}`);
  if (task.files.length > 0) lines.push(`  files:     ${task.files.join(', ')}`);
  if (task.prompt) lines.push(`  prompt:    ${task.prompt.split('\n').join('\n             ')}`);
  if (task.payload !== null && task.payload !== undefined) lines.push(`  payload:   ${JSON.stringify(task.payload)}`);
  if (task.result !== undefined) lines.push(`  result:    ${JSON.stringify(task.result)}`);
  for (const error of errors) {
    lines.push(`  error:     attempt ${error.attempt}${error.permanent ? ' (permanent)' : ''} ${new Date(error.at).toISOString()}: ${error.message}`);
  }
  return lines.join('\n');
}

export function formatStats(stats: BoardStats): string {
  const counts = Object.entries(stats.counts).map(([status, count]) => `${status} ${count}`).join(', ');
  const lines = [`${counts}, quarantined ${stats.quarantined}`];
  for (const [id, progress] of Object.entries(stats.parents)) {
    lines.push(`  map ${id}: ${progress.done + progress.dead + progress.cancelled}/${progress.total} ended (${progress.percent}%), ${progress.running} running, ${progress.dead} dead`);
  }
  return lines.join('\n');
}

export function formatEvent(event: BoardEvent): string {
  const parts = [new Date(event.at).toISOString(), event.type.padEnd(15)];
  if (event.taskId) parts.push(event.taskId);
  if (event.agent) parts.push(`agent=${event.agent}`);
  if (event.attempt !== undefined) parts.push(`attempt=${event.attempt}`);
  if (event.detail) parts.push(JSON.stringify(event.detail));
  return parts.join(' ');
}

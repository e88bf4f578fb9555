// Human-readable output for the terminal. With --json, commands print JSON instead and nothing else.
// Everything printed can hold text others wrote (titles and prompts posted by agents, file names
// from patches, error messages of executors): control sequences in it would retitle, recolour or
// erase the reader's terminal, and bidirectional overrides would reorder what the reader sees. So
// every field is escaped before it is printed, shown visibly as \x1b or \u202e.
import { BoardEvent, BoardStats, Task, TaskError, describeNeeds } from '../core/board';
import { formatBytes } from '../core/format';

/** C0 controls, DEL, C1 controls (U+0080–U+009F) and the bidi overrides and isolates. */
const TERMINAL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same, keeping line breaks and tabs (a carriage return only as part of \r\n). */
const TERMINAL_CONTROLS_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|\r(?!\n)/g;

/**
 * Text made safe to print on a terminal: every control character shown as an escape (`\x1b`,
 * `\u202e`). A field (a title, a file name) is one line: its line breaks and tabs are escaped too,
 * so it cannot fake another row. `multiline` keeps them, for prompts, patches and messages.
 */
export function escapeTerminal(text: string, options: { multiline?: boolean } = {}): string {
  return String(text).replace(options.multiline ? TERMINAL_CONTROLS_BUT_LINES : TERMINAL_CONTROLS, visibleEscape);
}

function visibleEscape(char: string): string {
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Prints lines for a person: control sequences escaped, line breaks kept. */
export function printText(text: string): void {
  console.log(escapeTerminal(text, { multiline: true }));
}

/**
 * JSON as text: JSON.stringify already escapes C0 controls; C1 controls and bidi overrides are
 * escaped as well (\u009b, \u202e), so the output is still the same JSON and safe on a terminal.
 */
export function toJson(value: unknown, indent?: number): string {
  return (JSON.stringify(value, null, indent) ?? 'null').replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function printJson(value: unknown): void {
  process.stdout.write(toJson(value, 2) + '\n');
}

function truncate(text: string, width: number): string {
  const safe = escapeTerminal(text);
  return safe.length <= width ? safe : `${safe.slice(0, width - 1)}…`;
}

function pad(text: string, width: number): string {
  return truncate(text, width).padEnd(width);
}

export { formatDuration } from '../core/format';

export function formatTaskTable(tasks: Task[]): string {
  if (tasks.length === 0) return 'No tasks.';
  const header = `${pad('ID', 22)} ${pad('STATUS', 9)} ${pad('PRI', 5)} ${pad('TRIES', 5)} ${pad('AGENT', 12)} TITLE`;
  const rows = tasks.map((task) =>
    [
      pad(task.id, 22),
      pad(task.status, 9),
      pad(String(task.priority), 5),
      pad(`${task.attempts}/${task.maxAttempts}`, 5),
      pad(task.claimedBy ?? (task.waitingForRunner ? 'needs runner' : '-'), 12),
      truncate(task.title, 60) + (task.waitingForRunner ? ` (waits for ${escapeTerminal(describeNeeds(task.waitingForRunner))})` : ''),
    ].join(' '),
  );
  return [header, ...rows].join('\n');
}

export function formatTask(task: Task, errors: TaskError[]): string {
  const field = (text: unknown) => escapeTerminal(String(text));
  const lines = [
    `${field(task.id)}  ${field(task.title)}`,
    `  status:    ${field(task.status)}${task.claimedBy ? ` (held by ${field(task.claimedBy)})` : ''}`,
    `  type:      ${task.type}    priority: ${task.priority}    attempts: ${task.attempts}/${task.maxAttempts}`,
    `  created:   ${new Date(task.createdAt).toISOString()}    updated: ${new Date(task.updatedAt).toISOString()}`,
  ];
  if (task.leaseExpiresAt) lines.push(`  lease:     until ${new Date(task.leaseExpiresAt).toISOString()}`);
  if (task.notBefore) lines.push(`  not before: ${new Date(task.notBefore).toISOString()}`);
  if (task.parentId) lines.push(`  parent:    ${field(task.parentId)}`);
  if (task.childCount !== undefined) lines.push(`  children:  ${task.childCount}`);
  if (task.files.length > 0) lines.push(`  files:     ${task.files.map(field).join(', ')}`);
  if (task.requires) lines.push(`  requires:  ${task.requires.map(field).join(', ')} (runner labels)`);
  if (task.waitingForRunner) lines.push(`  waiting:   for ${field(describeNeeds(task.waitingForRunner))}: no runner that asked so far could serve it`);
  if (task.source) {
    const { source } = task;
    const bundle = source.bundle === 'none' ? 'on the remote already' : `${source.bundle} bundle of ${formatBytes(source.bundleBytes)}`;
    lines.push(`  starts at: snapshot ${source.snapshot.slice(0, 12)} of ${field(source.repository)}${source.prefix ? ` (folder ${field(source.prefix)})` : ''}, ${bundle}`);
  }
  if (task.prompt) lines.push(`  prompt:    ${escapeTerminal(task.prompt, { multiline: true }).split('\n').join('\n             ')}`);
  if (task.payload !== null && task.payload !== undefined) lines.push(`  payload:   ${toJson(task.payload)}`);
  if (task.result !== undefined) lines.push(`  result:    ${toJson(task.result)}`);
  for (const error of errors) {
    lines.push(`  error:     attempt ${error.attempt}${error.permanent ? ' (permanent)' : ''} ${new Date(error.at).toISOString()}: ${escapeTerminal(error.message, { multiline: true })}`);
  }
  return lines.join('\n');
}

export function formatStats(stats: BoardStats): string {
  const counts = Object.entries(stats.counts).map(([status, count]) => `${status} ${count}`).join(', ');
  const lines = [`${counts}, quarantined ${stats.quarantined}`];
  for (const [id, progress] of Object.entries(stats.parents)) {
    lines.push(`  map ${escapeTerminal(id)}: ${progress.done + progress.dead + progress.cancelled}/${progress.total} ended (${progress.percent}%), ${progress.running} running, ${progress.dead} dead`);
  }
  return lines.join('\n');
}

export function formatEvent(event: BoardEvent): string {
  const parts = [new Date(event.at).toISOString(), escapeTerminal(event.type).padEnd(15)];
  if (event.taskId) parts.push(escapeTerminal(event.taskId));
  if (event.agent) parts.push(`agent=${escapeTerminal(event.agent)}`);
  if (event.attempt !== undefined) parts.push(`attempt=${escapeTerminal(String(event.attempt))}`);
  if (event.detail) parts.push(toJson(event.detail));
  return parts.join(' ');
}

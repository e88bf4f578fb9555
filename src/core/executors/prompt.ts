// The prompt a coding agent receives: everything in the task that helps it do the work, in a
// stable, readable order. Diagnostics (from "fix with swarm") get a compact one-line-each form
// because agents read them far better than raw JSON.
import type { Task } from '../board/types';

/** Payload context beyond this many characters is cut, so the prompt still fits in one argument. */
const MAX_CONTEXT_CHARS = 30_000;

export function buildAgentPrompt(task: Task): string {
  const sections = [`# Task: ${task.title}`];
  if (task.prompt.trim() !== '' && task.prompt.trim() !== task.title.trim()) sections.push(task.prompt.trim());
  if (task.files.length > 0) {
    sections.push(['## Files', 'Work on these files (paths relative to the current directory):', ...task.files.map((file) => `- ${file}`)].join('\n'));
  }
  const context = describePayload(task.payload);
  if (context !== undefined) sections.push(`## Context\n${context}`);
  sections.push(
    '## Rules\n' +
      '- The current directory is your own copy of the repository; make the changes there, in the files themselves.\n' +
      (task.files.length > 0 ? '- Change only the files listed above unless the task cannot be done otherwise.\n' : '') +
      '- Finish without asking questions; nobody is there to answer them.',
  );
  return sections.join('\n\n');
}

function describePayload(payload: unknown): string | undefined {
  if (payload === undefined || payload === null) return undefined;
  if (typeof payload === 'string') return payload.trim() === '' ? undefined : truncate(payload);
  if (typeof payload !== 'object') return String(payload);
  const record = payload as Record<string, unknown>;
  const parts: string[] = [];
  if (Array.isArray(record.diagnostics) && record.diagnostics.length > 0) {
    parts.push(['Diagnostics to fix:', ...record.diagnostics.map((item) => `- ${describeDiagnostic(item)}`)].join('\n'));
  }
  const rest = Object.fromEntries(Object.entries(record).filter(([key]) => key !== 'diagnostics'));
  if (Object.keys(rest).length > 0) parts.push(`\`\`\`json\n${JSON.stringify(rest, null, 2)}\n\`\`\``);
  return parts.length > 0 ? truncate(parts.join('\n\n')) : undefined;
}

/** Accepts the shapes diagnostics come in: flat `{file, line, column}` or VS Code's `{range: {start}}`. */
function describeDiagnostic(item: unknown): string {
  if (typeof item !== 'object' || item === null) return String(item);
  const diagnostic = item as Record<string, unknown>;
  const start = ((diagnostic.range as Record<string, unknown> | undefined)?.start ?? {}) as Record<string, unknown>;
  const file = text(diagnostic.file ?? diagnostic.path ?? diagnostic.uri);
  const line = numberOr(diagnostic.line, numberOr(start.line, undefined, 1), 0);
  const column = numberOr(diagnostic.column ?? diagnostic.character, numberOr(start.character, undefined, 1), 0);
  const location = [file, line, column].filter((part) => part !== undefined && part !== '').join(':');
  const severity = text(diagnostic.severity);
  const origin = [text(diagnostic.source), text(typeof diagnostic.code === 'object' ? (diagnostic.code as Record<string, unknown>)?.value : diagnostic.code)]
    .filter(Boolean)
    .join(' ');
  return [location, severity, text(diagnostic.message) ?? JSON.stringify(item), origin ? `(${origin})` : ''].filter(Boolean).join(' ');
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

/** `offset` converts VS Code's 0-based positions to the 1-based ones people and tools print. */
function numberOr(value: unknown, fallback: number | undefined, offset: number): number | undefined {
  return typeof value === 'number' ? value + offset : fallback;
}

function truncate(value: string): string {
  return value.length <= MAX_CONTEXT_CHARS ? value : `${value.slice(0, MAX_CONTEXT_CHARS)}\n[... ${value.length - MAX_CONTEXT_CHARS} more characters cut]`;
}

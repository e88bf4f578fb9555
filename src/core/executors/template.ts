// Command templates: `eslint --fix {files}`, `claude -p {agentPrompt}`. Placeholders expand to
// shell-quoted values, so a prompt with quotes, `$(...)`, backticks or newlines stays one literal
// argument. The same values are exported as SWARM_* environment variables for scripts that need
// them inside their own quoting (`sh -c '... "$SWARM_PROMPT" ...'`).
import * as path from 'node:path';
import type { Task } from '../board/types';
import { buildAgentPrompt } from './prompt';
import { ExecutorError } from './types';

export interface TemplateValues {
  files: string[];
  prompt: string;
  agentPrompt: string;
  id: string;
  dir: string;
  title: string;
}

export type Placeholder = 'files' | 'file' | 'prompt' | 'agentPrompt' | 'id' | 'dir' | 'title';

export const PLACEHOLDERS: readonly Placeholder[] = ['files', 'file', 'prompt', 'agentPrompt', 'id', 'dir', 'title'];

/** Linux refuses any single argument or environment string over 128 KiB; stay well below it. */
export const MAX_ARGUMENT_CHARS = 100_000;

export function templateValues(task: Task, cwd: string): TemplateValues {
  assertRelativeFiles(task.files);
  return {
    files: task.files,
    prompt: task.prompt,
    agentPrompt: buildAgentPrompt(task),
    id: task.id,
    dir: cwd,
    title: task.title,
  };
}

/**
 * Task files must name paths inside the task's directory. The board checks this when a task is
 * posted; a task file written onto the board some other way is checked again here, before any of
 * its paths reaches a command line (`eslint --fix {files}` with `/home/you/.bashrc` would edit it).
 */
function assertRelativeFiles(files: readonly string[]): void {
  const outside = files.find((file) => file === '' || file.includes('\0') || path.isAbsolute(file) || /^[A-Za-z]:/.test(file) || file.split(/[\\/]/).includes('..'));
  if (outside === undefined) return;
  throw new ExecutorError('permanent', `The task names the file "${outside.replace(/\0/g, '\\0')}", which is not a path inside the workspace (absolute, or with ".."); nothing was run. Post the task again with workspace-relative paths.`);
}

/** POSIX single-quoting: everything is literal inside '...', and a ' is written as '\''. */
export function shellQuote(value: string): string {
  const clean = value.replace(/\0/g, '');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(clean)) return clean;
  return `'${clean.replace(/'/g, `'\\''`)}'`;
}

/** A file argument that cannot be mistaken for an option. */
function fileArgument(file: string): string {
  return shellQuote(file.startsWith('-') ? `./${file}` : file);
}

/** In a shown command: this many files of a longer list, then "… and N more". */
const SHOWN_FILES = 3;
/** In a shown command: a longer value (a prompt) is cut to this many characters. */
const SHOWN_VALUE_CHARS = 80;

function expansion(name: Placeholder, values: TemplateValues, forDisplay: boolean): string {
  if (forDisplay) return shownExpansion(name, values);
  switch (name) {
    case 'files':
      return values.files.map(fileArgument).join(' ');
    case 'file':
      return values.files.length > 0 ? fileArgument(values.files[0]) : "''";
    default:
      return shellQuote(capped(values[name], name));
  }
}

/** What a placeholder stands for in a log line: short, one line, and not meant to be pasted into a shell. */
function shownExpansion(name: Placeholder, values: TemplateValues): string {
  if (name === 'files' && values.files.length > SHOWN_FILES + 1) {
    return `${values.files.slice(0, SHOWN_FILES).map(fileArgument).join(' ')} … and ${values.files.length - SHOWN_FILES} more files`;
  }
  const full = expansion(name, values, false);
  const oneLine = full.replace(/\s*\n\s*/g, ' ');
  return oneLine.length <= SHOWN_VALUE_CHARS ? oneLine : `${oneLine.slice(0, SHOWN_VALUE_CHARS)}… (${full.length} characters)`;
}

function capped(value: string, name: string): string {
  if (value.length <= MAX_ARGUMENT_CHARS) return value;
  return `${value.slice(0, MAX_ARGUMENT_CHARS)}\n[... ${name} truncated: ${value.length - MAX_ARGUMENT_CHARS} more characters]`;
}

/**
 * Replaces `{files}`, `{file}`, `{prompt}`, `{agentPrompt}`, `{id}`, `{dir}`, `{title}`.
 * `${name}` is left alone (it is a shell variable). A placeholder inside the template's own quotes
 * is refused: the value would be quoted twice, or not at all in a nested shell.
 */
export function expandTemplate(template: string, values: TemplateValues): string {
  return expand(template, values, false);
}

/**
 * The command as it ran, for logs and messages: placeholders expanded, a long file list shortened
 * to its first files and "… and N more files", a long prompt cut. Not for running.
 */
export function shownCommand(template: string, values: TemplateValues): string {
  return expand(template, values, true);
}

function expand(template: string, values: TemplateValues, forDisplay: boolean): string {
  let output = '';
  let quote: "'" | '"' | undefined;
  for (let index = 0; index < template.length; index++) {
    const char = template[index];
    if (char === '\\' && quote !== "'") {
      output += template.slice(index, index + 2);
      index++;
      continue;
    }
    if (quote === undefined && (char === "'" || char === '"')) quote = char;
    else if (char === quote) quote = undefined;
    const name = char === '{' ? placeholderAt(template, index) : undefined;
    if (name !== undefined && template[index - 1] !== '$') {
      if (quote !== undefined) throw quotedPlaceholder(name, template);
      output += expansion(name, values, forDisplay);
      index += name.length + 1;
      continue;
    }
    output += char;
  }
  return output;
}

/** The placeholders a template uses (a `${name}` shell variable is not one). */
export function placeholdersOf(template: string): Set<Placeholder> {
  const found = new Set<Placeholder>();
  for (let index = 0; index < template.length; index++) {
    const name = template[index] === '{' && template[index - 1] !== '$' ? placeholderAt(template, index) : undefined;
    if (name !== undefined) found.add(name);
  }
  return found;
}

/** Environment variables that carry one task's values (SWARM_FILES and SWARM_DIR do not). */
const TASK_ENV_PATTERN = /\bSWARM_(TASK_ID|TITLE|PROMPT|AGENT_PROMPT|FILE)\b/;

/**
 * Why one run of `template` could not serve several tasks at once, or undefined when it can: it
 * must name the task's files with {files} and nothing else of the task ({dir} is the same folder
 * for all of them; a verify command may name no files: `npm test`). A script behind the command that reads $SWARM_TASK_ID cannot be seen from
 * here; `"batch": false` is for that.
 */
export function whyNotBatchable(template: string, { needsFiles = true } = {}): string | undefined {
  const used = placeholdersOf(template);
  if (needsFiles && !used.has('files')) return 'it does not pass the files with {files}';
  const other = [...used].find((name) => name !== 'files' && name !== 'dir');
  if (other !== undefined) return `it uses {${other}}, which differs from task to task`;
  const variable = TASK_ENV_PATTERN.exec(template)?.[0];
  if (variable !== undefined) return `it reads $${variable}, which differs from task to task`;
  return undefined;
}

function placeholderAt(template: string, index: number): Placeholder | undefined {
  return PLACEHOLDERS.find((name) => template.startsWith(`{${name}}`, index));
}

function quotedPlaceholder(name: Placeholder, template: string): ExecutorError {
  return new ExecutorError(
    'permanent',
    `The command template puts {${name}} inside quotes: ${template}\n` +
      `Remove the quotes around {${name}} (values are shell-quoted for you), or, inside a nested shell script, ` +
      `use the environment variable "$${envName(name)}" instead.`,
  );
}

function envName(name: Placeholder): string {
  const names: Record<Placeholder, string> = {
    files: 'SWARM_FILES',
    file: 'SWARM_FILE',
    prompt: 'SWARM_PROMPT',
    agentPrompt: 'SWARM_AGENT_PROMPT',
    id: 'SWARM_TASK_ID',
    dir: 'SWARM_DIR',
    title: 'SWARM_TITLE',
  };
  return names[name];
}

/** The placeholder values as environment variables (files newline-separated). */
export function templateEnv(values: TemplateValues): Record<string, string> {
  return {
    SWARM_TASK_ID: values.id,
    SWARM_TITLE: values.title,
    SWARM_PROMPT: capped(values.prompt, 'prompt').replace(/\0/g, ''),
    SWARM_AGENT_PROMPT: capped(values.agentPrompt, 'agentPrompt').replace(/\0/g, ''),
    SWARM_FILES: values.files.join('\n'),
    SWARM_FILE: values.files[0] ?? '',
    SWARM_DIR: values.dir,
  };
}

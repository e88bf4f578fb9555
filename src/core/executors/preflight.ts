// Checks made once, before a run claims any task, of a command template that cannot work: a
// placeholder inside quotes, a placeholder that does not exist (`{file_list}`), a program that is
// not on PATH. Found per task instead, each of them would fail (or dead-letter) every task in turn.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExecutorConfig } from './config';
import { AGENT_PRESETS } from './presets';
import { expandTemplate, PLACEHOLDERS } from './template';
import { ExecutorError } from './types';

export interface PreflightOptions {
  /** The workspace: relative program paths (`./scripts/fix.sh`) are looked up there. */
  cwd: string;
  /** The environment the commands get (PATH above all). */
  env?: NodeJS.ProcessEnv;
}

/** The problems of an executor's command template, each with its fix; [] when it can run. */
export function preflightExecutor(config: ExecutorConfig, options: PreflightOptions): string[] {
  if (config.type === 'model') return [];
  const template = config.type === 'command' ? config.command : (config.command ?? AGENT_PRESETS[config.agent].template);
  const env = { ...(options.env ?? process.env), ...config.env };
  return preflightTemplate(template, { ...options, env });
}

export function preflightTemplate(template: string, options: PreflightOptions): string[] {
  const problems: string[] = [];
  const unknown = unknownPlaceholders(template);
  if (unknown.length > 0) {
    const known = PLACEHOLDERS.map((name) => `{${name}}`).join(', ');
    problems.push(`The command template uses ${unknown.map((name) => `{${name}}`).join(', ')}, which ${unknown.length === 1 ? 'is not a placeholder' : 'are not placeholders'}: ${template}\nUse one of ${known}${suggestion(unknown[0])}.`);
  }
  try {
    expandTemplate(template, { files: ['a.js'], prompt: 'p', agentPrompt: 'p', id: 'id', dir: options.cwd, title: 't' });
  } catch (error) {
    problems.push(error instanceof ExecutorError ? error.message : String(error));
  }
  const missing = missingProgram(template, options);
  if (missing !== undefined) problems.push(missing);
  return problems;
}

/** `{name}` outside quotes that is not a placeholder (`${name}` is a shell variable; `{a,b}` a brace expansion). */
function unknownPlaceholders(template: string): string[] {
  const found = new Set<string>();
  const unquoted = template.replace(/'[^']*'/g, "''").replace(/"(?:[^"\\]|\\.)*"/g, '""');
  for (const match of unquoted.matchAll(/(^|[^$\\])\{([A-Za-z_][A-Za-z0-9_-]*)\}/g)) {
    if (!(PLACEHOLDERS as readonly string[]).includes(match[2])) found.add(match[2]);
  }
  return [...found];
}

function suggestion(name: string): string {
  const lower = name.toLowerCase().replace(/[_-]/g, '');
  const close = PLACEHOLDERS.find((known) => lower.startsWith(known.toLowerCase()) || known.toLowerCase().startsWith(lower) || (lower.includes('file') && known === 'files'));
  return close ? ` (did you mean {${close}}?)` : '';
}

/**
 * The program a template starts, when it is a plain word (not a variable, a subshell or a
 * placeholder), and it cannot be found: a message with the fix. Builtins and functions count as found.
 */
function missingProgram(template: string, options: PreflightOptions): string | undefined {
  const words = template.trim().split(/\s+/);
  const first = words.find((word) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
  if (!first || !/^[A-Za-z0-9_./+@-]+$/.test(first)) return undefined;
  if (first.includes('/')) {
    const resolved = path.resolve(options.cwd, first);
    if (fs.existsSync(resolved)) return undefined;
    return `The command template starts ${first}, which does not exist (looked for ${resolved}): ${template}\nFix the path in the command (it runs from the task's folder, a copy of your workspace).`;
  }
  const lookup = spawnSync('/bin/sh', ['-c', 'command -v "$1"', 'sh', first], { env: options.env, cwd: options.cwd, encoding: 'utf8' });
  if (lookup.status === 0) return undefined;
  return `The command template runs ${first}, which is not on PATH: ${template}\nInstall it, give its full path, or run it through your package manager (e.g. npx ${first}).`;
}

// The optional verify command (`npm test`, `tsc --noEmit`): the executor's work only counts if it
// passes. Same template rules as commands; it runs in the task's directory in its own process group.
import fs from 'node:fs';
import type { VerifyConfig } from './config';
import { describeRefusals, RefusalCollector } from '../sandbox/refusals';
import { runInProcessGroup, type GroupRunResult } from './process';
import { expandTemplate, shownCommand, templateEnv, templateValues } from './template';
import { ExecutorError, type ExecutionContext } from './types';
import { formatDuration } from '../format';

export const DEFAULT_VERIFY_TIMEOUT_MS = 10 * 60_000;
/** How much of a failing command's output goes into error messages and back to the model. */
export const FAILURE_TAIL_CHARS = 3_000;

export interface VerifyOutcome {
  passed: boolean;
  /** What failed and the tail of the output; empty when passed. */
  message: string;
  /** A failure in one line: the command, how it ended and the first line of its output. */
  summary?: string;
}

export interface CommandRun {
  template: string;
  timeoutMs: number;
  graceMs?: number;
  env?: Record<string, string>;
}

/**
 * Expands and runs a template in ctx.cwd with output streamed to ctx.log, inside ctx.sandbox when
 * there is one. Writes the sandbox refused are named in the log and in the result.
 */
export async function runTemplate(run: CommandRun, ctx: ExecutionContext, label = ''): Promise<CommandRunResult> {
  const values = templateValues(ctx.task, ctx.cwd);
  const script = expandTemplate(run.template, values);
  const command = shownCommand(run.template, values);
  assertWorkingDirectory(ctx.cwd);
  ctx.log(`$ ${label}${command}\n`);
  const refusals = ctx.sandbox ? new RefusalCollector(ctx.cwd, ctx.sandbox.tool) : undefined;
  const result = await runInProcessGroup({
    script,
    cwd: ctx.cwd,
    env: { ...process.env, ...ctx.env, ...run.env, ...templateEnv(values) },
    signal: ctx.signal,
    timeoutMs: run.timeoutMs,
    graceMs: run.graceMs,
    sandbox: ctx.sandbox,
    onOutput: (chunk) => {
      refusals?.write(chunk);
      ctx.log(chunk);
    },
  });
  const refused = refusals?.finish() ?? [];
  if (refused.length > 0) {
    result.refusedWrites = refused;
    ctx.log(`\n${describeRefusals(refused)}\n`);
  }
  return { ...result, command };
}

/** A run's outcome and the command as it ran (expanded, shortened for display: see shownCommand). */
export type CommandRunResult = GroupRunResult & { command: string };

export function verifyRun(config: VerifyConfig, env?: Record<string, string>): CommandRun {
  return typeof config === 'string'
    ? { template: config, timeoutMs: DEFAULT_VERIFY_TIMEOUT_MS, env }
    : { template: config.command, timeoutMs: config.timeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS, env };
}

/**
 * Runs the verify command. A failing check is an outcome (the model executor feeds it back); a
 * cancel, or a verify command that cannot run at all, is thrown.
 */
export async function runVerify(config: VerifyConfig, ctx: ExecutionContext, env?: Record<string, string>): Promise<VerifyOutcome> {
  const run = verifyRun(config, env);
  ctx.log('\n');
  const result = await runTemplate(run, ctx, 'verify: ');
  if (result.aborted) throw ExecutorError.cancelled(`Verification of task ${ctx.task.id}`);
  if (result.exitCode === 126 || result.exitCode === 127) {
    throw new ExecutorError('permanent', `The verify command could not run (exit ${result.exitCode}: not found or not executable): ${result.command}\n${tailOf(result)}\nFix the verify setting or install the tool.`);
  }
  if (result.timedOut) {
    const how = `timed out after ${formatDuration(run.timeoutMs)}`;
    return { passed: false, message: `The verify command ${how}: ${result.command}\n${tailOf(result)}`, summary: failureSummary(result, how) };
  }
  if (result.exitCode !== 0) return { passed: false, message: `The verify command failed (${describeExit(result)}): ${result.command}\n${tailOf(result)}`, summary: failureSummary(result, describeExit(result)) };
  return { passed: true, message: '' };
}

/** Runs verify and turns a failing check into a transient failure of the attempt. */
export async function verifyOrThrow(config: VerifyConfig | undefined, ctx: ExecutionContext, env?: Record<string, string>): Promise<void> {
  if (config === undefined) return;
  const outcome = await runVerify(config, ctx, env);
  if (!outcome.passed) throw new ExecutorError('transient', outcome.message);
}

/** "`npm test` (exit 1): <first line of its output>", on one line whatever the command and output hold. */
function failureSummary(result: CommandRunResult, how: string): string {
  const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();
  const first = result.tail.split('\n').map((line) => line.trim()).find((line) => line !== '');
  return `\`${oneLine(result.command)}\` (${how})${first === undefined ? ', no output' : `: ${oneLine(first)}`}`;
}

/** The last output of a failed command, and what the sandbox refused it (a likely cause). */
export function tailOf(result: GroupRunResult, chars: number = FAILURE_TAIL_CHARS): string {
  const tail = result.tail.trimEnd();
  const output = tail === '' ? '(no output)' : `--- last output ---\n${tail.length > chars ? `…${tail.slice(-chars)}` : tail}`;
  const refused = describeRefusals(result.refusedWrites ?? []);
  return refused === '' ? output : `${refused}\n${output}`;
}

export function describeExit(result: GroupRunResult): string {
  return result.exitCode !== null ? `exit ${result.exitCode}` : `killed by ${result.exitSignal ?? 'a signal'}`;
}

export { formatDuration };

/** Refuses to start work in a working directory that is not there. */
export function assertWorkingDirectory(cwd: string): void {
  let isDirectory = false;
  try {
    isDirectory = fs.statSync(cwd).isDirectory();
  } catch {
    isDirectory = false;
  }
  // Transient: the worktree may be being created or was removed under us; a new attempt gets a fresh one.
  if (!isDirectory) throw new ExecutorError('transient', `The task's working directory ${cwd} does not exist; nothing was run there. A new attempt gets a fresh one.`);
}

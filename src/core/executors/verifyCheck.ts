// A verify command that already fails before any change would fail every task of the run, each
// after its full attempt: it is run once on the run's snapshot, before any task is claimed, and a
// failure is reported as what it is.
import type { Task } from '../board/types';
import type { VerifyConfig } from './config';
import type { ExecutionContext } from './types';
import { runVerify } from './verify';

/** The task id the check's workspace is prepared for (no board task has it: board ids have no dashes). */
export const VERIFY_CHECK_TASK_ID = 'verify-check';

/** A stand-in task for preparing the check's workspace; placeholders in the verify expand to empty. */
export function verifyCheckTask(): Task {
  const now = Date.now();
  return { id: VERIFY_CHECK_TASK_ID, title: 'verify check', type: 'verify-check', prompt: '', files: [], priority: 0, payload: undefined, status: 'running', attempts: 1, maxAttempts: 1, createdAt: now, updatedAt: now };
}

/**
 * A verify that names the task (`{files}`, `{id}`, `$SWARM_TASK_ID`...) checks something each task
 * makes: before any change it is expected to fail, so it is not checked ahead.
 */
export function verifyDependsOnTheTask(verify: VerifyConfig): boolean {
  const template = typeof verify === 'string' ? verify : verify.command;
  return /\{(?:files|file|id|title|prompt|agentPrompt)\}|\$\{?SWARM_/.test(template);
}

/**
 * Runs verify in `ctx.cwd`, a workspace prepared from the run's snapshot with nothing changed.
 * Returns the message for the user when it fails, undefined when it passes; its first line names
 * the command, how it ended and the first line of its output.
 */
export async function verifyFailsBeforeAnyChange(verify: VerifyConfig, ctx: ExecutionContext, env?: Record<string, string>): Promise<string | undefined> {
  const outcome = await runVerify(verify, ctx, env);
  if (outcome.passed) return undefined;
  // The first line alone says what failed (the editor shows only it); the output follows.
  return `The verify command fails on your current working state before any change, so every task would fail it: ${outcome.summary}\n${outcome.message}\nFix it (or the code it checks) or drop --verify; no task was claimed.`;
}

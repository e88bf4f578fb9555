// "Request changes" on a result: a follow-up task that starts from that result (its worktree state),
// so the agent changes what the earlier agent did instead of starting over. The start is a commit
// (the result's tree, parented on the result's snapshot) made in a throw-away index; the follow-up's
// own patch is then against the same snapshot and contains both changes.
import type { Task } from '../board/types';
import { gitText, runGit } from '../worktree/git';
import { withPatchedIndex } from './theirs';
import { PARTIAL_REF_PREFIX } from '../worktree/worktreeIsolation';
import { locateRepository } from '../worktree/repo';
import { readTaskPatch } from '.';
import { writeScopeOf, type ResultPlace } from './place';
import { assertSafeSections } from './plan';
import { parsePatch } from '../diff/parse';
import { assertSafePatchPaths } from './paths';
import { isRecord } from './records';
import { ResultActionError } from './errors';

export interface FollowUpRequest extends ResultPlace {
  /** The task whose result the comment is about. */
  taskId: string;
  comment: string;
  /** Files the comment is about (default: every file of the result). */
  files?: string[];
}

/** Posts the follow-up task; throws a message the user can act on when there is nothing to follow up. */
export async function postFollowUpTask(request: FollowUpRequest): Promise<Task> {
  const previous = await request.board.get(request.taskId);
  if (!previous) throw new ResultActionError('input', `Task ${request.taskId} is no longer on the board.`);
  if (!request.comment.trim()) throw new ResultActionError('input', 'Say what to change: the comment is empty.');
  const patch = await readTaskPatch(request, request.taskId);
  if (!patch || patch.files.length === 0) throw new ResultActionError('input', `"${previous.title}" has no result to follow up; retry it or post a new task.`);
  if (patch.parts) throw new ResultActionError('input', `"${previous.title}" combines the results of ${patch.parts.length} tasks; request changes on one of them (expand it in the Tasks view).`);
  const resultFiles = patch.files.map((file) => file.path);
  // The start commit holds the result's files, and they go on the new task's file list: the same
  // check as any write, so a result cannot plant a path into the board or .git through a follow-up.
  const scope = writeScopeOf(request);
  assertSafeSections(scope, parsePatch(patch.text));
  assertSafePatchPaths(scope, resultFiles);
  const startFrom = patch.base ? await resultCommit(request.workspaceRoot, patch.base, patch.text, previous.id) : undefined;
  const task = await request.board.post({
    title: followUpTitle(request.comment, previous.title),
    type: previous.type,
    prompt: followUpPrompt(previous, request.comment, request.files ?? resultFiles),
    files: [...new Set([...previous.files, ...resultFiles])],
    priority: previous.priority,
    maxAttempts: previous.maxAttempts,
    payload: { ...(isRecord(previous.payload) ? previous.payload : {}), followUpOf: previous.id, ...(startFrom ? { startFrom } : {}) },
    // On a shared board the follow-up runs wherever a runner takes it: from the same snapshot, with
    // the same needs; the runner starts from the earlier result's bundle (remote/workspace.ts).
    ...(previous.source ? { source: previous.source } : {}),
    ...(previous.requires?.length ? { requires: previous.requires } : {}),
  });
  // The ref keeps the start commit from garbage collection until the follow-up's attempt saves its own.
  if (startFrom) await runGit(['update-ref', `${PARTIAL_REF_PREFIX}${task.id}`, startFrom], { cwd: request.workspaceRoot });
  return task;
}

/** The result of a patch as a commit on top of its snapshot, without touching the user's index or files. */
async function resultCommit(workspaceRoot: string, base: string, patchText: string, taskId: string): Promise<string> {
  const repo = await locateRepository(workspaceRoot);
  return withPatchedIndex(repo, base, patchText, async (env) => {
    const tree = await gitText(['write-tree'], { cwd: repo.topLevel, env });
    return gitText(['commit-tree', tree, '-p', base, '-m', `Agent Swarm: result of task ${taskId}, start of a follow-up`], { cwd: repo.topLevel });
  });
}

/** The prompt of a follow-up task made from a review comment. */
export function followUpPrompt(previous: { id: string; title: string; prompt: string }, comment: string, files: readonly string[]): string {
  const lines = [
    comment.trim(),
    '',
    `This is a follow-up to task ${previous.id} ("${previous.title}"). Your working copy already contains that task's result; change it as asked above.`,
  ];
  if (files.length > 0) lines.push(`Files of that result: ${files.join(', ')}.`);
  if (previous.prompt.trim()) lines.push('', 'The original request was:', previous.prompt.trim());
  return lines.join('\n');
}

/** The title of a follow-up task: the comment's first line, marked as a follow-up. */
export function followUpTitle(comment: string, previousTitle: string): string {
  const first = comment.trim().split('\n')[0].trim();
  const text = first || `Changes to "${previousTitle}"`;
  return `Follow-up: ${text}`.slice(0, 120);
}

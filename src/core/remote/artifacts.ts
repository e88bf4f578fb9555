// The board artifacts of the transport between machines that belong to a task (a post's snapshot
// bundle is post.ts's), and how a follow-up names the task it follows up: shared by the runner
// (workspace.ts) and the housekeeping (cleanup.ts).
import { isValidId } from '../board/names';
import type { Task } from '../board/types';

/** The artifacts a runner adds next to the patch (result.patch) of a task with a source. */
export const RESULT_BUNDLE_ARTIFACT = 'result.bundle';
export const RESULT_DESCRIPTOR_ARTIFACT = 'result.json';
export const PARTIAL_BUNDLE_ARTIFACT = 'partial.bundle';
/** Describes partial.bundle (the result descriptor of kind 'partial'); stored after it, so its presence means both are complete. */
export const PARTIAL_DESCRIPTOR_ARTIFACT = 'partial.json';

/** The task a follow-up (Request Changes) follows up, from its payload; a board task id only. */
export function followUpOf(task: Task): string | undefined {
  const payload = task.payload as { followUpOf?: unknown } | null | undefined;
  const id = payload?.followUpOf;
  return typeof id === 'string' && isValidId(id) && id !== task.id ? id : undefined;
}

// Ending a process and everything it started, found by parent links rather than by process group:
// for processes that are not group leaders, or whose children moved to groups of their own.
import { terminate, type TerminateOptions, type TerminationResult } from './terminate';

/** SIGTERM to `pid` and all its descendants, SIGKILL to the survivors after `graceMs`; resolves
 * once all of them are gone (rejects with TerminationTimeoutError if SIGKILL does not work). */
export function killTree(pid: number, options: TerminateOptions = {}): Promise<TerminationResult> {
  return terminate({ roots: [pid], includeRoots: true }, options);
}

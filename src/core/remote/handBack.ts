// What an agent does with a task its runner cannot serve (CannotServeTaskError from the runner's
// workspace): hand the claim back with the reason, and avoid claiming it again in a loop. Labels and
// repository identity are routed on the board (ClaimRequest.serves, core/board/routing.ts), so a
// runner is not handed such tasks in the first place; what remains here are the failures only an
// attempt shows (a fetch that fails, a remote the repository cache cannot reach) and tasks recorded
// before routing. Kept apart from the workspace so the agent's loop does not load the git transport.
import type { Board } from '../board/interface';
import type { Task } from '../board/types';
import type { CannotServeTaskError } from './errors';

/**
 * How an agent avoids claim churn on tasks it cannot serve. A hand-back (release) puts the task
 * behind the others of its priority on the Redis board, so the next claim brings another task: no
 * wait then. Only when a task handed back before comes round again has the agent seen every
 * claimable task and served none; then it waits 1 s, doubling to 1 min, before claiming again.
 * Serving a task starts afresh. A runner that can serve nothing on the board thus claims each such
 * task about once per wait, not in a tight loop.
 */
export class HandBackBackoff {
  private readonly seen = new Set<string>();
  private streak = 0;

  constructor(
    private readonly firstMs = 1_000,
    private readonly capMs = 60_000,
  ) {}

  /** Call after handing `taskId` back; returns how long to wait before the next claim (ms). */
  handedBack(taskId: string): number {
    if (!this.seen.has(taskId)) {
      this.seen.add(taskId);
      return 0;
    }
    this.seen.clear();
    this.seen.add(taskId);
    const wait = Math.min(this.capMs, this.firstMs * 2 ** Math.min(this.streak, 30));
    this.streak += 1;
    return wait;
  }

  /** Call after serving a task. */
  served(): void {
    this.seen.clear();
    this.streak = 0;
  }
}

/**
 * Hands a claim back after CannotServeTaskError: released with the reason (shown by `swarm log`),
 * the attempt not counted. Returns how long the agent waits before its next claim (HandBackBackoff).
 */
export async function handBack(board: Pick<Board, 'release'>, claim: { token: string; task: Pick<Task, 'id'> }, agent: string, error: CannotServeTaskError, backoff: HandBackBackoff): Promise<number> {
  await board.release(claim, `skipped by ${agent}: ${error.reason}`);
  return backoff.handedBack(claim.task.id);
}

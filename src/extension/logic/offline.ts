// Whether the board answers, for views that keep showing the last state they read while it does
// not (a Redis server that went away, a network that dropped): when it was last read, since when it
// fails, and the line that says so. Pure (no vscode): unit-tested in plain Node.
import { BoardUnavailableError } from '../../core/board/interface';

export interface OfflineState {
  /** When the first failing read since the last good one happened. */
  since: number;
  /** When a read last succeeded (undefined: never, in this window). */
  lastSeenAt?: number;
  /** Why, as the board said it (one line, no password). */
  reason: string;
}

export class BoardReachability {
  private lastSeenAt: number | undefined;
  private offline: OfflineState | undefined;

  /** A read succeeded: the board is online again. */
  seen(now = Date.now()): void {
    this.lastSeenAt = now;
    this.offline = undefined;
  }

  /** A read failed. Only a board that cannot be reached makes the view offline; other errors pass on. */
  failed(error: unknown, now = Date.now()): OfflineState | undefined {
    if (!isUnreachable(error)) return undefined;
    this.offline ??= { since: now, ...(this.lastSeenAt !== undefined ? { lastSeenAt: this.lastSeenAt } : {}), reason: firstLine(error) };
    return this.offline;
  }

  get state(): OfflineState | undefined {
    return this.offline;
  }
}

/** The server is down or out of reach (not a bad request): the last state stays on screen. */
export function isUnreachable(error: unknown): boolean {
  return error instanceof BoardUnavailableError && (error.problem === 'connection-lost' || error.problem === 'unreachable');
}

/** "Offline since 10:41:07: showing the board as last seen at 10:40:59." */
export function offlineLabel(state: OfflineState, formatTime: (ms: number) => string = clockTime): string {
  const seen = state.lastSeenAt !== undefined ? `showing the board as last seen at ${formatTime(state.lastSeenAt)}` : 'nothing was read before';
  return `Offline since ${formatTime(state.since)}: ${seen}`;
}

/** The tooltip: why, and what happens next. */
export function offlineTooltip(state: OfflineState): string {
  return `${state.reason}\nThe views keep the last state they read and update again as soon as the board answers.`;
}

function clockTime(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0];
}

// When the views open again a board that failed to open. Most failures (a damaged marker, a newer
// format) last until the marker changes, so the marker's stamp is remembered and nothing is tried
// until it changes. A board an older build still uses opens once that build stops, with the marker
// unchanged: it is tried again a few seconds on, and the same refusal is not said again.
import { BoardInUseError } from '../../core/board/board';

/** How long the views wait before opening again a board an older build uses. */
export const IN_USE_RETRY_MS = 5_000;

export interface FailedOpen {
  /** The board marker's stamp when it failed. */
  stamp: string;
  /** Set when the failure may pass by itself: the moment to try again. */
  retryAt?: number;
  message: string;
  /** Whether this failure is worth telling the user (not the same refusal again). */
  news: boolean;
}

export function failedOpen(stamp: string, error: unknown, now: number, previous?: FailedOpen): FailedOpen {
  const message = error instanceof Error ? error.message : String(error);
  const passing = error instanceof BoardInUseError;
  return { stamp, ...(passing && { retryAt: now + IN_USE_RETRY_MS }), message, news: previous?.message !== message };
}

export function mayOpenAgain(failed: FailedOpen | undefined, stamp: string, now: number): boolean {
  if (failed === undefined || failed.stamp !== stamp) return true;
  return failed.retryAt !== undefined && now >= failed.retryAt;
}

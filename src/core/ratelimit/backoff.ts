// Exponential backoff with jitter, used when an endpoint keeps answering 429 without telling us how
// long to wait. The jitter spreads agents apart so they do not all retry in the same instant.
import type { BackoffPolicy } from './types';

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 2 * 60_000, multiplier: 2, jitter: 0.5 };

/**
 * Delay before the next try after `consecutiveFailures` failures in a row (1 = the first failure).
 * The undithered delay is base·multiplier^(n-1) capped at `capMs`; the result lies in
 * [delay·(1-jitter), delay]. `random` returns a number in [0, 1); inject it in tests.
 */
export function backoffDelay(
  consecutiveFailures: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  const undithered = Math.min(policy.capMs, policy.baseMs * Math.pow(policy.multiplier, exponent));
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(undithered * (1 - jitter * random()));
}

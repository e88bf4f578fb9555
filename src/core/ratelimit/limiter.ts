// The host-wide rate limiter: one p-queue per endpoint key, shared by every agent through IPC.
// A permit occupies a queue slot from grant to release, so p-queue's `concurrency` caps requests in
// flight and `intervalCap`/`interval` caps request starts per interval. Pausing the queue is how
// Retry-After and 429 backoff hold every agent back at once.
import PQueue from 'p-queue';
import { backoffDelay, DEFAULT_BACKOFF } from './backoff';
import type { BackoffPolicy, EndpointLimits, EndpointState, Permit, PermitOutcome, RateLimiterClient } from './types';

export const DEFAULT_ENDPOINT_LIMITS: EndpointLimits = { concurrency: 4, intervalCap: Infinity, intervalMs: 60_000 };

export interface RateLimiterOptions {
  /** Limits for endpoints not named in `endpoints`. */
  defaults?: Partial<EndpointLimits>;
  /** Per-endpoint overrides, keyed by endpoint key. */
  endpoints?: Record<string, Partial<EndpointLimits>>;
  backoff?: Partial<BackoffPolicy>;
  /** Window for `recent429s` in the state. */
  recentWindowMs?: number;
  /** A permit not released after this long is released for its holder, so a lost agent cannot starve the rest. */
  maxHoldMs?: number;
  /** Injectable clock and randomness, for tests. */
  now?: () => number;
  random?: () => number;
}

interface Endpoint {
  key: string;
  limits: EndpointLimits;
  queue: PQueue;
  waiting: Set<(reason: unknown) => void>;
  running: number;
  granted: number;
  pausedUntil?: number;
  resumeTimer?: NodeJS.Timeout;
  consecutive429s: number;
  recent429At: number[];
}

class HeldPermit implements Permit {
  private released = false;

  constructor(
    readonly endpoint: string,
    private readonly onRelease: (outcome: PermitOutcome | undefined) => void,
  ) {}

  release(outcome?: PermitOutcome): void {
    if (this.released) return;
    this.released = true;
    this.onRelease(outcome);
  }
}

export class RateLimiter implements RateLimiterClient {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly backoff: BackoffPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private disposed = false;

  constructor(private readonly options: RateLimiterOptions = {}) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  acquire(endpoint: string, signal?: AbortSignal): Promise<Permit> {
    if (this.disposed) return Promise.reject(new Error('The rate limiter was stopped; no more model requests can start.'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const entry = this.endpoint(endpoint);
    return new Promise<Permit>((resolve, reject) => {
      let settled = false;
      const giveUp = (reason: unknown): void => {
        if (settled) return;
        settled = true;
        entry.waiting.delete(giveUp);
        this.keepAliveWhileWaiting(entry);
        reject(reason);
      };
      const onAbort = (): void => giveUp(signal?.reason);
      entry.waiting.add(giveUp);
      this.keepAliveWhileWaiting(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      const turn = (): Promise<void> =>
        new Promise<void>((slotFreed) => {
          if (settled) return slotFreed();
          settled = true;
          entry.waiting.delete(giveUp);
          this.keepAliveWhileWaiting(entry);
          signal?.removeEventListener('abort', onAbort);
          resolve(this.grant(entry, signal, slotFreed));
        });
      // Passing the signal lets p-queue drop an aborted waiter without spending an interval slot.
      entry.queue.add(turn, { signal }).catch(() => undefined);
    });
  }

  /** Holds every request to `endpoint` until `untilEpochMs`, e.g. after a coding agent reported a usage limit. */
  pause(endpoint: string, untilEpochMs: number): void {
    this.pauseFor(this.endpoint(endpoint), untilEpochMs - this.now());
  }

  /** A snapshot of every endpoint used so far, or of one. */
  state(endpoint?: string): EndpointState[] {
    const entries = endpoint === undefined ? [...this.endpoints.values()] : [this.endpoint(endpoint)];
    return entries.map((entry) => this.snapshot(entry));
  }

  /** Rejects every waiter and stops timers; held permits can still be released. */
  dispose(): void {
    this.disposed = true;
    for (const entry of this.endpoints.values()) {
      if (entry.resumeTimer) clearTimeout(entry.resumeTimer);
      entry.queue.clear();
      for (const giveUp of [...entry.waiting]) giveUp(new Error('The rate limiter was stopped; no more model requests can start.'));
    }
  }

  private grant(entry: Endpoint, signal: AbortSignal | undefined, slotFreed: () => void): Permit {
    entry.running++;
    entry.granted++;
    const holdLimit = setTimeout(() => permit.release(), this.options.maxHoldMs ?? 15 * 60_000);
    holdLimit.unref();
    // A caller that aborts while holding the permit has stopped its request; free the slot for it.
    const onAbort = (): void => permit.release();
    const permit = new HeldPermit(entry.key, (outcome) => {
      clearTimeout(holdLimit);
      signal?.removeEventListener('abort', onAbort);
      entry.running--;
      this.record(entry, outcome);
      slotFreed();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    return permit;
  }

  private record(entry: Endpoint, outcome: PermitOutcome | undefined): void {
    if (outcome?.status === 429) {
      entry.recent429At.push(this.now());
      // No permit is granted during a pause, so a 429 arriving while paused belongs to the burst
      // that caused the pause: it does not deepen the backoff.
      const sameBurst = entry.pausedUntil !== undefined;
      if (!sameBurst || outcome.retryAfterMs !== undefined) {
        if (!sameBurst) entry.consecutive429s++;
        this.pauseFor(entry, outcome.retryAfterMs ?? backoffDelay(entry.consecutive429s, this.backoff, this.random));
      }
      return;
    }
    if (outcome?.retryAfterMs !== undefined) this.pauseFor(entry, outcome.retryAfterMs);
    if (outcome?.status !== undefined) entry.consecutive429s = 0;
  }

  private pauseFor(entry: Endpoint, delayMs: number): void {
    if (delayMs <= 0) return;
    const until = this.now() + delayMs;
    if (entry.pausedUntil !== undefined && entry.pausedUntil >= until) return;
    entry.pausedUntil = until;
    entry.queue.pause();
    if (entry.resumeTimer) clearTimeout(entry.resumeTimer);
    entry.resumeTimer = setTimeout(() => this.resume(entry), delayMs);
    this.keepAliveWhileWaiting(entry);
  }

  // A pause timer keeps the process alive only while someone waits for it, so a long pause (a usage
  // limit hours away) does not hold an otherwise finished process open.
  private keepAliveWhileWaiting(entry: Endpoint): void {
    if (!entry.resumeTimer) return;
    if (entry.waiting.size > 0) entry.resumeTimer.ref();
    else entry.resumeTimer.unref();
  }

  private resume(entry: Endpoint): void {
    entry.pausedUntil = undefined;
    entry.resumeTimer = undefined;
    if (!this.disposed) entry.queue.start();
  }

  private endpoint(key: string): Endpoint {
    const existing = this.endpoints.get(key);
    if (existing) return existing;
    const limits: EndpointLimits = { ...DEFAULT_ENDPOINT_LIMITS, ...this.options.defaults, ...this.options.endpoints?.[key] };
    const intervalCapped = Number.isFinite(limits.intervalCap);
    const queue = new PQueue({
      concurrency: limits.concurrency,
      ...(intervalCapped ? { intervalCap: limits.intervalCap, interval: limits.intervalMs } : {}),
    });
    const entry: Endpoint = { key, limits, queue, waiting: new Set(), running: 0, granted: 0, consecutive429s: 0, recent429At: [] };
    this.endpoints.set(key, entry);
    return entry;
  }

  private snapshot(entry: Endpoint): EndpointState {
    const windowStart = this.now() - (this.options.recentWindowMs ?? 60_000);
    entry.recent429At = entry.recent429At.filter((at) => at >= windowStart);
    return {
      endpoint: entry.key,
      pending: entry.waiting.size,
      running: entry.running,
      pausedUntil: entry.pausedUntil,
      recent429s: entry.recent429At.length,
      consecutive429s: entry.consecutive429s,
      granted: entry.granted,
      limits: { ...entry.limits },
    };
  }
}

/** Runs `work` with a permit and releases it with the outcome `work` reports, even when it throws. */
export async function withPermit<T>(
  limiter: RateLimiterClient | undefined,
  endpoint: string,
  signal: AbortSignal | undefined,
  work: (report: (outcome: PermitOutcome) => void) => Promise<T>,
): Promise<T> {
  if (!limiter) return work(() => undefined);
  const permit = await limiter.acquire(endpoint, signal);
  let outcome: PermitOutcome | undefined;
  try {
    return await work((reported) => (outcome = reported));
  } finally {
    permit.release(outcome);
  }
}

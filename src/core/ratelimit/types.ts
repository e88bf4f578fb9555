// The contract between model callers (providers inside agent processes) and the host-wide rate
// limiter. Agents are separate processes, so callers only ever see `RateLimiterClient`; the host
// owns the real `RateLimiter` and serves it over IPC (see ./ipc.ts).

/** What the caller learned from the request it made with a permit. */
export interface PermitOutcome {
  /** HTTP status of the response, if there was one. 429 drives pausing and backoff. */
  status?: number;
  /** Server-advised wait (Retry-After and friends), already converted to milliseconds. */
  retryAfterMs?: number;
}

/** The right to make one request to one endpoint. Release it exactly once; later calls are ignored. */
export interface Permit {
  readonly endpoint: string;
  release(outcome?: PermitOutcome): void;
}

/** What model providers use. The in-process `RateLimiter` and the IPC client both implement it. */
export interface RateLimiterClient {
  /**
   * Waits for a turn at `endpoint` (a free concurrency slot, room in the request interval, and no
   * pause in force). Rejects with the signal's reason if `signal` aborts first.
   */
  acquire(endpoint: string, signal?: AbortSignal): Promise<Permit>;
}

/** Per-endpoint caps. */
export interface EndpointLimits {
  /** Requests in flight at once. */
  concurrency: number;
  /** Requests started per `intervalMs`; `Infinity` for no cap. */
  intervalCap: number;
  intervalMs: number;
}

/** Exponential backoff after consecutive 429s that came without a Retry-After. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  multiplier: number;
  /** Fraction of the delay that is random: the delay lies in [d·(1-jitter), d]. */
  jitter: number;
}

/** A snapshot of one endpoint for the pool's statistics. */
export interface EndpointState {
  endpoint: string;
  /** Acquires waiting for a turn. */
  pending: number;
  /** Permits held right now. */
  running: number;
  /** Epoch ms until which no permit is granted; undefined when not paused. */
  pausedUntil?: number;
  /** 429 responses seen in the last `recentWindowMs`. */
  recent429s: number;
  /** 429s in a row (reset by any non-429 outcome); drives the backoff. */
  consecutive429s: number;
  /** Permits granted since the limiter started. */
  granted: number;
  limits: EndpointLimits;
}

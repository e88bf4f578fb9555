// The limiter's wire protocol. Agents run in child processes, so the pool carries these messages
// over child-process IPC next to its own; every message has `channel: 'swarm-limiter'` so both
// ends can tell them apart. Both functions take plain `send`/`onMessage` functions and know nothing
// about ChildProcess, which keeps them testable over any transport.
import type { Permit, PermitOutcome, RateLimiterClient } from './types';

export const LIMITER_CHANNEL = 'swarm-limiter';

/** Agent → host: wait for a turn at `endpoint`; answered by `granted` or `failed` with the same id. */
export interface AcquireRequest { channel: typeof LIMITER_CHANNEL; type: 'acquire'; id: number; endpoint: string }
/** Agent → host: give back the permit granted for request `id`. */
export interface ReleaseRequest { channel: typeof LIMITER_CHANNEL; type: 'release'; id: number; outcome?: PermitOutcome }
/** Agent → host: stop waiting for request `id` (or release it, if the grant crossed on the wire). */
export interface CancelRequest { channel: typeof LIMITER_CHANNEL; type: 'cancel'; id: number }
/** Host → agent: request `id` holds a permit now. */
export interface GrantedResponse { channel: typeof LIMITER_CHANNEL; type: 'granted'; id: number }
/** Host → agent: request `id` will never be granted. */
export interface FailedResponse { channel: typeof LIMITER_CHANNEL; type: 'failed'; id: number; message: string }

export type LimiterClientMessage = AcquireRequest | ReleaseRequest | CancelRequest;
export type LimiterServerMessage = GrantedResponse | FailedResponse;
export type LimiterMessage = LimiterClientMessage | LimiterServerMessage;

/** Registers a listener for incoming messages and returns a function that removes it. */
export type Subscribe = (listener: (message: unknown) => void) => () => void;

export function isLimiterMessage(message: unknown): message is LimiterMessage {
  if (typeof message !== 'object' || message === null) return false;
  const candidate = message as { channel?: unknown; type?: unknown; id?: unknown };
  return candidate.channel === LIMITER_CHANNEL && typeof candidate.type === 'string' && typeof candidate.id === 'number';
}

export interface LimiterIpcClient extends RateLimiterClient {
  /** Rejects every pending acquire (e.g. when the channel closed) and stops listening. */
  dispose(reason?: string): void;
}

interface PendingAcquire {
  endpoint: string;
  resolve: (permit: Permit) => void;
  reject: (reason: unknown) => void;
  cleanup: () => void;
}

/** The agent side: a `RateLimiterClient` whose permits live in the host's limiter. */
export function createLimiterIpcClient(send: (message: LimiterClientMessage) => void, onMessage: Subscribe): LimiterIpcClient {
  let nextId = 1;
  const pending = new Map<number, PendingAcquire>();
  const cancelled = new Set<number>();

  const unsubscribe = onMessage((message) => {
    if (!isLimiterMessage(message)) return;
    if (message.type === 'granted') onGranted(message.id);
    else if (message.type === 'failed') onFailed(message.id, message.message);
  });

  function onGranted(id: number): void {
    const waiter = pending.get(id);
    if (!waiter) {
      // The grant crossed our cancel on the wire: hand the permit straight back.
      if (cancelled.delete(id)) send({ channel: LIMITER_CHANNEL, type: 'release', id });
      return;
    }
    pending.delete(id);
    waiter.cleanup();
    let released = false;
    waiter.resolve({
      endpoint: waiter.endpoint,
      release(outcome?: PermitOutcome): void {
        if (released) return;
        released = true;
        send({ channel: LIMITER_CHANNEL, type: 'release', id, ...(outcome ? { outcome } : {}) });
      },
    });
  }

  function onFailed(id: number, message: string): void {
    cancelled.delete(id);
    const waiter = pending.get(id);
    if (!waiter) return;
    pending.delete(id);
    waiter.cleanup();
    waiter.reject(new Error(message));
  }

  return {
    acquire(endpoint: string, signal?: AbortSignal): Promise<Permit> {
      if (signal?.aborted) return Promise.reject(signal.reason);
      const id = nextId++;
      return new Promise<Permit>((resolve, reject) => {
        const onAbort = (): void => {
          pending.delete(id);
          cancelled.add(id);
          send({ channel: LIMITER_CHANNEL, type: 'cancel', id });
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        pending.set(id, { endpoint, resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) });
        send({ channel: LIMITER_CHANNEL, type: 'acquire', id, endpoint });
      });
    },
    dispose(reason = 'The connection to the rate limiter in the host closed.'): void {
      unsubscribe();
      for (const [id, waiter] of pending) {
        pending.delete(id);
        waiter.cleanup();
        waiter.reject(new Error(reason));
      }
    },
  };
}

export interface LimiterIpcServer {
  /** Releases every permit this peer holds and drops its waiters. Call it when the peer exits. */
  dispose(): void;
}

/** The host side for one agent process: answers its requests from the shared `limiter`. */
export function serveLimiterOverIpc(limiter: RateLimiterClient, send: (message: LimiterServerMessage) => void, onMessage: Subscribe): LimiterIpcServer {
  const waiting = new Map<number, AbortController>();
  const held = new Map<number, Permit>();
  let closed = false;

  const unsubscribe = onMessage((message) => {
    if (!isLimiterMessage(message) || closed) return;
    if (message.type === 'acquire') void acquire(message.id, message.endpoint);
    else if (message.type === 'release') release(message.id, message.outcome);
    else if (message.type === 'cancel') cancel(message.id);
  });

  async function acquire(id: number, endpoint: string): Promise<void> {
    const controller = new AbortController();
    waiting.set(id, controller);
    try {
      const permit = await limiter.acquire(endpoint, controller.signal);
      waiting.delete(id);
      if (closed) return permit.release();
      held.set(id, permit);
      safeSend({ channel: LIMITER_CHANNEL, type: 'granted', id });
    } catch (error) {
      waiting.delete(id);
      if (!controller.signal.aborted) safeSend({ channel: LIMITER_CHANNEL, type: 'failed', id, message: error instanceof Error ? error.message : String(error) });
    }
  }

  function release(id: number, outcome: PermitOutcome | undefined): void {
    held.get(id)?.release(outcome);
    held.delete(id);
  }

  function cancel(id: number): void {
    waiting.get(id)?.abort(new Error('The agent cancelled its request.'));
    waiting.delete(id);
    release(id, undefined);
  }

  // The peer may be gone already; a failed send must not crash the host.
  function safeSend(message: LimiterServerMessage): void {
    try {
      send(message);
    } catch {
      /* the peer exited; dispose() cleans up */
    }
  }

  return {
    dispose(): void {
      closed = true;
      unsubscribe();
      for (const controller of waiting.values()) controller.abort(new Error('The agent process exited.'));
      waiting.clear();
      for (const permit of held.values()) permit.release();
      held.clear();
    },
  };
}

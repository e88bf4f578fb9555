// Request/reply over a message channel (the pool ⇄ agent IPC): each request carries an id, the
// reply with that id settles its promise, and a timeout or a peer that is gone rejects it with a
// typed error instead of leaving it pending forever. The channel itself stays outside: the caller
// gives `send` and feeds replies in, so the same helper serves both ends of the IPC.

/** Why a request got no reply: it timed out, or the peer (the other process) is gone. */
export class RequestFailedError extends Error {
  constructor(
    readonly reason: 'timeout' | 'peer-gone',
    message: string,
  ) {
    super(message);
    this.name = 'RequestFailedError';
  }
}

export interface RequestOptions {
  /** Rejects with RequestFailedError('timeout') when no reply came in time; default: the requester's. */
  timeoutMs?: number;
  /**
   * The caller no longer wants the work done: `onAbort` is told the request's id (to ask the peer
   * to stop early). The request stays pending: the reply still comes and is still returned.
   */
  signal?: AbortSignal;
  onAbort?: (id: number) => void;
}

export interface Requester<Request, Reply> {
  request(body: Request, options?: RequestOptions): Promise<Reply>;
  /** Settles request `id` with its reply; false for an id nobody waits for (late, or already failed). */
  resolve(id: number, reply: Reply): boolean;
  /** Settles request `id` with the peer's error. */
  reject(id: number, error: Error): boolean;
  /** The peer is gone: every pending request, and every later one, rejects with RequestFailedError('peer-gone'). */
  close(reason: string): void;
  /** How many requests wait for a reply. */
  readonly pending: number;
}

interface Waiter<Reply> {
  resolve(reply: Reply): void;
  reject(error: Error): void;
  timer?: NodeJS.Timeout;
  cleanup?: () => void;
}

/**
 * `send(id, body)` puts one request on the channel; `peer` names the other end in error messages
 * ("the agent host", "agent h12-a3"). A `send` that throws rejects that request as peer-gone.
 */
export function createRequester<Request, Reply>(send: (id: number, body: Request) => void, options: { peer: string; timeoutMs?: number }): Requester<Request, Reply> {
  const waiting = new Map<number, Waiter<Reply>>();
  let nextId = 1;
  let closedBecause: string | undefined;

  function settle(id: number): Waiter<Reply> | undefined {
    const waiter = waiting.get(id);
    if (!waiter) return undefined;
    waiting.delete(id);
    clearTimeout(waiter.timer);
    waiter.cleanup?.();
    return waiter;
  }

  const peerGone = (why: string): RequestFailedError => new RequestFailedError('peer-gone', `No reply from ${options.peer}: ${why}`);

  return {
    request(body, requestOptions = {}) {
      if (closedBecause !== undefined) return Promise.reject(peerGone(closedBecause));
      const id = nextId++;
      return new Promise<Reply>((resolve, reject) => {
        const waiter: Waiter<Reply> = { resolve, reject };
        const timeoutMs = requestOptions.timeoutMs ?? options.timeoutMs;
        if (timeoutMs !== undefined) {
          waiter.timer = setTimeout(() => settle(id)?.reject(new RequestFailedError('timeout', `No reply from ${options.peer} within ${timeoutMs} ms.`)), timeoutMs);
        }
        const { signal, onAbort } = requestOptions;
        if (signal && onAbort) {
          const aborted = (): void => onAbort(id);
          signal.addEventListener('abort', aborted, { once: true });
          waiter.cleanup = () => signal.removeEventListener('abort', aborted);
        }
        waiting.set(id, waiter);
        try {
          send(id, body);
        } catch (error) {
          settle(id)?.reject(peerGone(error instanceof Error ? error.message : String(error)));
        }
      });
    },
    resolve(id, reply) {
      const waiter = settle(id);
      waiter?.resolve(reply);
      return waiter !== undefined;
    },
    reject(id, error) {
      const waiter = settle(id);
      waiter?.reject(error);
      return waiter !== undefined;
    },
    close(reason) {
      closedBecause ??= reason;
      for (const id of [...waiting.keys()]) settle(id)?.reject(peerGone(reason));
    },
    get pending() {
      return waiting.size;
    },
  };
}

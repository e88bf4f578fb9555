// The wire for `provider: "host"`: agent processes borrow the language models VS Code gives the
// extension (vscode.lm) by asking the host over child-process IPC. Same shape as the rate limiter's
// IPC (../../ratelimit/ipc.ts): plain `send`/`onMessage` functions, every message tagged with its
// channel, so the pool can carry it next to its own messages over any transport.
import type { Subscribe } from '../../ratelimit/ipc';
import { classifyError, ExecutorError, type ChatRequest, type ChatResponse, type ClassifiedFailure, type HostModelBroker } from '../types';

export const HOST_MODELS_CHANNEL = 'swarm-host-models';

/** Agent → host: run this chat request; answered by `reply` or `failed` with the same id. */
export interface HostModelRequest { channel: typeof HOST_MODELS_CHANNEL; type: 'request'; id: number; request: ChatRequest & { model?: string } }
/** Agent → host: the agent no longer wants the answer to request `id` (its task was cancelled). */
export interface HostModelCancel { channel: typeof HOST_MODELS_CHANNEL; type: 'cancel'; id: number }
/** Host → agent: the model's answer. */
export interface HostModelReply { channel: typeof HOST_MODELS_CHANNEL; type: 'reply'; id: number; response: ChatResponse }
/** Host → agent: the request failed; `failure` keeps its class (transient, permanent, rate-limited). */
export interface HostModelFailed { channel: typeof HOST_MODELS_CHANNEL; type: 'failed'; id: number; failure: ClassifiedFailure }

export type HostModelClientMessage = HostModelRequest | HostModelCancel;
export type HostModelServerMessage = HostModelReply | HostModelFailed;
export type HostModelMessage = HostModelClientMessage | HostModelServerMessage;


export function isHostModelMessage(message: unknown): message is HostModelMessage {
  if (typeof message !== 'object' || message === null) return false;
  const candidate = message as { channel?: unknown; type?: unknown; id?: unknown };
  return candidate.channel === HOST_MODELS_CHANNEL && typeof candidate.type === 'string' && typeof candidate.id === 'number';
}

export interface HostModelIpcClient extends HostModelBroker {
  /** Fails every request still waiting (the channel closed) and stops listening. */
  dispose(reason?: string): void;
}

interface PendingRequest {
  resolve: (response: ChatResponse) => void;
  reject: (reason: unknown) => void;
  cleanup: () => void;
}

/** The agent side: a HostModelBroker whose requests run in the host. Pass it as `ctx.hostModels`. */
export function createHostModelIpcClient(send: (message: HostModelClientMessage) => void, onMessage: Subscribe): HostModelIpcClient {
  let nextId = 1;
  const pending = new Map<number, PendingRequest>();

  const unsubscribe = onMessage((message) => {
    if (!isHostModelMessage(message)) return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    if (message.type === 'reply') settle(message.id, () => waiter.resolve(message.response));
    else if (message.type === 'failed') settle(message.id, () => waiter.reject(new ExecutorError(message.failure.kind, message.failure.message, { retryAt: message.failure.retryAt })));
  });

  function settle(id: number, finish: () => void): void {
    const waiter = pending.get(id);
    if (!waiter) return;
    pending.delete(id);
    waiter.cleanup();
    finish();
  }

  return {
    complete(request, signal): Promise<ChatResponse> {
      if (signal.aborted) return Promise.reject(ExecutorError.cancelled('The request to the VS Code language model'));
      const id = nextId++;
      return new Promise<ChatResponse>((resolve, reject) => {
        const onAbort = (): void => {
          settle(id, () => reject(ExecutorError.cancelled('The request to the VS Code language model')));
          send({ channel: HOST_MODELS_CHANNEL, type: 'cancel', id });
        };
        signal.addEventListener('abort', onAbort, { once: true });
        pending.set(id, { resolve, reject, cleanup: () => signal.removeEventListener('abort', onAbort) });
        try {
          send({ channel: HOST_MODELS_CHANNEL, type: 'request', id, request });
        } catch (error) {
          settle(id, () => reject(new ExecutorError('transient', `Could not reach the host for its language models: ${error instanceof Error ? error.message : String(error)}`)));
        }
      });
    },
    dispose(reason = 'The connection to VS Code (the host of the language models) closed.'): void {
      unsubscribe();
      for (const [id, waiter] of [...pending]) settle(id, () => waiter.reject(new ExecutorError('transient', reason)));
    },
  };
}

export interface HostModelIpcServer {
  /** Cancels every request of this peer still running. Call it when the peer exits. */
  dispose(): void;
}

/** The host side for one agent process: runs its requests on `broker` (the extension's vscode.lm). */
export function serveHostModelsOverIpc(broker: HostModelBroker, send: (message: HostModelServerMessage) => void, onMessage: Subscribe): HostModelIpcServer {
  const running = new Map<number, AbortController>();
  let closed = false;

  const unsubscribe = onMessage((message) => {
    if (!isHostModelMessage(message) || closed) return;
    if (message.type === 'request') void run(message.id, message.request);
    else if (message.type === 'cancel') {
      running.get(message.id)?.abort(new Error('The agent cancelled its request.'));
      running.delete(message.id);
    }
  });

  async function run(id: number, request: ChatRequest & { model?: string }): Promise<void> {
    const controller = new AbortController();
    running.set(id, controller);
    try {
      const response = await broker.complete(request, controller.signal);
      if (!controller.signal.aborted) safeSend({ channel: HOST_MODELS_CHANNEL, type: 'reply', id, response });
    } catch (error) {
      if (!controller.signal.aborted) safeSend({ channel: HOST_MODELS_CHANNEL, type: 'failed', id, failure: classifyError(error) });
    } finally {
      running.delete(id);
    }
  }

  // The peer may be gone already; a failed send must not crash the host.
  function safeSend(message: HostModelServerMessage): void {
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
      for (const controller of running.values()) controller.abort(new Error('The agent process exited.'));
      running.clear();
    },
  };
}

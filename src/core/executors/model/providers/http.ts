// What the HTTP chat providers share: one request through the rate limiter, retries for what a
// retry can fix, and failure classes whose messages say what to do.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../../../ratelimit/backoff';
import { withPermit } from '../../../ratelimit/limiter';
import { retryAfterFromHeaders } from '../../../ratelimit/retryAfter';
import type { RateLimiterClient } from '../../../ratelimit/types';
import { ExecutorError, type ChatResponse } from '../../types';

export interface HttpSettings {
  /** Provider name for messages: `OpenAI-compatible endpoint`, `Anthropic API`. */
  label: string;
  url: string;
  headers: Record<string, string>;
  endpointKey: string;
  requestTimeoutMs: number;
  retries: number;
  maxInlineWaitMs: number;
  limiter?: RateLimiterClient;
  /** What to tell the user when the key is rejected: which variable to set. */
  keyAdvice: string;
  /** Delays between retries of 5xx and connection failures. */
  retryBackoff?: { baseMs: number; capMs: number };
}

interface HttpReply {
  status: number;
  headers: Headers;
  body: string;
}

/** POSTs `body` as JSON and parses a successful reply with `parse`, retrying transient failures. */
export async function postChat(settings: HttpSettings, body: unknown, parse: (json: unknown) => ChatResponse, signal: AbortSignal): Promise<ChatResponse> {
  for (let attempt = 1; ; attempt++) {
    const reply = await sendOnce(settings, body, signal);
    if (reply.status >= 200 && reply.status < 300) return parseReply(settings, reply, parse);
    const failure = httpFailure(settings, reply);
    if (failure.kind === 'permanent' || attempt > settings.retries) throw failure;
    await waitBeforeRetry(settings, reply, failure, attempt, signal);
  }
}

async function sendOnce(settings: HttpSettings, body: unknown, signal: AbortSignal): Promise<HttpReply> {
  return withPermit(settings.limiter, settings.endpointKey, signal, async (report) => {
    const timeout = AbortSignal.timeout(settings.requestTimeoutMs);
    try {
      const response = await fetch(settings.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...settings.headers },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, timeout]),
      });
      const text = await response.text();
      report({ status: response.status, retryAfterMs: advisedWait(response) });
      return { status: response.status, headers: response.headers, body: text };
    } catch (error) {
      if (signal.aborted) throw ExecutorError.cancelled(`The request to ${settings.label}`);
      if (timeout.aborted) throw new ExecutorError('transient', `${settings.label} did not answer within ${settings.requestTimeoutMs} ms (${settings.url}). Raise requestTimeoutMs for slow local models.`);
      throw new ExecutorError('transient', `Could not reach ${settings.label} at ${settings.url}: ${networkReason(error)}. Check that the server is running and baseUrl is right.`, { cause: error });
    }
  });
}

/**
 * The wait the server asks for, only when it refused the request. Successful OpenAI and Anthropic
 * replies carry x-ratelimit-reset-* / anthropic-ratelimit-*-reset headers too (when the budget
 * refills); treating those as Retry-After would pause the endpoint after every success.
 */
function advisedWait(response: Response): number | undefined {
  return response.status === 429 || response.status === 503 ? retryAfterFromHeaders(response.headers) : undefined;
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

function parseReply(settings: HttpSettings, reply: HttpReply, parse: (json: unknown) => ChatResponse): ChatResponse {
  let json: unknown;
  try {
    json = JSON.parse(reply.body);
  } catch {
    throw new ExecutorError('transient', `${settings.label} answered ${reply.status} but the body is not JSON: ${snippet(reply.body)}`);
  }
  return parse(json);
}

/** Classifies a non-2xx reply. Permanent failures say which setting to fix. */
export function httpFailure(settings: HttpSettings, reply: HttpReply): ExecutorError {
  const { status } = reply;
  const detail = errorDetail(reply.body);
  const where = `${settings.label} (${settings.url})`;
  if (status === 429) {
    const retryAfterMs = retryAfterFromHeaders(reply.headers);
    const retryAt = Date.now() + (retryAfterMs ?? 60_000);
    return new ExecutorError('rate-limited', `${where} is rate limiting requests (429): ${detail}. Retry after ${new Date(retryAt).toISOString()}.`, { retryAt });
  }
  if (status >= 500 || status === 408 || status === 409 || status === 425) return new ExecutorError('transient', `${where} failed with ${status}: ${detail}. This is usually temporary.`);
  if (status === 401) return new ExecutorError('permanent', `${where} rejected the API key (401): ${detail}. ${settings.keyAdvice}`);
  if (status === 403) return new ExecutorError('permanent', `${where} refused access (403): ${detail}. The key may lack access to this model; ${settings.keyAdvice}`);
  if (status === 404) return new ExecutorError('permanent', `${where} answered 404: ${detail}. Check baseUrl (OpenAI-compatible servers usually end in /v1) and the model name.`);
  if (status === 413) return new ExecutorError('permanent', `${where} refused the request as too large (413): ${detail}. Lower maxTotalBytes or split the task.`);
  return new ExecutorError('permanent', `${where} rejected the request (${status}): ${detail}. Check the model name and parameters in the executor settings.`);
}

async function waitBeforeRetry(settings: HttpSettings, reply: HttpReply, failure: ExecutorError, attempt: number, signal: AbortSignal): Promise<void> {
  if (failure.kind === 'rate-limited') {
    const advised = retryAfterFromHeaders(reply.headers);
    if (advised !== undefined && advised > settings.maxInlineWaitMs) throw failure;
    // The limiter paused the endpoint for everyone; the next acquire waits for it.
    if (settings.limiter) return;
    return abortableSleep(advised ?? backoffDelay(attempt), signal, settings);
  }
  const backoff = settings.retryBackoff ?? { baseMs: 1_000, capMs: 30_000 };
  await abortableSleep(backoffDelay(attempt, { ...backoff, multiplier: 2, jitter: 0.5 }), signal, settings);
}

async function abortableSleep(ms: number, signal: AbortSignal, settings: HttpSettings): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw ExecutorError.cancelled(`The request to ${settings.label}`);
  }
}

/** The provider's own error message (`{error: {message}}` in both OpenAI and Anthropic bodies). */
function errorDetail(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof json.error === 'string' ? json.error : json.error?.message ?? json.message;
    if (typeof message === 'string' && message !== '') return message;
  } catch {
    /* not JSON */
  }
  return body.trim() === '' ? 'no details' : snippet(body);
}

export function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat;
}

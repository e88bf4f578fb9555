// How long a server asked us to wait, from the response headers the common model APIs send.
// Every function returns milliseconds from `now`, or undefined when the headers say nothing usable.

/** Header lookup that works for fetch `Headers` and plain objects. */
export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/** `Retry-After` is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfterValue(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** OpenAI's `x-ratelimit-reset-*` durations look like `1s`, `6m0s`, `20ms`, `1h2m3.5s`. */
export function parseDurationValue(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(trimmed)) return undefined;
  const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) total += Number(match[1]) * unitMs[match[2]];
  return Math.round(total);
}

const ANTHROPIC_RESET_HEADERS = [
  'anthropic-ratelimit-requests-reset',
  'anthropic-ratelimit-tokens-reset',
  'anthropic-ratelimit-input-tokens-reset',
  'anthropic-ratelimit-output-tokens-reset',
];

const OPENAI_RESET_HEADERS = ['x-ratelimit-reset-requests', 'x-ratelimit-reset-tokens'];

/**
 * The wait a 429 (or 503) response asks for. Precedence: `retry-after-ms`, `retry-after`, then the
 * latest of the provider-specific reset headers (Anthropic RFC 3339 timestamps, OpenAI durations):
 * when several limits are exhausted, the request can only succeed once the last one resets.
 */
export function retryAfterFromHeaders(headers: HeaderSource, now: number = Date.now()): number | undefined {
  const milliseconds = header(headers, 'retry-after-ms');
  if (milliseconds !== undefined && /^\d+(\.\d+)?$/.test(milliseconds.trim())) return Math.round(Number(milliseconds));
  const retryAfter = parseRetryAfterValue(header(headers, 'retry-after'), now);
  if (retryAfter !== undefined) return retryAfter;
  const resets: number[] = [];
  for (const name of ANTHROPIC_RESET_HEADERS) {
    const value = header(headers, name);
    const at = value === undefined ? NaN : Date.parse(value);
    if (!Number.isNaN(at)) resets.push(Math.max(0, at - now));
  }
  for (const name of OPENAI_RESET_HEADERS) {
    const duration = parseDurationValue(header(headers, name));
    if (duration !== undefined) resets.push(duration);
  }
  return resets.length > 0 ? Math.max(...resets) : undefined;
}

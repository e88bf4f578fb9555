// Recognises "you are out of quota" reports in the output of coding-agent CLIs and works out when
// to try again, so the pool can pause instead of burning retries (claude-squad #114). The samples
// this is tested against are real messages quoted in the CLIs' issue trackers, e.g.
//   Claude AI usage limit reached|1755615600                             (claude-code #6119)
//   You've hit your limit - resets Feb 7, 11am (Asia/Seoul)              (claude-code #22976)
//   You've hit your usage limit. ... or try again in 5 days 22 hours 11 minutes.   (codex #3899)
//   "code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"  (gemini-cli #1848)

export interface UsageLimitReport {
  /** The line that gave it away, for the error message. */
  evidence: string;
  /** When the limit resets, epoch ms, if the output said. */
  retryAt?: number;
}

/** Used when the output does not say when the limit resets. */
export const DEFAULT_USAGE_LIMIT_BACKOFF_MS = 15 * 60_000;
/** A parsed reset further away than this is more likely a misreading than a real limit. */
const MAX_PLAUSIBLE_WAIT_MS = 8 * 24 * 3_600_000;

/** Phrases that only appear when a provider refuses work for quota reasons. */
const STRONG_SIGNS: RegExp[] = [
  /usage limit (?:has been )?reached/i,
  /you(?:'|’)ve (?:hit|reached) your (?:usage |rate )?limit/i,
  /\b(?:5-hour|five-hour|weekly|daily|session) limit reached/i,
  /\bquota exceeded\b/i,
  /resource (?:has been )?exhausted/i,
  /RESOURCE_EXHAUSTED/,
  /rate_limit_error|RateLimitError|rate_limit_exceeded|usage_limit_reached/,
  /\btoo many requests\b/i,
  /\brate limit (?:reached|exceeded|hit)\b/i,
];

/** Phrases that may also appear in ordinary agent output; trusted only when the command failed. */
const WEAK_SIGNS: RegExp[] = [/\brate[- ]?limit(?:ed)?\b/i, /\b429\b/, /\bquota\b/i];

/**
 * Looks for a usage/rate-limit report in `output`. With `failed: false` (the command exited 0) only
 * strong signs in the last lines count, because a successful agent may well talk about rate limits.
 */
export function detectUsageLimit(output: string, options: { failed: boolean; now?: number; timeZone?: string }): UsageLimitReport | undefined {
  const now = options.now ?? Date.now();
  const lines = output.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  const searched = options.failed ? lines.slice(-200) : lines.slice(-15);
  const signs = options.failed ? [...STRONG_SIGNS, ...WEAK_SIGNS] : STRONG_SIGNS;
  const evidence = [...searched].reverse().find((line) => signs.some((sign) => sign.test(line)));
  if (evidence === undefined) return undefined;
  const retryAt = parseResetTime(searched.join('\n'), now, options.timeZone);
  return retryAt === undefined ? { evidence: clip(evidence) } : { evidence: clip(evidence), retryAt };
}

/** The reset time a message announces, as epoch ms, or undefined if it announces none. */
export function parseResetTime(text: string, now: number = Date.now(), timeZone?: string): number | undefined {
  const candidates = [epochReset(text), relativeReset(text, now), absoluteReset(text, now, timeZone)];
  return candidates.find((at) => at !== undefined && at > now - 60_000 && at - now < MAX_PLAUSIBLE_WAIT_MS);
}

/** `limit reached|1755615600` (Claude Code) or `"resets_at": 1775317531` (JSON error bodies). */
function epochReset(text: string): number | undefined {
  const match = /(?:limit reached\s*\||reset(?:s)?_?at"?\s*[:=]\s*)(\d{10}|\d{13})\b/i.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]);
  return match[1].length === 10 ? value * 1000 : value;
}

const UNIT_MS: Array<[RegExp, number]> = [
  [/^(?:ms|msecs?|milliseconds?)$/i, 1],
  [/^(?:s|secs?|seconds?)$/i, 1_000],
  [/^(?:m|mins?|minutes?)$/i, 60_000],
  [/^(?:h|hrs?|hours?)$/i, 3_600_000],
  [/^(?:d|days?)$/i, 86_400_000],
];

/** `try again in 5 days 22 hours 11 minutes`, `Please retry in 20.5s`, `resets in 2h 30m`. */
function relativeReset(text: string, now: number): number | undefined {
  const match = /\b(?:try again|retry|resets?|available again)\s+(?:in|after)\s+((?:\d+(?:\.\d+)?\s*[a-z]+[\s,]*(?:and\s+)?)+)/i.exec(text);
  if (!match) return undefined;
  let total = 0;
  for (const part of match[1].matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+)/gi)) {
    const unit = UNIT_MS.find(([pattern]) => pattern.test(part[2]));
    if (!unit) break;
    total += Number(part[1]) * unit[1];
  }
  return total > 0 ? now + Math.round(total) : undefined;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/**
 * `resets 3pm`, `will reset at 5pm (Europe/Warsaw)`, `resets Feb 7, 11am (Asia/Seoul)`,
 * `try again at Jul 5th, 2026 8:19 PM`, `resets at 2025-08-19T17:00:00Z`. A time without a date is
 * the next such time; without a zone it is in `timeZone` (default: this machine's).
 */
function absoluteReset(text: string, now: number, timeZone?: string): number | undefined {
  const phrase = /\b(?:resets?|try again|available again)\b(?:\s+(?:at|on))?\s+([^\n.]*(?:\.\d+)?[^\n]*)/i.exec(text)?.[1];
  if (phrase === undefined) return undefined;
  const iso = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/.exec(phrase);
  if (iso) return Date.parse(iso[0]);
  const match =
    /^(?:(?<month>[A-Za-z]{3})[a-z]*\.?\s+(?<day>\d{1,2})(?:st|nd|rd|th)?,?\s*(?:(?<year>\d{4}),?\s*)?)?(?:at\s+)?(?<hour>\d{1,2})(?::(?<minute>\d{2}))?\s*(?<meridiem>[ap]\.?m\.?)?\s*(?:\((?<zone>[^)]+)\))?/i.exec(
      phrase.trim(),
    );
  const groups = match?.groups;
  if (!groups || (groups.minute === undefined && groups.meridiem === undefined)) return undefined;
  const monthIndex = groups.month === undefined ? -1 : MONTHS.indexOf(groups.month.toLowerCase());
  if (groups.month !== undefined && monthIndex < 0) return undefined;
  const hour = to24Hour(Number(groups.hour), groups.meridiem);
  const minute = Number(groups.minute ?? 0);
  if (hour > 23 || minute > 59) return undefined;
  const zone = validZone(groups.zone?.trim()) ?? validZone(timeZone) ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const today = zonedDate(now, zone);
  if (monthIndex >= 0) {
    const year = groups.year === undefined ? today.year : Number(groups.year);
    const at = zonedTimeToEpoch(year, monthIndex, Number(groups.day), hour, minute, zone);
    // "Jan 2" read in late December means next year.
    return groups.year === undefined && at < now - 86_400_000 ? zonedTimeToEpoch(year + 1, monthIndex, Number(groups.day), hour, minute, zone) : at;
  }
  const sameDay = zonedTimeToEpoch(today.year, today.month, today.day, hour, minute, zone);
  return sameDay > now ? sameDay : zonedTimeToEpoch(today.year, today.month, today.day + 1, hour, minute, zone);
}

function to24Hour(hour: number, meridiem: string | undefined): number {
  if (meridiem === undefined) return hour;
  const pm = meridiem.toLowerCase().startsWith('p');
  return (hour % 12) + (pm ? 12 : 0);
}

function validZone(zone: string | undefined): string | undefined {
  if (zone === undefined || zone === '') return undefined;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone;
  } catch {
    return undefined;
  }
}

function zonedDate(epoch: number, zone: string): { year: number; month: number; day: number } {
  const wall = new Date(epoch + zoneOffsetMs(epoch, zone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth(), day: wall.getUTCDate() };
}

/** How far `zone`'s wall clock is ahead of UTC at `epoch`. */
function zoneOffsetMs(epoch: number, zone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(epoch));
  const part = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((candidate) => candidate.type === type)?.value ?? 0);
  const wallAsUtc = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return wallAsUtc - Math.floor(epoch / 1000) * 1000;
}

/** The epoch of a wall-clock time in `zone` (month 0-based; day may overflow into the next month). */
function zonedTimeToEpoch(year: number, month: number, day: number, hour: number, minute: number, zone: string): number {
  const wallAsUtc = Date.UTC(year, month, day, hour, minute);
  const firstGuess = wallAsUtc - zoneOffsetMs(wallAsUtc, zone);
  // Near a DST change the offset at the guess can differ from the offset at the answer; one more step settles it.
  return wallAsUtc - zoneOffsetMs(firstGuess, zone);
}

function clip(line: string): string {
  return line.length <= 300 ? line : `${line.slice(0, 300)}…`;
}

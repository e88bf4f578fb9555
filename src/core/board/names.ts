// File names carry a task's mutable state: its directory is its status, its name holds the sort
// key, the attempt count, and (while running) the lease holder. The body is written once and never
// changes, so every state change is a single rename of one file.

export const STATE_DIRS = ['pending', 'delayed', 'running', 'waiting', 'done', 'dead', 'cancelled'] as const;
export type StateDir = (typeof STATE_DIRS)[number];

const SEPARATOR = '~';
const SUFFIX = '.json';
/** Priorities lie in [-PRIORITY_LIMIT, PRIORITY_LIMIT]: the key has five digits. */
export const PRIORITY_LIMIT = 9999;
/**
 * The latest time a name can hold: times are 14 digits of epoch milliseconds (5138-11-16). Every
 * time that reaches a name (notBefore, a retry's due time) is checked or capped against it, so a
 * name always reads back as the time that was written.
 */
export const MAX_TIME_MS = 99_999_999_999_999;
const ID_PATTERN = /^[a-z0-9][a-z0-9.]{2,80}$/;
const AGENT_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function isValidAgentName(agent: string): boolean {
  return AGENT_PATTERN.test(agent);
}

export function clampPriority(priority: number): number {
  return Math.max(-PRIORITY_LIMIT, Math.min(PRIORITY_LIMIT, Math.trunc(priority)));
}

/** Smaller keys sort first, so the highest priority gets the smallest key. */
function priorityKey(priority: number): string {
  return String(PRIORITY_LIMIT - clampPriority(priority)).padStart(5, '0');
}

/** Callers validate times first; the cap only guards the name format against a bug upstream. */
export function capTime(epochMs: number): number {
  return Number.isFinite(epochMs) ? Math.max(0, Math.min(MAX_TIME_MS, Math.trunc(epochMs))) : MAX_TIME_MS;
}

function timeKey(epochMs: number): string {
  return String(capTime(epochMs)).padStart(14, '0');
}

export interface QueueKey {
  id: string;
  priority: number;
  createdAt: number;
  attempts: number;
}

/** pending: `<priority>~<created>~<id>~a<attempts>.json`, sorted by name = claim order. */
export function pendingName(key: QueueKey): string {
  return [priorityKey(key.priority), timeKey(key.createdAt), key.id, `a${key.attempts}`].join(SEPARATOR) + SUFFIX;
}

/** delayed: `<due>~<pending name>`, sorted by name = promotion order. */
export function delayedName(key: QueueKey, dueAt: number): string {
  return timeKey(dueAt) + SEPARATOR + pendingName(key);
}

/** running: `<id>~a<attempt>~<agent>~<nonce>.json`; the whole name is the lease token. */
export function runningName(id: string, attempt: number, agent: string, nonce: string): string {
  return [id, `a${attempt}`, agent, nonce].join(SEPARATOR) + SUFFIX;
}

/** waiting, dead, cancelled: `<id>~a<attempts>.json`. */
export function restingName(id: string, attempts: number): string {
  return [id, `a${attempts}`].join(SEPARATOR) + SUFFIX;
}

/** done: `<id>~a<attempt>~<nonce>.json`; the nonce names the completing claim's result file. */
export function doneName(id: string, attempt: number, nonce: string): string {
  return [id, `a${attempt}`, nonce].join(SEPARATOR) + SUFFIX;
}

/** What a file name says about its task, whatever directory it is in. */
export interface ParsedName {
  id: string;
  attempts: number;
  priorityKey?: string;
  dueAt?: number;
  agent?: string;
  nonce?: string;
}

function parseAttempts(part: string | undefined): number | undefined {
  if (!part || !/^a\d{1,6}$/.test(part)) return undefined;
  return Number(part.slice(1));
}

function parsePendingParts(parts: string[]): ParsedName | undefined {
  const [prio, created, id, attempt] = parts;
  const attempts = parseAttempts(attempt);
  if (parts.length !== 4 || !/^\d{5}$/.test(prio) || !/^\d{14}$/.test(created)) return undefined;
  if (!isValidId(id) || attempts === undefined) return undefined;
  return { id, attempts, priorityKey: prio };
}

/** Decodes a file name of the given directory; undefined means the name is not ours (quarantine it). */
export function parseName(dir: StateDir, fileName: string): ParsedName | undefined {
  if (!fileName.endsWith(SUFFIX)) return undefined;
  const parts = fileName.slice(0, -SUFFIX.length).split(SEPARATOR);
  switch (dir) {
    case 'pending':
      return parsePendingParts(parts);
    case 'delayed': {
      const [due, ...rest] = parts;
      const parsed = /^\d{14}$/.test(due ?? '') ? parsePendingParts(rest) : undefined;
      return parsed && { ...parsed, dueAt: Number(due) };
    }
    case 'running': {
      const [id, attempt, agent, nonce] = parts;
      const attempts = parseAttempts(attempt);
      if (parts.length !== 4 || !isValidId(id) || attempts === undefined) return undefined;
      if (!isValidAgentName(agent) || !/^[0-9a-f]{8,32}$/.test(nonce)) return undefined;
      return { id, attempts, agent, nonce };
    }
    case 'done': {
      const [id, attempt, nonce] = parts;
      const attempts = parseAttempts(attempt);
      if (parts.length !== 3 || !isValidId(id) || attempts === undefined) return undefined;
      if (!/^[0-9a-f]{8,32}$/.test(nonce)) return undefined;
      return { id, attempts, nonce };
    }
    default: {
      const [id, attempt] = parts;
      const attempts = parseAttempts(attempt);
      if (parts.length !== 2 || !isValidId(id) || attempts === undefined) return undefined;
      return { id, attempts };
    }
  }
}

/** Cheap id extraction for directory scans that only need to match ids. */
export function idOfName(dir: StateDir, fileName: string): string | undefined {
  return parseName(dir, fileName)?.id;
}

// Argument parsers shared by commands: each throws an error that names the bad value, so the user
// gets one line and exit code 2, and nothing on the board changes.
import * as fs from 'fs';
import { InvalidArgumentError } from 'commander';
import { MAX_TIME_MS, TASK_SPEC_FIELDS, TASK_STATUSES, TaskSpec, TaskStatus, checkTaskSpec } from '../core/board';
import { MAX_KEEP_RESULTS_DAYS } from '../core/config/schema';
import { UsageError } from './errors';

/** A whole number in [min, max], written in decimal digits (an optional sign, nothing else). */
export function parseInteger(name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    if (!/^[+-]?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number, got "${value}".`);
    const number = Number(value);
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${value.trim()}.`);
    }
    return Object.is(number, -0) ? 0 : number;
  };
}

/** Most days a retention may be set to: ten years (beyond it the milliseconds stop being exact); swarm.config.json's keepResultsDays has the same bound. */
export const MAX_RETENTION_DAYS = MAX_KEEP_RESULTS_DAYS;

/** A number of days above 0 (fractions allowed: 0.5 is twelve hours), as milliseconds. */
export function parseDaysAsMs(name: string): (value: string) => number {
  return (value: string) => {
    const trimmed = value.trim();
    const days = /^\d+(\.\d+)?$|^\.\d+$/.test(trimmed) ? Number(trimmed) : NaN;
    if (!(days > 0 && days <= MAX_RETENTION_DAYS)) throw new InvalidArgumentError(`${name} must be a number of days above 0 and at most ${MAX_RETENTION_DAYS} (for example 7, or 0.5 for twelve hours), got "${value}".`);
    return Math.round(days * 86_400_000);
  };
}

export function parseJson(name: string): (value: string) => unknown {
  return (value: string) => {
    try {
      return JSON.parse(value) as unknown;
    } catch (error) {
      throw new InvalidArgumentError(`${name} is not valid JSON: ${(error as Error).message}.`);
    }
  };
}

export function parseFileList(value: string): string[] {
  return value.split(',').map((file) => file.trim()).filter((file) => file.length > 0);
}

export function parseStatus(value: string): TaskStatus {
  if (!(TASK_STATUSES as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`status must be one of ${TASK_STATUSES.join(', ')}; got "${value}".`);
  }
  return value as TaskStatus;
}

const DELAY_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const LATEST = new Date(MAX_TIME_MS).toISOString();

/**
 * Parses a time as epoch milliseconds (digits only), an ISO date (`2030-01-31`, `2030-01-31T09:00Z`),
 * or a delay from now (`500ms`, `30s`, `5m`, `2h`, `7d`). Every accepted value lies in
 * [0, MAX_TIME_MS], the range a task's file name can hold; anything else is refused by name.
 */
export function parseTimeValue(value: string, name: string, now = Date.now()): number {
  const text = value.trim();
  const delay = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  const time = delay
    ? now + Number(delay[1]) * DELAY_UNITS[delay[2]]
    : /^\d+$/.test(text)
      ? Number(text)
      : parseIsoTime(text, name);
  if (!Number.isSafeInteger(time) || time > MAX_TIME_MS) {
    throw new InvalidArgumentError(`${name} ${JSON.stringify(value)} is too far in the future: the board keeps times up to ${LATEST}.`);
  }
  return time;
}

function parseIsoTime(text: string, name: string): number {
  const match = ISO_TIME.exec(text);
  const invalid = (): InvalidArgumentError =>
    new InvalidArgumentError(`${name} ${JSON.stringify(text)} is not a time: use epoch milliseconds, an ISO date like 2030-01-31 or 2030-01-31T09:00Z, or a delay like 30s, 5m, 2h or 7d.`);
  if (!match) throw invalid();
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => (part === undefined ? 0 : Number(part)));
  // Date.parse rolls 2030-02-30 over into March; a date that does not exist is a typo, not a time.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) throw invalid();
  const parsed = Date.parse(text.replace(' ', 'T'));
  if (Number.isNaN(parsed)) throw invalid();
  if (parsed < 0) throw new InvalidArgumentError(`${name} ${JSON.stringify(text)} is before 1970; give a later time.`);
  return parsed;
}

/** The commander parser of `--not-before`. */
export function parseTime(value: string): number {
  return parseTimeValue(value, '--not-before');
}

/**
 * Reads a JSON-lines file (or stdin for `-`): one task object per non-empty line, checked field by
 * field like a posted task, so a mistake is reported with its line before anything is written.
 * `notBefore` may be epoch milliseconds or any --not-before string. `parentId` only where allowed.
 */
export function readTaskLines(source: string, options: { allowParentId: boolean; defaults?: Partial<TaskSpec> }): TaskSpec[] {
  const label = source === '-' ? 'standard input' : source;
  let text: string;
  try {
    text = source === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(source, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read ${label}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
  const specs: TaskSpec[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim().length === 0) return;
    const where = `Line ${index + 1} of ${label}`;
    specs.push(taskFromLine(line, where, options));
  });
  if (specs.length === 0) throw new UsageError(`${label[0].toUpperCase()}${label.slice(1)} holds no tasks.`);
  return specs;
}

function taskFromLine(line: string, where: string, options: { allowParentId: boolean; defaults?: Partial<TaskSpec> }): TaskSpec {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new UsageError(`${where} is not valid JSON: ${(error as Error).message}.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${where} must be a JSON object with at least a "title".`);
  }
  const fields = value as Record<string, unknown>;
  // A task's source is the post's snapshot (shared boards), never written by hand.
  const allowed = TASK_SPEC_FIELDS.filter((field) => (options.allowParentId || field !== 'parentId') && field !== 'source');
  for (const field of Object.keys(fields)) {
    if (!allowed.includes(field)) throw new UsageError(`${where}: unknown field ${JSON.stringify(field)}${suggestField(field, allowed)}; the fields are ${allowed.join(', ')}.`);
  }
  const spec: Record<string, unknown> = { ...options.defaults, ...withoutUndefined(fields) };
  if (typeof fields.notBefore === 'string') {
    try {
      spec.notBefore = parseTimeValue(fields.notBefore, 'notBefore');
    } catch (error) {
      throw new UsageError(`${where}: ${(error as Error).message}`);
    }
  }
  const problem = checkTaskSpec(spec);
  if (problem) throw new UsageError(`${where}: ${problem}.`);
  return spec as unknown as TaskSpec;
}

function withoutUndefined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

/** ` (did you mean "files"?)` for `file`, `max_attempts`, `Priority`; empty when nothing is close. */
function suggestField(field: string, known: readonly string[]): string {
  const simple = (name: string): string => name.toLowerCase().replace(/[_-]/g, '');
  const wanted = simple(field);
  const match = known.find((name) => simple(name) === wanted || simple(name) === `${wanted}s` || `${simple(name)}s` === wanted);
  return match ? ` (did you mean ${JSON.stringify(match)}?)` : '';
}

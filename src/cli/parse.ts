// Argument parsers shared by commands: each throws a UsageError that names the bad value.
import * as fs from 'fs';
import { InvalidArgumentError } from 'commander';
import { TASK_STATUSES, TaskSpec, TaskStatus } from '../core/board';
import { UsageError } from './errors';

export function parseInteger(name: string, min = -Infinity, max = Infinity): (value: string) => number {
  return (value: string) => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`${name} must be a whole number, got "${value}".`);
    const number = Number(value);
    if (number < min || number > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}, got ${number}.`);
    return number;
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

/** Parses a time as epoch milliseconds, an ISO date, or a delay like `30s`, `5m`, `2h`. */
export function parseTime(value: string): number {
  const delay = /^(\d+)(ms|s|m|h)$/.exec(value.trim());
  if (delay) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[delay[2] as 'ms' | 's' | 'm' | 'h'];
    return Date.now() + Number(delay[1]) * unit;
  }
  if (/^\d{10,}$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed)) throw new InvalidArgumentError(`"${value}" is not a time: use epoch ms, an ISO date, or a delay like 30s or 5m.`);
  return parsed;
}

/** Reads a JSON-lines file (or stdin for `-`): one task spec object per non-empty line. */
export function readJsonLines(source: string): TaskSpec[] {
  let text: string;
  try {
    text = source === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(source, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read ${source === '-' ? 'standard input' : source}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
  const specs: TaskSpec[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim().length === 0) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new UsageError(`Line ${index + 1} of ${source} is not valid JSON: ${(error as Error).message}.`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new UsageError(`Line ${index + 1} of ${source} must be a JSON object with at least a "title".`);
    }
    specs.push(value as TaskSpec);
  });
  if (specs.length === 0) throw new UsageError(`${source === '-' ? 'Standard input' : source} holds no tasks.`);
  return specs;
}

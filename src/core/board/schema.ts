// The stored task body (written once at enqueue) and validation of what callers post.
import { z } from 'zod';
import * as path from 'path';
import { BoardInputError, DEFAULT_MAX_ATTEMPTS, TaskSpec } from './types';
import { clampPriority, isValidId } from './names';

export const TASK_FORMAT_VERSION = 1;

const relativeFile = z
  .string()
  .min(1)
  .max(1024)
  .refine((file) => !path.isAbsolute(file) && !file.split(/[\\/]/).includes('..') && !file.includes('\0'), {
    message: 'must be a workspace-relative path without ".."',
  });

const specSchema = z.object({
  title: z.string().trim().min(1, 'must not be empty').max(500),
  type: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'may hold letters, digits and _.:- only').optional(),
  prompt: z.string().max(200_000).optional(),
  files: z.array(relativeFile).max(10_000).optional(),
  priority: z.number().int().optional(),
  payload: z.unknown().optional(),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  notBefore: z.number().int().nonnegative().optional(),
  parentId: z.string().refine(isValidId, 'is not a task id').optional(),
});

/** The body of a task file. `v` lets a later format be recognised and quarantined, not misread. */
export const storedTaskSchema = z.object({
  v: z.literal(TASK_FORMAT_VERSION),
  id: z.string().refine(isValidId),
  title: z.string().min(1),
  type: z.string(),
  prompt: z.string(),
  files: z.array(z.string()),
  priority: z.number().int(),
  payload: z.unknown(),
  maxAttempts: z.number().int().min(1),
  createdAt: z.number(),
  notBefore: z.number().optional(),
  parentId: z.string().optional(),
  childCount: z.number().int().nonnegative().optional(),
});

export type StoredTask = z.infer<typeof storedTaskSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'task'} ${issue.message}`).join('; ');
}

/** Normalises file paths so that `./a.ts` and `a.ts` are the same file for scope leases. */
export function normaliseFile(file: string): string {
  return path.posix.normalize(file.replace(/\\/g, '/')).replace(/^\.\//, '');
}

export function buildStoredTask(spec: TaskSpec, id: string, createdAt: number, childCount?: number): StoredTask {
  const parsed = specSchema.safeParse(spec);
  if (!parsed.success) throw new BoardInputError(`Invalid task: ${describeIssues(parsed.error)}.`);
  if (spec.payload !== undefined) assertJsonSerialisable(spec.payload);
  const value = parsed.data;
  return {
    v: TASK_FORMAT_VERSION,
    id,
    title: value.title,
    type: value.type ?? 'task',
    prompt: value.prompt ?? '',
    files: [...new Set((value.files ?? []).map(normaliseFile))],
    priority: clampPriority(value.priority ?? 0),
    payload: value.payload ?? null,
    maxAttempts: value.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    createdAt,
    ...(value.notBefore !== undefined ? { notBefore: value.notBefore } : {}),
    ...(value.parentId !== undefined ? { parentId: value.parentId } : {}),
    ...(childCount !== undefined ? { childCount } : {}),
  };
}

function assertJsonSerialisable(payload: unknown): void {
  try {
    JSON.stringify(payload);
  } catch (error) {
    throw new BoardInputError(`Invalid task: payload is not JSON (${(error as Error).message}).`);
  }
}

/** Parses a task file's text; returns a reason instead of throwing so the caller can quarantine. */
export function parseStoredTask(text: string): { task: StoredTask } | { reason: string } {
  if (text.length === 0) return { reason: 'the file is empty (a write was cut off)' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { reason: `not valid JSON: ${(error as Error).message}` };
  }
  const version = (json as { v?: unknown } | null)?.v;
  if (typeof version === 'number' && version > TASK_FORMAT_VERSION) {
    return { reason: `task format ${version} is newer than this Agent Swarm understands (${TASK_FORMAT_VERSION}); update Agent Swarm` };
  }
  const parsed = storedTaskSchema.safeParse(json);
  if (!parsed.success) return { reason: `does not match the task schema: ${describeIssues(parsed.error)}` };
  return { task: parsed.data };
}

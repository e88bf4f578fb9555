// The stored task body (written once at enqueue) and validation of what callers post.
import { z } from 'zod';
import * as path from 'path';
import { BoardInputError, DEFAULT_MAX_ATTEMPTS, TaskSpec, type Task, type TaskSource, type TaskStatus } from './types';
import { MAX_TIME_MS, PRIORITY_LIMIT, clampPriority, isValidId } from './names';

/** The most attempts a task may be given. */
export const MAX_ATTEMPTS_LIMIT = 100;

export const TASK_FORMAT_VERSION = 1;

/**
 * Why a task's file path is refused, or undefined when it is a workspace-relative path. Task files
 * become file-scope lease keys and `{files}` arguments of executors, so anything that could point
 * outside the workspace or into a git folder is refused when the task is posted.
 */
export function taskFileProblem(file: string): string | undefined {
  if (file.includes('\0')) return 'contains a NUL character';
  if (path.isAbsolute(file) || /^[\\/]/.test(file) || /^[A-Za-z]:/.test(file)) return 'is absolute; give a path relative to the workspace';
  const parts = file.split(/[\\/]/);
  if (parts.includes('..')) return 'must be a workspace-relative path without ".."';
  // `.GIT`, `.git.` and `.git ` name the same folder on case-insensitive or Windows file systems.
  if (parts.some((part) => part.toLowerCase().replace(/[. ]+$/, '') === '.git')) return 'lies inside a .git folder, which tasks may not touch';
  if (normaliseFile(file) === '.' || normaliseFile(file) === '') return 'names the workspace itself; give a file or folder inside it';
  return undefined;
}

const relativeFile = z
  .string()
  .min(1)
  .max(1024)
  .superRefine((file, context) => {
    const problem = taskFileProblem(file);
    if (problem) context.addIssue({ code: z.ZodIssueCode.custom, message: `${JSON.stringify(file)} ${problem}` });
  });

const commitId = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'is not a commit id');
const sourceText = (max: number) => z.string().min(1).max(max).regex(/^[^\0-\x1f\x7f]*$/, 'has control characters');

/** A task's source (see TaskSource); a runner checks it again, as untrusted input, before it uses it. */
const sourceSchema: z.ZodType<TaskSource> = z
  .object({
    repository: sourceText(2000),
    url: sourceText(2000).refine((url) => !url.startsWith('-') && !/\s/.test(url), 'is not a repository URL').optional(),
    prefix: z.string().max(1000).refine((prefix) => !/[\0\\]/.test(prefix) && !prefix.startsWith('/') && !prefix.split('/').some((part) => part === '..' || part === '.git'), 'is not a folder inside the repository'),
    base: commitId.optional(),
    snapshot: commitId,
    snapshotId: z.string().refine(isValidId, 'is not a task id'),
    bundle: z.enum(['thin', 'full', 'none']),
    bundleBytes: z.number().int().min(0),
    bundleSha256: z.string().regex(/^[0-9a-f]{64}$/, 'is not a SHA-256').optional(),
    artifact: z.object({ taskId: z.string().refine(isValidId, 'is not a task id'), name: z.string().min(1).max(100) }).strict().optional(),
  })
  .strict();

/** A runner label: `gpu`, `linux`, `arm64`, `big-memory`. */
export const LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const labels = z.array(z.string().regex(LABEL_PATTERN, 'is not a label (letters, digits and _.- , at most 64)')).max(32);

const specSchema = z
  .object({
    title: z.string().trim().min(1, 'must not be empty').max(500),
    type: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.:-]+$/, 'may hold letters, digits and _.:- only').optional(),
    prompt: z.string().max(200_000).optional(),
    files: z.array(relativeFile).max(10_000).optional(),
    priority: z.number().int().min(-PRIORITY_LIMIT).max(PRIORITY_LIMIT).optional(),
    payload: z.unknown().optional(),
    maxAttempts: z.number().int().min(1).max(MAX_ATTEMPTS_LIMIT).optional(),
    notBefore: z.number().int().min(0).max(MAX_TIME_MS, `must be at most ${MAX_TIME_MS} (${new Date(MAX_TIME_MS).toISOString()})`).optional(),
    parentId: z.string().refine(isValidId, 'is not a task id').optional(),
    source: sourceSchema.optional(),
    requires: labels.optional(),
  })
  .strict();

/** The fields a task spec may have (for callers that report unknown ones in their own words). */
export const TASK_SPEC_FIELDS: readonly string[] = Object.keys(specSchema.shape);

/** The body of a task file. `v` lets a later format be recognised and quarantined, not misread. */
export const storedTaskSchema = z.object({
  v: z.literal(TASK_FORMAT_VERSION),
  id: z.string().refine(isValidId),
  title: z.string().min(1),
  type: z.string(),
  prompt: z.string(),
  files: z.array(relativeFile),
  priority: z.number().int().min(-PRIORITY_LIMIT).max(PRIORITY_LIMIT),
  payload: z.unknown(),
  maxAttempts: z.number().int().min(1),
  createdAt: z.number().int().min(0).max(MAX_TIME_MS),
  notBefore: z.number().int().min(0).max(MAX_TIME_MS).optional(),
  parentId: z.string().optional(),
  childCount: z.number().int().nonnegative().optional(),
  source: sourceSchema.optional(),
  requires: labels.optional(),
});

export type StoredTask = z.infer<typeof storedTaskSchema>;

function describeIssues(error: z.ZodError): string {
  return error.issues.map(describeIssue).join('; ');
}

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    const fields = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    if (issue.path.length > 0) return `${issue.path.join('.')} has unknown field${issue.keys.length === 1 ? '' : 's'} ${fields}`;
    return `unknown field${issue.keys.length === 1 ? '' : 's'} ${fields} (known: ${TASK_SPEC_FIELDS.join(', ')})`;
  }
  return `${issue.path.join('.') || 'task'} ${issue.message}`;
}

/** Normalises file paths so that `./a.ts` and `a.ts` are the same file for scope leases. */
export function normaliseFile(file: string): string {
  return path.posix.normalize(file.replace(/\\/g, '/')).replace(/^\.\//, '');
}

/** Why a task spec would be refused by post (one line, no trailing period), or undefined when it is valid. */
export function checkTaskSpec(spec: unknown): string | undefined {
  const parsed = specSchema.safeParse(spec);
  if (!parsed.success) return describeIssues(parsed.error);
  return undefined;
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
    ...(value.source !== undefined ? { source: value.source } : {}),
    ...(value.requires !== undefined && value.requires.length > 0 ? { requires: [...new Set(value.requires)] } : {}),
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

/** The fields of a task that come from its stored body, the same on every board. */
export function taskFieldsOf(spec: StoredTask, status: TaskStatus, attempts: number): Pick<Task, 'id' | 'title' | 'type' | 'prompt' | 'files' | 'priority' | 'payload' | 'status' | 'attempts' | 'maxAttempts' | 'notBefore' | 'parentId' | 'source' | 'requires'> {
  return {
    id: spec.id,
    title: spec.title,
    type: spec.type,
    prompt: spec.prompt,
    files: spec.files,
    priority: spec.priority,
    payload: spec.payload,
    status,
    attempts,
    maxAttempts: spec.maxAttempts,
    ...(spec.notBefore !== undefined ? { notBefore: spec.notBefore } : {}),
    ...(spec.parentId !== undefined ? { parentId: spec.parentId } : {}),
    ...(spec.source !== undefined ? { source: spec.source } : {}),
    ...(spec.requires !== undefined ? { requires: spec.requires } : {}),
  };
}

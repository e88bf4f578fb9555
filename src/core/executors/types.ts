// The contract between the agent pool and the executors. The pool builds an ExecutionContext per
// attempt, calls `execute`, and files the result or the classified failure on the board.
import type { Task } from '../board/types';
import type { RateLimiterClient } from '../ratelimit/types';
import type { CommandSandbox } from '../sandbox/launcher';

export type { RateLimiterClient } from '../ratelimit/types';

export interface ExecutionContext {
  task: Task;
  /** The task's working directory (its git worktree). Executors never read or write outside it. */
  cwd: string;
  /** The task board's folder, which no executor may write (it can sit inside cwd with direct isolation). */
  boardRoot?: string;
  /** Cancel: the executor kills its whole process tree at once and stops writing. */
  signal: AbortSignal;
  /** Per-task log sink; the pool caps its size. */
  log: (chunk: string) => void;
  /** Extra environment, merged over process.env for commands and for API key lookup. */
  env?: NodeJS.ProcessEnv;
  /** Host-wide rate limiter; model requests go through it. */
  limiter?: RateLimiterClient;
  /** VS Code language models, brokered by the host over IPC. */
  hostModels?: HostModelBroker;
  /** When set, every command of the attempt (executor, verify) runs inside this sandbox. */
  sandbox?: CommandSandbox;
}

export interface ExecutionResult {
  /** One paragraph for the board and the review UI. */
  summary: string;
  /** Workspace-relative files the executor knows it changed (the pool's git diff is authoritative). */
  changedFiles?: string[];
  /** Model rounds used, for the model executor. */
  rounds?: number;
}

export interface Executor {
  readonly name: string;
  /** Paths under $HOME the executor's own program keeps its state in (an agent CLI's login and
   * session files): writable inside the sandbox when they exist. */
  readonly sandboxHomeState?: readonly string[];
  /**
   * The most tasks one execute() may serve at once (a batch: ctx.task then names the union of
   * their files, and the pool splits the result by path). Undefined: one task per run.
   */
  readonly batchLimit?: number;
  execute(ctx: ExecutionContext): Promise<ExecutionResult>;
}

/**
 * How the pool should treat a failed attempt:
 * - `transient`: retry with the board's backoff;
 * - `permanent`: retrying cannot help (bad config, missing tool, rejected key): dead-letter it;
 * - `rate-limited`: retryable, but not before `retryAt`; the pool should hold back the endpoint.
 */
export type FailureKind = 'transient' | 'permanent' | 'rate-limited';

export const FAILURE_KINDS: readonly FailureKind[] = ['transient', 'permanent', 'rate-limited'];

export interface ExecutorErrorOptions {
  /** Epoch ms before which a retry is pointless (rate-limited failures). */
  retryAt?: number;
  /** True when the attempt ended because the context's signal aborted. */
  cancelled?: boolean;
  cause?: unknown;
}

export class ExecutorError extends Error {
  readonly retryAt?: number;
  readonly cancelled: boolean;

  constructor(
    readonly kind: FailureKind,
    message: string,
    options: ExecutorErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExecutorError';
    this.retryAt = options.retryAt;
    this.cancelled = options.cancelled ?? false;
  }

  static cancelled(what: string): ExecutorError {
    return new ExecutorError('transient', `${what} was cancelled.`, { cancelled: true });
  }
}

export interface ClassifiedFailure {
  kind: FailureKind;
  message: string;
  retryAt?: number;
  cancelled?: boolean;
}

/**
 * Turns anything an executor threw into a failure the pool can file. ExecutorErrors keep their
 * class; plain objects with a valid `kind` (an error that crossed IPC) are trusted; aborts are
 * transient cancellations; anything unknown is transient, since a retry is the cheap way to learn more.
 */
export function classifyError(err: unknown): ClassifiedFailure {
  if (err instanceof ExecutorError) return withoutUndefined({ kind: err.kind, message: err.message, retryAt: err.retryAt, cancelled: err.cancelled || undefined });
  if (isSerializedFailure(err)) return withoutUndefined({ kind: err.kind, message: err.message, retryAt: err.retryAt, cancelled: err.cancelled });
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return { kind: 'transient', message: `The attempt was cancelled: ${err.message}`, cancelled: err.name === 'AbortError' || undefined };
  }
  if (err instanceof Error) return { kind: 'transient', message: err.message || err.name };
  return { kind: 'transient', message: typeof err === 'string' ? err : `Unexpected failure: ${safeStringify(err)}` };
}

/** Whether the board should schedule another attempt for this kind of failure. */
export function isRetryable(kind: FailureKind): boolean {
  return kind !== 'permanent';
}

function isSerializedFailure(value: unknown): value is ClassifiedFailure {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<ClassifiedFailure>;
  return typeof candidate.message === 'string' && FAILURE_KINDS.includes(candidate.kind as FailureKind);
}

function withoutUndefined(failure: ClassifiedFailure): ClassifiedFailure {
  const result: ClassifiedFailure = { kind: failure.kind, message: failure.message };
  if (failure.retryAt !== undefined) result.retryAt = failure.retryAt;
  if (failure.cancelled) result.cancelled = true;
  return result;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---- Chat models -------------------------------------------------------------------------------

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  /** System instructions; providers place them where their protocol wants them. */
  system?: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
}

export interface ChatResponse {
  text: string;
  model?: string;
  /** Why generation stopped, in the provider's words (`stop`, `end_turn`, `length`, `max_tokens`...). */
  stopReason?: string;
  usage?: { inputTokens?: number; outputTokens?: number };
}

/** One chat model endpoint. Implementations throw ExecutorError with the right kind. */
export interface ChatProvider {
  readonly name: string;
  complete(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse>;
}

/**
 * Chat models the host (VS Code, via `vscode.lm`) lends to agent processes over IPC. `model`
 * selects one (a vscode.lm id or family); the host picks its default when omitted. Rejections may
 * be ExecutorErrors or plain `{ kind, message, retryAt }` objects; `classifyError` handles both.
 */
export interface HostModelBroker {
  complete(request: ChatRequest & { model?: string }, signal: AbortSignal): Promise<ChatResponse>;
}

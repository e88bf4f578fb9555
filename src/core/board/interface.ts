// The one asynchronous board the pool, the CLI, the MCP server and the VS Code views talk to. Two
// implementations keep the same rules (the conformance suite in test/conformance runs against both):
// the file board in `.swarm/` (fileBoard.ts) and the Redis board (redis/board.ts),
// which lets machines share one board.
import type { BoardEvent, BoardStats, Claim, LeaseLossCause, Progress, Task, TaskError, TaskSpec, TaskStatus } from './types';
import { LeaseLostError } from './types';
import { SwarmUserError } from '../errors';
import type { Serves } from './routing';

export interface ClaimRequest {
  agent: string;
  /** Lease length; the holder renews it with heartbeat() well before it runs out. */
  leaseMs?: number;
  /**
   * What this claimer can serve (a runner's labels and repositories). A task it cannot serve is
   * never claimed by it: no lease, no attempt, no event of a claim. Absent: it serves everything.
   */
  serves?: Serves;
}

export interface FailRequest {
  /** Straight to the dead-letter queue (bad configuration, a 4xx that retrying cannot fix). */
  permanent?: boolean;
  /** Retry no earlier than this epoch ms (a rate limit's reset time); wins when later than the backoff. */
  retryAt?: number;
}

/** Only the token proves the lease; holder operations need nothing else from the claim. */
export type ClaimToken = Pick<Claim, 'token'>;

export interface ListQuery {
  status?: TaskStatus;
  /** Continue after the page that returned this cursor (preferred for paging: stable under inserts). */
  cursor?: string;
  /** Skip this many tasks (for a "page N" view); ignored when a cursor is given. */
  offset?: number;
  /** Most tasks in the page; default 100, at most 1,000. */
  limit?: number;
}

/** One page of tasks, oldest first (creation time, then id). */
export interface TaskPage {
  tasks: Task[];
  /** Tasks matching the filter on the whole board, not only in this page. */
  total: number;
  /** Present when more tasks follow; pass it back as `cursor`. */
  nextCursor?: string;
}

export interface EventBatch {
  events: BoardEvent[];
  /** Where to continue reading; store it to resume after a restart. Opaque. */
  cursor: string;
}

export interface FollowOptions {
  /** Continue after this cursor; `'start'` replays the whole retained history; omitted: only new events. */
  cursor?: string;
  /** How often to look when the board cannot push (file board polling), ms. */
  pollMs?: number;
  /** Called when following fails (the connection dropped); following retries on its own. */
  onError?: (error: Error) => void;
  /**
   * While this returns true the file board does not read its event log when it changes (a busy
   * agent has no use for wake-ups, and every agent reading every change costs each task a read
   * per agent); what was appended meanwhile comes at the first look after it returns false, so
   * nothing is lost, only later. Boards that push events may ignore it.
   */
  deferWhile?: () => boolean;
}

export interface Following {
  dispose(): Promise<void>;
}

/** Counts of the whole board, for views and metrics. */
export interface QueueStats extends BoardStats {
  /**
   * Pending tasks that are not claimable yet: a retry waiting for its backoff, a task posted with
   * a later notBefore. They are counted in `counts.pending` too; `counts.pending - delayed` can be
   * claimed now (or waits only for another task's files).
   */
  delayed: number;
  /**
   * Pending tasks no claimer that served them has come for yet, by route key (routing.ts): a board
   * that routes claims (the Redis board) sets them aside. Counted in `counts.pending` too; a pool
   * counts as claimable only those it serves. Absent: the board keeps none aside.
   */
  parked?: Record<string, number>;
}

export interface ArtifactInfo {
  name: string;
  bytes: number;
}

/** A host working on the board (a `swarm run`, an editor's pool), as it last described itself. */
export interface HostEntry {
  id: string;
  /** What the host wrote (JSON from another process: check its shape before use). */
  status: unknown;
  /** The record expired: its host stopped renewing it (it stopped, crashed, or lost the board). */
  gone: boolean;
}

/** Host ids: a pid, or a host name and a pid (`build-7-4242`). */
export const HOST_ID_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
/** How long an expired host record is still listed (as gone) before it is dropped. */
export const HOST_GONE_KEPT_MS = 10 * 60_000;

/** Start of the event history, for readEvents/follow. */
export const EVENTS_START = 'start';

/** Largest artifact either board stores unless configured otherwise (patches, logs). */
export const DEFAULT_ARTIFACT_CAP_BYTES = 8 * 1024 * 1024;

export const ARTIFACT_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;

/** The artifact that holds a task's result as a patch; the result names it as `patchArtifact`. */
export const PATCH_ARTIFACT = 'result.patch';
/** The artifact that holds the output of a task's attempts. */
export const LOG_ARTIFACT = 'log.txt';

export interface Board {
  /** Where the board is, for people: a path or `redis://host:port/db?board=name`, never a password. */
  describe(): string;

  post(spec: TaskSpec): Promise<Task>;
  /** All or nothing: every spec is validated before any is written. */
  postMany(specs: TaskSpec[]): Promise<Task[]>;
  /** A parent that waits until every child ended (done, dead or cancelled), then is done itself. */
  map(parent: TaskSpec, children: TaskSpec[]): Promise<{ parent: Task; children: Task[] }>;
  /** Ends a task that has not ended; a running holder loses its lease at its next heartbeat. */
  cancel(id: string): Promise<Task>;
  /** Moves a dead task back to pending with a fresh attempt budget; its error history is kept. */
  requeue(id: string): Promise<Task>;
  requeueAll(): Promise<Task[]>;

  /** The next task (highest priority first, then oldest), or undefined when none is claimable. */
  claim(request: ClaimRequest): Promise<Claim | undefined>;
  /** The running claim of a task by id and holder, for callers that have no token (the CLI). */
  findClaim(id: string, agent: string): Promise<Claim | undefined>;
  /** Renews the lease; throws LeaseLostError (see leaseLostCause) when the claim is no longer held. */
  heartbeat(claim: ClaimToken, leaseMs?: number): Promise<number>;
  complete(claim: ClaimToken, result?: unknown): Promise<Task>;
  fail(claim: ClaimToken, message: string, options?: FailRequest): Promise<Task>;
  /** Hands a claim back unfinished; the attempt does not count. */
  release(claim: ClaimToken, reason?: string): Promise<Task>;
  /**
   * Records that the claims run in one command: a `batched` event per task naming the batch (its
   * first task and size; the first task's event lists every id), so the log shows it between each
   * task's claim and its end. Changes no task.
   */
  noteBatch(claims: ClaimToken[]): Promise<void>;

  get(id: string): Promise<Task | undefined>;
  list(query?: ListQuery): Promise<TaskPage>;
  /** Every recorded failure of a task, oldest first. */
  errors(id: string): Promise<TaskError[]>;
  progress(parentId: string): Promise<Progress>;
  stats(): Promise<QueueStats>;

  /** Events after `cursor` (default: from the start of the retained history), at most `limit`. */
  readEvents(cursor?: string, limit?: number): Promise<EventBatch>;
  /** Delivers events as they happen, in order, each batch with the cursor to resume from. */
  follow(onEvents: (batch: EventBatch) => void, options?: FollowOptions): Following;

  /** Stores a task's artifact (a patch, a log); over the board's size cap it throws BoardInputError. */
  putArtifact(taskId: string, name: string, data: Buffer | string): Promise<void>;
  getArtifact(taskId: string, name: string): Promise<Buffer | undefined>;
  listArtifacts(taskId: string): Promise<ArtifactInfo[]>;
  /** Removes a task's artifact (a shared board's bundles once no task needs them); false when there was none. */
  deleteArtifact(taskId: string, name: string): Promise<boolean>;

  /** Records (or renews) host `id`'s status for `ttlMs`; its host rewrites it well before then. */
  putHost(id: string, status: object, ttlMs: number): Promise<void>;
  removeHost(id: string): Promise<void>;
  /** Every host record, live or gone (gone ones stay listed for HOST_GONE_KEPT_MS). */
  listHosts(): Promise<HostEntry[]>;

  /**
   * Reclaims expired leases now and returns how many. Claimers do this on their own (throttled),
   * so only one-shot callers (the CLI) need it.
   */
  reclaimExpired(): Promise<number>;
  close(): Promise<void>;
}

/** Why a lease holder lost its claim (the `cause` of a LeaseLostError). */
export type LeaseLostCause = LeaseLossCause;

/** The typed cause of a LeaseLostError, or undefined for any other error. */
export function leaseLostCause(error: unknown): LeaseLostCause | undefined {
  return error instanceof LeaseLostError ? error.cause : undefined;
}

export type BoardUnavailableProblem = 'unreachable' | 'auth' | 'permission' | 'config' | 'connection-lost';

/**
 * The board's server cannot be used: unreachable, wrong password, a command the user's ACL refuses
 * (`permission`), unsafe configuration (or out of memory), or the connection dropped mid-operation.
 * The message is one line naming the problem and the fix. For `unreachable`, `auth` and `config`
 * nothing was changed (for `permission`, a script the ACL stopped part way keeps its earlier writes:
 * Redis does not roll scripts back; give the user the documented rights); after `connection-lost` a
 * change may or may not have landed, and holder operations may be repeated with the same token
 * (a repeated completion of one's own claim succeeds; anything else is fenced).
 */
export class BoardUnavailableError extends SwarmUserError {
  constructor(
    readonly problem: BoardUnavailableProblem,
    message: string,
  ) {
    // A dropped connection may pass; the other problems need a fix of the board's address or server.
    super(problem === 'connection-lost' ? 'unavailable' : 'config', message);
    this.name = 'BoardUnavailableError';
  }
}

/** Formats a byte count for messages: 512 B, 3.4 KB, 8.0 MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

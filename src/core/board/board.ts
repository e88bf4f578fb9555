// The file task board. Layout under the board root (default `.swarm/`):
//
//   board.json            format marker
//   tmp/                  files being written; renamed into place when complete
//   batches/<batch>.json  commit records of posts and maps being rolled forward (see batches.ts)
//   pending/ delayed/ running/ waiting/ done/ dead/ cancelled/
//                         one file per task; the directory is its status (see names.ts)
//   results/<id>~<nonce>.json   result of the completing claim (or a map task's summary)
//   errors/<id>/...       one file per failed attempt (the error history)
//   children/<parent>/    one marker per ended child of a map task (`<child>.<outcome>`), and one
//                         per child added later (`+<child>`)
//   cancelling/<parent>   a map task being cancelled whose children may not all be cancelled yet
//   locks/<token>         file-scope lease records (one per running task that names files)
//   quarantine/           files that could not be read, each with a `.reason.txt`
//   artifacts/<id>/       patches and logs written by the pool
//   events.jsonl          the event log
//
// Every state change is one rename of the task's file, so a task is in exactly one state at every
// instant, including after a crash at any step. Side files are written before the rename commits.
// An operation that throws has changed nothing; once its rename has committed nothing throws: side
// effects (events, markers, lease entries, a parent's promotion) are best effort, a failure comes
// back as a warning (effects.ts), and maintenance (sweep) repairs what was left undone.
//
// This file is the engine: it opens the board and holds the lease holder's operations (heartbeat,
// complete, fail, release) and the reads. The other jobs live in modules of their own, each
// holding the shared BoardStore (store.ts: paths, reading, quarantine, events): claim.ts,
// fileLeases.ts, mapTasks.ts, cancel.ts, requeue.ts, enqueue.ts, maintenance.ts, watch.ts.
import * as fs from 'fs';
import * as path from 'path';
import { type BoardEvent, BoardInputError, type BoardStats, type Claim, DEFAULT_LEASE_MS, DEFAULT_RETRY, type LeaseLossCause, LeaseLostError, type Progress, type RetryPolicy, type Task, type TaskError, type TaskSpec, type TaskStatus, TASK_STATUSES } from './types';
import { type ParsedName, STATE_DIRS, type StateDir, capTime, delayedName, doneName, isValidAgentName, isValidId, parseName, pendingName, restingName } from './names';
import type { StoredTask } from './schema';
import { EventLog } from './events';
import { faultPoint } from './faults';
import { describeError } from './effects';
import { ensureDir, readDirNames, unlinkIfPresent, writeFileAtomicSync, writeNewFileSync, readTextIfPresent } from './durable';
import { compareOrder, createdAtOfId, listCursor, pageSlice } from './paging';
import type { ListQuery, TaskPage } from './interface';
import { excludeFromGit } from './gitExclude';
import { BoardStore, STATUS_OF_DIR, SCAN_ORDER, queueKey } from './store';
import { FileLeases } from './fileLeases';
import { MapTasks } from './mapTasks';
import { Canceller } from './cancel';
import { Enqueuer } from './enqueue';
import { Claimer } from './claim';
import { Requeuer } from './requeue';
import { Maintenance } from './maintenance';
import { watchPaths } from './watch';
import { liveOlderFormatUsers } from './olderUsers';
import { BOARD_FORMAT, BOARD_FORMAT_VERSION } from './format';
import { SwarmUserError } from '../errors';
import type { Serves } from './routing';

export { mapChildId, newTaskId, newTaskIdentity, storedTasksOf } from './ids';

export { BOARD_FORMAT, BOARD_FORMAT_VERSION } from './format';
export const DEFAULT_BOARD_DIR = '.swarm';
/** The longest lease a claim or heartbeat may ask for. */
export const MAX_LEASE_MS = 7 * 24 * 3_600_000;
/** The longest error message kept in a task's history; longer ones are cut (with a note). */
const MAX_ERROR_MESSAGE = 100_000;

export interface BoardOptions {
  /** The board directory, e.g. `<workspace>/.swarm`. */
  root: string;
  retry?: Partial<RetryPolicy>;
  /** Clock and randomness, injectable for tests. */
  now?: () => number;
  random?: () => number;
  /** How long a process trusts its cached view of pending/ before listing it again. */
  pendingCacheMs?: number;
  /** Minimum time between expired-lease sweeps made from claim(). */
  sweepIntervalMs?: number;
  /** Minimum time between repair passes (batches, map tasks, cancels) made from sweep(). Default 5 s. */
  repairIntervalMs?: number;
  /** fsync where a loss would matter (enqueue, results, done, dead). Default true. */
  durable?: boolean;
  /** Add the board to .git/info/exclude when inside a repository. Default true. */
  excludeFromGit?: boolean;
  /**
   * Receives every warning: a side effect that failed after a change was made, or maintenance
   * that could not run. The change itself stands; the warning says what is missing.
   */
  onWarning?: (warning: string) => void;
}

export interface ClaimOptions {
  agent: string;
  leaseMs?: number;
  /** What the claimer can serve (see ClaimRequest.serves); absent: everything. */
  serves?: Serves;
}

export interface FailOptions {
  permanent?: boolean;
  /** Retry no earlier than this (e.g. a rate limit's reset time); overrides the backoff when later. */
  retryAt?: number;
}

export class BoardFormatError extends SwarmUserError {
  constructor(message: string) {
    super('input', message);
    this.name = 'BoardFormatError';
  }
}

/**
 * The board is in a format an older build still uses: it opens as soon as that build stops, its
 * marker unchanged (a BoardFormatError otherwise needs the marker changed: an update, a repair).
 */
export class BoardInUseError extends BoardFormatError {
  constructor(message: string) {
    super(message);
    this.name = 'BoardInUseError';
  }
}

/** A task's place in list order, from its file name. */
interface ListEntry {
  dir: StateDir;
  name: string;
  id: string;
  createdAt: number;
}

export class FileBoardEngine {
  readonly root: string;
  readonly events: EventLog;
  private readonly retry: RetryPolicy;
  private readonly store: BoardStore;
  private readonly leases: FileLeases;
  private readonly claimer: Claimer;
  private readonly maps: MapTasks;
  private readonly canceller: Canceller;
  private readonly requeuer: Requeuer;
  private readonly enqueuer: Enqueuer;
  private readonly maintenance: Maintenance;

  private constructor(options: BoardOptions) {
    this.store = new BoardStore({
      root: options.root,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
      durable: options.durable ?? true,
      onWarning: options.onWarning ?? (() => undefined),
    });
    this.root = this.store.root;
    this.events = this.store.events;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.leases = new FileLeases(this.store);
    this.claimer = new Claimer(this.store, this.leases, options.pendingCacheMs ?? 500);
    this.maps = new MapTasks(this.store);
    this.canceller = new Canceller(this.store, this.leases, this.maps);
    this.requeuer = new Requeuer(this.store, this.maps);
    this.enqueuer = new Enqueuer(this.store, this.maps);
    this.maintenance = new Maintenance(this.store, this.maps, this.canceller, this.enqueuer, options.sweepIntervalMs ?? 1000, options.repairIntervalMs ?? 5000);
  }

  /** Opens the board, creating it on first use, and repairs what a crash may have left. */
  static open(options: BoardOptions): FileBoardEngine {
    const board = new FileBoardEngine(options);
    board.initialise(options.excludeFromGit ?? true);
    board.maintenance.repairBatches(board.store.maintenanceEffects());
    return board;
  }

  close(): void {
    this.events.close();
  }

  /**
   * Throws the file-system error (EACCES, EROFS, ENOSPC, ...) that would keep this process from
   * changing the board, by writing and removing a small probe file. For long-running hosts, so
   * they refuse to start instead of failing every claim.
   */
  assertWritable(): void {
    const probe = this.store.tmpPath('probe');
    writeNewFileSync(probe, 'probe\n', false);
    unlinkIfPresent(probe);
  }

  private initialise(exclude: boolean): void {
    const marker = path.join(this.root, 'board.json');
    const existing = fs.existsSync(marker) ? this.readFormatMarker(marker) : undefined;
    // Always: a board copied or checked out without its empty folders (git keeps none) still works.
    for (const dir of ['tmp', ...STATE_DIRS, 'batches', 'results', 'errors', 'children', 'cancelling', 'locks', 'quarantine', 'artifacts']) {
      try {
        ensureDir(path.join(this.root, dir));
      } catch (error) {
        // A board that exists can still be read where it cannot be written (a read-only mount).
        if (existing === undefined) throw error;
        this.store.warnOnce(`mkdir:${dir}`, `The board folder ${dir}/ is missing and could not be created: ${describeError(error)}. Reading works; changes will fail.`);
      }
    }
    if (existing === undefined) {
      this.writeFormatMarker(marker, this.store.now());
      if (exclude) excludeFromGit(this.root);
    } else if (existing.version < BOARD_FORMAT_VERSION) {
      this.refuseWhileOlderBuildsRun(existing.version);
      this.upgradeFormatMarker(marker, existing);
    }
  }

  private writeFormatMarker(marker: string, createdAt: unknown): void {
    const body = JSON.stringify({ format: BOARD_FORMAT, version: BOARD_FORMAT_VERSION, createdAt }, null, 2);
    writeFileAtomicSync(marker, body + '\n', { tmpDir: this.store.dirPath('tmp'), durable: this.store.durable });
  }

  /**
   * An older build that has the board open checks its format only when it opens it: upgrading
   * under it would let it claim tasks whose files this build's lease records hold.
   */
  private refuseWhileOlderBuildsRun(version: number): void {
    const users = liveOlderFormatUsers(this.root, this.store.now());
    if (users.length === 0) return;
    const listed = users.slice(0, 3).join('; ') + (users.length > 3 ? `; and ${users.length - 3} more` : '');
    throw new BoardInUseError(
      `The board at ${this.root} is in use by an older Agent Swarm (board format ${version}) that would not see this version's file leases: ${listed}. Stop or update it, then retry.`,
    );
  }

  /** An older board is marked with this format when opened, so builds of the older format refuse it from then on. */
  private upgradeFormatMarker(marker: string, existing: { version: number; createdAt: unknown }): void {
    try {
      this.writeFormatMarker(marker, existing.createdAt);
    } catch (error) {
      this.store.warnOnce('upgrade', `The board's format marker ${marker} could not be updated to format ${BOARD_FORMAT_VERSION}: ${describeError(error)}. Reading works; an older Agent Swarm on this board would not see this one's file leases.`);
    }
  }

  private readFormatMarker(marker: string): { version: number; createdAt: unknown } {
    let version: unknown;
    let createdAt: unknown;
    try {
      const parsed = JSON.parse(fs.readFileSync(marker, 'utf8')) as { format?: unknown; version?: unknown; createdAt?: unknown };
      if (parsed.format !== BOARD_FORMAT) throw new Error('format'); // caught below: a BoardFormatError
      version = parsed.version;
      createdAt = parsed.createdAt;
    } catch {
      throw new BoardFormatError(`${marker} is not an Agent Swarm board marker. Move it away or point --board at another folder.`);
    }
    if (typeof version !== 'number' || version > BOARD_FORMAT_VERSION) {
      throw new BoardFormatError(
        `The board at ${this.root} has format ${String(version)}, newer than this Agent Swarm supports (${BOARD_FORMAT_VERSION}). Update Agent Swarm.`,
      );
    }
    return { version, createdAt };
  }

  artifactsDir(id: string): string {
    this.store.assertId(id);
    return path.join(this.root, 'artifacts', id);
  }

  // ---------------------------------------------------------------- enqueue (enqueue.ts)

  post(spec: TaskSpec): Task {
    return this.enqueuer.post(spec);
  }

  /** Posts several tasks as one batch: all of them or (when it throws) none. */
  postMany(specs: TaskSpec[]): Task[] {
    return this.enqueuer.postMany(specs);
  }

  /** Creates a map task: the parent waits in `waiting/` until every child has ended. All or nothing. */
  map(parentSpec: TaskSpec, childSpecs: TaskSpec[]): { parent: Task; children: Task[] } {
    return this.enqueuer.map(parentSpec, childSpecs);
  }

  // ---------------------------------------------------------------- claim (claim.ts, fileLeases.ts)

  /** Claims the next task: highest priority first, then oldest. Undefined when nothing is claimable. */
  claim(options: ClaimOptions): Claim | undefined {
    this.assertAgent(options.agent);
    const leaseMs = this.assertLeaseMs(options.leaseMs ?? DEFAULT_LEASE_MS);
    this.maintenance.maintain();
    return this.claimer.claimNext(options.agent, leaseMs, options.serves);
  }

  // ---------------------------------------------------------------- lease holder operations

  /** Renews a lease. Throws LeaseLostError when the claim was reclaimed, cancelled or ended. */
  heartbeat(claim: Pick<Claim, 'token'>, leaseMs = DEFAULT_LEASE_MS): number {
    const parsed = this.parseToken(claim.token);
    this.assertLeaseMs(leaseMs);
    const expiresAt = this.store.now() + leaseMs;
    if (!this.claimer.touchLease(this.store.filePath('running', claim.token), expiresAt)) throw this.leaseLost(parsed);
    return expiresAt;
  }

  /**
   * Finds the running claim of a task by id and agent. Several processes may use one agent name,
   * so this cannot tell a stale holder from a new one: only for a host recovering the claim of its
   * own agent that died before reporting it (the pool). Everyone else presents the token.
   */
  findClaim(id: string, agent: string): Claim | undefined {
    this.store.assertId(id);
    for (const name of readDirNames(this.store.dirPath('running'))) {
      const parsed = parseName('running', name);
      if (parsed?.id !== id || parsed.agent !== agent) continue;
      const spec = this.store.readSpec('running', name);
      if (!spec) return undefined;
      const leaseExpiresAt = this.maintenance.leaseExpiry(name) ?? 0;
      const task = this.store.toTask(spec, 'running', parsed, undefined, leaseExpiresAt);
      return { task, token: name, agent, leaseExpiresAt };
    }
    return undefined;
  }

  /** Completes a claimed task. The rename is the commit: a lost lease records nothing. */
  complete(claim: Pick<Claim, 'token'>, result?: unknown): Task {
    const parsed = this.parseToken(claim.token);
    const spec = this.requireSpec(parsed, claim.token);
    const resultFile = path.join(this.store.dirPath('results'), `${parsed.id}~${parsed.nonce}.json`);
    if (result !== undefined) this.store.writeSideFile(resultFile, serialiseResult(result));
    faultPoint('complete:after-result-write');
    const target = this.store.filePath('done', doneName(parsed.id, parsed.attempts, parsed.nonce!));
    if (!this.store.commitRename(this.store.filePath('running', claim.token), target, result !== undefined ? resultFile : undefined)) {
      throw this.leaseLost(parsed);
    }
    const effects = this.store.afterCommit();
    const subject = `Task ${parsed.id} is done`;
    this.store.syncDirs(['done'], effects, subject);
    faultPoint('complete:after-rename');
    this.leases.releaseAfterCommit(spec.files, claim.token, effects, subject);
    const batch = batchOfResult(result);
    this.store.logEvents([{ at: this.store.now(), type: 'completed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, ...(batch && { detail: batchName(batch) }) }], effects, subject);
    if (spec.parentId) this.maps.childEnded(spec.parentId, spec.id, 'done', effects);
    return effects.attach({ ...this.store.toTask(spec, 'done', parsed), result });
  }

  /**
   * Fails a claimed attempt. Transient errors retry after an exponential backoff with jitter until
   * maxAttempts; permanent errors and exhausted budgets go to the dead-letter queue.
   */
  fail(claim: Pick<Claim, 'token'>, message: string, options: FailOptions = {}): Task {
    const parsed = this.parseToken(claim.token);
    if (typeof message !== 'string') throw new BoardInputError('A failure needs a message (a string).');
    if (options.retryAt !== undefined && !Number.isFinite(options.retryAt)) throw new BoardInputError(`retryAt must be a time in epoch milliseconds; got ${String(options.retryAt)}.`);
    const spec = this.requireSpec(parsed, claim.token);
    const permanent = options.permanent ?? false;
    const now = this.store.now();
    const error: TaskError = { attempt: parsed.attempts, at: now, message: capMessage(message), permanent, agent: parsed.agent, kind: 'failed' };
    const errorFile = this.store.writeError(parsed.id, error);
    faultPoint('fail:after-error-write');
    const toDead = permanent || parsed.attempts >= spec.maxAttempts;
    const dueAt = toDead ? undefined : capTime(Math.max(now + this.backoffDelay(parsed.attempts), options.retryAt ?? 0));
    const target = toDead
      ? this.store.filePath('dead', restingName(parsed.id, parsed.attempts))
      : this.store.filePath('delayed', delayedName(queueKey(spec, parsed.attempts), dueAt!));
    if (!this.store.commitRename(this.store.filePath('running', claim.token), target, errorFile)) throw this.leaseLost(parsed);
    const effects = this.store.afterCommit();
    const subject = toDead ? `Task ${parsed.id} is dead` : `Task ${parsed.id} failed and will be retried`;
    this.store.syncDirs([toDead ? 'dead' : 'delayed'], effects, subject);
    faultPoint('fail:after-rename');
    this.leases.releaseAfterCommit(spec.files, claim.token, effects, subject);
    if (dueAt !== undefined) this.maintenance.retryScheduled(dueAt);
    const failed: Omit<BoardEvent, 'pid'> = { at: now, type: 'failed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { message: error.message, permanent } };
    if (toDead) {
      this.store.logEvents([failed, { at: now, type: 'dead', taskId: parsed.id, attempt: parsed.attempts, detail: { message: error.message } }], effects, subject);
      if (spec.parentId) this.maps.childEnded(spec.parentId, spec.id, 'dead', effects);
      return effects.attach({ ...this.store.toTask(spec, 'dead', parsed), lastError: error });
    }
    this.store.logEvents([failed, { at: now, type: 'retry-scheduled', taskId: parsed.id, attempt: parsed.attempts, detail: { dueAt } }], effects, subject);
    return effects.attach({ ...this.store.toTask(spec, 'pending', parsed), notBefore: dueAt, lastError: error });
  }

  /**
   * Hands a claim back unfinished (the pool is shutting down, or the agent was stopped by the
   * host): the task is pending again at once, and the interrupted attempt does not count.
   */
  release(claim: Pick<Claim, 'token'>, reason = 'released'): Task {
    const parsed = this.parseToken(claim.token);
    const spec = this.requireSpec(parsed, claim.token);
    const attempts = Math.max(0, parsed.attempts - 1);
    if (!this.store.commitRename(this.store.filePath('running', claim.token), this.store.filePath('pending', pendingName(queueKey(spec, attempts))))) {
      throw this.leaseLost(parsed);
    }
    const effects = this.store.afterCommit();
    const subject = `Task ${parsed.id} was handed back`;
    this.store.syncDirs(['pending'], effects, subject);
    this.leases.releaseAfterCommit(spec.files, claim.token, effects, subject);
    this.store.pendingChanged();
    this.store.logEvents([{ at: this.store.now(), type: 'requeued', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { released: true, reason } }], effects, subject);
    return effects.attach(this.store.toTask(spec, 'pending', { id: parsed.id, attempts }));
  }

  /** A `batched` event per claim, naming the batch (see Board.noteBatch and batchedDetails). */
  noteBatch(claims: Pick<Claim, 'token'>[]): void {
    const parsed = claims.map((claim) => this.parseToken(claim.token));
    const batch = parsed.map((each) => each.id);
    const details = batchedDetails(batch);
    const now = this.store.now();
    const events = parsed.map((each, index): Omit<BoardEvent, 'pid'> => ({ at: now, type: 'batched', taskId: each.id, agent: each.agent, attempt: each.attempts, detail: details[index] }));
    const effects = this.store.afterCommit();
    this.store.logEvents(events, effects, `Tasks ${batch.join(', ')} run in one command`); // a failure is only warned
  }

  /** The delay before retry n (1-based): min(cap, base·multiplier^(n-1)), jittered into [d·(1-j), d]. */
  backoffDelay(failedAttempt: number): number {
    const { baseMs, capMs, multiplier, jitter } = this.retry;
    const delay = Math.min(capMs, baseMs * Math.pow(multiplier, Math.max(0, failedAttempt - 1)));
    return Math.round(delay * (1 - jitter * this.store.random()));
  }

  /** A LeaseLostError that says, and types, why the claim of `parsed` is no longer held. */
  private leaseLost(parsed: ParsedName): LeaseLostError {
    const { cause, why } = this.whyLeaseLost(parsed);
    const consequence =
      cause === 'ended' ? 'Nothing was recorded.' : 'The result was not recorded; another agent may run the task.';
    return new LeaseLostError(parsed.id, `Lease lost on task ${parsed.id}: ${why}. ${consequence}`, cause);
  }

  private whyLeaseLost(parsed: ParsedName): { cause: LeaseLossCause; why: string } {
    const where = this.store.locate(parsed.id);
    if (!where) return { cause: 'missing', why: 'the task no longer exists' };
    const status = STATUS_OF_DIR[where.dir];
    if (where.dir === 'cancelled') return { cause: 'cancelled', why: 'the task was cancelled' };
    if (where.dir === 'running') return { cause: 'reclaimed', why: `the lease expired and ${where.parsed.agent} now holds the task` };
    if (where.dir === 'pending' || where.dir === 'delayed') return { cause: 'reclaimed', why: `the lease expired and the task is ${status} again` };
    if (where.dir === 'done' && where.parsed.nonce === parsed.nonce) return { cause: 'ended', why: 'this claim already completed it' };
    const expired = this.errors(parsed.id).some((error) => error.kind === 'lease-expired' && error.attempt === parsed.attempts && error.agent === parsed.agent);
    if (expired) return { cause: 'reclaimed', why: `the lease expired, and the task is now ${status}` };
    return { cause: 'ended', why: `the task has ended (${status})` };
  }

  private parseToken(token: string): ParsedName {
    const parsed = typeof token === 'string' ? parseName('running', token) : undefined;
    if (!parsed) throw new BoardInputError(`${JSON.stringify(token)} is not a lease token (claim prints it as "token").`);
    return parsed;
  }

  /** The body of a claimed task; a LeaseLostError when the claim's running file is gone. */
  private requireSpec(parsed: ParsedName, token: string): StoredTask {
    const spec = this.store.specCache.get(parsed.id) ?? this.store.readSpec('running', token);
    if (!spec) throw this.leaseLost(parsed);
    return spec;
  }

  // ---------------------------------------------------------------- maintenance (maintenance.ts)

  /** Moves delayed tasks whose time has come into pending/. Returns how many this process moved. Never throws. */
  promoteDelayed(): number {
    return this.maintenance.promoteDelayed();
  }

  /** One pass of reclaim (two-observation rule) and, every repair interval, repair. Never throws. */
  sweep(): number {
    return this.maintenance.sweep();
  }

  /** For one-shot callers (the CLI): sweeps, and when it saw new expiries, looks again after confirmMs. */
  reclaimExpired(confirmMs = 100): number {
    return this.maintenance.reclaimExpired(confirmMs);
  }

  /** Finishes what crashes and full disks left undone; returns how many map tasks it completed. */
  repairParents(): number {
    return this.maintenance.repairParents();
  }

  // ---------------------------------------------------------------- map tasks, cancel, requeue (mapTasks.ts, cancel.ts, requeue.ts)

  /** Progress of a map task from one small directory listing (plus running/ for running children). */
  progress(parentId: string): Progress {
    this.store.assertId(parentId);
    return this.maps.progress(parentId);
  }

  /** Cancels a task that has not ended (a map task with its unfinished children). */
  cancel(id: string): Task {
    return this.canceller.cancel(id);
  }

  /** Moves a dead task back to pending with a fresh attempt budget (a dead map: its dead children). */
  requeue(id: string): Task {
    return this.requeuer.requeue(id);
  }

  /** Requeues every dead task; returns the tasks that are pending again. */
  requeueAll(): Task[] {
    return this.requeuer.requeueAll();
  }

  // ---------------------------------------------------------------- reading

  /** Every task (or those of one status), oldest first. Task bodies are cached: they never change. */
  list(filter: { status?: TaskStatus } = {}): Task[] {
    const tasks: Task[] = [];
    for (const dir of STATE_DIRS) {
      if (filter.status && STATUS_OF_DIR[dir] !== filter.status) continue;
      for (const name of readDirNames(this.store.dirPath(dir))) {
        const task = this.store.readTask(dir, name);
        if (task) tasks.push(task);
      }
    }
    return tasks.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /**
   * One page of tasks in list order (creation time, then id; see paging.ts). The order comes from
   * the state folders' file names, so only the page's own task bodies are read: a page of 100 on a
   * board of 10,000 tasks reads 100 bodies, not 10,000.
   */
  listPage(query: ListQuery = {}): TaskPage {
    const entries = this.listEntries(query.status);
    const { slice, more } = pageSlice(entries, query);
    const tasks = slice.flatMap((entry) => this.taskOfEntry(entry) ?? []);
    const last = slice[slice.length - 1];
    return { tasks, total: entries.length, ...(more && last ? { nextCursor: listCursor(last) } : {}) };
  }

  /**
   * Every task's place in list order from the names of its folders, each task once (one that moves
   * on while the folders are listed is taken where it was seen first, in SCAN_ORDER).
   */
  private listEntries(status: TaskStatus | undefined): ListEntry[] {
    const seen = new Set<string>();
    const entries: ListEntry[] = [];
    for (const dir of SCAN_ORDER) {
      if (status !== undefined && STATUS_OF_DIR[dir] !== status) continue;
      for (const name of readDirNames(this.store.dirPath(dir))) {
        const parsed = parseName(dir, name);
        if (!parsed) {
          this.store.quarantine(dir, name, 'the file name is not a task name of this board');
          continue;
        }
        if (seen.has(parsed.id)) continue;
        const createdAt = createdAtOfId(parsed.id) ?? this.store.specAt({ dir, name, parsed })?.createdAt;
        if (createdAt === undefined) continue; // moved away meanwhile, or unreadable (quarantined)
        seen.add(parsed.id);
        entries.push({ dir, name, id: parsed.id, createdAt });
      }
    }
    return entries.sort(compareOrder);
  }

  /** The task of a listed name; one that moved since the listing is looked up again (without its result, as in any list). */
  private taskOfEntry(entry: ListEntry): Task | undefined {
    const task = this.store.readTask(entry.dir, entry.name) ?? this.get(entry.id);
    if (task) delete task.result;
    return task;
  }

  /** Events after a byte offset of events.jsonl, at most `limit` of them, and the offset to continue from. */
  readEvents(offset: number, limit?: number): { events: BoardEvent[]; nextOffset: number } {
    return this.events.readPage(offset, limit);
  }

  /** One task with its result and last error, or undefined. A task that moves meanwhile is still found. */
  get(id: string): Task | undefined {
    return this.store.get(id);
  }

  /** The error history of a task, oldest first. */
  errors(id: string): TaskError[] {
    return this.store.errors(id);
  }

  /**
   * Counts from the state folders' names alone (no task body is read), and the progress of every
   * waiting map task from its children's markers. `delayed` (pending tasks not due yet) is part of
   * `pending` and also counted on its own.
   */
  stats(): BoardStats {
    const counts = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Record<TaskStatus, number>;
    const names = Object.fromEntries(STATE_DIRS.map((dir) => [dir, readDirNames(this.store.dirPath(dir))])) as Record<StateDir, string[]>;
    for (const dir of STATE_DIRS) counts[STATUS_OF_DIR[dir]] += names[dir].length;
    const quarantined = readDirNames(this.store.dirPath('quarantine')).filter((name) => !name.endsWith('.reason.txt')).length;
    const parents: Record<string, Progress> = {};
    for (const name of names.waiting) {
      const id = parseName('waiting', name)?.id;
      if (id) parents[id] = this.maps.progressOf(id, names.running);
    }
    // Delayed means not claimable yet: a retry whose backoff is over (not promoted until the next
    // claim) is claimable, by the board's own clock.
    const now = this.store.now();
    const delayed = names.delayed.filter((name) => (parseName('delayed', name)?.dueAt ?? 0) > now).length;
    return { counts, quarantined, parents, delayed };
  }

  /** Quarantined files with their reasons. */
  quarantined(): { file: string; reason: string }[] {
    const dir = this.store.dirPath('quarantine');
    return readDirNames(dir)
      .filter((name) => !name.endsWith('.reason.txt'))
      .map((name) => ({ file: path.join(dir, name), reason: readTextIfPresent(path.join(dir, `${name}.reason.txt`)) ?? 'unknown' }));
  }

  /**
   * Calls `onChange` (debounced) whenever the board changes: fs.watch on the state directories and
   * the event log, with polling of their mtimes as a fallback where watching is unavailable.
   */
  watch(onChange: () => void, options: { debounceMs?: number; pollMs?: number } = {}): { dispose(): void } {
    return watchPaths([...STATE_DIRS.map((dir) => this.store.dirPath(dir)), this.events.file], onChange, options);
  }

  private assertAgent(agent: string): void {
    if (typeof agent !== 'string' || !isValidAgentName(agent)) {
      throw new BoardInputError(`${JSON.stringify(agent)} is not a valid agent name: use 1-64 letters, digits, "_", "." or "-".`);
    }
  }

  private assertLeaseMs(leaseMs: number): number {
    return assertLeaseMs(leaseMs);
  }
}

/** A lease length both boards accept: a whole number of milliseconds from 1 to MAX_LEASE_MS. */
export function assertLeaseMs(leaseMs: number): number {
  if (!Number.isInteger(leaseMs) || leaseMs < 1 || leaseMs > MAX_LEASE_MS) {
    throw new BoardInputError(`A lease must be a whole number of milliseconds from 1 to ${MAX_LEASE_MS} (7 days); got ${String(leaseMs)}.`);
  }
  return leaseMs;
}

export function serialiseResult(result: unknown): string {
  try {
    const text = JSON.stringify(result);
    if (text === undefined) throw new Error('it has no JSON form'); // caught below: a BoardInputError
    return text;
  } catch (error) {
    throw new BoardInputError(`The result is not JSON (${(error as Error).message}); nothing was recorded.`);
  }
}

export function capMessage(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE) return message;
  return `${message.slice(0, MAX_ERROR_MESSAGE)}… (cut: ${message.length} characters in all)`;
}

/**
 * How an event names a task's batch: by its first task and its size. Listing every task in every
 * event of a batch would grow the log with the square of its size (a batch holds up to 1,000 tasks:
 * 34 MB of events), so only the first task's `batched` event lists them (`ids`).
 */
export function batchName(batch: readonly string[]): { batch: string; tasks: number } {
  return { batch: batch[0], tasks: batch.length };
}

/** The `batched` events' details, in the batch's order: the first lists every task, the others name the batch. */
export function batchedDetails(batch: readonly string[]): Record<string, unknown>[] {
  return batch.map((_, index) => (index === 0 ? { ...batchName(batch), ids: [...batch] } : batchName(batch)));
}

/** The tasks a result says its command ran with (batchRun.ts stores them as `batch`), for the `completed` event. */
export function batchOfResult(result: unknown): string[] | undefined {
  const batch = (result as { batch?: unknown } | null | undefined)?.batch;
  // Results have no size cap and come from any caller: only task ids reach the event log.
  return Array.isArray(batch) && batch.length > 1 && batch.every((id) => typeof id === 'string' && isValidId(id)) ? (batch as string[]) : undefined;
}

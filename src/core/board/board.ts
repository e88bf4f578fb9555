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
//   locks/<hash>/<token>  file-scope lease entries
//   quarantine/           files that could not be read, each with a `.reason.txt`
//   artifacts/<id>/       patches and logs written by the pool
//   events.jsonl          the event log
//
// Every state change is one rename of the task's file, so a task is in exactly one state at every
// instant, including after a crash at any step. Side files are written before the rename commits.
// An operation that throws has changed nothing; once its rename has committed nothing throws: side
// effects (events, markers, lease entries, a parent's promotion) are best effort, a failure comes
// back as a warning (effects.ts), and maintenance (sweep) repairs what was left undone.
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { threadId } from 'worker_threads';
import {
  BoardEvent,
  BoardInputError,
  BoardStats,
  Claim,
  DEFAULT_LEASE_MS,
  DEFAULT_RETRY,
  LeaseLossCause,
  LeaseLostError,
  Progress,
  RetryPolicy,
  Task,
  TaskError,
  TaskSpec,
  TaskStatus,
  TASK_STATUSES,
} from './types';
import {
  ParsedName,
  QueueKey,
  STATE_DIRS,
  StateDir,
  capTime,
  delayedName,
  doneName,
  isValidAgentName,
  isValidId,
  parseName,
  pendingName,
  restingName,
  runningName,
} from './names';
import { StoredTask, buildStoredTask, parseStoredTask, taskFieldsOf } from './schema';
import { compareOrder, createdAtOfId, listCursor, pageSlice } from './paging';
import type { ListQuery, TaskPage } from './interface';
import { EventLog } from './events';
import { faultPoint } from './faults';
import { excludeFromGit } from './gitExclude';
import { AfterCommit, describeError } from './effects';
import {
  BatchRecord,
  BatchTaskNote,
  batchIdOfRecord,
  batchTaskTag,
  parseTmpName,
  readBatchRecord,
  recordTag,
  tmpFileName,
} from './batches';
import {
  createMarker,
  ensureDir,
  fsyncDir,
  isNotFound,
  isOtherLiveWriter,
  nonce,
  readDirNames,
  renameIfPresent,
  sleepSync,
  unlinkIfPresent,
  unlinkQuietly,
  writeFileAtomicSync,
  writeNewFileSync,
} from './durable';

export const BOARD_FORMAT = 'agent-swarm-board';
export const BOARD_FORMAT_VERSION = 1;
export const DEFAULT_BOARD_DIR = '.swarm';
/** The longest lease a claim or heartbeat may ask for. */
export const MAX_LEASE_MS = 7 * 24 * 3_600_000;
/** The longest error message kept in a task's history; longer ones are cut (with a note). */
const MAX_ERROR_MESSAGE = 100_000;
/** A commit record this old is finished by repair even if its writer still runs (it is stuck). */
const STALE_RECORD_MS = 60_000;
/** A maintenance warning repeated within this time is reported once. */
const WARNING_REPEAT_MS = 60_000;

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
}

export interface FailOptions {
  permanent?: boolean;
  /** Retry no earlier than this (e.g. a rate limit's reset time); overrides the backoff when later. */
  retryAt?: number;
}

export class BoardFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BoardFormatError';
  }
}

type EndOutcome = 'done' | 'dead' | 'cancelled';

const STATUS_OF_DIR: Record<StateDir, TaskStatus> = {
  pending: 'pending',
  delayed: 'pending',
  running: 'running',
  waiting: 'waiting',
  done: 'done',
  dead: 'dead',
  cancelled: 'cancelled',
};

/**
 * The order in which locate() lists the state folders: each folder comes before the folders its
 * tasks are renamed into (delayed → pending → running → done/dead/cancelled, waiting → ended), so
 * a task that moves forward while a scan runs is seen where it arrives. Only a move against this
 * order (a claim handed back, a retry, a requeue, a map reopened) can hide a task from one scan,
 * so locate() scans again a bounded number of times before it concludes a task does not exist.
 */
const SCAN_ORDER: readonly StateDir[] = ['delayed', 'pending', 'running', 'waiting', 'done', 'dead', 'cancelled'];
/**
 * The order of the scans that follow a miss: the target of every backward move is listed again
 * after its source (running → pending/delayed, dead → pending, done/dead → waiting), so a single
 * backward move during the scan cannot hide the task; it would take two moves in that instant.
 */
const RESCAN_ORDER: readonly StateDir[] = ['delayed', 'pending', 'running', 'pending', 'delayed', 'waiting', 'done', 'dead', 'waiting', 'pending', 'cancelled'];
const LOCATE_PASSES = 6;
/** How often get() reads a task again that it found but that moved before it could be read. */
const READ_MOVING_TASK_ATTEMPTS = 24;

interface Located {
  dir: StateDir;
  name: string;
  parsed: ParsedName;
}

/** A task's place in list order, from its file name. */
interface ListEntry {
  dir: StateDir;
  name: string;
  id: string;
  createdAt: number;
}

/** The id clock of this process: the time of the last id and how many ids were made at it. */
let lastIdTime = 0;
let idCounter = 0;
const IDS_PER_MILLISECOND = 36 * 36; // the two base-36 counter characters

/**
 * A new task id and the creation time it encodes: base-36 time, a counter, and randomness (for
 * other processes). Within a process every id is new and later ids sort after earlier ones, also
 * for a batch of more ids than the counter holds: the clock then runs ahead by a millisecond
 * (a wrapping counter gave the 1,297th task of one post the id of the first, which overwrote it).
 */
export function newTaskIdentity(now: number): { id: string; createdAt: number } {
  if (now > lastIdTime) {
    lastIdTime = now;
    idCounter = 0;
  } else if (++idCounter >= IDS_PER_MILLISECOND) {
    lastIdTime += 1;
    idCounter = 0;
  }
  return { id: `t${lastIdTime.toString(36)}${idCounter.toString(36).padStart(2, '0')}${nonce(2)}`, createdAt: lastIdTime };
}

export function newTaskId(now: number): string {
  return newTaskIdentity(now).id;
}

/** Stored tasks for a batch of specs, each with its own new id and the creation time it encodes. */
export function storedTasksOf(specs: readonly TaskSpec[], now: number): StoredTask[] {
  return specs.map((spec) => {
    const { id, createdAt } = newTaskIdentity(now);
    return buildStoredTask(spec, id, createdAt);
  });
}

/** The id of the n-th child of a map task (both boards number a map's own children this way). */
export function mapChildId(parentId: string, index: number): string {
  return `${parentId}.${String(index).padStart(4, '0')}`;
}

export class FileBoardEngine {
  readonly root: string;
  readonly events: EventLog;
  private readonly retry: RetryPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly durable: boolean;
  private readonly pendingCacheMs: number;
  private readonly sweepIntervalMs: number;
  private readonly repairIntervalMs: number;
  private readonly onWarning: (warning: string) => void;
  private readonly specCache = new Map<string, StoredTask>();
  private pendingCache: string[] = [];
  private pendingCacheAt = -Infinity;
  private nextDelayedCheck = 0;
  private lastSweepAt = -Infinity;
  private lastRepairAt = -Infinity;
  /** Expired leases seen once: reclaimed only when a later sweep sees the same mtime again. */
  private readonly expiredSeen = new Map<string, number>();
  /** Conflicts already logged, so one wait is one event. */
  private readonly loggedConflicts = new Set<string>();
  /**
   * Pending file name → running file name of the task whose file-scope lease blocked it. While that
   * running file exists the task is skipped without a rename, so a blocked task costs no renames
   * (and wakes no watcher) until its blocker ends: the blocker's own end changes running/ and wakes
   * the claimers.
   */
  private readonly blockedBy = new Map<string, string>();
  /** When each maintenance warning was last reported, so a lasting problem is not repeated every second. */
  private readonly warnedAt = new Map<string, number>();

  private constructor(options: BoardOptions) {
    this.root = path.resolve(options.root);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.durable = options.durable ?? true;
    this.pendingCacheMs = options.pendingCacheMs ?? 500;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.repairIntervalMs = options.repairIntervalMs ?? 5000;
    this.onWarning = options.onWarning ?? (() => undefined);
    this.events = new EventLog(path.join(this.root, 'events.jsonl'));
  }

  /** Opens the board, creating it on first use, and repairs what a crash may have left. */
  static open(options: BoardOptions): FileBoardEngine {
    const board = new FileBoardEngine(options);
    board.initialise(options.excludeFromGit ?? true);
    board.repairBatches(board.maintenanceEffects());
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
    const probe = this.tmpPath('probe');
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
        this.warnOnce(`mkdir:${dir}`, `The board folder ${dir}/ is missing and could not be created: ${describeError(error)}. Reading works; changes will fail.`);
      }
    }
    if (existing === undefined) {
      const body = JSON.stringify({ format: BOARD_FORMAT, version: BOARD_FORMAT_VERSION, createdAt: this.now() }, null, 2);
      writeFileAtomicSync(marker, body + '\n', { tmpDir: this.dirPath('tmp'), durable: this.durable });
      if (exclude) excludeFromGit(this.root);
    }
  }

  private readFormatMarker(marker: string): number {
    let version: unknown;
    try {
      const parsed = JSON.parse(fs.readFileSync(marker, 'utf8')) as { format?: unknown; version?: unknown };
      if (parsed.format !== BOARD_FORMAT) throw new Error('format');
      version = parsed.version;
    } catch {
      throw new BoardFormatError(`${marker} is not an Agent Swarm board marker. Move it away or point --board at another folder.`);
    }
    if (typeof version !== 'number' || version > BOARD_FORMAT_VERSION) {
      throw new BoardFormatError(
        `The board at ${this.root} has format ${String(version)}, newer than this Agent Swarm supports (${BOARD_FORMAT_VERSION}). Update Agent Swarm.`,
      );
    }
    return version;
  }

  // ---------------------------------------------------------------- paths and warnings

  private dirPath(dir: string): string {
    return path.join(this.root, dir);
  }

  private filePath(dir: StateDir, name: string): string {
    return path.join(this.root, dir, name);
  }

  private tmpPath(tag: string): string {
    return path.join(this.dirPath('tmp'), tmpFileName(tag));
  }

  private markerPath(parentId: string, marker: string): string {
    return path.join(this.dirPath('children'), parentId, marker);
  }

  private cancellingPath(parentId: string): string {
    return path.join(this.dirPath('cancelling'), parentId);
  }

  artifactsDir(id: string): string {
    this.assertId(id);
    return path.join(this.root, 'artifacts', id);
  }

  /** Side effects of one user-visible operation: every warning is reported and attached to the result. */
  private afterCommit(): AfterCommit {
    return new AfterCommit(this.onWarning);
  }

  /** Side effects of maintenance: the same warning is reported at most once a minute. */
  private maintenanceEffects(): AfterCommit {
    return new AfterCommit((warning) => this.warnOnce(warning, warning));
  }

  private warnOnce(key: string, warning: string): void {
    const now = Date.now();
    const last = this.warnedAt.get(key);
    if (last !== undefined && now - last < WARNING_REPEAT_MS) return;
    this.warnedAt.set(key, now);
    this.onWarning(warning);
  }

  private syncDirs(dirs: string[], effects: AfterCommit, subject: string): void {
    if (!this.durable) return;
    effects.attempt(`${subject}, but the change may not survive a power loss (fsync failed)`, () => {
      for (const dir of dirs) fsyncDir(this.dirPath(dir));
    });
  }

  private logEvents(events: Omit<BoardEvent, 'pid'>[], effects: AfterCommit, subject: string): boolean {
    const failure = (): string => {
      const types = [...new Set(events.map((event) => `'${event.type}'`))].join(', ');
      return `${subject}, but its ${types} event${events.length === 1 ? ' was' : 's were'} not written to events.jsonl`;
    };
    return effects.attempt(failure, () => this.events.appendAll(events));
  }

  // ---------------------------------------------------------------- enqueue

  post(spec: TaskSpec): Task {
    return this.postMany([spec])[0];
  }

  /**
   * Posts several tasks as one batch: all of them are on the board once this returns, or (when it
   * throws, or the process dies before the commit) none of them. Validates all before writing any.
   */
  postMany(specs: TaskSpec[]): Task[] {
    if (specs.length === 0) return [];
    const now = this.now();
    const stored = storedTasksOf(specs, now);
    const parents = [...new Set(stored.map((task) => task.parentId).filter((id): id is string => id !== undefined))];
    for (const parentId of parents) this.assertParentAcceptsChildren(parentId);
    const effects = this.afterCommit();
    this.commitBatch(stored, { fault: 'post', addsChildren: true }, effects);
    for (const parentId of parents) this.keepParentOpen(parentId, effects);
    return stored.map((task) => effects.attach(this.toTask(task, 'pending', { id: task.id, attempts: 0 })));
  }

  /** Creates a map task: the parent waits in `waiting/` until every child has ended. All or nothing. */
  map(parentSpec: TaskSpec, childSpecs: TaskSpec[]): { parent: Task; children: Task[] } {
    if (childSpecs.length === 0) throw new BoardInputError('A map task needs at least one child.');
    if (parentSpec.parentId !== undefined) throw new BoardInputError('A map task cannot itself be the child of another map task.');
    const now = this.now();
    const { id: parentId, createdAt } = newTaskIdentity(now);
    const parent = buildStoredTask({ ...parentSpec, type: parentSpec.type ?? 'map' }, parentId, createdAt, childSpecs.length);
    const children = childSpecs.map((spec, index) => buildStoredTask({ ...spec, parentId }, mapChildId(parentId, index), createdAt));
    const effects = this.afterCommit();
    this.commitBatch([parent, ...children], { fault: 'map', addsChildren: false }, effects);
    return {
      parent: effects.attach(this.toTask(parent, 'waiting', { id: parentId, attempts: 0 })),
      children: children.map((child) => this.toTask(child, 'pending', { id: child.id, attempts: 0 })),
    };
  }

  private assertParentAcceptsChildren(parentId: string): void {
    const parent = this.locate(parentId);
    if (!parent) throw new BoardInputError(`Parent task ${parentId} does not exist.`);
    if (parent.dir !== 'waiting' || fs.existsSync(this.cancellingPath(parentId))) {
      const status = parent.dir === 'waiting' ? 'being cancelled' : STATUS_OF_DIR[parent.dir];
      throw new BoardInputError(`Task ${parentId} is ${status}; children can only be added to a map task that is still waiting.`);
    }
  }

  /**
   * Writes a batch to tmp/, then commits it with its record (see batches.ts), then rolls it
   * forward. Until the record is in place every failure undoes what was written and throws.
   */
  private commitBatch(tasks: StoredTask[], options: { fault: 'post' | 'map'; addsChildren: boolean }, effects: AfterCommit): void {
    const batchId = nonce(6);
    const written: { task: StoredTask; tmp: string }[] = [];
    const markers: string[] = [];
    try {
      for (const task of tasks) {
        const tmp = this.tmpPath(batchTaskTag(batchId, task.id));
        writeNewFileSync(tmp, JSON.stringify(task), this.durable);
        written.push({ task, tmp });
      }
      faultPoint(`${options.fault}:after-tmp-write`);
      if (options.addsChildren) {
        // A child added to a map counts toward its total from this marker on, so the parent cannot
        // end while the child is on its way; look again now that the marker is there.
        for (const task of tasks.filter((candidate) => candidate.parentId)) {
          const marker = this.markerPath(task.parentId!, `+${task.id}`);
          createMarker(marker);
          markers.push(marker);
        }
        for (const parentId of new Set(tasks.map((task) => task.parentId).filter((id): id is string => id !== undefined))) {
          this.assertParentAcceptsChildren(parentId);
        }
      }
      this.writeBatchRecord(batchId, tasks);
    } catch (error) {
      for (const file of [...written.map((entry) => entry.tmp), ...markers]) unlinkQuietly(file);
      throw error;
    }
    for (const entry of written) this.specCache.set(entry.task.id, entry.task);
    faultPoint(`${options.fault}:after-commit`);
    this.rollForward(batchId, written, effects, options.fault);
  }

  /** The commit point of a batch: its record appears in batches/ (durably, when the board is durable). */
  private writeBatchRecord(batchId: string, tasks: StoredTask[]): void {
    const record: BatchRecord = {
      v: 1,
      batchId,
      pid: process.pid,
      ...(threadId !== 0 ? { thread: threadId } : {}),
      eventOffset: this.eventLogSize(),
      tasks: tasks.map(noteOf),
    };
    const tmp = this.tmpPath(recordTag(batchId));
    const target = path.join(this.dirPath('batches'), `${batchId}.json`);
    writeNewFileSync(tmp, JSON.stringify(record), this.durable);
    try {
      fs.renameSync(tmp, target);
    } catch (error) {
      unlinkQuietly(tmp);
      throw error;
    }
    try {
      if (this.durable) fsyncDir(this.dirPath('batches'));
    } catch (error) {
      unlinkQuietly(target); // not durable, so not committed: undo it and report
      throw error;
    }
  }

  /**
   * Moves a committed batch's tasks from tmp/ into their folders (a map parent first, so a child
   * never ends before its parent is there), logs them, and drops the record. Never throws: what
   * fails here is finished by repairBatches().
   */
  private rollForward(batchId: string, entries: { task: StoredTask; tmp: string }[], effects: AfterCommit, fault: 'post' | 'map'): void {
    const ordered = [...entries].sort((a, b) => Number(b.task.childCount !== undefined) - Number(a.task.childCount !== undefined));
    const subject = ordered.length === 1 ? `Task ${ordered[0].task.id} was posted` : `${ordered.length} tasks were posted`;
    let placedChildren = 0;
    for (const { task, tmp } of ordered) {
      effects.attempt(`${subject}, but ${task.id} could not be moved from tmp/ into its queue (it will be repaired)`, () => this.placeNew(tmp, task));
      if (task.childCount !== undefined) faultPoint('map:after-parent');
      else if (placedChildren++ === 0) faultPoint(fault === 'map' ? 'map:after-first-child' : 'post:after-first-rename');
    }
    this.syncDirs([...new Set(ordered.map(({ task }) => this.queueDirOf(task)))], effects, subject);
    this.pendingCacheAt = -Infinity;
    faultPoint(`${fault}:after-rename`);
    const logged = this.logEvents(ordered.map(({ task }) => postedEvent(noteOf(task), this.now())), effects, subject);
    faultPoint(`${fault}:after-events`);
    // With events missing, the record stays: repair writes them once the log can be written.
    if (logged) unlinkQuietly(path.join(this.dirPath('batches'), `${batchId}.json`));
  }

  /** Where the next event will be written; 0 when the log is missing or not a file. */
  private eventLogSize(): number {
    const stat = fs.statSync(this.events.file, { throwIfNoEntry: false });
    return stat?.isFile() ? stat.size : 0;
  }

  /** The folder a new task starts in: waiting/ (a map parent), delayed/ (not yet due) or pending/. */
  private queueDirOf(task: StoredTask): 'waiting' | 'delayed' | 'pending' {
    if (task.childCount !== undefined) return 'waiting';
    return task.notBefore !== undefined && task.notBefore > this.now() ? 'delayed' : 'pending';
  }

  /** Renames a new task from tmp/ into the folder it starts in. */
  private placeNew(tmp: string, task: StoredTask): void {
    const dir = this.queueDirOf(task);
    const key = queueKey(task, 0);
    const name = dir === 'waiting' ? restingName(task.id, 0) : dir === 'delayed' ? delayedName(key, task.notBefore!) : pendingName(key);
    fs.renameSync(tmp, this.filePath(dir, name));
  }

  /**
   * A child added to a map whose last child ended in the same instant may find the parent ended:
   * reopen it, so it ends again (with this child counted) when this child ends.
   */
  private keepParentOpen(parentId: string, effects: AfterCommit): void {
    effects.attempt(`Map task ${parentId} ended while a child was being added to it, and could not be reopened`, () => {
      const parent = this.locate(parentId);
      if (parent && (parent.dir === 'done' || parent.dir === 'dead')) this.reopenParent(parent, effects);
    });
  }

  // ---------------------------------------------------------------- claim

  /** Claims the next task: highest priority first, then oldest. Undefined when nothing is claimable. */
  claim(options: ClaimOptions): Claim | undefined {
    this.assertAgent(options.agent);
    const leaseMs = this.assertLeaseMs(options.leaseMs ?? DEFAULT_LEASE_MS);
    this.maintain();
    const blocked = new Set<string>();
    // The cached listing may be stale: other processes claim from it too. When a stale listing
    // yields nothing, list pending/ once more before giving up.
    for (const forceRefresh of [false, true]) {
      const fresh = this.refreshPendingIfStale(forceRefresh);
      const claim = this.claimFromCache(options.agent, leaseMs, blocked);
      if (claim) return claim;
      if (fresh) return undefined;
    }
    return undefined;
  }

  /**
   * Walks the cached listing in claim order. A miss (another process renamed the file first)
   * costs one failed rename and drops the name, so under contention a claim skips what others
   * took since the last listing.
   */
  private claimFromCache(agent: string, leaseMs: number, blocked: Set<string>): Claim | undefined {
    const cache = this.pendingCache;
    let index = 0;
    while (index < cache.length) {
      const name = cache[index];
      const outcome = blocked.has(name) || this.stillBlocked(name) ? 'blocked' : this.tryClaim(name, agent, leaseMs, blocked);
      if (outcome === 'blocked') {
        index++;
        continue;
      }
      cache.splice(index, 1);
      if (outcome !== 'missed' && outcome !== 'unreadable') return outcome;
    }
    return undefined;
  }

  /** True while the blocker remembered for this pending file still runs (one stat, no rename). */
  private stillBlocked(name: string): boolean {
    const blocker = this.blockedBy.get(name);
    if (blocker === undefined) return false;
    if (fs.existsSync(this.filePath('running', blocker))) return true;
    this.blockedBy.delete(name);
    return false;
  }

  private refreshPendingIfStale(force: boolean): boolean {
    const age = this.now() - this.pendingCacheAt;
    if (!force && this.pendingCache.length > 0 && age < this.pendingCacheMs) return false;
    this.pendingCache = readDirNames(this.dirPath('pending')).sort();
    this.pendingCacheAt = this.now();
    this.forgetBlockersOfGoneTasks();
    return true;
  }

  /** A pending name that left pending/ will not come back under the same name (attempts, nonce). */
  private forgetBlockersOfGoneTasks(): void {
    if (this.blockedBy.size === 0) return;
    const listed = new Set(this.pendingCache);
    for (const name of this.blockedBy.keys()) if (!listed.has(name)) this.blockedBy.delete(name);
  }

  private tryClaim(name: string, agent: string, leaseMs: number, blocked: Set<string>): Claim | 'missed' | 'blocked' | 'unreadable' {
    const parsed = parseName('pending', name);
    if (!parsed) {
      this.quarantine('pending', name, 'the file name is not a task name of this board');
      return 'unreadable';
    }
    const attempt = parsed.attempts + 1;
    const token = runningName(parsed.id, attempt, agent, nonce());
    const pendingPath = this.filePath('pending', name);
    const runningPath = this.filePath('running', token);
    if (!renameIfPresent(pendingPath, runningPath)) return 'missed';
    faultPoint('claim:after-rename');
    const leaseExpiresAt = this.now() + leaseMs;
    let spec: StoredTask | undefined;
    try {
      if (!this.touchLease(runningPath, leaseExpiresAt)) return 'missed'; // cancelled in between
      faultPoint('claim:after-lease');
      spec = this.readSpec('running', token);
      if (!spec) return 'unreadable';
      const blocker = this.acquireFileLeases(spec, token);
      if (blocker) {
        this.releaseClaimAfterConflict(spec, token, name, blocker.id);
        blocked.add(name);
        this.blockedBy.set(name, blocker.token);
        return 'blocked';
      }
    } catch (error) {
      // A claim that throws must leave nothing changed: hand the task back exactly as it was.
      renameIfPresentQuietly(runningPath, pendingPath);
      throw error;
    }
    this.loggedConflicts.delete(spec.id);
    const effects = this.afterCommit();
    this.logEvents([{ at: this.now(), type: 'claimed', taskId: spec.id, agent, attempt }], effects, `Task ${spec.id} was claimed`);
    const task = this.toTask(spec, 'running', { id: spec.id, attempts: attempt, agent }, undefined, leaseExpiresAt);
    return effects.attach({ task, token, agent, leaseExpiresAt });
  }

  /** The lease expiry is the running file's mtime, so a heartbeat is one utimes call. */
  private touchLease(runningPath: string, expiresAt: number): boolean {
    try {
      const seconds = expiresAt / 1000;
      fs.utimesSync(runningPath, seconds, seconds);
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  private releaseClaimAfterConflict(spec: StoredTask, token: string, pendingFile: string, blocker: string): void {
    fs.renameSync(this.filePath('running', token), this.filePath('pending', pendingFile));
    if (!this.loggedConflicts.has(spec.id)) {
      this.loggedConflicts.add(spec.id);
      const effects = this.maintenanceEffects();
      this.logEvents([{ at: this.now(), type: 'conflict', taskId: spec.id, detail: { waitingFor: blocker, files: spec.files } }], effects, `Task ${spec.id} waits for ${blocker}`);
    }
  }

  // ---------------------------------------------------------------- file-scope leases

  private lockDir(file: string): string {
    return path.join(this.dirPath('locks'), createHash('sha1').update(file).digest('hex').slice(0, 20));
  }

  /**
   * Takes a lease entry for each of the task's files. An entry is live while its holder's running
   * file exists. A claimant first writes its own entry, then looks for others: of two racing
   * claimants at least one sees the other and backs off, so overlapping tasks never run together.
   * Returns the blocking holder, or undefined when all leases are held. Throws (having released
   * what it took) when an entry cannot be written.
   */
  private acquireFileLeases(spec: StoredTask, token: string): LeaseHolder | undefined {
    const taken: string[] = [];
    try {
      for (const file of [...spec.files].sort()) {
        const dir = this.lockDir(file);
        ensureDir(dir);
        writeNewFileSync(path.join(dir, token), file, false);
        taken.push(file);
        const blocker = this.liveHolderOtherThan(dir, token);
        if (blocker) {
          this.releaseFileLeases(taken, token);
          return blocker;
        }
      }
    } catch (error) {
      for (const file of taken) unlinkQuietly(path.join(this.lockDir(file), token));
      throw error;
    }
    return undefined;
  }

  private liveHolderOtherThan(dir: string, token: string): LeaseHolder | undefined {
    for (const entry of readDirNames(dir)) {
      if (entry === token) continue;
      if (fs.existsSync(this.filePath('running', entry))) return { id: parseName('running', entry)?.id ?? entry, token: entry };
      unlinkIfPresent(path.join(dir, entry)); // its holder ended or crashed: a stale entry
    }
    return undefined;
  }

  private releaseFileLeases(files: string[], token: string): void {
    for (const file of files) unlinkIfPresent(path.join(this.lockDir(file), token));
  }

  /** After a commit: a lease entry left behind is harmless (its holder's running file is gone). */
  private releaseFileLeasesAfterCommit(files: string[], token: string, effects: AfterCommit, subject: string): void {
    if (files.length === 0) return;
    effects.attempt(`${subject}, but its file-scope lease entries could not all be removed (they are ignored from now on)`, () =>
      this.releaseFileLeases(files, token),
    );
  }

  // ---------------------------------------------------------------- lease holder operations

  /** Renews a lease. Throws LeaseLostError when the claim was reclaimed, cancelled or ended. */
  heartbeat(claim: Pick<Claim, 'token'>, leaseMs = DEFAULT_LEASE_MS): number {
    const parsed = this.parseToken(claim.token);
    this.assertLeaseMs(leaseMs);
    const expiresAt = this.now() + leaseMs;
    if (!this.touchLease(this.filePath('running', claim.token), expiresAt)) throw this.leaseLost(parsed);
    return expiresAt;
  }

  /**
   * Finds the running claim of a task by id and agent. Several processes may use one agent name,
   * so this cannot tell a stale holder from a new one: only for a host recovering the claim of its
   * own agent that died before reporting it (the pool). Everyone else presents the token.
   */
  findClaim(id: string, agent: string): Claim | undefined {
    this.assertId(id);
    for (const name of readDirNames(this.dirPath('running'))) {
      const parsed = parseName('running', name);
      if (parsed?.id !== id || parsed.agent !== agent) continue;
      const spec = this.readSpec('running', name);
      if (!spec) return undefined;
      const leaseExpiresAt = this.leaseExpiry(name) ?? 0;
      const task = this.toTask(spec, 'running', parsed, undefined, leaseExpiresAt);
      return { task, token: name, agent, leaseExpiresAt };
    }
    return undefined;
  }

  /** Completes a claimed task. The rename is the commit: a lost lease records nothing. */
  complete(claim: Pick<Claim, 'token'>, result?: unknown): Task {
    const parsed = this.parseToken(claim.token);
    const spec = this.requireSpec(parsed, claim.token);
    const resultFile = path.join(this.dirPath('results'), `${parsed.id}~${parsed.nonce}.json`);
    if (result !== undefined) this.writeSideFile(resultFile, serialiseResult(result));
    faultPoint('complete:after-result-write');
    const target = this.filePath('done', doneName(parsed.id, parsed.attempts, parsed.nonce!));
    if (!this.commitRename(this.filePath('running', claim.token), target, result !== undefined ? resultFile : undefined)) {
      throw this.leaseLost(parsed);
    }
    const effects = this.afterCommit();
    const subject = `Task ${parsed.id} is done`;
    this.syncDirs(['done'], effects, subject);
    faultPoint('complete:after-rename');
    this.releaseFileLeasesAfterCommit(spec.files, claim.token, effects, subject);
    this.logEvents([{ at: this.now(), type: 'completed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts }], effects, subject);
    if (spec.parentId) this.childEnded(spec.parentId, spec.id, 'done', effects);
    return effects.attach({ ...this.toTask(spec, 'done', parsed), result });
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
    const now = this.now();
    const error: TaskError = { attempt: parsed.attempts, at: now, message: capMessage(message), permanent, agent: parsed.agent, kind: 'failed' };
    const errorFile = this.writeError(parsed.id, error);
    faultPoint('fail:after-error-write');
    const toDead = permanent || parsed.attempts >= spec.maxAttempts;
    const dueAt = toDead ? undefined : capTime(Math.max(now + this.backoffDelay(parsed.attempts), options.retryAt ?? 0));
    const target = toDead
      ? this.filePath('dead', restingName(parsed.id, parsed.attempts))
      : this.filePath('delayed', delayedName(queueKey(spec, parsed.attempts), dueAt!));
    if (!this.commitRename(this.filePath('running', claim.token), target, errorFile)) throw this.leaseLost(parsed);
    const effects = this.afterCommit();
    const subject = toDead ? `Task ${parsed.id} is dead` : `Task ${parsed.id} failed and will be retried`;
    this.syncDirs([toDead ? 'dead' : 'delayed'], effects, subject);
    faultPoint('fail:after-rename');
    this.releaseFileLeasesAfterCommit(spec.files, claim.token, effects, subject);
    this.nextDelayedCheck = Math.min(this.nextDelayedCheck, dueAt ?? Infinity);
    const failed: Omit<BoardEvent, 'pid'> = { at: now, type: 'failed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { message: error.message, permanent } };
    if (toDead) {
      this.logEvents([failed, { at: now, type: 'dead', taskId: parsed.id, attempt: parsed.attempts, detail: { message: error.message } }], effects, subject);
      if (spec.parentId) this.childEnded(spec.parentId, spec.id, 'dead', effects);
      return effects.attach({ ...this.toTask(spec, 'dead', parsed), lastError: error });
    }
    this.logEvents([failed, { at: now, type: 'retry-scheduled', taskId: parsed.id, attempt: parsed.attempts, detail: { dueAt } }], effects, subject);
    return effects.attach({ ...this.toTask(spec, 'pending', parsed), notBefore: dueAt, lastError: error });
  }

  /**
   * Hands a claim back unfinished (the pool is shutting down, or the agent was stopped by the
   * host): the task is pending again at once, and the interrupted attempt does not count.
   */
  release(claim: Pick<Claim, 'token'>, reason = 'released'): Task {
    const parsed = this.parseToken(claim.token);
    const spec = this.requireSpec(parsed, claim.token);
    const attempts = Math.max(0, parsed.attempts - 1);
    if (!this.commitRename(this.filePath('running', claim.token), this.filePath('pending', pendingName(queueKey(spec, attempts))))) {
      throw this.leaseLost(parsed);
    }
    const effects = this.afterCommit();
    const subject = `Task ${parsed.id} was handed back`;
    this.syncDirs(['pending'], effects, subject);
    this.releaseFileLeasesAfterCommit(spec.files, claim.token, effects, subject);
    this.pendingCacheAt = -Infinity;
    this.logEvents([{ at: this.now(), type: 'requeued', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { released: true, reason } }], effects, subject);
    return effects.attach(this.toTask(spec, 'pending', { id: parsed.id, attempts }));
  }

  /** The delay before retry n (1-based): min(cap, base·multiplier^(n-1)), jittered into [d·(1-j), d]. */
  backoffDelay(failedAttempt: number): number {
    const { baseMs, capMs, multiplier, jitter } = this.retry;
    const delay = Math.min(capMs, baseMs * Math.pow(multiplier, Math.max(0, failedAttempt - 1)));
    return Math.round(delay * (1 - jitter * this.random()));
  }

  /**
   * The commit rename of a lease holder's operation. False when the running file is gone (the
   * lease is lost); then, and when the rename throws, the side file written for it is removed.
   */
  private commitRename(from: string, to: string, sideFile?: string): boolean {
    let moved: boolean;
    try {
      moved = renameIfPresent(from, to);
    } catch (error) {
      if (sideFile) unlinkQuietly(sideFile);
      throw error;
    }
    if (!moved && sideFile) unlinkQuietly(sideFile);
    return moved;
  }

  private writeSideFile(file: string, data: string): void {
    writeFileAtomicSync(file, data, { tmpDir: this.dirPath('tmp'), durable: this.durable });
  }

  private writeError(id: string, error: TaskError): string {
    const dir = path.join(this.dirPath('errors'), id);
    ensureDir(dir);
    const file = path.join(dir, `${String(error.at).padStart(14, '0')}-a${error.attempt}-${nonce()}.json`);
    this.writeSideFile(file, JSON.stringify(error));
    return file;
  }

  /** A LeaseLostError that says, and types, why the claim of `parsed` is no longer held. */
  private leaseLost(parsed: ParsedName): LeaseLostError {
    const { cause, why } = this.whyLeaseLost(parsed);
    const consequence =
      cause === 'ended' ? 'Nothing was recorded.' : 'The result was not recorded; another agent may run the task.';
    return new LeaseLostError(parsed.id, `Lease lost on task ${parsed.id}: ${why}. ${consequence}`, cause);
  }

  private whyLeaseLost(parsed: ParsedName): { cause: LeaseLossCause; why: string } {
    const where = this.locate(parsed.id);
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
    const spec = this.specCache.get(parsed.id) ?? this.readSpec('running', token);
    if (!spec) throw this.leaseLost(parsed);
    return spec;
  }

  // ---------------------------------------------------------------- maintenance

  /** Promotion and reclaim, throttled, so that claimers keep the board moving without a daemon. */
  private maintain(): void {
    const now = this.now();
    if (now >= this.nextDelayedCheck) this.promoteDelayed();
    if (now - this.lastSweepAt >= this.sweepIntervalMs) this.sweep();
  }

  /** Moves delayed tasks whose time has come into pending/. Returns how many this process moved. Never throws. */
  promoteDelayed(): number {
    const now = this.now();
    const effects = this.maintenanceEffects();
    let promoted = 0;
    let nextDue = now + 1000; // other processes may add delayed tasks: look again within a second
    let names: string[] = [];
    effects.attempt('Delayed tasks could not be promoted: delayed/ could not be listed', () => (names = readDirNames(this.dirPath('delayed')).sort()));
    for (const name of names) {
      const parsed = parseName('delayed', name);
      if (!parsed) {
        this.quarantine('delayed', name, 'the file name is not a task name of this board');
        continue;
      }
      if (parsed.dueAt! > now) {
        nextDue = Math.min(nextDue, parsed.dueAt!);
        break;
      }
      const target = name.slice(name.indexOf('~') + 1);
      let moved = false;
      effects.attempt(`Task ${parsed.id} is due but could not be moved to pending/`, () => (moved = renameIfPresent(this.filePath('delayed', name), this.filePath('pending', target))));
      if (!moved) continue;
      promoted++;
      this.pendingCacheAt = -Infinity;
      this.logEvents([{ at: now, type: 'promoted', taskId: parsed.id }], effects, `Task ${parsed.id} was promoted`);
    }
    this.nextDelayedCheck = nextDue;
    return promoted;
  }

  /**
   * One pass over running/: a lease seen expired with the same mtime by an earlier pass is
   * reclaimed (the two-observation rule), so a clock jump or a paused process never causes a mass
   * reclaim from a single look. Every repairIntervalMs it also runs the repair pass (batches,
   * cancels, map parents). Returns the number of tasks this process reclaimed. Never throws.
   */
  sweep(): number {
    const now = this.now();
    this.lastSweepAt = now;
    const effects = this.maintenanceEffects();
    let reclaimed = 0;
    let names: string[] = [];
    effects.attempt('Expired leases could not be reclaimed: running/ could not be listed', () => (names = readDirNames(this.dirPath('running'))));
    const seenNow = new Set<string>();
    for (const name of names) {
      const expiry = this.leaseExpiry(name);
      if (expiry === undefined || expiry > now) continue;
      seenNow.add(name);
      if (this.expiredSeen.get(name) === expiry) {
        if (this.reclaim(name, effects)) reclaimed++;
      } else {
        this.expiredSeen.set(name, expiry);
      }
    }
    for (const name of this.expiredSeen.keys()) if (!seenNow.has(name)) this.expiredSeen.delete(name);
    if (now - this.lastRepairAt >= this.repairIntervalMs) {
      this.lastRepairAt = now;
      this.repairPass(effects);
    }
    return reclaimed;
  }

  /** For one-shot callers (the CLI): sweeps, and when it saw new expiries, looks again after confirmMs. */
  reclaimExpired(confirmMs = 100): number {
    let reclaimed = this.sweep();
    if (this.expiredSeen.size > 0) {
      sleepSync(confirmMs);
      reclaimed += this.sweep();
    }
    return reclaimed;
  }

  private leaseExpiry(runningFile: string): number | undefined {
    try {
      const stat = fs.lstatSync(this.filePath('running', runningFile), { throwIfNoEntry: false });
      return stat ? Math.round(stat.mtimeMs) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Returns an expired claim to pending/ (or dead/ when out of attempts). Never throws. */
  private reclaim(runningFile: string, effects: AfterCommit): boolean {
    const parsed = parseName('running', runningFile);
    if (!parsed) return this.quarantine('running', runningFile, 'the file name is not a task name of this board'), false;
    const spec = this.readSpec('running', runningFile);
    if (!spec) return false;
    const now = this.now();
    const error: TaskError = {
      attempt: parsed.attempts,
      at: now,
      message: `The lease of agent ${parsed.agent} expired (the agent crashed, hung or lost contact).`,
      permanent: false,
      agent: parsed.agent,
      kind: 'lease-expired',
    };
    // The history entry is a side file; a task stuck in running/ because it could not be written
    // would be worse than a gap in the history, so the reclaim goes on without it.
    let errorFile: string | undefined;
    effects.attempt(`The error history of task ${parsed.id} misses its expired lease`, () => (errorFile = this.writeError(parsed.id, error)));
    faultPoint('reclaim:after-error-write');
    const toDead = parsed.attempts >= spec.maxAttempts;
    const target = toDead
      ? this.filePath('dead', restingName(parsed.id, parsed.attempts))
      : this.filePath('pending', pendingName(queueKey(spec, parsed.attempts)));
    let moved = false;
    effects.attempt(`The expired lease on task ${parsed.id} could not be reclaimed`, () => (moved = this.commitRename(this.filePath('running', runningFile), target, errorFile)));
    if (!moved) return false;
    this.expiredSeen.delete(runningFile);
    this.pendingCacheAt = -Infinity;
    const subject = `The expired lease on task ${parsed.id} was reclaimed`;
    const events: Omit<BoardEvent, 'pid'>[] = [{ at: now, type: 'reclaimed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { toDead } }];
    if (toDead) events.push({ at: now, type: 'dead', taskId: parsed.id, attempt: parsed.attempts, detail: { message: error.message } });
    this.logEvents(events, effects, subject);
    if (toDead && spec.parentId) this.childEnded(spec.parentId, spec.id, 'dead', effects);
    return true;
  }

  /**
   * Finishes what crashes and full disks left undone: batches (posts, maps) rolled forward or
   * back with their events, map cancels carried through, and map tasks whose children all ended
   * completed (re-creating markers a crash skipped). Returns how many map tasks it completed.
   */
  repairParents(): number {
    return this.repairPass(this.maintenanceEffects());
  }

  private repairPass(effects: AfterCommit): number {
    this.repairBatches(effects);
    this.repairCancels(effects);
    let completed = 0;
    effects.attempt('Map tasks could not be checked for repair', () => (completed = this.repairWaitingParents(effects)));
    return completed;
  }

  /** Rolls committed batches of dead writers forward, deletes uncommitted ones. Never throws. */
  private repairBatches(effects: AfterCommit): void {
    const pending = new Map<string, { task: StoredTask; tmp: string }[]>();
    let tmpNames: string[] = [];
    effects.attempt('Unfinished posts could not be repaired: tmp/ could not be listed', () => (tmpNames = readDirNames(this.dirPath('tmp'))));
    const liveBatches = new Set<string>();
    for (const name of tmpNames) {
      const file = path.join(this.dirPath('tmp'), name);
      const info = parseTmpName(name);
      if (info && isOtherLiveWriter(info.pid, info.thread)) {
        if (info.batchId) liveBatches.add(info.batchId);
        continue;
      }
      effects.attempt(`The leftover tmp/${name} could not be repaired`, () => {
        if (info?.kind === 'batch' && fs.existsSync(path.join(this.dirPath('batches'), `${info.batchId}.json`))) {
          const task = this.readSpecFile(file);
          if (!task) return unlinkIfPresent(file);
          const list = pending.get(info.batchId!) ?? [];
          list.push({ task, tmp: file });
          pending.set(info.batchId!, list);
        } else if (info?.kind === 'batch') {
          this.dropUncommitted(file);
        } else if (info?.kind === 'legacy-map' && this.locate(info.parentId!)) {
          const task = this.readSpecFile(file);
          if (task) this.placeNew(file, task);
          else unlinkIfPresent(file);
        } else {
          fs.rmSync(file, { force: true, recursive: true });
        }
      });
    }
    for (const [, entries] of pending) {
      entries.sort((a, b) => Number(b.task.childCount !== undefined) - Number(a.task.childCount !== undefined));
      for (const { task, tmp } of entries) effects.attempt(`Task ${task.id} of an interrupted post could not be moved into its queue`, () => this.placeNew(tmp, task));
      this.pendingCacheAt = -Infinity;
    }
    let records: string[] = [];
    effects.attempt('Unfinished posts could not be repaired: batches/ could not be listed', () => (records = readDirNames(this.dirPath('batches'))));
    for (const name of records) {
      const batchId = batchIdOfRecord(name);
      if (!batchId || liveBatches.has(batchId)) continue;
      effects.attempt(`The post record batches/${name} could not be finished`, () => this.finishRecord(path.join(this.dirPath('batches'), name), effects));
    }
  }

  /** A tmp file of a batch that never committed: the task was never posted. */
  private dropUncommitted(file: string): void {
    const task = this.readSpecFile(file);
    if (task?.parentId && !task.id.startsWith(`${task.parentId}.`)) unlinkIfPresent(this.markerPath(task.parentId, `+${task.id}`));
    unlinkIfPresent(file);
  }

  /** Writes the `posted` events a committed batch is missing, then drops its record. */
  private finishRecord(file: string, effects: AfterCommit): void {
    const record = readBatchRecord(file);
    if (!record) {
      unlinkIfPresent(file); // unreadable: written by a crashed writer that never committed it
      return;
    }
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    const writerAlive = isOtherLiveWriter(record.pid, record.thread);
    if (!stat || (writerAlive && Date.now() - stat.mtimeMs < STALE_RECORD_MS)) return;
    const logged = new Set<string>();
    // A log that is shorter than at the commit was replaced: look through all of it.
    let offset = this.eventLogSize() < record.eventOffset ? 0 : record.eventOffset;
    for (;;) {
      const { events, nextOffset } = this.events.read(offset);
      for (const event of events) if (event.type === 'posted' && event.taskId) logged.add(event.taskId);
      if (nextOffset === offset) break;
      offset = nextOffset;
    }
    const missing = record.tasks.filter((task) => !logged.has(task.id));
    const subject = `The interrupted post of ${missing.length === 1 ? `task ${missing[0].id}` : `${missing.length} tasks`} was finished`;
    if (missing.length > 0 && !this.logEvents(missing.map((task) => postedEvent(task, this.now())), effects, subject)) return;
    unlinkIfPresent(file);
  }

  /** Carries interrupted map cancels through. Never throws. */
  private repairCancels(effects: AfterCommit): void {
    let names: string[] = [];
    effects.attempt('Map cancels could not be repaired: cancelling/ could not be listed', () => (names = readDirNames(this.dirPath('cancelling'))));
    for (const parentId of names) {
      if (!isValidId(parentId)) continue;
      effects.attempt(`The cancel of map task ${parentId} could not be finished`, () => {
        const parent = this.locate(parentId);
        if (parent?.dir === 'waiting') {
          if (!renameIfPresent(this.filePath('waiting', parent.name), this.filePath('cancelled', restingName(parentId, 0)))) return;
          this.logEvents([{ at: this.now(), type: 'cancelled', taskId: parentId, detail: { from: 'waiting' } }], effects, `Map task ${parentId} was cancelled`);
        }
        if (parent?.dir === 'waiting' || parent?.dir === 'cancelled') {
          if (this.cancelLiveChildren(parentId, effects) > 0) return;
        }
        unlinkIfPresent(this.cancellingPath(parentId));
      });
    }
  }

  /** Re-creates end markers a crash skipped and completes waiting parents whose children all ended. */
  private repairWaitingParents(effects: AfterCommit): number {
    const parents = readDirNames(this.dirPath('waiting'))
      .map((name) => parseName('waiting', name)?.id)
      .filter((id): id is string => id !== undefined);
    if (parents.length === 0) return 0;
    const parentOfChild = new Map<string, string>();
    for (const parentId of parents) {
      const progress = this.progress(parentId);
      if (progress.done + progress.dead + progress.cancelled >= progress.total) continue;
      for (const childId of this.childIdsOf(parentId)) parentOfChild.set(childId, parentId);
    }
    if (parentOfChild.size > 0) {
      for (const dir of ['done', 'dead', 'cancelled'] as const) {
        for (const name of readDirNames(this.dirPath(dir))) {
          const childId = parseName(dir, name)?.id;
          const parentId = childId && parentOfChild.get(childId);
          if (parentId) createMarker(this.markerPath(parentId, `${childId}.${dir}`));
        }
      }
    }
    let completed = 0;
    for (const parentId of parents) {
      effects.attempt(`Map task ${parentId} could not be completed`, () => {
        if (this.completeParentIfEnded(parentId, effects)) completed++;
      });
    }
    return completed;
  }

  // ---------------------------------------------------------------- map tasks

  /** The ids of a map task's children: its own, numbered, and those added with a parent id. */
  private childIdsOf(parentId: string): string[] {
    const count = this.parentSpec(parentId)?.childCount ?? 0;
    const own = Array.from({ length: count }, (_, index) => mapChildId(parentId, index));
    const added = readDirNames(path.join(this.dirPath('children'), parentId))
      .filter((marker) => marker.startsWith('+'))
      .map((marker) => marker.slice(1));
    return [...own, ...added];
  }

  /** After a child's end committed: its marker, then the parent's completion. Never throws. */
  private childEnded(parentId: string, childId: string, outcome: EndOutcome, effects: AfterCommit): void {
    faultPoint('child:before-marker');
    const marked = effects.attempt(`The end of ${childId} was not recorded for its map task ${parentId} (repair will record it)`, () =>
      createMarker(this.markerPath(parentId, `${childId}.${outcome}`)),
    );
    if (!marked) return;
    effects.attempt(`Map task ${parentId} could not be completed (repair will complete it)`, () => this.completeParentIfEnded(parentId, effects));
  }

  /**
   * Ends a waiting map task whose children have all ended. Its state says how the job went:
   * `dead` when a child died (it sits in the dead-letter queue beside that child, and requeueing
   * it requeues its dead children), `cancelled` when the map was cancelled or every child was,
   * else `done`. The counts are in its result (done) or its error history (dead) and in the event.
   */
  private completeParentIfEnded(parentId: string, effects: AfterCommit): boolean {
    const progress = this.progress(parentId);
    const ended = (p: Progress): boolean => p.total > 0 && p.done + p.dead + p.cancelled >= p.total;
    if (!ended(progress)) return false;
    const cancelRequested = fs.existsSync(this.cancellingPath(parentId));
    const outcome: EndOutcome = cancelRequested ? 'cancelled' : progress.dead > 0 ? 'dead' : progress.done === 0 ? 'cancelled' : 'done';
    const summary = { done: progress.done, dead: progress.dead, cancelled: progress.cancelled, total: progress.total };
    const now = this.now();
    let sideFile: string | undefined;
    let target: string;
    if (outcome === 'done') {
      const resultNonce = nonce();
      sideFile = path.join(this.dirPath('results'), `${parentId}~${resultNonce}.json`);
      this.writeSideFile(sideFile, JSON.stringify(summary));
      target = this.filePath('done', doneName(parentId, 0, resultNonce));
    } else if (outcome === 'dead') {
      const message = `${summary.dead} of ${summary.total} children died (done ${summary.done}, cancelled ${summary.cancelled}); requeue this map task to retry them.`;
      sideFile = this.writeError(parentId, { attempt: 0, at: now, message, permanent: true, kind: 'failed' });
      target = this.filePath('dead', restingName(parentId, 0));
    } else {
      target = this.filePath('cancelled', restingName(parentId, 0));
    }
    faultPoint('parent:before-promote');
    // A child added while the side file was written counts: look once more before committing.
    if (!ended(this.progress(parentId)) || !this.commitRename(this.filePath('waiting', restingName(parentId, 0)), target, sideFile)) {
      if (sideFile) unlinkQuietly(sideFile);
      return false;
    }
    const subject = `Map task ${parentId} ended ${outcome}`;
    this.syncDirs([outcome], effects, subject);
    this.logEvents([{ at: now, type: 'parent-completed', taskId: parentId, detail: { outcome, ...summary } }], effects, subject);
    if (cancelRequested) effects.attempt(`${subject}, but its cancel marker could not be removed`, () => unlinkIfPresent(this.cancellingPath(parentId)));
    return true;
  }

  /** Moves an ended (done or dead) map task back to waiting/, so it ends again when its children do. */
  private reopenParent(parent: Located, effects: AfterCommit): void {
    if (parent.dir !== 'done' && parent.dir !== 'dead') return;
    if (!renameIfPresent(this.filePath(parent.dir, parent.name), this.filePath('waiting', restingName(parent.parsed.id, 0)))) return;
    const subject = `Map task ${parent.parsed.id} was reopened`;
    if (parent.dir === 'done' && parent.parsed.nonce) {
      effects.attempt(`${subject}, but its old summary could not be removed`, () => unlinkIfPresent(path.join(this.dirPath('results'), `${parent.parsed.id}~${parent.parsed.nonce}.json`)));
    }
    this.logEvents([{ at: this.now(), type: 'reopened', taskId: parent.parsed.id, detail: { from: parent.dir } }], effects, subject);
  }

  /** Progress of a map task from one small directory listing (plus running/ for running children). */
  progress(parentId: string): Progress {
    this.assertId(parentId);
    return this.progressOf(parentId, readDirNames(this.dirPath('running')));
  }

  /** Progress with running/ already listed (stats() lists it once for every map task). */
  private progressOf(parentId: string, runningNames: readonly string[]): Progress {
    const markers = readDirNames(path.join(this.dirPath('children'), parentId));
    const count = (suffix: string): number => markers.filter((marker) => marker.endsWith(suffix)).length;
    const added = markers.filter((marker) => marker.startsWith('+')).length;
    const total = (this.parentSpec(parentId)?.childCount ?? 0) + added;
    const done = count('.done');
    const dead = count('.dead');
    const cancelled = count('.cancelled');
    const running = runningNames.filter((name) => name.startsWith(`${parentId}.`)).length;
    const ended = done + dead + cancelled;
    return {
      total,
      done,
      dead,
      cancelled,
      running,
      pending: Math.max(0, total - ended - running),
      percent: total === 0 ? 0 : Math.round(((done + dead) / total) * 1000) / 10,
    };
  }

  private parentSpec(parentId: string): StoredTask | undefined {
    const cached = this.specCache.get(parentId);
    if (cached) return cached;
    const where = this.locate(parentId);
    return where ? this.readSpec(where.dir, where.name) : undefined;
  }

  // ---------------------------------------------------------------- user operations

  /**
   * Cancels a task that has not ended. A running holder loses its lease at its next heartbeat. A
   * map task is cancelled with its unfinished children.
   */
  cancel(id: string): Task {
    this.assertId(id);
    for (let attempt = 0; attempt < 100; attempt++) {
      const where = this.requireLocated(id);
      if (where.dir === 'done' || where.dir === 'dead' || where.dir === 'cancelled') {
        throw new BoardInputError(`Task ${id} has already ended (${STATUS_OF_DIR[where.dir]}); there is nothing to cancel.`);
      }
      const spec = this.specAt(where);
      if (!spec) continue; // it moved while we looked
      const cancelled = where.dir === 'waiting' ? this.cancelMap(where, spec) : this.cancelOne(where, spec, this.afterCommit());
      if (cancelled) return cancelled;
    }
    throw new BoardInputError(`Task ${id} keeps changing state; try again.`);
  }

  /** One task's cancel: its rename, then its side effects. Undefined when it moved first. */
  private cancelOne(where: Located, spec: StoredTask, effects: AfterCommit): Task | undefined {
    const id = where.parsed.id;
    if (!renameIfPresent(this.filePath(where.dir, where.name), this.filePath('cancelled', restingName(id, where.parsed.attempts)))) return undefined;
    faultPoint('cancel:after-rename');
    const subject = `Task ${id} was cancelled`;
    if (where.dir === 'running') this.releaseFileLeasesAfterCommit(spec.files, where.name, effects, subject);
    this.logEvents([{ at: this.now(), type: 'cancelled', taskId: id, agent: where.parsed.agent, detail: { from: STATUS_OF_DIR[where.dir] } }], effects, subject);
    if (spec.parentId) this.childEnded(spec.parentId, id, 'cancelled', effects);
    return effects.attach(this.toTask(spec, 'cancelled', where.parsed));
  }

  /**
   * A map task's cancel: a marker in cancelling/ (so an interrupted cancel is carried through by
   * repair), the parent's rename (the commit), then its unfinished children one by one.
   */
  private cancelMap(where: Located, spec: StoredTask): Task | undefined {
    const parentId = where.parsed.id;
    const marker = this.cancellingPath(parentId);
    const created = createMarker(marker);
    const moved = (() => {
      try {
        return renameIfPresent(this.filePath('waiting', where.name), this.filePath('cancelled', restingName(parentId, 0)));
      } catch (error) {
        if (created) unlinkQuietly(marker);
        throw error;
      }
    })();
    if (!moved) {
      if (created) unlinkQuietly(marker); // it ended (or someone else cancelled it) meanwhile
      return undefined;
    }
    faultPoint('cancel:after-rename');
    const effects = this.afterCommit();
    const subject = `Map task ${parentId} was cancelled`;
    this.logEvents([{ at: this.now(), type: 'cancelled', taskId: parentId, detail: { from: 'waiting' } }], effects, subject);
    let remaining = 1;
    effects.attempt(`${subject}, but not all of its children could be cancelled yet (repair will finish)`, () => (remaining = this.cancelLiveChildren(parentId, effects)));
    if (remaining === 0) effects.attempt(`${subject}, but its cancel marker could not be removed`, () => unlinkIfPresent(marker));
    return effects.attach(this.toTask(spec, 'cancelled', { id: parentId, attempts: 0 }));
  }

  /** Cancels the children of a map task that have not ended; returns how many could not be (0 = all). */
  private cancelLiveChildren(parentId: string, effects: AfterCommit): number {
    const children = new Set(this.childIdsOf(parentId));
    let live = 0;
    for (let pass = 0; pass < 3; pass++) {
      live = 0;
      for (const dir of ['delayed', 'pending', 'running'] as const) {
        for (const name of readDirNames(this.dirPath(dir))) {
          const parsed = parseName(dir, name);
          if (!parsed || !children.has(parsed.id)) continue;
          const where: Located = { dir, name, parsed };
          const spec = this.specAt(where);
          if (!spec || !this.cancelOne(where, spec, effects)) live++;
          if (where.dir === 'pending' && pass === 0) faultPoint('cancel:after-first-child');
        }
      }
      if (live === 0) return 0;
    }
    return live;
  }

  /**
   * Moves a dead task back to pending with a fresh attempt budget; its error history is kept. A
   * child of an ended map reopens the map (it ends again, with a new summary, when its children
   * have); requeueing a dead map task requeues its dead children.
   */
  requeue(id: string): Task {
    const where = this.requireLocated(id);
    if (where.dir !== 'dead') throw new BoardInputError(`Task ${id} is ${STATUS_OF_DIR[where.dir]}, not dead; only dead tasks can be requeued.`);
    const requeued = this.requeueDead(where);
    if (!requeued) throw new BoardInputError(`Task ${id} was requeued by someone else.`);
    return requeued[0];
  }

  /**
   * Requeues every dead task (a map task through its dead children); one that cannot be requeued
   * (its map was cancelled) stays in the dead-letter queue, with a warning. Returns the tasks
   * that are pending again.
   */
  requeueAll(): Task[] {
    const requeued: Task[] = [];
    for (const name of readDirNames(this.dirPath('dead'))) {
      const parsed = parseName('dead', name);
      if (!parsed) continue;
      try {
        const tasks = this.requeueDead({ dir: 'dead', name, parsed }) ?? []; // gone: requeued already, with its map
        requeued.push(...tasks.filter((task) => task.status === 'pending'));
      } catch (error) {
        if (!(error instanceof BoardInputError)) throw error;
        this.onWarning(`${error.message} It stays in the dead-letter queue.`);
      }
    }
    return requeued;
  }

  /** The requeued task first, then the children requeued with a map; undefined when its file moved away. */
  private requeueDead(where: Located): Task[] | undefined {
    const spec = this.specAt(where);
    if (!spec) return undefined;
    if (spec.childCount !== undefined) return this.requeueMap(where, spec);
    const parent = spec.parentId ? this.requireOpenableParent(spec) : undefined;
    const task = this.requeueOne(where, spec, parent);
    return task && [task];
  }

  /** Where the map of a dead child is; refused when the map was cancelled or is gone. */
  private requireOpenableParent(spec: StoredTask): Located {
    const parentId = spec.parentId!;
    const parent = this.locate(parentId);
    if (!parent) throw new BoardInputError(`Task ${spec.id} belongs to map task ${parentId}, which no longer exists; post the task again instead.`);
    if (parent.dir === 'cancelled' || fs.existsSync(this.cancellingPath(parentId))) {
      throw new BoardInputError(`Task ${spec.id} belongs to map task ${parentId}, which was cancelled; post the task again instead.`);
    }
    return parent;
  }

  /** One dead task back to pending (its ended map reopened first); undefined when it moved away. */
  private requeueOne(where: Located, spec: StoredTask, parent: Located | undefined): Task | undefined {
    const id = spec.id;
    const effects = this.afterCommit();
    const marker = spec.parentId ? this.markerPath(spec.parentId, `${id}.dead`) : undefined;
    const restoreMarker = (): void => {
      if (marker) createMarkerQuietly(marker);
    };
    if (marker && parent) {
      // The marker goes first: with it gone the map cannot end (again) before this child does.
      unlinkIfPresent(marker);
      try {
        this.reopenParent(parent, effects);
      } catch (error) {
        restoreMarker();
        throw error;
      }
    }
    faultPoint('requeue:before-rename');
    let moved: boolean;
    try {
      moved = renameIfPresent(this.filePath('dead', where.name), this.filePath('pending', pendingName(queueKey(spec, 0))));
    } catch (error) {
      restoreMarker();
      throw error;
    }
    if (!moved) return undefined;
    faultPoint('requeue:after-rename');
    const subject = `Task ${id} was requeued`;
    this.syncDirs(['pending'], effects, subject);
    this.pendingCacheAt = -Infinity;
    this.logEvents([{ at: this.now(), type: 'requeued', taskId: id }], effects, subject);
    return effects.attach(this.toTask(spec, 'pending', { id, attempts: 0 }));
  }

  /** A dead map task: requeue its dead children (the first one reopens it). */
  private requeueMap(where: Located, spec: StoredTask): Task[] {
    const parentId = spec.id;
    const children = new Set(this.childIdsOf(parentId));
    const requeued: Task[] = [];
    let parent: Located = where;
    for (const name of readDirNames(this.dirPath('dead'))) {
      const parsed = parseName('dead', name);
      if (!parsed || !children.has(parsed.id)) continue;
      const child: Located = { dir: 'dead', name, parsed };
      const childSpec = this.specAt(child);
      const task = childSpec && this.requeueOne(child, childSpec, parent);
      if (!task) continue;
      requeued.push(task);
      parent = { ...where, dir: 'waiting', name: restingName(parentId, 0) }; // reopened by the first child
    }
    const effects = this.afterCommit();
    if (requeued.length === 0) {
      // No dead child left (they were requeued one by one): reopen, and let it end by its children.
      this.reopenParent(where, effects);
      effects.attempt(`Map task ${parentId} could not be completed (repair will complete it)`, () => this.completeParentIfEnded(parentId, effects));
    }
    const parentTask = this.get(parentId) ?? this.toTask(spec, 'waiting', { id: parentId, attempts: 0 });
    const warnings = [...requeued.flatMap((task) => task.warnings ?? []), ...effects.warnings];
    return [warnings.length > 0 ? { ...parentTask, warnings } : parentTask, ...requeued];
  }

  // ---------------------------------------------------------------- reading

  /** Every task (or those of one status), oldest first. Task bodies are cached: they never change. */
  list(filter: { status?: TaskStatus } = {}): Task[] {
    const tasks: Task[] = [];
    for (const dir of STATE_DIRS) {
      if (filter.status && STATUS_OF_DIR[dir] !== filter.status) continue;
      for (const name of readDirNames(this.dirPath(dir))) {
        const task = this.readTask(dir, name);
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
      for (const name of readDirNames(this.dirPath(dir))) {
        const parsed = parseName(dir, name);
        if (!parsed) {
          this.quarantine(dir, name, 'the file name is not a task name of this board');
          continue;
        }
        if (seen.has(parsed.id)) continue;
        const createdAt = createdAtOfId(parsed.id) ?? this.specAt({ dir, name, parsed })?.createdAt;
        if (createdAt === undefined) continue; // moved away meanwhile, or unreadable (quarantined)
        seen.add(parsed.id);
        entries.push({ dir, name, id: parsed.id, createdAt });
      }
    }
    return entries.sort(compareOrder);
  }

  /** The task of a listed name; one that moved since the listing is looked up again (without its result, as in any list). */
  private taskOfEntry(entry: ListEntry): Task | undefined {
    const task = this.readTask(entry.dir, entry.name) ?? this.get(entry.id);
    if (task) delete task.result;
    return task;
  }

  /** Events after a byte offset of events.jsonl, at most `limit` of them, and the offset to continue from. */
  readEvents(offset: number, limit?: number): { events: BoardEvent[]; nextOffset: number } {
    return this.events.readPage(offset, limit);
  }

  /** One task with its result and last error, or undefined. A task that moves meanwhile is still found. */
  get(id: string): Task | undefined {
    this.assertId(id);
    // Each miss below means the task exists but moved between the listing and the read, so looking
    // again is right; a task that other processes keep moving can slip away several times in a row
    // (one in ~8,000 looks gave up after six), so the later looks pause, growing, to break the step.
    for (let attempt = 0; attempt < READ_MOVING_TASK_ATTEMPTS; attempt++) {
      const where = this.locate(id);
      if (!where) return undefined;
      const task = this.readTask(where.dir, where.name);
      if (task) {
        if (where.dir === 'done') task.result = this.readResult(id, where.parsed.nonce);
        return task;
      }
      if (attempt >= LOCATE_PASSES) sleepSync(Math.min(1 << (attempt - LOCATE_PASSES), 16));
    }
    return undefined;
  }

  /** The error history of a task, oldest first. */
  errors(id: string): TaskError[] {
    this.assertId(id);
    const dir = path.join(this.dirPath('errors'), id);
    return readDirNames(dir)
      .sort()
      .flatMap((name) => {
        try {
          return [JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as TaskError];
        } catch {
          return [];
        }
      });
  }

  /**
   * Counts from the state folders' names alone (no task body is read), and the progress of every
   * waiting map task from its children's markers. `delayed` (pending tasks not due yet) is part of
   * `pending` and also counted on its own.
   */
  stats(): BoardStats {
    const counts = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Record<TaskStatus, number>;
    const names = Object.fromEntries(STATE_DIRS.map((dir) => [dir, readDirNames(this.dirPath(dir))])) as Record<StateDir, string[]>;
    for (const dir of STATE_DIRS) counts[STATUS_OF_DIR[dir]] += names[dir].length;
    const quarantined = readDirNames(this.dirPath('quarantine')).filter((name) => !name.endsWith('.reason.txt')).length;
    const parents: Record<string, Progress> = {};
    for (const name of names.waiting) {
      const id = parseName('waiting', name)?.id;
      if (id) parents[id] = this.progressOf(id, names.running);
    }
    return { counts, quarantined, parents, delayed: names.delayed.length };
  }

  /** Quarantined files with their reasons. */
  quarantined(): { file: string; reason: string }[] {
    const dir = this.dirPath('quarantine');
    return readDirNames(dir)
      .filter((name) => !name.endsWith('.reason.txt'))
      .map((name) => ({ file: path.join(dir, name), reason: readTextIfPresent(path.join(dir, `${name}.reason.txt`)) ?? 'unknown' }));
  }

  /**
   * Calls `onChange` (debounced) whenever the board changes: fs.watch on the state directories and
   * the event log, with polling of their mtimes as a fallback where watching is unavailable.
   */
  watch(onChange: () => void, options: { debounceMs?: number; pollMs?: number } = {}): { dispose(): void } {
    let timer: NodeJS.Timeout | undefined;
    const fire = (): void => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        onChange();
      }, options.debounceMs ?? 100);
    };
    const watched = [...STATE_DIRS.map((dir) => this.dirPath(dir)), this.events.file];
    const watchers: fs.FSWatcher[] = [];
    for (const target of watched) {
      try {
        const watcher = fs.watch(target, fire);
        watcher.on('error', () => watcher.close());
        watchers.push(watcher);
      } catch {
        // Missing or unwatchable: the poll below still sees changes.
      }
    }
    let signature = this.signature(watched);
    const poll = setInterval(() => {
      const next = this.signature(watched);
      if (next !== signature) {
        signature = next;
        fire();
      }
    }, options.pollMs ?? 1000);
    return {
      dispose: () => {
        clearInterval(poll);
        if (timer) clearTimeout(timer);
        for (const watcher of watchers) watcher.close();
      },
    };
  }

  private signature(paths: string[]): string {
    return paths.map((target) => {
      const stat = fs.statSync(target, { throwIfNoEntry: false });
      return stat ? `${stat.mtimeMs}:${stat.size}` : '-';
    }).join('|');
  }

  // ---------------------------------------------------------------- internals

  /**
   * Finds a task's file. Scans in SCAN_ORDER; a task missed by one scan moved against that order
   * while it ran, so the scan is repeated in RESCAN_ORDER (with short, growing pauses that break
   * any lock-step with a process moving the task) before the task is declared absent.
   */
  private locate(id: string): Located | undefined {
    for (let pass = 0; pass < LOCATE_PASSES; pass++) {
      const found = this.scanFor(id, pass === 0 ? SCAN_ORDER : RESCAN_ORDER);
      if (found) return found;
      if (pass >= 1 && pass + 1 < LOCATE_PASSES) sleepSync(1 << (pass - 1));
    }
    return undefined;
  }

  private scanFor(id: string, order: readonly StateDir[]): Located | undefined {
    for (const dir of order) {
      for (const name of readDirNames(this.dirPath(dir))) {
        // Names outside pending/ and delayed/ start with the id: skip the parse for the rest.
        if (!name.startsWith(id) && dir !== 'pending' && dir !== 'delayed') continue;
        const parsed = parseName(dir, name);
        if (parsed?.id === id) return { dir, name, parsed };
      }
    }
    return undefined;
  }

  private requireLocated(id: string): Located {
    this.assertId(id);
    const where = this.locate(id);
    if (!where) throw new BoardInputError(`No task with id ${id} on the board at ${this.root}.`);
    return where;
  }

  /** The body of a located task, or undefined when its file moved away meanwhile. */
  private specAt(where: Located): StoredTask | undefined {
    return this.specCache.get(where.parsed.id) ?? this.readSpec(where.dir, where.name);
  }

  private readTask(dir: StateDir, name: string): Task | undefined {
    const parsed = parseName(dir, name);
    if (!parsed) {
      this.quarantine(dir, name, 'the file name is not a task name of this board');
      return undefined;
    }
    const stat = fs.lstatSync(this.filePath(dir, name), { throwIfNoEntry: false });
    if (!stat) return undefined; // moved while we listed
    if (!stat.isFile()) {
      this.quarantine(dir, name, `not a regular file (${stat.isDirectory() ? 'a directory' : stat.isSymbolicLink() ? 'a symbolic link' : 'a special file'})`);
      return undefined;
    }
    const spec = this.readSpec(dir, name);
    if (!spec) return undefined;
    const task = this.toTask(spec, STATUS_OF_DIR[dir], parsed, stat.ctimeMs, dir === 'running' ? Math.round(stat.mtimeMs) : undefined);
    if (dir === 'delayed') task.notBefore = parsed.dueAt;
    const mayHaveFailed = dir === 'dead' || ((dir === 'pending' || dir === 'delayed' || dir === 'running') && task.attempts > 0);
    if (mayHaveFailed) task.lastError = this.lastError(spec.id);
    return task;
  }

  private lastError(id: string): TaskError | undefined {
    const dir = path.join(this.dirPath('errors'), id);
    const names = readDirNames(dir).sort();
    const last = names[names.length - 1];
    if (!last) return undefined;
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, last), 'utf8')) as TaskError;
    } catch {
      return undefined;
    }
  }

  private readResult(id: string, resultNonce: string | undefined): unknown {
    if (!resultNonce) return undefined;
    const text = readTextIfPresent(path.join(this.dirPath('results'), `${id}~${resultNonce}.json`));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined; // a result file damaged outside the board: the task is still done
    }
  }

  /** Reads and validates a task body; a bad one is quarantined and undefined returned. */
  private readSpec(dir: StateDir, name: string): StoredTask | undefined {
    const id = parseName(dir, name)?.id;
    const cached = id ? this.specCache.get(id) : undefined;
    if (cached) return cached;
    const file = this.filePath(dir, name);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      const code = (error as NodeJS.ErrnoException).code;
      this.quarantine(dir, name, `cannot be read (${code ?? (error as Error).message})`);
      return undefined;
    }
    const parsed = parseStoredTask(text);
    if ('reason' in parsed) {
      this.quarantine(dir, name, parsed.reason);
      return undefined;
    }
    if (id && parsed.task.id !== id) {
      this.quarantine(dir, name, `the file name says ${id} but the body says ${parsed.task.id}`);
      return undefined;
    }
    this.specCache.set(parsed.task.id, parsed.task);
    return parsed.task;
  }

  private readSpecFile(file: string): StoredTask | undefined {
    const text = readTextIfPresent(file);
    if (text === undefined) return undefined;
    const parsed = parseStoredTask(text);
    return 'task' in parsed ? parsed.task : undefined;
  }

  /**
   * Moves a bad file aside with a reason file and logs it once. Never throws: on a board that
   * cannot be written the file stays where it is (and is skipped), with a warning.
   */
  private quarantine(dir: StateDir, name: string, reason: string): void {
    const target = `${dir}~${name}~${nonce()}`;
    const effects = this.maintenanceEffects();
    let moved = false;
    effects.attempt(`${dir}/${name} ${reason}, and it could not be moved to quarantine/ (it is skipped)`, () => {
      moved = renameIfPresent(this.filePath(dir, name), path.join(this.dirPath('quarantine'), target));
    });
    if (!moved) return;
    const subject = `${dir}/${name} was quarantined`;
    effects.attempt(`${subject}, but its reason file could not be written`, () =>
      fs.writeFileSync(path.join(this.dirPath('quarantine'), `${target}.reason.txt`), `${dir}/${name}: ${reason}\n`),
    );
    this.logEvents([{ at: this.now(), type: 'quarantined', detail: { file: `${dir}/${name}`, reason } }], effects, subject);
  }

  private toTask(spec: StoredTask, status: TaskStatus, parsed: Pick<ParsedName, 'attempts'> & Partial<ParsedName>, updatedAt?: number, leaseExpiresAt?: number): Task {
    return {
      ...taskFieldsOf(spec, status, parsed.attempts),
      ...(status === 'running' && parsed.agent ? { claimedBy: parsed.agent } : {}),
      ...(leaseExpiresAt !== undefined ? { leaseExpiresAt } : {}),
      ...(spec.childCount !== undefined ? { childCount: spec.childCount } : {}),
      createdAt: spec.createdAt,
      updatedAt: Math.round(updatedAt ?? this.now()),
    };
  }

  private assertId(id: string): void {
    if (typeof id !== 'string' || !isValidId(id)) throw new BoardInputError(`${JSON.stringify(id)} is not a task id (ids look like t1a2b3c4d01ab).`);
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

/** A live file-scope lease holder: its task id (for the conflict event) and its running file name. */
interface LeaseHolder {
  id: string;
  token: string;
}

function queueKey(spec: StoredTask, attempts: number): QueueKey {
  return { id: spec.id, priority: spec.priority, createdAt: spec.createdAt, attempts };
}

function noteOf(task: StoredTask): BatchTaskNote {
  return {
    id: task.id,
    title: task.title,
    ...(task.parentId !== undefined ? { parentId: task.parentId } : {}),
    ...(task.childCount !== undefined ? { children: task.childCount } : {}),
  };
}

function postedEvent(task: BatchTaskNote, at: number): Omit<BoardEvent, 'pid'> {
  const detail: Record<string, unknown> = { title: task.title };
  if (task.children !== undefined) detail.children = task.children;
  if (task.parentId !== undefined) detail.parentId = task.parentId;
  return { at, type: 'posted', taskId: task.id, detail };
}

export function serialiseResult(result: unknown): string {
  try {
    const text = JSON.stringify(result);
    if (text === undefined) throw new Error('it has no JSON form');
    return text;
  } catch (error) {
    throw new BoardInputError(`The result is not JSON (${(error as Error).message}); nothing was recorded.`);
  }
}

export function capMessage(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE) return message;
  return `${message.slice(0, MAX_ERROR_MESSAGE)}… (cut: ${message.length} characters in all)`;
}

function renameIfPresentQuietly(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch {
    // The original error is reported; a claim left in running/ expires and is reclaimed.
  }
}

function createMarkerQuietly(file: string): void {
  try {
    createMarker(file);
  } catch {
    // Repair re-creates end markers from the ended folders.
  }
}

function readTextIfPresent(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

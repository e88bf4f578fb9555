// The file task board. Layout under the board root (default `.swarm/`):
//
//   board.json            format marker
//   tmp/                  files being written; renamed into a state directory when complete
//   pending/ delayed/ running/ waiting/ done/ dead/ cancelled/
//                         one file per task; the directory is its status (see names.ts)
//   results/<id>~<nonce>.json   result of the completing claim
//   errors/<id>/...       one file per failed attempt (the error history)
//   children/<parent>/    one marker per ended child of a map task (`<child>.<outcome>`)
//   locks/<hash>/<token>  file-scope lease entries
//   quarantine/           files that could not be read, each with a `.reason.txt`
//   artifacts/<id>/       patches and logs written by the pool
//   events.jsonl          the event log
//
// Every state change is one rename of the task's file, so a task is in exactly one state at every
// instant, including after a crash at any step. Side files are written before the rename commits.
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import writeFileAtomic from 'write-file-atomic';
import {
  BoardInputError,
  BoardStats,
  Claim,
  DEFAULT_LEASE_MS,
  DEFAULT_RETRY,
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
  delayedName,
  doneName,
  isValidAgentName,
  isValidId,
  parseName,
  pendingName,
  restingName,
  runningName,
} from './names';
import { StoredTask, buildStoredTask, parseStoredTask } from './schema';
import { EventLog } from './events';
import { faultPoint } from './faults';
import { excludeFromGit } from './gitExclude';
import {
  createMarker,
  ensureDir,
  fsyncDir,
  isNotFound,
  isProcessAlive,
  nonce,
  readDirNames,
  renameIfPresent,
  sleepSync,
  unlinkIfPresent,
  writeNewFileSync,
} from './durable';

export const BOARD_FORMAT = 'agent-swarm-board';
export const BOARD_FORMAT_VERSION = 1;
export const DEFAULT_BOARD_DIR = '.swarm';

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
  /** fsync where a loss would matter (enqueue, results, done, dead). Default true. */
  durable?: boolean;
  /** Add the board to .git/info/exclude when inside a repository. Default true. */
  excludeFromGit?: boolean;
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

interface Located {
  dir: StateDir;
  name: string;
  parsed: ParsedName;
}

let idCounter = 0;

/** Ids sort by creation time within a process: base36 time, a counter, and randomness. */
export function newTaskId(now: number): string {
  idCounter = (idCounter + 1) % 1296;
  return `t${now.toString(36)}${idCounter.toString(36).padStart(2, '0')}${nonce(2)}`;
}

export class FileBoard {
  readonly root: string;
  readonly events: EventLog;
  private readonly retry: RetryPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly durable: boolean;
  private readonly pendingCacheMs: number;
  private readonly sweepIntervalMs: number;
  private readonly specCache = new Map<string, StoredTask>();
  private pendingCache: string[] = [];
  private pendingCacheAt = -Infinity;
  private nextDelayedCheck = 0;
  private lastSweepAt = -Infinity;
  /** Expired leases seen once: reclaimed only when a later sweep sees the same mtime again. */
  private readonly expiredSeen = new Map<string, number>();
  /** Conflicts already logged, so one wait is one event. */
  private readonly loggedConflicts = new Set<string>();

  private constructor(options: BoardOptions) {
    this.root = path.resolve(options.root);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.durable = options.durable ?? true;
    this.pendingCacheMs = options.pendingCacheMs ?? 500;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.events = new EventLog(path.join(this.root, 'events.jsonl'));
  }

  /** Opens the board, creating it on first use, and repairs what a crash may have left. */
  static open(options: BoardOptions): FileBoard {
    const board = new FileBoard(options);
    board.initialise(options.excludeFromGit ?? true);
    board.repairTmp();
    return board;
  }

  close(): void {
    this.events.close();
  }

  private initialise(exclude: boolean): void {
    const marker = path.join(this.root, 'board.json');
    const existing = fs.existsSync(marker) ? this.readFormatMarker(marker) : undefined;
    // Always: a board copied or checked out without its empty folders (git keeps none) still works.
    for (const dir of ['tmp', ...STATE_DIRS, 'results', 'errors', 'children', 'locks', 'quarantine', 'artifacts']) {
      ensureDir(path.join(this.root, dir));
    }
    if (existing === undefined) {
      const body = JSON.stringify({ format: BOARD_FORMAT, version: BOARD_FORMAT_VERSION, createdAt: this.now() }, null, 2);
      writeFileAtomic.sync(marker, body + '\n');
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

  // ---------------------------------------------------------------- paths

  private dirPath(dir: string): string {
    return path.join(this.root, dir);
  }

  private filePath(dir: StateDir, name: string): string {
    return path.join(this.root, dir, name);
  }

  artifactsDir(id: string): string {
    this.assertId(id);
    return path.join(this.root, 'artifacts', id);
  }

  // ---------------------------------------------------------------- enqueue

  post(spec: TaskSpec): Task {
    return this.postMany([spec])[0];
  }

  /** Posts several tasks; each one is durable once this returns. Validates all before writing any. */
  postMany(specs: TaskSpec[]): Task[] {
    const now = this.now();
    const stored = specs.map((spec) => buildStoredTask(spec, newTaskId(now), now));
    for (const task of stored) if (task.parentId) this.assertParentAcceptsChildren(task.parentId);
    const written = stored.map((task) => this.writeTmp(task));
    faultPoint('post:after-tmp-write');
    const tasks = stored.map((task, index) => {
      if (task.parentId) createMarker(path.join(this.dirPath('children'), task.parentId, `+${task.id}`));
      this.commitNew(written[index], task);
      return this.toTask(task, 'pending', { id: task.id, attempts: 0 });
    });
    this.syncStateDirs(['pending', 'delayed']);
    faultPoint('post:after-rename');
    for (const task of stored) this.events.append({ at: now, type: 'posted', taskId: task.id, detail: { title: task.title } });
    return tasks;
  }

  /** Creates a map task: the parent waits in `waiting/` until every child has ended. */
  map(parentSpec: TaskSpec, childSpecs: TaskSpec[]): { parent: Task; children: Task[] } {
    if (childSpecs.length === 0) throw new BoardInputError('A map task needs at least one child.');
    const now = this.now();
    const parentId = newTaskId(now);
    const parent = buildStoredTask({ ...parentSpec, type: parentSpec.type ?? 'map' }, parentId, now, childSpecs.length);
    const children = childSpecs.map((spec, index) =>
      buildStoredTask({ ...spec, parentId }, `${parentId}.${String(index).padStart(4, '0')}`, now),
    );
    // Children wait in tmp/ (named after the parent) until the parent is committed: a crash before
    // that leaves only orphans, a crash after it is rolled forward by the next open().
    const childTmps = children.map((child) => this.writeTmp(child, `map.${parentId}`));
    const parentTmp = this.writeTmp(parent);
    fs.renameSync(parentTmp, this.filePath('waiting', restingName(parentId, 0)));
    fsyncDir(this.dirPath('waiting'));
    faultPoint('map:after-parent');
    childTmps.forEach((tmp, index) => {
      this.commitNew(tmp, children[index]);
      if (index === 0) faultPoint('map:after-first-child');
    });
    this.syncStateDirs(['pending', 'delayed']);
    this.events.append({ at: now, type: 'posted', taskId: parentId, detail: { title: parent.title, children: children.length } });
    for (const child of children) this.events.append({ at: now, type: 'posted', taskId: child.id, detail: { title: child.title, parentId } });
    return {
      parent: this.toTask(parent, 'waiting', { id: parentId, attempts: 0 }),
      children: children.map((child) => this.toTask(child, 'pending', { id: child.id, attempts: 0 })),
    };
  }

  private assertParentAcceptsChildren(parentId: string): void {
    const parent = this.locate(parentId);
    if (!parent) throw new BoardInputError(`Parent task ${parentId} does not exist.`);
    if (parent.dir !== 'waiting') {
      throw new BoardInputError(`Task ${parentId} is ${STATUS_OF_DIR[parent.dir]}; children can only be added to a map task that is still waiting.`);
    }
  }

  private writeTmp(task: StoredTask, tag = 'task'): string {
    const tmp = path.join(this.dirPath('tmp'), `${process.pid}.${nonce()}.${tag}.${task.id}.json`);
    writeNewFileSync(tmp, JSON.stringify(task), this.durable);
    this.specCache.set(task.id, task);
    return tmp;
  }

  private commitNew(tmp: string, task: StoredTask): void {
    const key = queueKey(task, 0);
    const target =
      task.notBefore !== undefined && task.notBefore > this.now()
        ? this.filePath('delayed', delayedName(key, task.notBefore))
        : this.filePath('pending', pendingName(key));
    fs.renameSync(tmp, target);
  }

  private syncStateDirs(dirs: StateDir[]): void {
    if (!this.durable) return;
    for (const dir of dirs) fsyncDir(this.dirPath(dir));
  }

  // ---------------------------------------------------------------- claim

  /** Claims the next task: highest priority first, then oldest. Undefined when nothing is claimable. */
  claim(options: ClaimOptions): Claim | undefined {
    this.assertAgent(options.agent);
    this.maintain();
    const blocked = new Set<string>();
    // The cached listing may be stale: other processes claim from it too. When a stale listing
    // yields nothing, list pending/ once more before giving up.
    for (const forceRefresh of [false, true]) {
      const fresh = this.refreshPendingIfStale(forceRefresh);
      const claim = this.claimFromCache(options, blocked);
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
  private claimFromCache(options: ClaimOptions, blocked: Set<string>): Claim | undefined {
    const cache = this.pendingCache;
    let index = 0;
    while (index < cache.length) {
      const name = cache[index];
      const outcome = blocked.has(name) ? 'blocked' : this.tryClaim(name, options, blocked);
      if (outcome === 'blocked') {
        index++;
        continue;
      }
      cache.splice(index, 1);
      if (outcome !== 'missed' && outcome !== 'unreadable') return outcome;
    }
    return undefined;
  }

  private refreshPendingIfStale(force: boolean): boolean {
    const age = this.now() - this.pendingCacheAt;
    if (!force && this.pendingCache.length > 0 && age < this.pendingCacheMs) return false;
    this.pendingCache = readDirNames(this.dirPath('pending')).sort();
    this.pendingCacheAt = this.now();
    return true;
  }

  private tryClaim(name: string, options: ClaimOptions, blocked: Set<string>): Claim | 'missed' | 'blocked' | 'unreadable' {
    const parsed = parseName('pending', name);
    if (!parsed) {
      this.quarantine('pending', name, 'the file name is not a task name of this board');
      return 'unreadable';
    }
    const attempt = parsed.attempts + 1;
    const token = runningName(parsed.id, attempt, options.agent, nonce());
    const runningPath = this.filePath('running', token);
    if (!renameIfPresent(this.filePath('pending', name), runningPath)) return 'missed';
    faultPoint('claim:after-rename');
    const leaseExpiresAt = this.now() + (options.leaseMs ?? DEFAULT_LEASE_MS);
    const setLease = this.touchLease(runningPath, leaseExpiresAt);
    faultPoint('claim:after-lease');
    const spec = setLease ? this.readSpec('running', token) : undefined;
    if (!spec) return 'unreadable';
    const blocker = this.acquireFileLeases(spec, token);
    if (blocker) {
      this.releaseClaimAfterConflict(spec, token, name, blocker);
      blocked.add(name);
      return 'blocked';
    }
    this.loggedConflicts.delete(spec.id);
    this.events.append({ at: this.now(), type: 'claimed', taskId: spec.id, agent: options.agent, attempt });
    const task = this.toTask(spec, 'running', { id: spec.id, attempts: attempt, agent: options.agent }, undefined, leaseExpiresAt);
    return { task, token, agent: options.agent, leaseExpiresAt };
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
    renameIfPresent(this.filePath('running', token), this.filePath('pending', pendingFile));
    if (!this.loggedConflicts.has(spec.id)) {
      this.loggedConflicts.add(spec.id);
      this.events.append({ at: this.now(), type: 'conflict', taskId: spec.id, detail: { waitingFor: blocker, files: spec.files } });
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
   * Returns the id of a blocking task, or undefined when all leases are held.
   */
  private acquireFileLeases(spec: StoredTask, token: string): string | undefined {
    const taken: string[] = [];
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
    return undefined;
  }

  private liveHolderOtherThan(dir: string, token: string): string | undefined {
    for (const entry of readDirNames(dir)) {
      if (entry === token) continue;
      if (fs.existsSync(this.filePath('running', entry))) return parseName('running', entry)?.id ?? entry;
      unlinkIfPresent(path.join(dir, entry)); // its holder ended or crashed: a stale entry
    }
    return undefined;
  }

  private releaseFileLeases(files: string[], token: string): void {
    for (const file of files) unlinkIfPresent(path.join(this.lockDir(file), token));
  }

  // ---------------------------------------------------------------- lease holder operations

  /** Renews a lease. Throws LeaseLostError when the claim was reclaimed, cancelled or ended. */
  heartbeat(claim: Pick<Claim, 'token'>, leaseMs = DEFAULT_LEASE_MS): number {
    const parsed = this.parseToken(claim.token);
    const expiresAt = this.now() + leaseMs;
    if (!this.touchLease(this.filePath('running', claim.token), expiresAt)) {
      throw new LeaseLostError(parsed.id, this.whyLeaseLost(parsed.id));
    }
    return expiresAt;
  }

  /** Finds the running claim of a task by id and agent (for the CLI, which has no token). */
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
    const spec = this.requireSpec(parsed.id, 'running', claim.token);
    const resultFile = path.join(this.dirPath('results'), `${parsed.id}~${parsed.nonce}.json`);
    if (result !== undefined) writeFileAtomic.sync(resultFile, JSON.stringify(result), { fsync: this.durable });
    faultPoint('complete:after-result-write');
    const target = doneName(parsed.id, parsed.attempts, parsed.nonce!);
    if (!renameIfPresent(this.filePath('running', claim.token), this.filePath('done', target))) {
      unlinkIfPresent(resultFile);
      throw new LeaseLostError(parsed.id, this.whyLeaseLost(parsed.id));
    }
    this.syncStateDirs(['done']);
    faultPoint('complete:after-rename');
    this.releaseFileLeases(spec.files, claim.token);
    this.events.append({ at: this.now(), type: 'completed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts });
    if (spec.parentId) this.childEnded(spec.parentId, spec.id, 'done');
    return { ...this.toTask(spec, 'done', parsed), result };
  }

  /**
   * Fails a claimed attempt. Transient errors retry after an exponential backoff with jitter until
   * maxAttempts; permanent errors and exhausted budgets go to the dead-letter queue.
   */
  fail(claim: Pick<Claim, 'token'>, message: string, options: FailOptions = {}): Task {
    const parsed = this.parseToken(claim.token);
    const spec = this.requireSpec(parsed.id, 'running', claim.token);
    const permanent = options.permanent ?? false;
    const now = this.now();
    const error: TaskError = { attempt: parsed.attempts, at: now, message, permanent, agent: parsed.agent, kind: 'failed' };
    const errorFile = this.writeError(parsed.id, error);
    faultPoint('fail:after-error-write');
    const toDead = permanent || parsed.attempts >= spec.maxAttempts;
    const dueAt = toDead ? undefined : Math.max(now + this.backoffDelay(parsed.attempts), options.retryAt ?? 0);
    const target = toDead
      ? this.filePath('dead', restingName(parsed.id, parsed.attempts))
      : this.filePath('delayed', delayedName(queueKey(spec, parsed.attempts), dueAt!));
    if (!renameIfPresent(this.filePath('running', claim.token), target)) {
      unlinkIfPresent(errorFile);
      throw new LeaseLostError(parsed.id, this.whyLeaseLost(parsed.id));
    }
    this.syncStateDirs([toDead ? 'dead' : 'delayed']);
    faultPoint('fail:after-rename');
    this.releaseFileLeases(spec.files, claim.token);
    this.nextDelayedCheck = Math.min(this.nextDelayedCheck, dueAt ?? Infinity);
    this.events.append({ at: now, type: 'failed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { message, permanent } });
    if (toDead) {
      this.events.append({ at: now, type: 'dead', taskId: parsed.id, attempt: parsed.attempts, detail: { message } });
      if (spec.parentId) this.childEnded(spec.parentId, spec.id, 'dead');
      return { ...this.toTask(spec, 'dead', parsed), lastError: error };
    }
    this.events.append({ at: now, type: 'retry-scheduled', taskId: parsed.id, attempt: parsed.attempts, detail: { dueAt } });
    return { ...this.toTask(spec, 'pending', parsed), notBefore: dueAt, lastError: error };
  }

  /**
   * Hands a claim back unfinished (the pool is shutting down, or the agent was stopped by the
   * host): the task is pending again at once, and the interrupted attempt does not count.
   */
  release(claim: Pick<Claim, 'token'>, reason = 'released'): Task {
    const parsed = this.parseToken(claim.token);
    const spec = this.requireSpec(parsed.id, 'running', claim.token);
    const attempts = Math.max(0, parsed.attempts - 1);
    if (!renameIfPresent(this.filePath('running', claim.token), this.filePath('pending', pendingName(queueKey(spec, attempts))))) {
      throw new LeaseLostError(parsed.id, this.whyLeaseLost(parsed.id));
    }
    this.syncStateDirs(['pending']);
    this.releaseFileLeases(spec.files, claim.token);
    this.pendingCacheAt = -Infinity;
    this.events.append({ at: this.now(), type: 'requeued', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { released: true, reason } });
    return this.toTask(spec, 'pending', { id: parsed.id, attempts });
  }

  /** The delay before retry n (1-based): min(cap, base·multiplier^(n-1)), jittered into [d·(1-j), d]. */
  backoffDelay(failedAttempt: number): number {
    const { baseMs, capMs, multiplier, jitter } = this.retry;
    const delay = Math.min(capMs, baseMs * Math.pow(multiplier, Math.max(0, failedAttempt - 1)));
    return Math.round(delay * (1 - jitter * this.random()));
  }

  private writeError(id: string, error: TaskError): string {
    const dir = path.join(this.dirPath('errors'), id);
    ensureDir(dir);
    const file = path.join(dir, `${String(error.at).padStart(14, '0')}-a${error.attempt}-${nonce()}.json`);
    writeFileAtomic.sync(file, JSON.stringify(error), { fsync: this.durable });
    return file;
  }

  private whyLeaseLost(id: string): string {
    const where = this.locate(id);
    if (!where) return 'the task no longer exists';
    if (where.dir === 'cancelled') return 'the task was cancelled';
    if (where.dir === 'running') return `the lease expired and ${where.parsed.agent} now holds the task`;
    return `the lease expired and the task is now ${STATUS_OF_DIR[where.dir]}`;
  }

  private parseToken(token: string): ParsedName {
    const parsed = parseName('running', token);
    if (!parsed) throw new BoardInputError(`"${token}" is not a lease token.`);
    return parsed;
  }

  private requireSpec(id: string, dir: StateDir, name: string): StoredTask {
    const cached = this.specCache.get(id);
    if (cached) return cached;
    const spec = this.readSpec(dir, name);
    if (!spec) throw new LeaseLostError(id, this.whyLeaseLost(id));
    return spec;
  }

  // ---------------------------------------------------------------- maintenance

  /** Promotion and reclaim, throttled, so that claimers keep the board moving without a daemon. */
  private maintain(): void {
    const now = this.now();
    if (now >= this.nextDelayedCheck) this.promoteDelayed();
    if (now - this.lastSweepAt >= this.sweepIntervalMs) this.sweep();
  }

  /** Moves delayed tasks whose time has come into pending/. Returns how many this process moved. */
  promoteDelayed(): number {
    const now = this.now();
    let promoted = 0;
    let nextDue = now + 1000; // other processes may add delayed tasks: look again within a second
    for (const name of readDirNames(this.dirPath('delayed')).sort()) {
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
      if (renameIfPresent(this.filePath('delayed', name), this.filePath('pending', target))) {
        promoted++;
        this.pendingCacheAt = -Infinity;
        this.events.append({ at: now, type: 'promoted', taskId: parsed.id });
      }
    }
    this.nextDelayedCheck = nextDue;
    return promoted;
  }

  /**
   * One pass over running/: a lease seen expired with the same mtime by an earlier pass is
   * reclaimed (the two-observation rule), so a clock jump or a paused process never causes a mass
   * reclaim from a single look. Returns the number of tasks this process reclaimed.
   */
  sweep(): number {
    const now = this.now();
    this.lastSweepAt = now;
    let reclaimed = 0;
    const seenNow = new Set<string>();
    for (const name of readDirNames(this.dirPath('running'))) {
      const expiry = this.leaseExpiry(name);
      if (expiry === undefined || expiry > now) continue;
      seenNow.add(name);
      if (this.expiredSeen.get(name) === expiry) {
        if (this.reclaim(name)) reclaimed++;
      } else {
        this.expiredSeen.set(name, expiry);
      }
    }
    for (const name of this.expiredSeen.keys()) if (!seenNow.has(name)) this.expiredSeen.delete(name);
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
    const stat = fs.lstatSync(this.filePath('running', runningFile), { throwIfNoEntry: false });
    return stat ? Math.round(stat.mtimeMs) : undefined;
  }

  private reclaim(runningFile: string): boolean {
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
    const errorFile = this.writeError(parsed.id, error);
    faultPoint('reclaim:after-error-write');
    const toDead = parsed.attempts >= spec.maxAttempts;
    const target = toDead
      ? this.filePath('dead', restingName(parsed.id, parsed.attempts))
      : this.filePath('pending', pendingName(queueKey(spec, parsed.attempts)));
    if (!renameIfPresent(this.filePath('running', runningFile), target)) {
      unlinkIfPresent(errorFile);
      return false;
    }
    this.expiredSeen.delete(runningFile);
    this.pendingCacheAt = -Infinity;
    this.events.append({ at: now, type: 'reclaimed', taskId: parsed.id, agent: parsed.agent, attempt: parsed.attempts, detail: { toDead } });
    if (toDead) {
      this.events.append({ at: now, type: 'dead', taskId: parsed.id, attempt: parsed.attempts, detail: { message: error.message } });
      if (spec.parentId) this.childEnded(spec.parentId, spec.id, 'dead');
    }
    return true;
  }

  /** Finishes map tasks whose children ended, re-creating markers a crash may have skipped. */
  repairParents(): number {
    let completed = 0;
    for (const name of readDirNames(this.dirPath('waiting'))) {
      const parsed = parseName('waiting', name);
      if (!parsed) continue;
      const ended = new Map<string, EndOutcome>();
      for (const dir of ['done', 'dead', 'cancelled'] as const) {
        for (const child of readDirNames(this.dirPath(dir))) {
          const childId = parseName(dir, child)?.id;
          if (childId?.startsWith(`${parsed.id}.`)) ended.set(childId, dir);
        }
      }
      for (const [childId, outcome] of ended) createMarker(path.join(this.dirPath('children'), parsed.id, `${childId}.${outcome}`));
      if (this.maybeCompleteParent(parsed.id)) completed++;
    }
    return completed;
  }

  /** Removes tmp files of dead writers; rolls forward map children whose parent was committed. */
  private repairTmp(): void {
    for (const name of readDirNames(this.dirPath('tmp'))) {
      const match = /^(\d+)\.[0-9a-f]+\.(task|map\.([a-z0-9]+))\.([a-z0-9.]+)\.json$/.exec(name);
      const pid = match ? Number(match[1]) : undefined;
      if (pid !== undefined && pid !== process.pid && isProcessAlive(pid)) continue;
      const file = path.join(this.dirPath('tmp'), name);
      const parentId = match?.[3];
      if (parentId && this.locate(parentId)) {
        const spec = this.readSpecFile(file);
        if (spec) this.commitNew(file, spec);
        else unlinkIfPresent(file);
        continue;
      }
      fs.rmSync(file, { force: true, recursive: true });
    }
  }

  // ---------------------------------------------------------------- map tasks

  private childEnded(parentId: string, childId: string, outcome: EndOutcome): void {
    faultPoint('child:before-marker');
    createMarker(path.join(this.dirPath('children'), parentId, `${childId}.${outcome}`));
    this.maybeCompleteParent(parentId);
  }

  private maybeCompleteParent(parentId: string): boolean {
    const progress = this.progress(parentId);
    if (progress.total === 0 || progress.done + progress.dead + progress.cancelled < progress.total) return false;
    const parentName = restingName(parentId, 0);
    const summary = { done: progress.done, dead: progress.dead, cancelled: progress.cancelled, total: progress.total };
    const resultNonce = nonce();
    writeFileAtomic.sync(path.join(this.dirPath('results'), `${parentId}~${resultNonce}.json`), JSON.stringify(summary), { fsync: this.durable });
    faultPoint('parent:before-promote');
    const promoted = renameIfPresent(this.filePath('waiting', parentName), this.filePath('done', doneName(parentId, 0, resultNonce)));
    if (!promoted) {
      unlinkIfPresent(path.join(this.dirPath('results'), `${parentId}~${resultNonce}.json`));
      return false;
    }
    this.syncStateDirs(['done']);
    this.events.append({ at: this.now(), type: 'parent-completed', taskId: parentId, detail: summary });
    return true;
  }

  /** Progress of a map task from one small directory listing (plus running/ for running children). */
  progress(parentId: string): Progress {
    this.assertId(parentId);
    const markers = readDirNames(path.join(this.dirPath('children'), parentId));
    const count = (suffix: string): number => markers.filter((marker) => marker.endsWith(suffix)).length;
    const added = markers.filter((marker) => marker.startsWith('+')).length;
    const total = (this.parentSpec(parentId)?.childCount ?? 0) + added;
    const done = count('.done');
    const dead = count('.dead');
    const cancelled = count('.cancelled');
    const running = readDirNames(this.dirPath('running')).filter((name) => name.startsWith(`${parentId}.`)).length;
    const ended = done + dead + cancelled;
    return {
      total,
      done,
      dead,
      cancelled,
      running,
      pending: Math.max(0, total - ended - running),
      percent: total === 0 ? 0 : Math.round((ended / total) * 1000) / 10,
    };
  }

  private parentSpec(parentId: string): StoredTask | undefined {
    const cached = this.specCache.get(parentId);
    if (cached) return cached;
    const where = this.locate(parentId);
    return where ? this.readSpec(where.dir, where.name) : undefined;
  }

  // ---------------------------------------------------------------- user operations

  /** Cancels a task that has not ended. A running holder loses its lease at its next heartbeat. */
  cancel(id: string): Task {
    const where = this.requireLocated(id);
    const spec = this.requireSpec(id, where.dir, where.name);
    if (where.dir === 'done' || where.dir === 'dead' || where.dir === 'cancelled') {
      throw new BoardInputError(`Task ${id} has already ended (${STATUS_OF_DIR[where.dir]}); there is nothing to cancel.`);
    }
    if (!renameIfPresent(this.filePath(where.dir, where.name), this.filePath('cancelled', restingName(id, where.parsed.attempts)))) {
      return this.cancel(id); // it moved meanwhile (claimed, promoted): try again where it is now
    }
    faultPoint('cancel:after-rename');
    if (where.dir === 'running') this.releaseFileLeases(spec.files, where.name);
    this.events.append({ at: this.now(), type: 'cancelled', taskId: id, agent: where.parsed.agent, detail: { from: STATUS_OF_DIR[where.dir] } });
    if (where.dir === 'waiting') this.cancelChildren(id);
    if (spec.parentId) this.childEnded(spec.parentId, id, 'cancelled');
    return this.toTask(spec, 'cancelled', where.parsed);
  }

  private cancelChildren(parentId: string): void {
    for (const dir of ['pending', 'delayed', 'running'] as const) {
      for (const name of readDirNames(this.dirPath(dir))) {
        const childId = parseName(dir, name)?.id;
        if (!childId?.startsWith(`${parentId}.`)) continue;
        try {
          this.cancel(childId);
        } catch (error) {
          if (!(error instanceof BoardInputError)) throw error; // it ended meanwhile
        }
      }
    }
  }

  /** Moves a dead task back to pending with a fresh attempt budget; its error history is kept. */
  requeue(id: string): Task {
    const where = this.requireLocated(id);
    if (where.dir !== 'dead') throw new BoardInputError(`Task ${id} is ${STATUS_OF_DIR[where.dir]}, not dead; only dead tasks can be requeued.`);
    const spec = this.requireSpec(id, where.dir, where.name);
    if (!renameIfPresent(this.filePath('dead', where.name), this.filePath('pending', pendingName(queueKey(spec, 0))))) {
      throw new BoardInputError(`Task ${id} was requeued by someone else.`);
    }
    this.syncStateDirs(['pending']);
    if (spec.parentId) {
      unlinkIfPresent(path.join(this.dirPath('children'), spec.parentId, `${id}.dead`));
    }
    this.pendingCacheAt = -Infinity;
    this.events.append({ at: this.now(), type: 'requeued', taskId: id });
    return this.toTask(spec, 'pending', { id, attempts: 0 });
  }

  requeueAll(): Task[] {
    return readDirNames(this.dirPath('dead'))
      .map((name) => parseName('dead', name)?.id)
      .filter((id): id is string => id !== undefined)
      .map((id) => this.requeue(id));
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

  /** One task with its result and last error, or undefined. */
  get(id: string): Task | undefined {
    this.assertId(id);
    const where = this.locate(id);
    if (!where) return undefined;
    const task = this.readTask(where.dir, where.name);
    if (!task) return undefined;
    if (where.dir === 'done') task.result = this.readResult(id, where.parsed.nonce);
    return task;
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

  stats(): BoardStats {
    const counts = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as Record<TaskStatus, number>;
    for (const dir of STATE_DIRS) counts[STATUS_OF_DIR[dir]] += readDirNames(this.dirPath(dir)).length;
    const quarantined = readDirNames(this.dirPath('quarantine')).filter((name) => !name.endsWith('.reason.txt')).length;
    const parents: Record<string, Progress> = {};
    for (const name of readDirNames(this.dirPath('waiting'))) {
      const id = parseName('waiting', name)?.id;
      if (id) parents[id] = this.progress(id);
    }
    return { counts, quarantined, parents };
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

  private locate(id: string): Located | undefined {
    for (const dir of STATE_DIRS) {
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
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
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

  /** Moves a bad file aside with a reason file, logs it once, and never throws for a vanished file. */
  private quarantine(dir: StateDir, name: string, reason: string): void {
    const target = `${dir}~${name}~${nonce()}`;
    if (!renameIfPresent(this.filePath(dir, name), path.join(this.dirPath('quarantine'), target))) return;
    fs.writeFileSync(path.join(this.dirPath('quarantine'), `${target}.reason.txt`), `${dir}/${name}: ${reason}\n`);
    this.events.append({ at: this.now(), type: 'quarantined', detail: { file: `${dir}/${name}`, reason } });
  }

  private toTask(spec: StoredTask, status: TaskStatus, parsed: Pick<ParsedName, 'attempts'> & Partial<ParsedName>, updatedAt?: number, leaseExpiresAt?: number): Task {
    return {
      id: spec.id,
      title: spec.title,
      type: spec.type,
      prompt: spec.prompt,
      files: spec.files,
      priority: spec.priority,
      payload: spec.payload,
      status,
      attempts: parsed.attempts,
      maxAttempts: spec.maxAttempts,
      ...(spec.notBefore !== undefined ? { notBefore: spec.notBefore } : {}),
      ...(spec.parentId !== undefined ? { parentId: spec.parentId } : {}),
      ...(status === 'running' && parsed.agent ? { claimedBy: parsed.agent } : {}),
      ...(leaseExpiresAt !== undefined ? { leaseExpiresAt } : {}),
      ...(spec.childCount !== undefined ? { childCount: spec.childCount } : {}),
      createdAt: spec.createdAt,
      updatedAt: Math.round(updatedAt ?? this.now()),
    };
  }

  private assertId(id: string): void {
    if (!isValidId(id)) throw new BoardInputError(`"${id}" is not a task id (ids look like t1a2b3c4d01ab).`);
  }

  private assertAgent(agent: string): void {
    if (!isValidAgentName(agent)) {
      throw new BoardInputError(`"${agent}" is not a valid agent name: use 1-64 letters, digits, "_", "." or "-".`);
    }
  }
}

function queueKey(spec: StoredTask, attempts: number): QueueKey {
  return { id: spec.id, priority: spec.priority, createdAt: spec.createdAt, attempts };
}

function readTextIfPresent(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}


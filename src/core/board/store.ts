// The shared core of the file board (see board.ts for the layout of the board folder).
import * as fs from 'fs';
import * as path from 'path';
import { type BoardEvent, BoardInputError, type Task, type TaskError, type TaskStatus } from './types';
import { type ParsedName, type QueueKey, type StateDir, isValidId, parseName } from './names';
import { type StoredTask, parseStoredTask, taskFieldsOf } from './schema';
import { EventLog } from './events';
import { AfterCommit } from './effects';
import { tmpFileName } from './batches';
import { ensureDir, fsyncDir, isNotFound, nonce, readDirNames, renameIfPresent, sleepSync, unlinkQuietly, writeFileAtomicSync, readTextIfPresent } from './durable';

/** How a task ended, as a child of a map task counts it. */
export type EndOutcome = 'done' | 'dead' | 'cancelled';

export const STATUS_OF_DIR: Record<StateDir, TaskStatus> = {
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
export const SCAN_ORDER: readonly StateDir[] = ['delayed', 'pending', 'running', 'waiting', 'done', 'dead', 'cancelled'];
/**
 * The order of the scans that follow a miss: the target of every backward move is listed again
 * after its source (running → pending/delayed, dead → pending, done/dead → waiting), so a single
 * backward move during the scan cannot hide the task; it would take two moves in that instant.
 */
const RESCAN_ORDER: readonly StateDir[] = ['delayed', 'pending', 'running', 'pending', 'delayed', 'waiting', 'done', 'dead', 'waiting', 'pending', 'cancelled'];
const LOCATE_PASSES = 6;
/** How often get() reads a task again that it found but that moved before it could be read. */
const READ_MOVING_TASK_ATTEMPTS = 24;

export interface Located {
  dir: StateDir;
  name: string;
  parsed: ParsedName;
}

/** A maintenance warning repeated within this time is reported once. */
const WARNING_REPEAT_MS = 60_000;

export interface StoreOptions {
  root: string;
  now: () => number;
  random: () => number;
  durable: boolean;
  onWarning: (warning: string) => void;
}

/**
 * What every part of the file board shares: the board's paths, its clock, the task bodies read so
 * far (a body never changes), reading and finding tasks, quarantine, events and the after-commit
 * effects. The parts (claim, file leases, map tasks, cancel, requeue, enqueue, maintenance) each
 * hold this store; none of them holds another's state.
 */
export class BoardStore {
  readonly root: string;
  readonly events: EventLog;
  readonly now: () => number;
  readonly random: () => number;
  readonly durable: boolean;
  readonly onWarning: (warning: string) => void;
  readonly specCache = new Map<string, StoredTask>();
  /** When each maintenance warning was last reported, so a lasting problem is not repeated every second. */
  private readonly warnedAt = new Map<string, number>();
  /** Bumped whenever this process put a task into pending/, so the claimer lists pending/ again. */
  private pendingGeneration = 0;

  constructor(options: StoreOptions) {
    this.root = path.resolve(options.root);
    this.now = options.now;
    this.random = options.random;
    this.durable = options.durable;
    this.onWarning = options.onWarning;
    this.events = new EventLog(path.join(this.root, 'events.jsonl'));
  }

  /** This process moved a task into pending/: a cached listing of it is out of date. */
  pendingChanged(): void {
    this.pendingGeneration++;
  }

  /** A number that changes whenever pendingChanged() was called. */
  get pendingVersion(): number {
    return this.pendingGeneration;
  }

  dirPath(dir: string): string {
    return path.join(this.root, dir);
  }

  filePath(dir: StateDir, name: string): string {
    return path.join(this.root, dir, name);
  }

  tmpPath(tag: string): string {
    return path.join(this.dirPath('tmp'), tmpFileName(tag));
  }

  markerPath(parentId: string, marker: string): string {
    return path.join(this.dirPath('children'), parentId, marker);
  }

  cancellingPath(parentId: string): string {
    return path.join(this.dirPath('cancelling'), parentId);
  }

  /** Side effects of one user-visible operation: every warning is reported and attached to the result. */
  afterCommit(): AfterCommit {
    return new AfterCommit(this.onWarning);
  }

  /** Side effects of maintenance: the same warning is reported at most once a minute. */
  maintenanceEffects(): AfterCommit {
    return new AfterCommit((warning) => this.warnOnce(warning, warning));
  }

  warnOnce(key: string, warning: string): void {
    const now = Date.now();
    const last = this.warnedAt.get(key);
    if (last !== undefined && now - last < WARNING_REPEAT_MS) return;
    this.warnedAt.set(key, now);
    this.onWarning(warning);
  }

  syncDirs(dirs: string[], effects: AfterCommit, subject: string): void {
    if (!this.durable) return;
    effects.attempt(`${subject}, but the change may not survive a power loss (fsync failed)`, () => {
      for (const dir of dirs) fsyncDir(this.dirPath(dir));
    });
  }

  logEvents(events: Omit<BoardEvent, 'pid'>[], effects: AfterCommit, subject: string): boolean {
    const failure = (): string => {
      const types = [...new Set(events.map((event) => `'${event.type}'`))].join(', ');
      return `${subject}, but its ${types} event${events.length === 1 ? ' was' : 's were'} not written to events.jsonl`;
    };
    return effects.attempt(failure, () => this.events.appendAll(events));
  }

  /** Where the next event will be written; 0 when the log is missing or not a file. */
  eventLogSize(): number {
    const stat = fs.statSync(this.events.file, { throwIfNoEntry: false });
    return stat?.isFile() ? stat.size : 0;
  }

  /**
   * The commit rename of a lease holder's operation. False when the running file is gone (the
   * lease is lost); then, and when the rename throws, the side file written for it is removed.
   */
  commitRename(from: string, to: string, sideFile?: string): boolean {
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

  writeSideFile(file: string, data: string): void {
    writeFileAtomicSync(file, data, { tmpDir: this.dirPath('tmp'), durable: this.durable });
  }

  writeError(id: string, error: TaskError): string {
    const dir = path.join(this.dirPath('errors'), id);
    ensureDir(dir);
    const file = path.join(dir, `${String(error.at).padStart(14, '0')}-a${error.attempt}-${nonce()}.json`);
    this.writeSideFile(file, JSON.stringify(error));
    return file;
  }

  /**
   * Finds a task's file. Scans in SCAN_ORDER; a task missed by one scan moved against that order
   * while it ran, so the scan is repeated in RESCAN_ORDER (with short, growing pauses that break
   * any lock-step with a process moving the task) before the task is declared absent.
   */
  locate(id: string): Located | undefined {
    for (let pass = 0; pass < LOCATE_PASSES; pass++) {
      const found = this.scanFor(id, pass === 0 ? SCAN_ORDER : RESCAN_ORDER);
      if (found) return found;
      if (pass >= 1 && pass + 1 < LOCATE_PASSES) sleepSync(1 << (pass - 1));
    }
    return undefined;
  }

  scanFor(id: string, order: readonly StateDir[]): Located | undefined {
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

  requireLocated(id: string): Located {
    this.assertId(id);
    const where = this.locate(id);
    if (!where) throw new BoardInputError(`No task with id ${id} on the board at ${this.root}.`);
    return where;
  }

  /** The body of a located task, or undefined when its file moved away meanwhile. */
  specAt(where: Located): StoredTask | undefined {
    return this.specCache.get(where.parsed.id) ?? this.readSpec(where.dir, where.name);
  }

  readTask(dir: StateDir, name: string): Task | undefined {
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

  lastError(id: string): TaskError | undefined {
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

  readResult(id: string, resultNonce: string | undefined): unknown {
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
  readSpec(dir: StateDir, name: string): StoredTask | undefined {
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

  readSpecFile(file: string): StoredTask | undefined {
    const text = readTextIfPresent(file);
    if (text === undefined) return undefined;
    const parsed = parseStoredTask(text);
    return 'task' in parsed ? parsed.task : undefined;
  }

  /**
   * Moves a bad file aside with a reason file and logs it once. Never throws: on a board that
   * cannot be written the file stays where it is (and is skipped), with a warning.
   */
  quarantine(dir: StateDir, name: string, reason: string): void {
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

  toTask(spec: StoredTask, status: TaskStatus, parsed: Pick<ParsedName, 'attempts'> & Partial<ParsedName>, updatedAt?: number, leaseExpiresAt?: number): Task {
    return {
      ...taskFieldsOf(spec, status, parsed.attempts),
      ...(status === 'running' && parsed.agent ? { claimedBy: parsed.agent } : {}),
      ...(leaseExpiresAt !== undefined ? { leaseExpiresAt } : {}),
      ...(spec.childCount !== undefined ? { childCount: spec.childCount } : {}),
      createdAt: spec.createdAt,
      updatedAt: Math.round(updatedAt ?? this.now()),
    };
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

  assertId(id: string): void {
    if (typeof id !== 'string' || !isValidId(id)) throw new BoardInputError(`${JSON.stringify(id)} is not a task id (ids look like t1a2b3c4d01ab).`);
  }
}

export function queueKey(spec: StoredTask, attempts: number): QueueKey {
  return { id: spec.id, priority: spec.priority, createdAt: spec.createdAt, attempts };
}

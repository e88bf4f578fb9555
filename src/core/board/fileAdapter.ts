// The file board behind the asynchronous Board interface. Temporary: it wraps today's synchronous
// FileBoard without changing its behaviour, and goes away when FileBoard itself becomes async.
import * as fs from 'fs';
import * as path from 'path';
import { FileBoard, type BoardOptions } from './board';
import { BoardInputError, TASK_STATUSES, type BoardEvent, type Claim, type Task } from './types';
import {
  ARTIFACT_NAME_PATTERN,
  DEFAULT_ARTIFACT_CAP_BYTES,
  EVENTS_START,
  formatBytes,
  type ArtifactInfo,
  type Board,
  type ClaimRequest,
  type ClaimToken,
  type EventBatch,
  type FailRequest,
  type FollowOptions,
  type Following,
  type ListQuery,
  type QueueStats,
  type TaskPage,
} from './interface';
import { isNotFound } from './durable';

export interface FileBoardAdapterOptions extends BoardOptions {
  artifactCapBytes?: number;
}

export class FileBoardAdapter implements Board {
  readonly file: FileBoard;
  private readonly artifactCapBytes: number;

  private constructor(file: FileBoard, artifactCapBytes: number) {
    this.file = file;
    this.artifactCapBytes = artifactCapBytes;
  }

  static open(options: FileBoardAdapterOptions): FileBoardAdapter {
    return new FileBoardAdapter(FileBoard.open(options), options.artifactCapBytes ?? DEFAULT_ARTIFACT_CAP_BYTES);
  }

  describe(): string {
    return this.file.root;
  }

  async post(spec: Parameters<Board['post']>[0]): Promise<Task> {
    return this.file.post(spec);
  }

  async postMany(specs: Parameters<Board['postMany']>[0]): Promise<Task[]> {
    return this.file.postMany(specs);
  }

  async map(parent: Parameters<Board['map']>[0], children: Parameters<Board['map']>[1]): Promise<{ parent: Task; children: Task[] }> {
    return this.file.map(parent, children);
  }

  async cancel(id: string): Promise<Task> {
    return this.file.cancel(id);
  }

  async requeue(id: string): Promise<Task> {
    return this.file.requeue(id);
  }

  async requeueAll(): Promise<Task[]> {
    return this.file.requeueAll();
  }

  async claim(request: ClaimRequest): Promise<Claim | undefined> {
    return this.file.claim(request);
  }

  async findClaim(id: string, agent: string): Promise<Claim | undefined> {
    return this.file.findClaim(id, agent);
  }

  async heartbeat(claim: ClaimToken, leaseMs?: number): Promise<number> {
    return this.file.heartbeat(claim, leaseMs);
  }

  async complete(claim: ClaimToken, result?: unknown): Promise<Task> {
    return this.file.complete(claim, result);
  }

  async fail(claim: ClaimToken, message: string, options?: FailRequest): Promise<Task> {
    return this.file.fail(claim, message, options);
  }

  async release(claim: ClaimToken, reason?: string): Promise<Task> {
    return this.file.release(claim, reason);
  }

  async get(id: string): Promise<Task | undefined> {
    return this.file.get(id);
  }

  async list(query: ListQuery = {}): Promise<TaskPage> {
    assertStatus(query.status);
    const all = this.file.list({ status: query.status });
    return pageOf(all, query);
  }

  async errors(id: string): ReturnType<Board['errors']> {
    return this.file.errors(id);
  }

  async progress(parentId: string): ReturnType<Board['progress']> {
    return this.file.progress(parentId);
  }

  async stats(): Promise<QueueStats> {
    const stats = this.file.stats();
    // A retry or a later notBefore waits in delayed/ (a documented folder) until it is promoted.
    const delayed = Math.min(stats.counts.pending, countTaskFiles(path.join(this.file.root, 'delayed')));
    return { ...stats, delayed };
  }

  async readEvents(cursor?: string, limit?: number): Promise<EventBatch> {
    const offset = parseOffset(cursor ?? EVENTS_START);
    const { events, nextOffset } = this.file.events.read(offset);
    // Byte offsets only exist between reads, so the limit is a hint here: a read returns what is there.
    void limit;
    return { events, cursor: String(nextOffset) };
  }

  follow(onEvents: (batch: EventBatch) => void, options: FollowOptions = {}): Following {
    let offset = options.cursor === undefined ? currentSize(this.file.events.file) : parseOffset(options.cursor);
    const drain = (): void => {
      try {
        const { events, nextOffset } = this.file.events.read(offset);
        offset = nextOffset;
        if (events.length > 0) onEvents({ events, cursor: String(nextOffset) });
      } catch (error) {
        options.onError?.(error as Error);
      }
    };
    const timer = setInterval(drain, options.pollMs ?? 500);
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(this.file.events.file, drain);
      watcher.on('error', () => watcher?.close());
    } catch {
      // No watcher (file missing, inotify limit): polling alone still delivers every event.
    }
    setImmediate(drain);
    return {
      dispose: async () => {
        clearInterval(timer);
        watcher?.close();
      },
    };
  }

  async putArtifact(taskId: string, name: string, data: Buffer | string): Promise<void> {
    assertArtifactName(name);
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    assertArtifactSize(taskId, name, bytes.length, this.artifactCapBytes);
    const dir = this.file.artifactsDir(taskId);
    fs.mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `.${name}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, path.join(dir, name));
  }

  async getArtifact(taskId: string, name: string): Promise<Buffer | undefined> {
    assertArtifactName(name);
    try {
      return fs.readFileSync(path.join(this.file.artifactsDir(taskId), name));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async listArtifacts(taskId: string): Promise<ArtifactInfo[]> {
    const dir = this.file.artifactsDir(taskId);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    return names
      .filter((name) => ARTIFACT_NAME_PATTERN.test(name))
      .flatMap((name) => {
        const stat = fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false });
        return stat?.isFile() ? [{ name, bytes: stat.size }] : [];
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async reclaimExpired(): Promise<number> {
    return this.file.reclaimExpired();
  }

  async close(): Promise<void> {
    this.file.close();
  }
}

/** Pages a list sorted oldest first; the cursor is the last task's `<createdAt>:<id>`. */
export function pageOf(all: Task[], query: ListQuery): TaskPage {
  const limit = clampLimit(query.limit);
  let start = 0;
  if (query.cursor !== undefined) {
    const after = parseListCursor(query.cursor);
    start = all.findIndex((task) => task.createdAt > after.createdAt || (task.createdAt === after.createdAt && task.id > after.id));
    if (start < 0) start = all.length;
  } else if (query.offset !== undefined) {
    start = Math.max(0, Math.trunc(query.offset));
  }
  const tasks = all.slice(start, start + limit);
  const last = tasks[tasks.length - 1];
  const more = start + limit < all.length;
  return { tasks, total: all.length, ...(more && last ? { nextCursor: listCursor(last) } : {}) };
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 1) throw new BoardInputError(`List limit ${String(limit)} is not a positive whole number.`);
  return Math.min(limit, 1000);
}

export function listCursor(task: Pick<Task, 'createdAt' | 'id'>): string {
  return `${task.createdAt}:${task.id}`;
}

export function parseListCursor(cursor: string): { createdAt: number; id: string } {
  const match = /^(\d{1,15}):([a-z0-9.]{3,81})$/.exec(cursor);
  if (!match) throw new BoardInputError(`"${cursor}" is not a list cursor; pass back the nextCursor of a previous page.`);
  return { createdAt: Number(match[1]), id: match[2] };
}

function parseOffset(cursor: string): number {
  if (cursor === EVENTS_START) return 0;
  if (!/^\d{1,15}$/.test(cursor)) throw new BoardInputError(`"${cursor}" is not an event cursor of a file board; pass back a cursor the board returned.`);
  return Number(cursor);
}

function countTaskFiles(dir: string): number {
  try {
    return fs.readdirSync(dir).filter((name) => name.endsWith('.json')).length;
  } catch {
    return 0;
  }
}

/** A status filter both boards accept: one of TASK_STATUSES, or none. */
export function assertStatus(status: unknown): void {
  if (status !== undefined && !TASK_STATUSES.includes(status as Task['status'])) {
    throw new BoardInputError(`"${String(status)}" is not a task status (${TASK_STATUSES.join(', ')}).`);
  }
}

function currentSize(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

export function assertArtifactName(name: string): void {
  if (!ARTIFACT_NAME_PATTERN.test(name)) {
    throw new BoardInputError(`"${name}" is not an artifact name: use 1-100 letters, digits, "_", "." or "-", not starting with "." or "-".`);
  }
}

export function assertArtifactSize(taskId: string, name: string, bytes: number, cap: number): void {
  if (bytes > cap) {
    throw new BoardInputError(
      `Artifact ${name} of task ${taskId} is ${formatBytes(bytes)}, over the board's limit of ${formatBytes(cap)}; nothing was stored. Store less (a shorter log) or raise the limit.`,
    );
  }
}

export type { BoardEvent };

// The file board's operations as the Board interface defines them, run synchronously by the one
// engine (board.ts) on whichever thread holds it: this thread (the CLI, agents) or a worker thread
// (hosts that must never block, such as the VS Code extension host). Both drivers of FileBoard
// call exactly these methods, so there is one engine with one set of semantics.
import * as fs from 'fs';
import { FileBoardEngine, type BoardOptions } from './board';
import { FileArtifacts } from './artifacts';
import { FileHosts } from './hosts';
import { DEFAULT_ARTIFACT_CAP_BYTES, EVENTS_START, type ArtifactInfo, type ClaimRequest, type ClaimToken, type EventBatch, type FailRequest, type HostEntry, type ListQuery, type QueueStats, type TaskPage } from './interface';
import { BoardInputError, type Claim, type Progress, type Task, type TaskError, type TaskSpec } from './types';
import { DEFAULT_EVENT_PAGE } from './events';

export interface FileBoardSettings extends BoardOptions {
  /** Largest artifact stored (default 8 MB). */
  artifactCapBytes?: number;
}

/** What `swarm reclaim` reports: the maintenance a one-shot caller runs. */
export interface MaintenanceReport {
  reclaimed: number;
  promoted: number;
  parentsCompleted: number;
}

export class FileBoardCalls {
  readonly artifacts: FileArtifacts;
  readonly hosts: FileHosts;

  constructor(
    readonly engine: FileBoardEngine,
    settings: Pick<FileBoardSettings, 'artifactCapBytes' | 'durable'> = {},
  ) {
    this.artifacts = new FileArtifacts({ root: engine.root, capBytes: settings.artifactCapBytes ?? DEFAULT_ARTIFACT_CAP_BYTES, durable: settings.durable ?? true });
    this.hosts = new FileHosts(engine.root);
  }

  static open(settings: FileBoardSettings): FileBoardCalls {
    return new FileBoardCalls(FileBoardEngine.open(settings), settings);
  }

  post(spec: TaskSpec): Task {
    return this.engine.post(spec);
  }

  postMany(specs: TaskSpec[]): Task[] {
    if (!Array.isArray(specs)) throw new BoardInputError('postMany needs a list of task specs.');
    return this.engine.postMany(specs);
  }

  map(parent: TaskSpec, children: TaskSpec[]): { parent: Task; children: Task[] } {
    if (!Array.isArray(children)) throw new BoardInputError('A map task needs a list of children.');
    return this.engine.map(parent, children);
  }

  cancel(id: string): Task {
    return this.engine.cancel(id);
  }

  requeue(id: string): Task {
    return this.engine.requeue(id);
  }

  requeueAll(): Task[] {
    return this.engine.requeueAll();
  }

  claim(request: ClaimRequest): Claim | undefined {
    return this.engine.claim(request);
  }

  findClaim(id: string, agent: string): Claim | undefined {
    return this.engine.findClaim(id, agent);
  }

  heartbeat(claim: ClaimToken, leaseMs?: number): number {
    return this.engine.heartbeat(claim, leaseMs);
  }

  complete(claim: ClaimToken, result?: unknown): Task {
    return this.engine.complete(claim, result);
  }

  fail(claim: ClaimToken, message: string, options?: FailRequest): Task {
    return this.engine.fail(claim, message, options);
  }

  release(claim: ClaimToken, reason?: string): Task {
    return this.engine.release(claim, reason);
  }

  noteBatch(claims: ClaimToken[]): void {
    this.engine.noteBatch(claims);
  }

  get(id: string): Task | undefined {
    return this.engine.get(id);
  }

  list(query: ListQuery = {}): TaskPage {
    return this.engine.listPage(query);
  }

  errors(id: string): TaskError[] {
    return this.engine.errors(id);
  }

  progress(parentId: string): Progress {
    return this.engine.progress(parentId);
  }

  stats(): QueueStats {
    const stats = this.engine.stats();
    return { ...stats, delayed: stats.delayed ?? 0 };
  }

  /** The file board's event cursor is a byte offset into events.jsonl. */
  readEvents(cursor: string = EVENTS_START, limit: number = DEFAULT_EVENT_PAGE): EventBatch {
    if (!Number.isInteger(limit) || limit < 1) throw new BoardInputError(`Event limit ${String(limit)} is not a positive whole number.`);
    const { events, nextOffset } = this.engine.readEvents(parseEventCursor(cursor), limit);
    return { events, cursor: String(nextOffset) };
  }

  /** The cursor of the end of the event log now: following from it gives only events written later. */
  eventsEnd(): string {
    const stat = fs.statSync(this.engine.events.file, { throwIfNoEntry: false });
    return String(stat?.isFile() ? stat.size : 0);
  }

  putArtifact(taskId: string, name: string, data: Buffer | Uint8Array | string): void {
    this.artifacts.put(taskId, name, data);
  }

  getArtifact(taskId: string, name: string): Buffer | undefined {
    return this.artifacts.get(taskId, name);
  }

  listArtifacts(taskId: string): ArtifactInfo[] {
    return this.artifacts.list(taskId);
  }

  deleteArtifact(taskId: string, name: string): boolean {
    return this.artifacts.remove(taskId, name);
  }

  putHost(id: string, status: object, ttlMs: number): void {
    this.hosts.put(id, status, ttlMs);
  }

  removeHost(id: string): void {
    this.hosts.remove(id);
  }

  listHosts(): HostEntry[] {
    return this.hosts.list();
  }

  reclaimExpired(): number {
    return this.engine.reclaimExpired();
  }

  /** Reclaims expired leases, finishes interrupted maps and posts, promotes due tasks. */
  maintain(): MaintenanceReport {
    const reclaimed = this.engine.reclaimExpired();
    const parentsCompleted = this.engine.repairParents();
    const promoted = this.engine.promoteDelayed();
    return { reclaimed, promoted, parentsCompleted };
  }

  assertWritable(): void {
    this.engine.assertWritable();
  }

  close(): void {
    this.engine.close();
  }
}

/** The operations a driver may call by name. */
export type FileCallName = Exclude<{ [K in keyof FileBoardCalls]: FileBoardCalls[K] extends (...args: never[]) => unknown ? K : never }[keyof FileBoardCalls], undefined>;

export function parseEventCursor(cursor: string): number {
  if (cursor === EVENTS_START) return 0;
  if (typeof cursor !== 'string' || !/^\d{1,15}$/.test(cursor)) {
    throw new BoardInputError(`${JSON.stringify(cursor)} is not an event cursor of a file board; pass back a cursor the board returned.`);
  }
  return Number(cursor);
}

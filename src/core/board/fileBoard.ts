// The file board behind the asynchronous Board interface. One synchronous engine (board.ts,
// FileBoardEngine) keeps every rule and crash guarantee; this class hands its calls to one of two
// drivers:
//
//   inline  the engine in this thread (the CLI, agents, the MCP server: short-lived or with nothing
//           else to do, where a worker's start-up would be pure cost);
//   worker  the engine in a worker thread (the VS Code extension host, where no board I/O may
//           block the event loop: a board of 10,000 tasks must not freeze the editor).
//
// Why a worker and not fs.promises: the engine's guarantees (one rename per state change, side
// files before the commit, fencing tokens, kill -9 and disk-full behaviour at every step, the
// locate rescans) are proven by suites that run it step by step. Rewriting it as a second,
// asynchronous engine would double that surface and interleave operations of one process in ways
// the engine was never built for. A worker runs the very same engine, one call at a time in the
// order the calls were made, and the owning thread only waits for messages.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { FileBoardEngine } from './board';
import { asBuffer } from './artifacts';
import { FileBoardCalls, type FileBoardSettings, type FileCallName, type MaintenanceReport } from './fileCalls';
import {
  type ArtifactInfo,
  type Board,
  type ClaimRequest,
  type ClaimToken,
  type EventBatch,
  type FailRequest,
  type FollowOptions,
  type Following,
  type HostEntry,
  type ListQuery,
  type QueueStats,
  type TaskPage,
} from './interface';
import { isValidId } from './names';
import { BoardInputError, type Claim, type Progress, type Task, type TaskError, type TaskSpec } from './types';
import { fromWire, type WireError } from './wire';

export type FileBoardThread = 'inline' | 'worker';

export interface FileBoardOptions extends FileBoardSettings {
  /**
   * Where the engine runs: `inline` (default) in this thread, `worker` in a worker thread so that
   * no board I/O ever blocks this thread. In a worker the injectable clock and randomness
   * (`now`, `random`) cannot be used: functions do not cross threads.
   */
  thread?: FileBoardThread;
}

/** A request to the worker: one call of FileBoardCalls. */
export interface WorkerRequest {
  id: number;
  name: FileCallName;
  args: unknown[];
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'open-failed'; error: WireError }
  | { type: 'warning'; text: string }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError };

type CallArgs<N extends FileCallName> = Parameters<FileBoardCalls[N]>;
type CallResult<N extends FileCallName> = ReturnType<FileBoardCalls[N]>;

interface Driver {
  readonly thread: FileBoardThread;
  call<N extends FileCallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>>;
  close(): Promise<void>;
}

/** Events read per round while following. */
const FOLLOW_PAGE = 1000;

export class FileBoard implements Board {
  readonly root: string;
  private readonly driver: Driver;
  private closed = false;

  private constructor(root: string, driver: Driver) {
    this.root = path.resolve(root);
    this.driver = driver;
  }

  /** Opens (creating on first use) the board in `options.root` and repairs what a crash left. */
  static async open(options: FileBoardOptions): Promise<FileBoard> {
    if (options.thread === 'worker') {
      const root = path.resolve(options.root);
      return new FileBoard(root, await WorkerDriver.start({ ...options, root }));
    }
    return FileBoard.openInline(options);
  }

  /** The same with the engine in this thread, opened synchronously (for callers that may block). */
  static openInline(options: FileBoardSettings): FileBoard {
    const root = path.resolve(options.root);
    return new FileBoard(root, new InlineDriver(FileBoardCalls.open({ ...options, root }), true));
  }

  /**
   * The async interface over an engine this thread already has open (the pool's, until it moves to
   * this interface): same caches, same process. Closing the result leaves the engine open.
   */
  static over(engine: FileBoardEngine, settings: Pick<FileBoardSettings, 'artifactCapBytes' | 'durable'> = {}): FileBoard {
    return new FileBoard(engine.root, new InlineDriver(new FileBoardCalls(engine, settings), false));
  }

  /** Where the engine runs. */
  get thread(): FileBoardThread {
    return this.driver.thread;
  }

  describe(): string {
    return this.root;
  }

  /** The folder of a task's artifacts and apply records (a path only: nothing is read or created). */
  artifactsDir(taskId: string): string {
    if (typeof taskId !== 'string' || !isValidId(taskId)) throw new BoardInputError(`${JSON.stringify(taskId)} is not a task id (ids look like t1a2b3c4d01ab).`);
    return path.join(this.root, 'artifacts', taskId);
  }

  post(spec: TaskSpec): Promise<Task> {
    return this.call('post', [spec]);
  }

  postMany(specs: TaskSpec[]): Promise<Task[]> {
    return this.call('postMany', [specs]);
  }

  map(parent: TaskSpec, children: TaskSpec[]): Promise<{ parent: Task; children: Task[] }> {
    return this.call('map', [parent, children]);
  }

  cancel(id: string): Promise<Task> {
    return this.call('cancel', [id]);
  }

  requeue(id: string): Promise<Task> {
    return this.call('requeue', [id]);
  }

  requeueAll(): Promise<Task[]> {
    return this.call('requeueAll', []);
  }

  claim(request: ClaimRequest): Promise<Claim | undefined> {
    return this.call('claim', [request]);
  }

  findClaim(id: string, agent: string): Promise<Claim | undefined> {
    return this.call('findClaim', [id, agent]);
  }

  heartbeat(claim: ClaimToken, leaseMs?: number): Promise<number> {
    return this.call('heartbeat', [{ token: claim.token }, leaseMs]);
  }

  complete(claim: ClaimToken, result?: unknown): Promise<Task> {
    return this.call('complete', [{ token: claim.token }, result]);
  }

  fail(claim: ClaimToken, message: string, options?: FailRequest): Promise<Task> {
    return this.call('fail', [{ token: claim.token }, message, options]);
  }

  release(claim: ClaimToken, reason?: string): Promise<Task> {
    return this.call('release', [{ token: claim.token }, reason]);
  }

  noteBatch(claims: ClaimToken[]): Promise<void> {
    return this.call('noteBatch', [claims.map((claim) => ({ token: claim.token }))]);
  }

  get(id: string): Promise<Task | undefined> {
    return this.call('get', [id]);
  }

  list(query: ListQuery = {}): Promise<TaskPage> {
    return this.call('list', [query]);
  }

  errors(id: string): Promise<TaskError[]> {
    return this.call('errors', [id]);
  }

  progress(parentId: string): Promise<Progress> {
    return this.call('progress', [parentId]);
  }

  stats(): Promise<QueueStats> {
    return this.call('stats', []);
  }

  readEvents(cursor?: string, limit?: number): Promise<EventBatch> {
    return this.call('readEvents', [cursor, limit]);
  }

  /**
   * Delivers events as they are appended: a watch on the board folder (events.jsonl lives there)
   * wakes the reader, and a poll catches what a watch misses. Reads go through the driver, so in
   * worker mode this thread never touches the log itself.
   */
  follow(onEvents: (batch: EventBatch) => void, options: FollowOptions = {}): Following {
    // Taken now, in call order: events of calls made after follow() come after this cursor.
    const start = options.cursor === undefined ? this.call('eventsEnd', []) : Promise.resolve(options.cursor);
    let cursor: string | undefined;
    let stopped = false;
    let running: Promise<void> | undefined;
    let again = false;
    let timer: NodeJS.Timeout | undefined;
    let watcher: fs.FSWatcher | undefined;
    const drain = async (): Promise<void> => {
      for (;;) {
        const batch = await this.readEvents(cursor, FOLLOW_PAGE);
        if (stopped) return;
        cursor = batch.cursor;
        if (batch.events.length === 0) return;
        onEvents(batch);
      }
    };
    const wake = (): void => {
      if (stopped || cursor === undefined || options.deferWhile?.()) return;
      if (running) {
        again = true;
        return;
      }
      running = (async () => {
        do {
          again = false;
          try {
            await drain();
          } catch (error) {
            options.onError?.(error as Error);
          }
        } while (again && !stopped);
        running = undefined;
      })();
    };
    start.then(
      (from) => {
        if (stopped) return;
        cursor = from;
        timer = setInterval(wake, options.pollMs ?? 500);
        watcher = watchEventLog(this.root, wake);
        wake();
      },
      (error: unknown) => options.onError?.(error as Error),
    );
    return {
      dispose: async () => {
        stopped = true;
        if (timer) clearInterval(timer);
        watcher?.close();
        await running;
      },
    };
  }

  putArtifact(taskId: string, name: string, data: Buffer | string): Promise<void> {
    return this.call('putArtifact', [taskId, name, data]);
  }

  async getArtifact(taskId: string, name: string): Promise<Buffer | undefined> {
    const data = await this.call('getArtifact', [taskId, name]);
    return data === undefined ? undefined : asBuffer(data);
  }

  listArtifacts(taskId: string): Promise<ArtifactInfo[]> {
    return this.call('listArtifacts', [taskId]);
  }

  deleteArtifact(taskId: string, name: string): Promise<boolean> {
    return this.call('deleteArtifact', [taskId, name]);
  }

  putHost(id: string, status: object, ttlMs: number): Promise<void> {
    return this.call('putHost', [id, status, ttlMs]);
  }

  removeHost(id: string): Promise<void> {
    return this.call('removeHost', [id]);
  }

  listHosts(): Promise<HostEntry[]> {
    return this.call('listHosts', []);
  }

  reclaimExpired(): Promise<number> {
    return this.call('reclaimExpired', []);
  }

  /** Everything a one-shot caller can do for the board: reclaim, finish interrupted work, promote. */
  maintain(): Promise<MaintenanceReport> {
    return this.call('maintain', []);
  }

  /** Throws the file-system error that keeps this process from changing the board, if any. */
  assertWritable(): Promise<void> {
    return this.call('assertWritable', []);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.driver.close();
  }

  private call<N extends FileCallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
    if (this.closed) return Promise.reject(new Error(`The board at ${this.root} was closed.`));
    return this.driver.call(name, args);
  }
}

/** Runs each call at once, in this thread: the order of calls is the order of their effects. */
class InlineDriver implements Driver {
  readonly thread = 'inline';

  constructor(
    private readonly calls: FileBoardCalls,
    private readonly ownsEngine: boolean,
  ) {}

  call<N extends FileCallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
    try {
      const method = this.calls[name] as (...args: unknown[]) => CallResult<N>;
      return Promise.resolve(method.apply(this.calls, args));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async close(): Promise<void> {
    if (this.ownsEngine) this.calls.close();
  }
}

/** Sends each call to the worker thread that holds the engine; the worker runs them in order. */
class WorkerDriver implements Driver {
  readonly thread = 'worker';
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly root: string,
  ) {
    worker.on('message', (reply: WorkerReply) => this.settle(reply));
    worker.on('error', (error) => this.stop(new Error(`The file board's worker thread for ${root} failed: ${error.message}`)));
    worker.on('exit', (code) => this.stop(new Error(`The file board's worker thread for ${root} stopped (exit code ${code}); open the board again.`)));
    worker.unref();
  }

  static start(options: FileBoardOptions): Promise<WorkerDriver> {
    const { onWarning, now, random, thread: _thread, ...settings } = options;
    if (now || random) return Promise.reject(new BoardInputError('A file board in a worker thread cannot use an injected clock or randomness (functions do not cross threads); open it inline.'));
    const worker = startWorker(settings);
    return new Promise((resolve, reject) => {
      const onFirst = (reply: WorkerReply): void => {
        if (reply.type === 'warning') return onWarning?.(reply.text); // repairs made while opening
        worker.off('message', onFirst);
        worker.off('error', onEarlyError);
        if (reply.type === 'ready') {
          const driver = new WorkerDriver(worker, settings.root);
          worker.on('message', (message: WorkerReply) => {
            if (message.type === 'warning') onWarning?.(message.text);
          });
          resolve(driver);
        } else {
          void worker.terminate();
          reject(reply.type === 'open-failed' ? fromWire(reply.error) : new Error(`The file board's worker thread sent ${reply.type} before it was ready.`));
        }
      };
      const onEarlyError = (error: Error): void => {
        worker.off('message', onFirst);
        void worker.terminate();
        reject(new Error(`The file board's worker thread for ${settings.root} could not start: ${error.message}`));
      };
      worker.on('message', onFirst);
      worker.once('error', onEarlyError);
    });
  }

  call<N extends FileCallName>(name: N, args: CallArgs<N>): Promise<CallResult<N>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<CallResult<N>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      // The worker keeps the process alive only while a call waits for its answer.
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, name, args } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    if (!this.failure) {
      try {
        await this.call('close', []);
      } finally {
        this.failure = new Error(`The board at ${this.root} was closed.`);
        await this.worker.terminate();
      }
    }
  }

  private settle(reply: WorkerReply): void {
    if (reply.type !== 'result' && reply.type !== 'error') return;
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.type === 'result') waiting.resolve(reply.value);
    else waiting.reject(fromWire(reply.error));
  }

  private stop(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(this.failure);
    this.pending.clear();
  }
}

/**
 * The worker's code: dist/boardWorker.js beside the bundle that runs this (extension.js, cli.js);
 * from the sources (tests, benches under tsx) the TypeScript file, loaded through tsx.
 */
function startWorker(settings: FileBoardSettings): Worker {
  const options = { workerData: settings, stdout: false, stderr: false };
  if (!__filename.endsWith('.ts')) return new Worker(path.join(__dirname, 'boardWorker.js'), options);
  const source = path.join(__dirname, 'fileWorker.ts');
  // A name in a variable: bundlers leave it alone (this branch never runs from a bundle).
  const typescriptLoader = 'tsx/cjs';
  const bootstrap = `require(${JSON.stringify(require.resolve(typescriptLoader))}); require(${JSON.stringify(source)});`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** Calls `onChange` when events.jsonl may have grown; undefined where watching is unavailable (the poll still runs). */
function watchEventLog(root: string, onChange: () => void): fs.FSWatcher | undefined {
  try {
    // The folder, not the file: the log may not exist yet, and a watch on the folder sees it appear.
    const watcher = fs.watch(root, (_event, name) => {
      if (name === null || name === 'events.jsonl') onChange();
    });
    watcher.on('error', () => watcher.close());
    return watcher;
  } catch {
    return undefined;
  }
}

// The Redis board: the file board's rules on a Redis server that several machines share, built on
// BullMQ 6 manual processing. BullMQ keeps the queue: claim order (priority, then age), delays, and
// the lock that is a claim's lease; a job's lock token is the claim's fencing token. Our scripts
// (scripts.ts) keep the task record, which is the state of record, and everything BullMQ lacks.
//
// Order of every change: our script commits (fenced by the lock), then BullMQ moves the job. When a
// process dies in between, the lock lapses and the next sweep (run by claimers, throttled across the
// board) applies the recorded state to BullMQ. See docs/redis-board.md.
import { Redis, type RedisOptions } from 'ioredis';
import { Job, Queue, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import { BoardFormatError, newTaskId } from '../board';
import { isValidAgentName, isValidId } from '../names';
import { buildStoredTask, type StoredTask } from '../schema';
import {
  BoardInputError,
  DEFAULT_LEASE_MS,
  DEFAULT_RETRY,
  TASK_STATUSES,
  type BoardEvent,
  type BoardStats,
  type Claim,
  type Progress,
  type RetryPolicy,
  type Task,
  type TaskError,
  type TaskSpec,
  type TaskStatus,
} from '../types';
import {
  BoardUnavailableError,
  DEFAULT_ARTIFACT_CAP_BYTES,
  EVENTS_START,
  leaseLost,
  type ArtifactInfo,
  type Board,
  type ClaimRequest,
  type ClaimToken,
  type EventBatch,
  type FailRequest,
  type FollowOptions,
  type Following,
  type LeaseLostCause,
  type ListQuery,
  type TaskPage,
} from '../interface';
import { clampLimit, listCursor, parseListCursor } from '../paging';
import { assertArtifactName, assertArtifactSize } from '../artifacts';
import { nonce } from '../durable';
import { SCRIPTS } from './scripts';
import { classifyRedisError, describeRedis, type RedisLocation } from './connection';

export const REDIS_BOARD_FORMAT = 'agent-swarm-board';
/** Bump when the key layout changes in a way older versions would misread. */
export const REDIS_BOARD_FORMAT_VERSION = 1;
const QUEUE_NAME = 'q';
const PRIORITY_BASE = 10_000;
/** How long a sweeper or canceller holds a job it took over while it applies the recorded state. */
const TAKEOVER_LOCK_MS = 10_000;
const POST_REPAIR_AGE_MS = 10_000;

/**
 * Crash tests: SWARM_FAULT names steps (comma-separated) at which the process kills itself with
 * SIGKILL, between our commit and BullMQ's move, to prove that a sweep rolls the change forward.
 */
export type RedisFaultStep = 'redis:post:after-record' | 'redis:claim:after-bullmq' | 'redis:finish:after-commit' | 'redis:cancel:after-commit';
const armedFaults = new Set((process.env.SWARM_FAULT ?? '').split(',').map((step) => step.trim()).filter(Boolean));
function faultArmed(step: RedisFaultStep): boolean {
  return armedFaults.has(step);
}
function faultPoint(step: RedisFaultStep): void {
  if (faultArmed(step)) process.kill(process.pid, 'SIGKILL');
}
/** A completion waiting on an unreachable server gives up (and may still land: it is fenced and repeatable). */
const FINISH_TIMEOUT_MS = 30_000;

export interface RedisBoardOptions extends RedisLocation {
  retry?: Partial<RetryPolicy>;
  random?: () => number;
  /** Minimum time between sweeps for expired leases, board-wide. Default 1 s. */
  sweepIntervalMs?: number;
  /**
   * A task that waits for a file held by another is woken when the holder ends; as a safety net it
   * is also tried again after about this long (jittered ±50 %). Default 5 s.
   */
  conflictDelayMs?: number;
  artifactCapBytes?: number;
  /** A post recorded but not handed to BullMQ this long ago is handed over by a sweep. Default 10 s. */
  postRepairAgeMs?: number;
  /** Events kept in the board's stream (approximately). Default 200,000. */
  eventRetention?: number;
  connectTimeoutMs?: number;
}

type Record = { [field: string]: string };

/** A connection with our scripts defined on it (ioredis custom commands). */
type ScriptClient = { [command: string]: (...args: (string | number)[]) => Promise<unknown> };

function defineScripts(client: { defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void }): void {
  for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(`swarm${name}`, { numberOfKeys: 1, lua });
}

interface HeldClaim {
  job?: Job;
  task: Task;
  leaseExpiresAt: number;
}

export class RedisBoard implements Board {
  private readonly base: string;
  private readonly metaKey: string;
  private readonly retry: RetryPolicy;
  private readonly random: () => number;
  private readonly sweepIntervalMs: number;
  private readonly conflictDelayMs: number;
  private readonly postRepairAgeMs: number;
  private readonly artifactCapBytes: number;
  private readonly held = new Map<string, HeldClaim>();
  private readonly followers = new Set<Redis>();
  private lastSweepAt = -Infinity;
  private closed = false;
  private workClientPromise?: Promise<ScriptClient>;

  private constructor(
    private readonly location: RedisLocation,
    private readonly client: Redis,
    private readonly queue: Queue,
    private readonly worker: Worker,
    options: RedisBoardOptions,
  ) {
    this.base = keyBase(location.board);
    this.metaKey = `${this.base}:meta`;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.random = options.random ?? Math.random;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1_000;
    this.conflictDelayMs = options.conflictDelayMs ?? 5_000;
    this.postRepairAgeMs = options.postRepairAgeMs ?? POST_REPAIR_AGE_MS;
    this.artifactCapBytes = options.artifactCapBytes ?? DEFAULT_ARTIFACT_CAP_BYTES;
  }

  /**
   * Connects, checks the server (reachable, password, noeviction) and the board's format marker,
   * and creates the board on first use. Every refusal happens before anything is written.
   */
  static async open(options: RedisBoardOptions): Promise<RedisBoard> {
    const where = describeRedis(options);
    // A server that stops answering (paused, partitioned) fails our calls instead of hanging them.
    const client = new Redis({ ...connectionOptions(options), lazyConnect: true, maxRetriesPerRequest: 2, commandTimeout: 15_000 });
    // Later failures reach callers through the command that hit them; while connecting, the
    // driver reports the cause (refused, wrong password) only as an event.
    let connectError: unknown;
    client.on('error', (error) => (connectError ??= error));
    try {
      await client.connect();
      await client.ping();
      await assertNoEviction(client, where);
      await ensureFormat(client, `${keyBase(options.board)}:meta`, where, options.eventRetention ?? 200_000);
    } catch (error) {
      client.disconnect();
      const cause = /Connection is closed/.test((error as Error)?.message ?? '') && connectError ? connectError : error;
      throw classifyRedisError(cause, where);
    }
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    const connection = { ...connectionOptions(options), maxRetriesPerRequest: null } as ConnectionOptions;
    const queue = new Queue(QUEUE_NAME, { connection, prefix: keyBase(options.board) });
    const worker = new Worker(QUEUE_NAME, null, { connection, prefix: keyBase(options.board), autorun: false, lockDuration: DEFAULT_LEASE_MS });
    queue.on('error', () => undefined);
    worker.on('error', () => undefined);
    defineScripts(client);
    return new RedisBoard(options, client, queue, worker, options);
  }

  describe(): string {
    return describeRedis(this.location);
  }

  // ---------------------------------------------------------------- scripts

  private run<T>(script: keyof typeof SCRIPTS, ...args: (string | number)[]): Promise<T> {
    return this.runOn<T>(this.client as unknown as ScriptClient, script, ...args);
  }

  private async runOn<T>(client: ScriptClient, script: keyof typeof SCRIPTS, ...args: (string | number)[]): Promise<T> {
    try {
      return (await client[`swarm${script}`](this.metaKey, this.base, ...args)) as T;
    } catch (error) {
      throw classifyRedisError(error, this.describe());
    }
  }

  /**
   * BullMQ's worker connection, with our scripts: calls that must reach the server right before or
   * after a BullMQ call on the same job go here, so one round trip (and one AOF fsync) carries both.
   */
  private workClient(): Promise<ScriptClient> {
    this.workClientPromise ??= (async () => {
      const client = (await this.worker.getBackend().client) as unknown as ScriptClient & { defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void };
      defineScripts(client);
      return client;
    })();
    return this.workClientPromise;
  }

  // ---------------------------------------------------------------- enqueue

  async post(spec: TaskSpec): Promise<Task> {
    return (await this.postMany([spec]))[0];
  }

  async postMany(specs: TaskSpec[]): Promise<Task[]> {
    const now = Date.now();
    const stored = specs.map((spec) => buildStoredTask(spec, newTaskId(now), now));
    await this.record(now, stored.map((task) => ({ task })));
    faultPoint('redis:post:after-record');
    await this.enqueue(stored, now);
    return stored.map((task) => this.taskOf(task, 'pending', 0, now));
  }

  async map(parentSpec: TaskSpec, childSpecs: TaskSpec[]): Promise<{ parent: Task; children: Task[] }> {
    if (childSpecs.length === 0) throw new BoardInputError('A map task needs at least one child.');
    const now = Date.now();
    const parentId = newTaskId(now);
    const parent = buildStoredTask({ ...parentSpec, type: parentSpec.type ?? 'map' }, parentId, now, childSpecs.length);
    const children = childSpecs.map((spec, index) => buildStoredTask({ ...spec, parentId }, `${parentId}.${String(index).padStart(4, '0')}`, now));
    await this.record(now, [{ task: parent, isParent: true }, ...children.map((task) => ({ task, isMapChild: true }))]);
    await this.enqueue(children, now);
    return { parent: this.taskOf(parent, 'waiting', 0, now), children: children.map((child) => this.taskOf(child, 'pending', 0, now)) };
  }

  /** Writes the task records (the commit of a post), all or nothing. */
  private async record(now: number, entries: { task: StoredTask; isParent?: boolean; isMapChild?: boolean }[]): Promise<void> {
    const payload = entries.map(({ task, isParent, isMapChild }) => ({
      id: task.id,
      spec: JSON.stringify(task),
      ix: indexMember(task),
      createdAt: task.createdAt,
      files: JSON.stringify(task.files),
      maxAttempts: task.maxAttempts,
      title: task.title,
      ...(task.parentId ? { parentId: task.parentId } : {}),
      ...(isParent ? { isParent: true, childCount: task.childCount ?? 0 } : {}),
      ...(isMapChild ? { isMapChild: true } : {}),
    }));
    const outcome = await this.run<string>('POST', now, process.pid, JSON.stringify(payload));
    if (outcome === 'ok') return;
    const [code, id, state] = outcome.split(' ');
    if (code === 'NOPARENT') throw new BoardInputError(`Parent task ${id} does not exist.`);
    if (code === 'PARENTSTATE') throw new BoardInputError(`Task ${id} is ${state}; children can only be added to a map task that is still waiting.`);
    throw new BoardInputError(`Task ${id} already exists on the board ${this.describe()}.`);
  }

  /** Hands recorded tasks to BullMQ. A crash before this is repaired by the next sweep. */
  private async enqueue(tasks: StoredTask[], now: number): Promise<void> {
    if (tasks.length === 0) return;
    try {
      await this.queue.addBulk(tasks.map((task) => jobOf(task, now)));
      await this.client.zrem(`${this.base}:posting`, ...tasks.map((task) => task.id));
    } catch (error) {
      // The tasks are recorded (that is the commit); a sweep hands them over once the server
      // answers or has room again. Reporting a failure here would invite a duplicate post.
      if (!(classifyRedisError(error, this.describe()) instanceof BoardUnavailableError)) throw error;
    }
  }

  // ---------------------------------------------------------------- claim

  async claim(request: ClaimRequest): Promise<Claim | undefined> {
    assertAgent(request.agent);
    try {
      return await this.claimNext(request);
    } catch (error) {
      throw classifyRedisError(error, this.describe());
    }
  }

  private async claimNext(request: ClaimRequest): Promise<Claim | undefined> {
    const leaseMs = request.leaseMs ?? DEFAULT_LEASE_MS;
    await this.maintain();
    // A task whose files are held goes back to wait (delayed) and the next one is tried; each
    // bounced task stays out of this loop, so it ends.
    const workClient = await this.workClient();
    for (;;) {
      const bullToken = `${request.agent}.${nonce(6)}`;
      const now = Date.now();
      // BullMQ's claim and ours in one round trip: ours is sent on the same connection right behind
      // BullMQ's (which is written once the current microtasks have run) and finds the job by its
      // lock; should it get there first, it finds nothing and is sent again with the job's id.
      const jobPromise = this.worker.getNextJob(bullToken, { block: false });
      if (faultArmed('redis:claim:after-bullmq')) {
        await jobPromise;
        faultPoint('redis:claim:after-bullmq');
      }
      await new Promise((resolve) => setImmediate(resolve));
      const claimedPromise = this.runOn<[string, string | number, string[]]>(workClient, 'CLAIMED', '', bullToken, request.agent, leaseMs, now, process.pid);
      const [job, pipelined] = await Promise.all([jobPromise, claimedPromise.catch((error: unknown) => error as Error)]);
      if (!job?.id) return undefined;
      const reply = Array.isArray(pipelined) && pipelined[0] !== 'notfound'
        ? pipelined
        : await this.run<[string, string | number, string[]]>('CLAIMED', job.id, bullToken, request.agent, leaseMs, now, process.pid);
      const [outcome, value, fields] = reply;
      if (outcome === 'ok') {
        const task = this.taskFromRecord(recordOf(fields), false);
        const token = `${job.id}~${bullToken}`;
        const leaseExpiresAt = now + leaseMs;
        this.held.set(token, { job, task, leaseExpiresAt });
        return { task, token, agent: request.agent, leaseExpiresAt };
      }
      if (outcome === 'conflict') {
        const delay = Math.round(this.conflictDelayMs * (0.5 + this.random()));
        await job.moveToDelayed(Date.now() + delay, bullToken).catch(() => undefined);
      } else if (outcome === 'finish' || outcome === 'orphan') {
        await this.applyState(job, bullToken, outcome === 'orphan' ? 'orphan' : String(value), 0);
      }
    }
  }

  // ---------------------------------------------------------------- lease holder operations

  async findClaim(id: string, agent: string): Promise<Claim | undefined> {
    assertId(id);
    assertAgent(agent);
    const record = (await this.client.hgetall(this.taskKey(id))) as Record;
    if (record.st !== 'running' || record.ag !== agent || !record.tok) return undefined;
    const task = this.taskFromRecord(record, false);
    return { task, token: `${id}~${record.tok}`, agent, leaseExpiresAt: task.leaseExpiresAt ?? 0 };
  }

  async heartbeat(claim: ClaimToken, leaseMs = DEFAULT_LEASE_MS): Promise<number> {
    const { id, bullToken } = parseToken(claim.token);
    const held = this.held.get(claim.token);
    // Hosts whose agents are all busy still sweep (throttled board-wide), so a dead host's tasks
    // come back even when nobody claims.
    await this.maintain().catch(() => undefined);
    // While the server is unreachable keep trying until the lease we know of runs out: a short
    // outage does not cost the work, a long one lets the task come back to another agent.
    for (;;) {
      const now = Date.now();
      try {
        const remaining = held ? Math.max(250, held.leaseExpiresAt - now) : 15_000;
        const [outcome, cause] = await withTimeout(this.run<[string, LeaseLostCause?]>('HEARTBEAT', id, bullToken, leaseMs, now), remaining, this.describe());
        if (outcome !== 'ok') throw leaseLost(id, reasonOf(cause!), cause!);
        if (held) held.leaseExpiresAt = now + leaseMs;
        return now + leaseMs;
      } catch (error) {
        if (!isConnectionProblem(error)) throw error;
        if (!held || Date.now() + 250 >= held.leaseExpiresAt) {
          throw leaseLost(id, `this process lost contact with the board's server (${(error as Error).message}) until the lease ran out`, 'reclaimed');
        }
        await delay(250);
      }
    }
  }

  async complete(claim: ClaimToken, result?: unknown): Promise<Task> {
    const { id } = parseToken(claim.token);
    const resultJson = result === undefined ? '' : serialiseResult(result);
    const outcome = await this.finish(claim.token, 'complete', {}, resultJson);
    const task = await this.finishedTask(claim.token, id, 'done', outcome);
    return { ...task, ...(result !== undefined ? { result } : {}) };
  }

  async fail(claim: ClaimToken, message: string, options: FailRequest = {}): Promise<Task> {
    const { id } = parseToken(claim.token);
    const payload = {
      message: String(message),
      permanent: options.permanent ?? false,
      retryAt: options.retryAt ?? 0,
      ...this.retry,
      random: this.random(),
    };
    const outcome = await this.finish(claim.token, 'fail', payload, '');
    return this.finishedTask(claim.token, id, outcome.state, outcome);
  }

  async release(claim: ClaimToken, reason = 'released'): Promise<Task> {
    const { id } = parseToken(claim.token);
    const outcome = await this.finish(claim.token, 'release', { reason }, '');
    return this.finishedTask(claim.token, id, 'pending', outcome);
  }

  /** Commits the end of a claim (fenced), then moves the BullMQ job and wakes tasks waiting for its files. */
  private async finish(token: string, kind: 'complete' | 'fail' | 'release', payload: object, resultJson: string): Promise<{ state: TaskStatus; attempt: number; dueAt: number }> {
    const { id, bullToken } = parseToken(token);
    const args = [id, bullToken, kind, Date.now(), process.pid, JSON.stringify(payload), resultJson];
    const heldJob = this.held.get(token)?.job;
    let reply: (string | number)[];
    let moved = false;
    if (kind === 'complete' && heldJob && !faultArmed('redis:finish:after-commit')) {
      // A completion always ends in BullMQ's completed set, so BullMQ's move is sent right behind
      // our commit on the same connection: one round trip. If our commit is refused, so is the
      // move (same lock), and nothing changes.
      const commit = this.runOn<(string | number)[]>(await this.workClient(), 'FINISH', ...args);
      const move = heldJob.moveToCompleted(null, bullToken, false).then(
        () => true,
        () => false,
      );
      [reply, moved] = await withTimeout(Promise.all([commit, move]), FINISH_TIMEOUT_MS, this.describe());
    } else {
      reply = await this.run<(string | number)[]>('FINISH', ...args);
      faultPoint('redis:finish:after-commit');
    }
    const [outcome, state] = reply as [string, string];
    if (outcome === 'lost') throw leaseLost(id, reasonOf(state as LeaseLostCause), state as LeaseLostCause);
    if (outcome === 'again') return { state: 'done', attempt: this.held.get(token)?.task.attempts ?? 0, dueAt: 0 };
    const attempt = Number(reply[2]);
    const dueAt = Number(reply[3]);
    const waiters = reply.slice(4).map(String);
    const job = moved ? undefined : await this.jobOf(token, id);
    await Promise.all([job ? this.applyState(job, bullToken, state, dueAt) : undefined, waiters.length > 0 ? this.wake(waiters) : undefined]);
    return { state: state as TaskStatus, attempt, dueAt };
  }

  private async finishedTask(token: string, id: string, status: TaskStatus, outcome: { attempt: number; dueAt: number }): Promise<Task> {
    const held = this.held.get(token);
    this.held.delete(token);
    if (!held) return (await this.get(id)) ?? missingTask(id);
    const task: Task = { ...held.task, status, attempts: outcome.attempt, updatedAt: Date.now() };
    delete task.claimedBy;
    delete task.leaseExpiresAt;
    if (status === 'pending' && outcome.dueAt > 0) task.notBefore = outcome.dueAt;
    if (status !== 'done') {
      const last = await this.client.hget(this.taskKey(id), 'lerr');
      if (last) task.lastError = JSON.parse(last) as TaskError;
    }
    return task;
  }

  private async jobOf(token: string, id: string): Promise<Job | undefined> {
    return this.held.get(token)?.job ?? (await Job.fromId(this.queue, id).catch(() => undefined));
  }

  /** Makes BullMQ agree with the recorded state of a job this process holds the lock of. */
  private async applyState(job: Job, bullToken: string, state: string, dueAt: number): Promise<void> {
    try {
      switch (state) {
        case 'done':
          await job.moveToCompleted(null, bullToken, false);
          break;
        case 'dead':
          await job.moveToFailed(new UnrecoverableError('dead'), bullToken, false);
          break;
        case 'pending':
          await job.moveToDelayed(Math.max(dueAt, Date.now()), bullToken);
          break;
        default:
          // cancelled, or a job without a task record: out of BullMQ altogether.
          await job.moveToFailed(new UnrecoverableError(state), bullToken, false);
          await job.remove();
      }
    } catch {
      // The record is committed; if the move did not happen, the lock lapses and a sweep applies it.
    }
  }

  /** Tasks that waited for the files of a task that just ended can run now. */
  private async wake(ids: string[]): Promise<void> {
    await Promise.all(ids.map((id) => this.promote(id, 0)));
  }

  /**
   * Moves a task that waits for files back into the queue. Its claimer may still be putting it
   * aside (the holder ended in between): then it is tried again shortly, in the background, so the
   * waiter does not sit out the whole conflict delay.
   */
  private async promote(id: string, retry: number): Promise<void> {
    const job = await Job.fromId(this.queue, id).catch(() => undefined);
    if (!job) return;
    try {
      await job.promote();
    } catch {
      if (retry >= 5 || this.closed || (await job.getState().catch(() => 'unknown')) !== 'active') return; // claimed or queued already
      setTimeout(() => void this.promote(id, retry + 1).catch(() => undefined), 50);
    }
  }

  // ---------------------------------------------------------------- maintenance

  private async maintain(): Promise<void> {
    const now = Date.now();
    if (now - this.lastSweepAt < this.sweepIntervalMs) return;
    this.lastSweepAt = now;
    await this.sweep(false);
  }

  async reclaimExpired(): Promise<number> {
    return this.sweep(true);
  }

  /** Takes over jobs whose lock lapsed and applies their recorded state; re-enqueues interrupted posts. */
  private async sweep(force: boolean): Promise<number> {
    const [takeovers, stale] = await this.run<[(string | number)[], string[]]>(
      'SWEEP',
      Date.now(),
      process.pid,
      `sweep.${nonce(4)}.`,
      TAKEOVER_LOCK_MS,
      this.sweepIntervalMs,
      force ? '1' : '0',
      this.postRepairAgeMs,
    );
    let reclaimed = 0;
    for (let index = 0; index < takeovers.length; ) {
      const [id, token, state, dueAt, wasReclaim, waiterCount] = takeovers.slice(index, index + 6);
      const waiters = takeovers.slice(index + 6, index + 6 + Number(waiterCount)).map(String);
      index += 6 + Number(waiterCount);
      if (Number(wasReclaim) === 1) reclaimed++;
      const job = await Job.fromId(this.queue, String(id)).catch(() => undefined);
      if (job) await this.applyState(job, String(token), String(state), Number(dueAt));
      await this.wake(waiters);
    }
    await this.repairPosts(stale);
    return reclaimed;
  }

  /** Posts recorded but not handed to BullMQ (the poster died in between) are enqueued now. */
  private async repairPosts(ids: string[]): Promise<void> {
    const tasks: StoredTask[] = [];
    for (const id of ids) {
      const spec = await this.client.hget(this.taskKey(id), 'spec');
      if (spec) tasks.push(JSON.parse(spec) as StoredTask);
    }
    await this.enqueue(tasks, Date.now());
  }

  // ---------------------------------------------------------------- user operations

  async cancel(id: string): Promise<Task> {
    assertId(id);
    const stealToken = `cancel.${nonce(6)}`;
    const reply = await this.run<string[]>('CANCEL', id, Date.now(), process.pid, stealToken, TAKEOVER_LOCK_MS);
    const [outcome, detail] = reply;
    if (outcome === 'missing') throw new BoardInputError(`No task with id ${id} on the board ${this.describe()}.`);
    if (outcome === 'ended') throw new BoardInputError(`Task ${id} has already ended (${detail}); there is nothing to cancel.`);
    if (outcome === 'parent') {
      for (const childId of reply.slice(1)) {
        await this.cancel(childId).catch((error: unknown) => {
          if (!(error instanceof BoardInputError)) throw error; // it ended meanwhile
        });
      }
    } else {
      faultPoint('redis:cancel:after-commit');
      const job = await Job.fromId(this.queue, id).catch(() => undefined);
      if (job && detail === 'running') await this.applyState(job, stealToken, 'cancelled', 0);
      else if (job) await job.remove().catch(() => undefined); // claimed meanwhile: the claimer finishes the cancel
      await this.wake(reply.slice(2));
    }
    return (await this.get(id)) ?? missingTask(id);
  }

  async requeue(id: string): Promise<Task> {
    assertId(id);
    const state = await this.client.hget(this.taskKey(id), 'st');
    if (!state) throw new BoardInputError(`No task with id ${id} on the board ${this.describe()}.`);
    if (state !== 'dead') throw new BoardInputError(`Task ${id} is ${state}, not dead; only dead tasks can be requeued.`);
    const job = await Job.fromId(this.queue, id);
    try {
      if (!job) throw new Error('no job');
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    } catch {
      throw new BoardInputError(`Task ${id} was requeued by someone else, or is still being moved to the dead-letter queue; look again in a moment.`);
    }
    await this.run<string>('REQUEUED', id, Date.now(), process.pid);
    return (await this.get(id)) ?? missingTask(id);
  }

  async requeueAll(): Promise<Task[]> {
    const members = await this.client.zrange(`${this.base}:s:dead`, 0, -1);
    const tasks: Task[] = [];
    for (const member of members) tasks.push(await this.requeue(idOfMember(member)));
    return tasks;
  }

  // ---------------------------------------------------------------- reading

  async get(id: string): Promise<Task | undefined> {
    assertId(id);
    const record = (await this.client.hgetall(this.taskKey(id))) as Record;
    if (!record.spec) return undefined;
    return this.taskFromRecord(record, true);
  }

  async list(query: ListQuery = {}): Promise<TaskPage> {
    const limit = clampLimit(query.limit);
    if (query.status && !TASK_STATUSES.includes(query.status)) throw new BoardInputError(`"${query.status}" is not a task status (${TASK_STATUSES.join(', ')}).`);
    const after = query.cursor !== undefined ? indexMember(parseListCursor(query.cursor)) : '';
    const offset = Math.max(0, Math.trunc(query.offset ?? 0));
    const index = query.status ? `s:${query.status}` : 'all';
    const [total, next, ...records] = await this.run<[number, string, ...string[][]]>('PAGE', index, after, offset, limit);
    const tasks = records.map((fields) => recordOf(fields)).filter((record) => record.spec).map((record) => this.taskFromRecord(record, false));
    const last = tasks[tasks.length - 1];
    return { tasks, total: Number(total), ...(next && last ? { nextCursor: listCursor(last) } : {}) };
  }

  async errors(id: string): Promise<TaskError[]> {
    assertId(id);
    const lines = await this.client.lrange(`${this.base}:err:${id}`, 0, -1);
    return lines.map((line) => JSON.parse(line) as TaskError);
  }

  async progress(parentId: string): Promise<Progress> {
    assertId(parentId);
    const [fields, running] = await Promise.all([
      this.client.hmget(this.taskKey(parentId), 'total', 'n_done', 'n_dead', 'n_cancelled'),
      this.client.scard(`${this.base}:kr:${parentId}`),
    ]);
    return progressOf(fields.map((value) => Number(value ?? 0)), running);
  }

  async stats(): Promise<BoardStats> {
    const reply = await this.run<(string | number)[]>('STATS');
    const counts = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as { [S in TaskStatus]: number };
    (['pending', 'running', 'done', 'dead', 'cancelled', 'waiting'] as const).forEach((status, index) => (counts[status] = Number(reply[index])));
    const parents: { [id: string]: Progress } = {};
    for (let index = 6; index + 5 < reply.length; index += 6) {
      const values = reply.slice(index + 1, index + 5).map(Number);
      parents[String(reply[index])] = progressOf(values, Number(reply[index + 5]));
    }
    return { counts, quarantined: 0, parents };
  }

  // ---------------------------------------------------------------- events

  async readEvents(cursor: string = EVENTS_START, limit = 1_000): Promise<EventBatch> {
    const start = cursor === EVENTS_START ? '-' : `(${assertStreamId(cursor)}`;
    const entries = await this.client.xrange(`${this.base}:ev`, start, '+', 'COUNT', Math.max(1, Math.min(limit, 10_000)));
    return { events: entries.map(eventOf), cursor: entries.length > 0 ? entries[entries.length - 1][0] : cursor === EVENTS_START ? '0-0' : cursor };
  }

  follow(onEvents: (batch: EventBatch) => void, options: FollowOptions = {}): Following {
    const reader = this.client.duplicate({ maxRetriesPerRequest: null, lazyConnect: false });
    reader.on('error', () => undefined);
    this.followers.add(reader);
    let stopped = false;
    const streamKey = `${this.base}:ev`;
    const loop = async (): Promise<void> => {
      let cursor: string;
      if (options.cursor === undefined) {
        const last = await reader.xrevrange(streamKey, '+', '-', 'COUNT', 1);
        cursor = last.length > 0 ? last[0][0] : '0-0';
      } else {
        cursor = options.cursor === EVENTS_START ? '0-0' : assertStreamId(options.cursor);
      }
      while (!stopped) {
        try {
          const reply = (await reader.xread('COUNT', 1_000, 'BLOCK', 1_000, 'STREAMS', streamKey, cursor)) as [string, [string, string[]][]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          if (entries.length === 0 || stopped) continue;
          cursor = entries[entries.length - 1][0];
          onEvents({ events: entries.map(eventOf), cursor });
        } catch (error) {
          if (stopped) return;
          options.onError?.(classifyRedisError(error, this.describe()));
          await delay(options.pollMs ?? 500);
        }
      }
    };
    void loop().catch((error: unknown) => options.onError?.(classifyRedisError(error, this.describe())));
    return {
      dispose: async () => {
        stopped = true;
        this.followers.delete(reader);
        reader.disconnect();
      },
    };
  }

  // ---------------------------------------------------------------- artifacts

  async putArtifact(taskId: string, name: string, data: Buffer | string): Promise<void> {
    assertId(taskId);
    assertArtifactName(name);
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    assertArtifactSize(taskId, name, bytes.length, this.artifactCapBytes);
    await this.client.hset(`${this.base}:a:${taskId}`, name, bytes);
  }

  async getArtifact(taskId: string, name: string): Promise<Buffer | undefined> {
    assertId(taskId);
    assertArtifactName(name);
    return (await this.client.hgetBuffer(`${this.base}:a:${taskId}`, name)) ?? undefined;
  }

  async listArtifacts(taskId: string): Promise<ArtifactInfo[]> {
    assertId(taskId);
    const reply = await this.run<(string | number)[]>('ARTIFACTS', taskId);
    const artifacts: ArtifactInfo[] = [];
    for (let index = 0; index + 1 < reply.length; index += 2) artifacts.push({ name: String(reply[index]), bytes: Number(reply[index + 1]) });
    return artifacts.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const reader of this.followers) reader.disconnect();
    await Promise.allSettled([this.worker.close(true), this.queue.close()]);
    this.client.disconnect();
  }

  // ---------------------------------------------------------------- records

  private taskKey(id: string): string {
    return `${this.base}:t:${id}`;
  }

  private taskOf(spec: StoredTask, status: TaskStatus, attempts: number, now: number): Task {
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
      ...(spec.childCount !== undefined ? { childCount: spec.childCount } : {}),
      createdAt: spec.createdAt,
      updatedAt: now,
    };
  }

  private taskFromRecord(record: Record, withResult: boolean): Task {
    const spec = JSON.parse(record.spec) as StoredTask;
    const status = record.st as TaskStatus;
    const attempts = Number(record.att ?? 0);
    const task = this.taskOf(spec, status, attempts, Number(record.up ?? spec.createdAt));
    const due = Number(record.due ?? 0);
    if (status === 'pending' && due > 0) task.notBefore = due;
    if (status === 'running') {
      if (record.ag) task.claimedBy = record.ag;
      if (record.lexp) task.leaseExpiresAt = Number(record.lexp);
    }
    const mayHaveFailed = status === 'dead' || ((status === 'pending' || status === 'running') && attempts > 0);
    if (record.lerr && mayHaveFailed) task.lastError = JSON.parse(record.lerr) as TaskError;
    if (withResult && status === 'done' && record.res) task.result = JSON.parse(record.res) as unknown;
    return task;
  }
}

// ------------------------------------------------------------------ helpers

export function keyBase(board: string): string {
  return `{swarm:${board}}`;
}

function connectionOptions(location: RedisLocation & { connectTimeoutMs?: number }): RedisOptions {
  return {
    host: location.host,
    port: location.port,
    db: location.db,
    ...(location.username ? { username: location.username } : {}),
    ...(location.password ? { password: location.password } : {}),
    ...(location.tls ? { tls: { servername: location.host } } : {}),
    connectTimeout: location.connectTimeoutMs ?? 5_000,
    retryStrategy: (times: number) => Math.min(times * 200, 2_000),
  };
}

async function assertNoEviction(client: Redis, where: string): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = (await client.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch {
    // CONFIG is often disabled on managed services; INFO still tells.
    const info = await client.info('memory');
    policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
  }
  if (policy && policy !== 'noeviction') {
    throw new BoardUnavailableError(
      'config',
      `The Redis server at ${where} may evict keys under memory pressure (maxmemory-policy ${policy}), which would lose tasks; set maxmemory-policy noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf) and try again.`,
    );
  }
}

async function ensureFormat(client: Redis, metaKey: string, where: string, retention: number): Promise<void> {
  const meta = await client.hgetall(metaKey);
  if (meta.format === undefined) {
    await client.hsetnx(metaKey, 'format', REDIS_BOARD_FORMAT);
    await client.hsetnx(metaKey, 'version', String(REDIS_BOARD_FORMAT_VERSION));
    await client.hsetnx(metaKey, 'createdAt', String(Date.now()));
    await client.hsetnx(metaKey, 'retention', String(retention));
    return ensureFormat(client, metaKey, where, retention);
  }
  if (meta.format !== REDIS_BOARD_FORMAT) {
    throw new BoardFormatError(`The key ${metaKey} at ${where} is not an Agent Swarm board marker. Choose another board name (?board=NAME).`);
  }
  const version = Number(meta.version);
  if (!Number.isInteger(version) || version > REDIS_BOARD_FORMAT_VERSION) {
    throw new BoardFormatError(
      `The board at ${where} has format ${meta.version}, newer than this Agent Swarm supports (${REDIS_BOARD_FORMAT_VERSION}). Update Agent Swarm.`,
    );
  }
}

function jobOf(task: StoredTask, now: number): { name: string; data: object; opts: object } {
  const delayMs = task.notBefore !== undefined && task.notBefore > now ? task.notBefore - now : 0;
  return {
    name: task.type,
    data: {},
    opts: {
      jobId: task.id,
      priority: PRIORITY_BASE - task.priority,
      ...(delayMs > 0 ? { delay: delayMs } : {}),
      attempts: 1,
      // Our record keeps a done task; BullMQ's copy would only double the memory. A dead one stays
      // in BullMQ's failed set, where a requeue takes it from.
      removeOnComplete: true,
      removeOnFail: false,
    },
  };
}

/** Index members sort by creation time, then id: `<createdAt, 15 digits>:<id>`. */
function indexMember(task: { createdAt: number; id: string }): string {
  return `${String(Math.max(0, Math.trunc(task.createdAt))).padStart(15, '0')}:${task.id}`;
}

function idOfMember(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}

function recordOf(fields: string[]): Record {
  const record: Record = {};
  for (let index = 0; index + 1 < fields.length; index += 2) record[fields[index]] = fields[index + 1];
  return record;
}

function progressOf([total, done, dead, cancelled]: number[], running: number): Progress {
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

function eventOf([, fields]: [string, string[]]): BoardEvent {
  const index = fields.indexOf('e');
  return JSON.parse(fields[index + 1]) as BoardEvent;
}

function assertStreamId(cursor: string): string {
  if (!/^\d{1,20}-\d{1,20}$/.test(cursor)) throw new BoardInputError(`"${cursor}" is not an event cursor of a Redis board; pass back a cursor the board returned.`);
  return cursor;
}

function parseToken(token: string): { id: string; bullToken: string } {
  const separator = token.indexOf('~');
  const id = token.slice(0, separator);
  const bullToken = token.slice(separator + 1);
  if (separator < 0 || !isValidId(id) || !/^[A-Za-z0-9_.-]{1,64}\.[0-9a-f]{12}$/.test(bullToken)) {
    throw new BoardInputError(`"${token}" is not a lease token of this board.`);
  }
  return { id, bullToken };
}

function reasonOf(cause: LeaseLostCause): string {
  switch (cause) {
    case 'cancelled':
      return 'the task was cancelled';
    case 'reclaimed':
      return 'the lease expired and the task was reclaimed';
    case 'missing':
      return 'the task no longer exists';
    default:
      return 'the task has already ended';
  }
}

function serialiseResult(result: unknown): string {
  try {
    return JSON.stringify(result);
  } catch (error) {
    throw new BoardInputError(`The result is not JSON (${(error as Error).message}); nothing was recorded.`);
  }
}

function isConnectionProblem(error: unknown): boolean {
  return (error as { name?: string })?.name === 'BoardUnavailableError';
}

function missingTask(id: string): never {
  throw new BoardInputError(`Task ${id} vanished from the board while it was being changed.`);
}

function assertId(id: string): void {
  if (!isValidId(id)) throw new BoardInputError(`"${id}" is not a task id (ids look like t1a2b3c4d01ab).`);
}

function assertAgent(agent: string): void {
  if (!isValidAgentName(agent)) throw new BoardInputError(`"${agent}" is not a valid agent name: use 1-64 letters, digits, "_", "." or "-".`);
}

/** A server that stopped answering (paused, partitioned) must not hang a heartbeat past the lease. */
function withTimeout<T>(promise: Promise<T>, ms: number, where: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BoardUnavailableError('connection-lost', `The board's Redis server at ${where} did not answer within ${ms} ms.`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

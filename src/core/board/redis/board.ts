// The Redis board: the file board's rules on a Redis server that several machines share, built on
// BullMQ 6. BullMQ keeps the queue: claim order (priority, then age), delays, and the lock that is a
// claim's lease; a job's lock token is the claim's fencing token. Our scripts (scripts.ts) keep the
// task record, which is the state of record, and everything BullMQ lacks, and run BullMQ's own
// scripts inside them (bullmq.ts), so a claim, a completion or a cancel is one atomic step and one
// round trip. See docs/redis-board.md.
import { createHash } from 'crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { Queue, type ConnectionOptions } from 'bullmq';
import { BoardFormatError, assertLeaseMs, batchName, batchOfResult, batchedDetails, capMessage, mapChildId, newTaskIdentity, serialiseResult, storedTasksOf } from '../board';
import { MAX_TIME_MS, capTime, isValidAgentName, isValidId } from '../names';
import { buildStoredTask, taskFieldsOf, type StoredTask } from '../schema';
import { AfterCommit, describeError } from '../effects';
import {
  BoardInputError,
  DEFAULT_LEASE_MS,
  DEFAULT_RETRY,
  LeaseLostError,
  TASK_STATUSES,
  type BoardEvent,
  type Claim,
  progressFromCounts,
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
  type ArtifactInfo,
  type HostEntry,
  type Board,
  type ClaimRequest,
  type ClaimToken,
  type EventBatch,
  type FailRequest,
  type FollowOptions,
  type Following,
  type LeaseLostCause,
  type ListQuery,
  type QueueStats,
  type TaskPage,
} from '../interface';
import { assertStatus, clampLimit, listCursor, parseListCursor } from '../paging';
import { assertArtifactName, assertArtifactSize } from '../artifacts';
import { nonce } from '../durable';
import { SCRIPTS } from './scripts';
import { bullmqLayoutProblem } from './bullmq';
import { classifyRedisError, describeRedis, type RedisLocation } from './connection';
import { RedisHosts } from './hosts';
import { RedisResources } from './resources';
import { needsOf, needsOfRouteKey, routeKeyOf, servesWire } from '../routing';

export const REDIS_BOARD_FORMAT = 'agent-swarm-board';
/**
 * Bump when the key layout changes in a way older versions would misread. 2: routing (tasks carry a
 * route key; tasks no claimer could serve are parked, which a version-1 client would never bring
 * back). A version-1 board is upgraded when opened: its records, without route keys, claim as before.
 */
export const REDIS_BOARD_FORMAT_VERSION = 2;
const QUEUE_NAME = 'q';
const PRIORITY_BASE = 10_000;
const POST_REPAIR_AGE_MS = 10_000;
const DEFAULT_REPLICA_TIMEOUT_MS = 1_000;
/** Reconnection attempts a command waits through before the board fails commands at once (failFastWhileDown). */
const FAIL_FAST_AFTER_ATTEMPTS = 2;
/** A follower's XREAD blocks 1 s; a server that does not answer it within this long is taken for gone. */
const READER_COMMAND_TIMEOUT_MS = 5_000;
/** How long close() lets BullMQ end its connection politely. */
const QUEUE_CLOSE_WAIT_MS = 1_000;

/**
 * Crash tests: SWARM_FAULT names steps (comma-separated) at which the process kills itself with
 * SIGKILL: between a post's record and its hand-over to BullMQ (the one change that takes two
 * steps), between a sweep that found such a post and its own hand-over, and right after a claim or
 * a completion committed, before the caller hears of it.
 */
export type RedisFaultStep =
  | 'redis:post:after-record'
  | 'redis:repair:before-handover'
  | 'redis:claim:after-commit'
  | 'redis:finish:after-commit'
  | 'redis:cancel:after-commit'
  | 'redis:requeue:after-commit';
const armedFaults = new Set((process.env.SWARM_FAULT ?? '').split(',').map((step) => step.trim()).filter(Boolean));
function faultPoint(step: RedisFaultStep): void {
  if (armedFaults.has(step)) process.kill(process.pid, 'SIGKILL');
}

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
  /**
   * After a post (post, postMany, map), wait until this many replicas have the new tasks (Redis
   * WAIT), so a failover to a replica does not lose them. Default 0: do not wait. A shortfall is a
   * warning on the returned tasks: the post happened on the primary.
   */
  waitForReplicas?: number;
  /** How long a post waits for its replicas. Default 1 s. */
  replicaTimeoutMs?: number;
  /** Receives every warning: a side effect that failed after a change was made. */
  onWarning?: (warning: string) => void;
}

type Record = { [field: string]: string };

/** A connection with our scripts defined on it (ioredis custom commands). */
type ScriptClient = { [command: string]: (...args: (string | number)[]) => Promise<unknown> };

interface HeldClaim {
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
  private readonly waitForReplicas: number;
  private readonly replicaTimeoutMs: number;
  private readonly onWarning: (warning: string) => void;
  private readonly held = new Map<string, HeldClaim>();
  /** Each follower's connection, and how to stop its reading loop (close() ends both). */
  private readonly followers = new Map<Redis, () => void>();
  private lastSweepAt = -Infinity;
  private closed = false;

  private constructor(
    private readonly location: RedisLocation,
    private readonly client: Redis,
    private readonly queue: Queue,
    private readonly queueClient: Redis,
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
    this.waitForReplicas = Math.max(0, Math.trunc(options.waitForReplicas ?? 0));
    this.replicaTimeoutMs = options.replicaTimeoutMs ?? DEFAULT_REPLICA_TIMEOUT_MS;
    this.onWarning = options.onWarning ?? (() => undefined);
  }

  /**
   * Connects, checks the server (reachable, password, noeviction) and the board's format marker,
   * and creates the board on first use. Every refusal happens before anything is written.
   */
  static async open(options: RedisBoardOptions): Promise<RedisBoard> {
    const unusableBullmq = bullmqLayoutProblem();
    if (unusableBullmq) throw new Error(unusableBullmq);
    const where = describeRedis(options);
    // A server that stops answering (paused, partitioned) fails our calls instead of hanging them.
    const client = new Redis({ ...connectionOptions(options), lazyConnect: true, maxRetriesPerRequest: 2, commandTimeout: 15_000 });
    failFastWhileDown(client);
    // Later failures reach callers through the command that hit them; while connecting, the
    // driver reports the cause (refused, wrong password) only as an event.
    let connectError: unknown;
    client.on('error', (error) => (connectError ??= error));
    try {
      await client.connect();
      await client.ping();
      await assertNoEviction(client, where);
      await ensureFormat(client, keyBase(options.board), where, options.eventRetention ?? 200_000);
    } catch (error) {
      client.disconnect();
      const cause = /Connection is closed/.test((error as Error)?.message ?? '') && connectError ? connectError : error;
      throw classifyRedisError(cause, where, { user: options.username });
    }
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(`swarm${name}`, { numberOfKeys: 1, lua });
    // The queue's own connection, made here so that close() can end it even while the server is
    // gone (BullMQ's close and disconnect wait for a connection it made to be ready first).
    const queueClient = new Redis({ ...connectionOptions(options), maxRetriesPerRequest: null });
    queueClient.on('error', () => undefined);
    const queue = new Queue(QUEUE_NAME, { connection: queueClient as unknown as ConnectionOptions, prefix: keyBase(options.board) });
    queue.on('error', () => undefined);
    return new RedisBoard(options, client, queue, queueClient, options);
  }

  describe(): string {
    return describeRedis(this.location);
  }

  private async run<T>(script: keyof typeof SCRIPTS, ...args: (string | number)[]): Promise<T> {
    try {
      return (await (this.client as unknown as ScriptClient)[`swarm${script}`](this.metaKey, this.base, ...args)) as T;
    } catch (error) {
      throw this.classify(error, `the board's ${script} script`);
    }
  }

  /** A direct command's failure in the board's words (a refused permission, a lost server). */
  private async guard<T>(command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (error) {
      throw this.classify(error);
    }
  }

  private classify(error: unknown, running?: string): Error {
    return classifyRedisError(error, this.describe(), { user: this.location.username, running });
  }

  // ---------------------------------------------------------------- enqueue

  async post(spec: TaskSpec): Promise<Task> {
    return (await this.postMany([spec]))[0];
  }

  async postMany(specs: TaskSpec[]): Promise<Task[]> {
    if (specs.length === 0) return [];
    const now = Date.now();
    const stored = storedTasksOf(specs, now);
    const effects = new AfterCommit(this.onWarning);
    await this.record(now, stored.map((task) => ({ task })), effects);
    faultPoint('redis:post:after-record');
    await this.enqueue(stored, now, effects);
    return stored.map((task) => effects.attach(this.taskOf(task, 'pending', 0, now)));
  }

  async map(parentSpec: TaskSpec, childSpecs: TaskSpec[]): Promise<{ parent: Task; children: Task[] }> {
    if (childSpecs.length === 0) throw new BoardInputError('A map task needs at least one child.');
    if (parentSpec.parentId !== undefined) throw new BoardInputError('A map task cannot itself be the child of another map task.');
    const now = Date.now();
    const { id: parentId, createdAt } = newTaskIdentity(now);
    const parent = buildStoredTask({ ...parentSpec, type: parentSpec.type ?? 'map' }, parentId, createdAt, childSpecs.length);
    const children = childSpecs.map((spec, index) => buildStoredTask({ ...spec, parentId }, mapChildId(parentId, index), createdAt));
    const effects = new AfterCommit(this.onWarning);
    await this.record(now, [{ task: parent, isParent: true }, ...children.map((task) => ({ task, isMapChild: true }))], effects);
    await this.enqueue(children, now, effects);
    return { parent: effects.attach(this.taskOf(parent, 'waiting', 0, now)), children: children.map((child) => this.taskOf(child, 'pending', 0, now)) };
  }

  /** Writes the task records (the commit of a post), all or nothing; then waits for replicas if asked to. */
  private async record(now: number, entries: { task: StoredTask; isParent?: boolean; isMapChild?: boolean }[], effects: AfterCommit): Promise<void> {
    const payload = entries.map(({ task, isParent, isMapChild }) => ({
      id: task.id,
      spec: JSON.stringify(task),
      ix: indexMember(task),
      createdAt: task.createdAt,
      files: JSON.stringify(task.files),
      fk: task.files.map((file) => createHash('sha1').update(file).digest('hex')).join(' '),
      rk: routeKeyOf(needsOf(task)),
      maxAttempts: task.maxAttempts,
      posted: JSON.stringify(postedDetail(task)),
      ...(task.notBefore !== undefined && task.notBefore > now ? { due: task.notBefore } : {}),
      ...(task.parentId ? { parentId: task.parentId } : {}),
      ...(isParent ? { isParent: true, childCount: task.childCount ?? 0 } : {}),
      ...(isMapChild ? { isMapChild: true } : {}),
    }));
    const outcome = await this.run<string>('POST', now, process.pid, JSON.stringify(payload));
    if (outcome !== 'ok') {
      const [code, id, state] = outcome.split(' ');
      if (code === 'NOPARENT') throw new BoardInputError(`Parent task ${id} does not exist.`);
      if (code === 'PARENTSTATE') throw new BoardInputError(`Task ${id} is ${state}; children can only be added to a map task that is still waiting.`);
      throw new BoardInputError(`Task ${id} already exists on the board ${this.describe()}.`);
    }
    await this.awaitReplicas(effects, subjectOf(entries.map((entry) => entry.task.id), 'posted'));
  }

  /**
   * WAIT for the replicas asked for (waitForReplicas). The change happened on the primary; when
   * the replicas do not confirm it in time, a failover now could lose it: a warning says so.
   */
  private async awaitReplicas(effects: AfterCommit, subject: string): Promise<void> {
    if (this.waitForReplicas === 0) return;
    try {
      const acknowledged = Number(await this.client.call('WAIT', String(this.waitForReplicas), String(this.replicaTimeoutMs)));
      if (acknowledged < this.waitForReplicas) {
        effects.warn(
          `${subject}, but only ${acknowledged} of the ${this.waitForReplicas} replicas asked for confirmed it within ${this.replicaTimeoutMs} ms: a failover now could lose it. Check the replicas (INFO replication).`,
        );
      }
    } catch (error) {
      effects.warn(`${subject}, but the replicas could not be asked whether they have it (${describeError(error)}).`);
    }
  }

  /**
   * Hands recorded tasks to BullMQ. Nothing here may turn the committed post into a failure: when
   * the hand-over fails, a sweep hands the tasks over later (they stay in `posting` until HANDED
   * sees their jobs; a second addBulk of a job id BullMQ holds adds nothing).
   */
  private async enqueue(tasks: StoredTask[], now: number, effects: AfterCommit): Promise<void> {
    if (tasks.length === 0) return;
    try {
      await this.queue.addBulk(tasks.map((task) => jobOf(task, now)));
      await this.run('HANDED', ...tasks.map((task) => task.id));
    } catch (error) {
      effects.warn(
        `${subjectOf(tasks.map((task) => task.id), 'posted')}, but could not be handed to the queue yet (${describeError(this.classify(error))}); a sweep hands ${tasks.length === 1 ? 'it' : 'them'} over within about ${Math.ceil(this.postRepairAgeMs / 1000)} s of the server answering again.`,
      );
    }
  }

  // ---------------------------------------------------------------- claim

  async claim(request: ClaimRequest): Promise<Claim | undefined> {
    assertAgent(request.agent);
    const leaseMs = assertLeaseMs(request.leaseMs ?? DEFAULT_LEASE_MS);
    const serves = servesWire(request.serves);
    await this.maintain();
    for (;;) {
      const bullToken = `${request.agent}.${nonce(6)}`;
      const now = Date.now();
      const reply = await this.run<string[]>('CLAIM', now, process.pid, bullToken, request.agent, leaseMs, this.conflictDelayMs, this.random(), serves);
      if (reply[0] === 'none') return undefined;
      if (reply[0] !== 'ok') continue; // 'more': twenty jobs were put aside or finished; look further
      const [, id, attempt, spec, lastError] = reply;
      const leaseExpiresAt = now + leaseMs;
      const task: Task = { ...this.taskOf(JSON.parse(spec) as StoredTask, 'running', Number(attempt), now), claimedBy: request.agent, leaseExpiresAt };
      if (lastError) task.lastError = JSON.parse(lastError) as TaskError;
      const token = `${id}~${bullToken}`;
      this.held.set(token, { task, leaseExpiresAt });
      faultPoint('redis:claim:after-commit');
      return { task, token, agent: request.agent, leaseExpiresAt };
    }
  }

  // ---------------------------------------------------------------- lease holder operations

  async findClaim(id: string, agent: string): Promise<Claim | undefined> {
    assertId(id);
    assertAgent(agent);
    const record = (await this.guard(this.client.hgetall(this.taskKey(id)))) as Record;
    if (record.st !== 'running' || record.ag !== agent || !record.tok) return undefined;
    const task = this.taskFromRecord(record, false);
    return { task, token: `${id}~${record.tok}`, agent, leaseExpiresAt: task.leaseExpiresAt ?? 0 };
  }

  async heartbeat(claim: ClaimToken, leaseMs = DEFAULT_LEASE_MS): Promise<number> {
    const { id, bullToken } = parseToken(claim.token);
    assertLeaseMs(leaseMs);
    const held = this.held.get(claim.token);
    // While the server is unreachable keep trying until the lease we know of runs out: a short
    // outage does not cost the work, a long one lets the task come back to another agent.
    for (;;) {
      const now = Date.now();
      try {
        const remaining = held ? Math.max(250, held.leaseExpiresAt - now) : 15_000;
        const [outcome, cause] = await withTimeout(this.run<[string, LeaseLostCause?]>('HEARTBEAT', id, bullToken, leaseMs, now), remaining, this.describe());
        if (outcome !== 'ok') throw leaseLost(id, cause!);
        if (held) held.leaseExpiresAt = now + leaseMs;
        // Hosts whose agents are all busy still sweep (throttled board-wide), so a dead host's
        // tasks come back even when nobody claims. After our own renewal: a late heartbeat must
        // not have its own task taken back by the sweep it runs.
        await this.maintain().catch(() => undefined);
        return now + leaseMs;
      } catch (error) {
        if (!isConnectionProblem(error)) throw error;
        if (!held || Date.now() + 250 >= held.leaseExpiresAt) {
          throw new LeaseLostError(
            id,
            `Lease lost on task ${id}: this process lost contact with the board's server (${(error as Error).message}) until the lease ran out. The result was not recorded; another agent may run the task.`,
            'reclaimed',
          );
        }
        await delay(250);
      }
    }
  }

  async complete(claim: ClaimToken, result?: unknown): Promise<Task> {
    const resultJson = result === undefined ? '' : serialiseResult(result);
    const batch = batchOfResult(result);
    const task = await this.finish(claim.token, 'complete', { resultJson, ...(batch && { completedDetail: JSON.stringify(batchName(batch)) }) });
    return { ...task, ...(result !== undefined ? { result } : {}) };
  }

  async fail(claim: ClaimToken, message: string, options: FailRequest = {}): Promise<Task> {
    parseToken(claim.token);
    if (typeof message !== 'string') throw new BoardInputError('A failure needs a message (a string).');
    if (options.retryAt !== undefined && !Number.isFinite(options.retryAt)) throw new BoardInputError(`retryAt must be a time in epoch milliseconds; got ${String(options.retryAt)}.`);
    return this.finish(claim.token, 'fail', { message: capMessage(message), permanent: options.permanent ?? false, retryAt: capTime(options.retryAt ?? 0) });
  }

  async release(claim: ClaimToken, reason = 'released'): Promise<Task> {
    return this.finish(claim.token, 'release', { reason: String(reason) });
  }

  /** One `batched` event per claim, as the scripts write events (see Board.noteBatch). */
  async noteBatch(claims: ClaimToken[]): Promise<void> {
    const tasks = claims.map((claim) => ({ id: parseToken(claim.token).id, held: this.held.get(claim.token)?.task }));
    const details = batchedDetails(tasks.map((task) => task.id));
    const at = Date.now();
    const writes = this.client.multi();
    for (const [index, { id, held }] of tasks.entries()) {
      const event = { at, type: 'batched', pid: process.pid, taskId: id, ...(held?.claimedBy && { agent: held.claimedBy }), ...(held && { attempt: held.attempts }), detail: details[index] };
      writes.xadd(`${this.base}:ev`, '*', 'e', JSON.stringify(event));
    }
    await this.guard(writes.exec());
  }

  /** Ends a claim (fenced) and moves its job in BullMQ, in one script. */
  private async finish(
    token: string,
    kind: 'complete' | 'fail' | 'release',
    input: { resultJson?: string; message?: string; permanent?: boolean; retryAt?: number; reason?: string; completedDetail?: string },
  ): Promise<Task> {
    const { id, bullToken } = parseToken(token);
    const { baseMs, capMs, multiplier, jitter } = this.retry;
    const now = Date.now();
    const reply = await this.run<[string, string?, number?, number?]>(
      'FINISH',
      id,
      bullToken,
      kind,
      now,
      process.pid,
      input.resultJson ?? '',
      JSON.stringify(input.message ?? ''),
      input.permanent ? '1' : '0',
      input.retryAt ?? 0,
      baseMs,
      capMs,
      multiplier,
      jitter,
      this.random(),
      JSON.stringify(input.reason ?? ''),
      MAX_TIME_MS,
      input.completedDetail ?? '',
    );
    faultPoint('redis:finish:after-commit');
    if (reply[0] === 'lost') throw leaseLost(id, reply[1] as LeaseLostCause);
    const held = this.held.get(token);
    this.held.delete(token);
    if (reply[0] === 'again' || !held) return (await this.get(id)) ?? missingTask(id);
    const status = reply[1] as TaskStatus;
    const task: Task = { ...held.task, status, attempts: Number(reply[2]), updatedAt: now };
    delete task.claimedBy;
    delete task.leaseExpiresAt;
    delete task.lastError;
    if (kind === 'fail') {
      task.lastError = { attempt: held.task.attempts, at: now, message: input.message!, permanent: input.permanent!, agent: held.task.claimedBy, kind: 'failed' };
      if (status === 'pending') task.notBefore = Number(reply[3]);
    }
    return task;
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

  /** Reclaims jobs whose lock lapsed (one script), then hands interrupted posts to BullMQ. */
  private async sweep(force: boolean): Promise<number> {
    const [reclaimed, stale] = await this.run<[number, string[]]>('SWEEP', Date.now(), process.pid, this.sweepIntervalMs, force ? '1' : '0', this.postRepairAgeMs);
    if (stale.length > 0) {
      faultPoint('redis:repair:before-handover');
      await this.repairPosts(stale);
    }
    return Number(reclaimed);
  }

  /** Posts recorded but not handed to BullMQ (the poster died or lost the server in between). */
  private async repairPosts(ids: string[]): Promise<void> {
    const tasks: StoredTask[] = [];
    for (const id of ids) {
      const spec = await this.guard(this.client.hget(this.taskKey(id), 'spec'));
      if (spec) tasks.push(JSON.parse(spec) as StoredTask);
    }
    const effects = new AfterCommit((warning) => this.onWarning(warning));
    await this.enqueue(tasks, Date.now(), effects);
  }

  // ---------------------------------------------------------------- user operations

  async cancel(id: string): Promise<Task> {
    assertId(id);
    const [outcome, detail] = await this.run<string[]>('CANCEL', id, Date.now(), process.pid);
    if (outcome === 'missing') throw new BoardInputError(`No task with id ${id} on the board ${this.describe()}.`);
    if (outcome === 'ended') throw new BoardInputError(`Task ${id} has already ended (${detail}); there is nothing to cancel.`);
    faultPoint('redis:cancel:after-commit');
    return (await this.get(id)) ?? missingTask(id);
  }

  async requeue(id: string): Promise<Task> {
    assertId(id);
    const requeued = await this.requeueDead(id);
    if (!requeued) {
      const state = (await this.guard(this.client.hget(this.taskKey(id), 'st'))) ?? 'gone';
      throw new BoardInputError(`Task ${id} is ${state}, not dead; only dead tasks can be requeued.`);
    }
    return requeued.task;
  }

  async requeueAll(): Promise<Task[]> {
    const members = await this.guard(this.client.zrange(`${this.base}:s:dead`, 0, -1));
    const pending: Task[] = [];
    for (const member of members) {
      try {
        const requeued = await this.requeueDead(idOfMember(member)); // undefined: requeued meanwhile, with its map
        if (requeued) pending.push(...requeued.pending);
      } catch (error) {
        if (!(error instanceof BoardInputError)) throw error;
        this.onWarning(`${error.message} It stays in the dead-letter queue.`);
      }
    }
    return pending;
  }

  /** Requeues a dead task (a map task: its dead children). Undefined when it is not dead. */
  private async requeueDead(id: string): Promise<{ task: Task; pending: Task[] } | undefined> {
    const reply = await this.run<string[]>('REQUEUE', id, Date.now(), process.pid);
    const [outcome, detail] = reply;
    if (outcome === 'missing') throw new BoardInputError(`No task with id ${id} on the board ${this.describe()}.`);
    if (outcome === 'state') return undefined;
    if (outcome === 'noparent') throw new BoardInputError(`Task ${id} belongs to map task ${detail}, which no longer exists; post the task again instead.`);
    if (outcome === 'parentcancelled') throw new BoardInputError(`Task ${id} belongs to map task ${detail}, which was cancelled; post the task again instead.`);
    faultPoint('redis:requeue:after-commit');
    const task = (await this.get(id)) ?? missingTask(id);
    if (outcome !== 'map') return { task, pending: [task] };
    const children = await Promise.all(reply.slice(1).sort().map(async (childId) => (await this.get(childId)) ?? missingTask(childId)));
    return { task, pending: children.filter((child) => child.status === 'pending') };
  }

  // ---------------------------------------------------------------- reading

  async get(id: string): Promise<Task | undefined> {
    assertId(id);
    const record = (await this.guard(this.client.hgetall(this.taskKey(id)))) as Record;
    if (!record.spec) return undefined;
    return this.taskFromRecord(record, true);
  }

  async list(query: ListQuery = {}): Promise<TaskPage> {
    const limit = clampLimit(query.limit);
    assertStatus(query.status);
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
    const lines = await this.guard(this.client.lrange(`${this.base}:err:${id}`, 0, -1));
    return lines.map((line) => JSON.parse(line) as TaskError);
  }

  async progress(parentId: string): Promise<Progress> {
    assertId(parentId);
    const [fields, running] = await this.guard(Promise.all([
      this.client.hmget(this.taskKey(parentId), 'total', 'n_done', 'n_dead', 'n_cancelled'),
      this.client.scard(`${this.base}:kr:${parentId}`),
    ]));
    return progressOf(fields.map((value) => Number(value ?? 0)), running);
  }

  async stats(): Promise<QueueStats> {
    const reply = await this.run<(string | number)[]>('STATS', Date.now());
    const counts = Object.fromEntries(TASK_STATUSES.map((status) => [status, 0])) as { [S in TaskStatus]: number };
    (['pending', 'running', 'done', 'dead', 'cancelled', 'waiting'] as const).forEach((status, index) => (counts[status] = Number(reply[index])));
    const parked: { [routeKey: string]: number } = {};
    const parkedKeys = Number(reply[7]);
    for (let index = 8; index < 8 + 2 * parkedKeys; index += 2) parked[String(reply[index])] = Number(reply[index + 1]);
    const parents: { [id: string]: Progress } = {};
    for (let index = 8 + 2 * parkedKeys; index + 5 < reply.length; index += 6) {
      const values = reply.slice(index + 1, index + 5).map(Number);
      parents[String(reply[index])] = progressOf(values, Number(reply[index + 5]));
    }
    return { counts, quarantined: 0, parents, delayed: Math.min(counts.pending, Number(reply[6])), ...(parkedKeys > 0 && { parked }) };
  }

  // ---------------------------------------------------------------- events

  async readEvents(cursor: string = EVENTS_START, limit = 1_000): Promise<EventBatch> {
    const start = cursor === EVENTS_START ? '-' : `(${assertStreamId(cursor)}`;
    const entries = await this.guard(this.client.xrange(`${this.base}:ev`, start, '+', 'COUNT', Math.max(1, Math.min(limit, 10_000))));
    return { events: entries.map(eventOf), cursor: entries.length > 0 ? entries[entries.length - 1][0] : cursor === EVENTS_START ? '0-0' : cursor };
  }

  follow(onEvents: (batch: EventBatch) => void, options: FollowOptions = {}): Following {
    const streamKey = `${this.base}:ev`;
    // Without a cursor, "new events" are those after this call: the stream's last id is asked for
    // now, on the connection every change of this handle goes through, not once the reader's own
    // connection is up (events in between would be skipped).
    const start: Promise<string> =
      options.cursor === undefined
        ? this.client.xrevrange(streamKey, '+', '-', 'COUNT', 1).then((last) => (last.length > 0 ? last[0][0] : '0-0'))
        : Promise.resolve(options.cursor === EVENTS_START ? '0-0' : assertStreamId(options.cursor));
    start.catch(() => undefined); // reported by the loop below
    const reader = this.client.duplicate({ maxRetriesPerRequest: null, lazyConnect: false, commandTimeout: READER_COMMAND_TIMEOUT_MS });
    reader.on('error', () => undefined);
    let stopped = false;
    this.followers.set(reader, () => (stopped = true));
    const loop = async (): Promise<void> => {
      let cursor = await start;
      while (!stopped) {
        try {
          const reply = (await reader.xread('COUNT', 1_000, 'BLOCK', 1_000, 'STREAMS', streamKey, cursor)) as [string, [string, string[]][]][] | null;
          const entries = reply?.[0]?.[1] ?? [];
          if (entries.length === 0 || stopped) continue;
          cursor = entries[entries.length - 1][0];
          onEvents({ events: entries.map(eventOf), cursor });
        } catch (error) {
          if (stopped) return;
          options.onError?.(this.classify(error));
          await delay(options.pollMs ?? 500);
        }
      }
    };
    void loop().catch((error: unknown) => options.onError?.(this.classify(error)));
    return {
      dispose: async () => {
        stopped = true;
        this.followers.delete(reader);
        endConnection(reader);
      },
    };
  }

  // ---------------------------------------------------------------- artifacts

  async putArtifact(taskId: string, name: string, data: Buffer | string): Promise<void> {
    assertId(taskId);
    assertArtifactName(name);
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    assertArtifactSize(taskId, name, bytes.length, this.artifactCapBytes);
    await this.guard(this.client.hset(`${this.base}:a:${taskId}`, name, bytes));
  }

  async getArtifact(taskId: string, name: string): Promise<Buffer | undefined> {
    assertId(taskId);
    assertArtifactName(name);
    return (await this.guard(this.client.hgetBuffer(`${this.base}:a:${taskId}`, name))) ?? undefined;
  }

  async listArtifacts(taskId: string): Promise<ArtifactInfo[]> {
    assertId(taskId);
    const reply = await this.run<(string | number)[]>('ARTIFACTS', taskId);
    const artifacts: ArtifactInfo[] = [];
    for (let index = 0; index + 1 < reply.length; index += 2) artifacts.push({ name: String(reply[index]), bytes: Number(reply[index + 1]) });
    return artifacts.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async deleteArtifact(taskId: string, name: string): Promise<boolean> {
    assertId(taskId);
    assertArtifactName(name);
    return (await this.guard(this.client.hdel(`${this.base}:a:${taskId}`, name))) > 0;
  }

  // ---------------------------------------------------------------- hosts (redis/hosts.ts)

  putHost(id: string, status: object, ttlMs: number): Promise<void> {
    return this.hosts().put(id, status, ttlMs);
  }

  removeHost(id: string): Promise<void> {
    return this.hosts().remove(id);
  }

  listHosts(): Promise<HostEntry[]> {
    return this.hosts().list();
  }

  private hosts(): RedisHosts {
    return new RedisHosts(this.client, this.base, this.describe(), this.location.username);
  }

  // ---------------------------------------------------------------- resource figures (redis/resources.ts)

  /** Appends one line of the pool's resource log (core/metrics/resource-log.ts writes and reads them). */
  appendResourceLine(line: string): Promise<void> {
    return new RedisResources(this.client, this.base, this.describe(), this.location.username).append(line);
  }

  /** The board's resource log lines, oldest first. */
  readResourceLines(): Promise<string[]> {
    return new RedisResources(this.client, this.base, this.describe(), this.location.username).read();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const [reader, stop] of this.followers) {
      stop();
      endConnection(reader);
    }
    this.followers.clear();
    // BullMQ's close waits for a server that is gone (its connection retries without end): only
    // while ours answers is it given a moment; then both connections are dropped.
    if (this.client.status === 'ready') await Promise.race([this.queue.close().catch(() => undefined), delay(QUEUE_CLOSE_WAIT_MS)]);
    endConnection(this.queueClient);
    endConnection(this.client);
  }

  // ---------------------------------------------------------------- records

  private taskKey(id: string): string {
    return `${this.base}:t:${id}`;
  }

  private taskOf(spec: StoredTask, status: TaskStatus, attempts: number, now: number): Task {
    return {
      ...taskFieldsOf(spec, status, attempts),
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
    if (status === 'pending' && record.pk) task.waitingForRunner = needsOfRouteKey(record.pk);
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

/**
 * Disconnects at once and ends every command still waiting. ioredis keeps the commands that were in
 * flight when a connection dropped, to send them again after it reconnects, and disconnect() leaves
 * them pending with their command timeouts running: a follower's blocked XREAD kept a process that
 * lost its server alive for 15 s after it closed the board.
 */
function endConnection(client: Redis): void {
  // Internals of ioredis 5 (the resend queue and the queue of commands waiting for a connection),
  // read defensively: a release without them just leaves the timeouts to run out.
  type Resend = { length: number; shift(): { command?: { reject?: (error: Error) => void } } | undefined } | null | undefined;
  const queues = client as unknown as { prevCommandQueue?: Resend; offlineQueue?: Resend };
  for (const waiting of [queues.prevCommandQueue, queues.offlineQueue]) {
    while (waiting && waiting.length > 0) waiting.shift()?.command?.reject?.(new Error('Connection is closed.'));
  }
  client.disconnect();
}

/**
 * Once the server has been out of reach for a few reconnection attempts (the ones a command waits
 * through, maxRetriesPerRequest), commands fail at once with a lost-connection error instead of
 * each waiting through attempts of its own: a run that lost its server stops in a moment rather than
 * after every release, host record and close waited seconds for it. A brief drop that the first
 * attempts bridge changes nothing; the first answer from the server again turns waiting back on.
 */
function failFastWhileDown(client: Redis): void {
  const retry = client.options.retryStrategy;
  client.options.retryStrategy = (times: number) => {
    if (times > FAIL_FAST_AFTER_ATTEMPTS) client.options.enableOfflineQueue = false;
    return retry?.(times);
  };
  client.on('ready', () => (client.options.enableOfflineQueue = true));
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
    // A socket still connecting to a server that is gone is destroyed this soon after close()
    // instead of ioredis's 2 s, which kept a run that lost its server alive that long.
    disconnectTimeout: 300,
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

async function ensureFormat(client: Redis, base: string, where: string, retention: number): Promise<void> {
  const metaKey = `${base}:meta`;
  const meta = await client.hgetall(metaKey);
  if (meta.format === undefined) {
    await client.hsetnx(metaKey, 'format', REDIS_BOARD_FORMAT);
    await client.hsetnx(metaKey, 'version', String(REDIS_BOARD_FORMAT_VERSION));
    await client.hsetnx(metaKey, 'createdAt', String(Date.now()));
    await client.hsetnx(metaKey, 'retention', String(retention));
    return ensureFormat(client, base, where, retention);
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
  // Older boards are upgraded in place (every older layout is read as it is); from now on older
  // clients refuse the board instead of missing what they cannot see (parked tasks). Not under an
  // older build that has it open: it checked the format only then, and would go on claiming tasks
  // whose route it ignores (a task for a GPU runner on any runner).
  if (version < REDIS_BOARD_FORMAT_VERSION) {
    const users = await liveOlderFormatUsers(client, base, where);
    if (users.length > 0) {
      throw new BoardFormatError(
        `The board at ${where} is in use by an older Agent Swarm (board format ${version}: ${users.slice(0, 3).join('; ')}${users.length > 3 ? `; ${users.length - 3} more` : ''}); this one would upgrade it under them. Stop or update them, then try again.`,
      );
    }
    await client.hset(metaKey, 'version', String(REDIS_BOARD_FORMAT_VERSION));
  }
}

/**
 * Who uses a board of an older format now: every client of this board so far was older, so any
 * live host record is an older pool, and any task whose BullMQ lock (the claim's lease) is alive
 * is held by an older claimer. Pools of builds that kept no host records are found by their claims.
 */
async function liveOlderFormatUsers(client: Redis, base: string, where: string): Promise<string[]> {
  const users: string[] = [];
  const hosts = await new RedisHosts(client, base, where).list();
  for (const host of hosts.filter((entry) => !entry.gone)) {
    const status = host.status as { host?: unknown; hostPid?: unknown } | null;
    const machine = typeof status?.host === 'string' ? ` on ${status.host}` : '';
    users.push(`the pool ${host.id}${machine}`);
  }
  const queue = `${base}:q:`;
  const active = await client.lrange(`${queue}active`, 0, -1);
  if (active.length === 0) return users;
  const pipeline = client.pipeline();
  for (const id of active) pipeline.exists(`${queue}${id}:lock`);
  const locked = ((await pipeline.exec()) ?? []).map((reply) => reply[1] === 1);
  for (const [index, id] of active.entries()) if (locked[index]) users.push(`a claim of task ${id}`);
  return users;
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

/** The detail of a task's `posted` event, as the file board writes it. */
function postedDetail(task: StoredTask): { title: string; children?: number; parentId?: string } {
  return {
    title: task.title,
    ...(task.childCount !== undefined ? { children: task.childCount } : {}),
    ...(task.parentId !== undefined ? { parentId: task.parentId } : {}),
  };
}

/** "Task t1 was posted" / "3 tasks were posted", for warnings. */
function subjectOf(ids: string[], verb: string): string {
  return ids.length === 1 ? `Task ${ids[0]} was ${verb}` : `${ids.length} tasks were ${verb}`;
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

/** Progress of a map task; like the file board's, percent counts children that ran to an end (done or dead). */
function progressOf([total, done, dead, cancelled]: number[], running: number): Progress {
  return progressFromCounts({ total, done, dead, cancelled, running });
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
  const text = typeof token === 'string' ? token : '';
  const separator = text.indexOf('~');
  const id = text.slice(0, separator);
  const bullToken = text.slice(separator + 1);
  if (separator < 0 || !isValidId(id) || !/^[A-Za-z0-9_.-]{1,64}\.[0-9a-f]{12}$/.test(bullToken)) {
    throw new BoardInputError(`${JSON.stringify(token)} is not a lease token of this board (claim prints it as "token").`);
  }
  return { id, bullToken };
}

/** A LeaseLostError worded like the file board's: why the claim is gone, and what that means. */
function leaseLost(id: string, cause: LeaseLostCause): LeaseLostError {
  const why = {
    cancelled: 'the task was cancelled',
    reclaimed: 'the lease expired and the task was reclaimed',
    missing: 'the task no longer exists',
    ended: 'the task has already ended',
  }[cause];
  const consequence = cause === 'ended' ? 'Nothing was recorded.' : 'The result was not recorded; another agent may run the task.';
  return new LeaseLostError(id, `Lease lost on task ${id}: ${why}. ${consequence}`, cause);
}

function isConnectionProblem(error: unknown): boolean {
  return error instanceof BoardUnavailableError;
}

function missingTask(id: string): never {
  throw new BoardInputError(`Task ${id} vanished from the board while it was being changed.`);
}

function assertId(id: string): void {
  if (typeof id !== 'string' || !isValidId(id)) throw new BoardInputError(`${JSON.stringify(id)} is not a task id (ids look like t1a2b3c4d01ab).`);
}

function assertAgent(agent: string): void {
  if (typeof agent !== 'string' || !isValidAgentName(agent)) {
    throw new BoardInputError(`${JSON.stringify(agent)} is not a valid agent name: use 1-64 letters, digits, "_", "." or "-".`);
  }
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

// The agent loop: claim → prepare a workspace → execute → collect → complete/fail, renewing the
// lease while it works. The same loop runs inside an agent process (src/agent/main.ts) and, in the
// sequential fallback, inside the host itself; only its dependencies differ.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BoardUnavailableError, LOG_ARTIFACT, PATCH_ARTIFACT, type Following } from '../board/interface';
import { BoardInputError, LeaseLostError, type BoardEventType, type Claim, type Task } from '../board/types';
import { classifyError, ExecutorError, type ExecutionResult, type Executor } from '../executors';
import { createCommandSandbox, type CommandSandbox } from '../sandbox/launcher';
import { isProcessAlive } from '../process';
import { CannotServeTaskError } from '../remote/errors';
import { HandBackBackoff, handBack } from '../remote/handBack';
import { recordPhase, tracePhase } from '../trace';
import { localBoardFolder } from './boardAccess';
import type { CollectedChanges, PreparedWorkspace } from './isolation';
import type { TaskEnded } from './protocol';
import { CappedLog, LogUpload } from './taskLog';
import { claimBatch } from './batch';
import { runBatch, type BatchHost } from './batchRun';
import { SwarmUserError } from '../errors';
import { artifactFields, DEFAULT_MAX_LOG_BYTES, type CurrentAttempt, type Interruption, type TaskResult, type WorkerOptions } from './workerTypes';

export { artifactFields, DEFAULT_MAX_LOG_BYTES, type CurrentAttempt, type Interruption, type TaskResult, type WorkerEvent, type WorkerOptions } from './workerTypes';


/**
 * Board events after which a claim finds nothing it did not find before. Claims of other agents,
 * heartbeats and the note that claimed tasks run as one batch free nothing, so they do not wake an
 * idle agent.
 */
export const QUIET_EVENTS: ReadonlySet<BoardEventType> = new Set(['claimed', 'heartbeat', 'batched']);

export class AgentWorker {
  private draining = false;
  private holdUntil = 0;
  private wakeUp: (() => void) | undefined;
  private current: CurrentAttempt | undefined;
  /** The tasks of the batch running now (see batchRun.ts), the first being `current`. */
  private batch: CurrentAttempt[] | undefined;
  private idleReported = false;
  private scratchRoot: string | undefined;
  /** Tasks this runner cannot serve (a shared board's): handed back without claim churn. */
  private readonly handBacks = new HandBackBackoff();

  constructor(private readonly options: WorkerOptions) {}

  get currentTaskId(): string | undefined {
    return this.current?.claim.task.id;
  }

  hold(until: number): void {
    this.holdUntil = until;
  }

  resume(): void {
    this.holdUntil = 0;
    this.wake();
  }

  wake(): void {
    this.wakeUp?.();
  }

  /** Claim nothing more; the loop returns after the current task. */
  drain(): void {
    this.draining = true;
    this.wake();
  }

  /** Stops the current attempt: `release` hands the task back unfinished, `cancelled` records nothing. */
  interrupt(reason: 'release' | 'cancelled', taskId?: string): void {
    for (const current of this.running()) {
      if (taskId !== undefined && current.claim.task.id !== taskId) continue;
      current.interruption ??= reason;
      current.controller.abort(new Error(reason === 'release' ? 'The agent is shutting down.' : 'The task was cancelled.'));
    }
  }

  /** The attempts this agent runs now: one task, or every task of a batch. */
  private running(): CurrentAttempt[] {
    return this.batch ?? (this.current ? [this.current] : []);
  }

  /** Synchronous last resort (the agent is about to exit): the claim goes back to pending and
   * nothing more is claimed (a claim now would strand the task with a dying agent). */
  releaseNow(): void {
    this.draining = true;
    this.removeScratch();
    const running = this.running();
    this.current = undefined;
    this.batch = undefined;
    for (const current of running) {
      current.interruption ??= 'release';
      current.controller.abort(new Error('The agent is exiting.'));
      // The file board's release runs within this call; a remote board's may not land before the
      // process exits, and then the lease lapses and the task comes back all the same.
      this.options.board.release(current.claim, 'the agent exited').catch(() => undefined);
    }
  }

  /** The attempts' files of this process (logs and patches already stored on the board, or abandoned). */
  private removeScratch(): void {
    if (this.scratchRoot) fs.rmSync(this.scratchRoot, { recursive: true, force: true });
  }

  async run(): Promise<void> {
    const { minPollMs = 25, maxPollMs = 500 } = this.options;
    try {
      await this.claimLoop(minPollMs, maxPollMs);
    } finally {
      await this.following?.dispose().catch(() => undefined);
      this.removeScratch();
    }
  }

  /**
   * The board's event feed, followed from the first time this agent found nothing to claim: it
   * only wakes an idle agent, so an agent that starts with a task to claim (the agents started on
   * demand for waiting tasks, several in one process) does not set it up on its way to its first
   * command. A change between that claim and the start of the feed is found by the poll.
   */
  private following: Following | undefined;
  private followStarted = false;

  /**
   * Wakes the idle loop as soon as the board reports a change that may make a task claimable (a
   * post, a release, a retry made due), instead of at the next poll; the poll stays for what the
   * board's event feed misses.
   */
  private followBoard(): Following | undefined {
    const onEvents = (batch: { events: { type: BoardEventType }[] }): void => {
      if (batch.events.some((event) => !QUIET_EVENTS.has(event.type))) this.wake();
    };
    try {
      // During an attempt a wake-up is of no use: the claim loop looks at the board when it ends.
      return this.options.board.follow(onEvents, { onError: () => undefined, deferWhile: () => this.current !== undefined });
    } catch {
      return undefined; // no feed: polling alone
    }
  }

  private async claimLoop(minPollMs: number, maxPollMs: number): Promise<void> {
    let pollMs = minPollMs;
    while (!this.draining) {
      const heldFor = this.holdUntil - Date.now();
      if (heldFor > 0) {
        await this.sleep(Math.min(heldFor, 1000));
        continue;
      }
      const claimedBefore = Date.now();
      const claim = await this.claimOrExplain();
      if (!claim) {
        if (this.options.stopWhenIdle) return;
        if (!this.followStarted) {
          this.followStarted = true;
          this.following = this.followBoard();
        }
        if (!this.idleReported) {
          this.idleReported = true;
          this.options.report({ type: 'idle', since: Date.now() });
        }
        await this.sleep(pollMs);
        pollMs = Math.min(maxPollMs, pollMs * 2);
        continue;
      }
      this.idleReported = false;
      pollMs = minPollMs;
      const leaseHeldUntil = claimedBefore + this.options.leaseMs;
      const claims = await this.claimSiblings(claim);
      const attempt = claims.length > 1 ? runBatch(this.batchHost(), claims, leaseHeldUntil) : this.runAttempt(claim, leaseHeldUntil);
      await attempt.catch((error: unknown) => this.explainBoardFailure(error));
    }
  }

  /** The one claim request of this agent (a single task, or the next task of a batch). */
  private claimOne(): Promise<Claim | undefined> {
    return tracePhase('claim', undefined, () => this.options.board.claim({ agent: this.options.agentId, leaseMs: this.options.leaseMs, serves: this.options.serves }));
  }

  /** A claim; a board that cannot be written or reached ends the loop (see explainBoardFailure). */
  private async claimOrExplain(): Promise<Claim | undefined> {
    try {
      return await this.claimOne();
    } catch (error) {
      return this.explainBoardFailure(error);
    }
  }

  /**
   * `claim` and, when the executor can serve several tasks in one run, the siblings that join it
   * (batch.ts). A board that fails meanwhile ends the batch where it is: the tasks claimed so far run.
   */
  private async claimSiblings(claim: Claim): Promise<Claim[]> {
    const limit = this.options.executor.batchLimit;
    if (limit === undefined || this.draining) return [claim];
    const claimNext = (): Promise<Claim | undefined> => (this.draining ? Promise.resolve(undefined) : this.claimOne().catch(() => undefined));
    return claimBatch(claim, { board: this.options.board, limit, agents: this.options.poolSize ?? 1, claimNext }).catch(() => [claim]);
  }

  /** What a batch run needs of this worker (batchRun.ts). */
  private batchHost(): BatchHost {
    return {
      options: this.options,
      enter: (members) => {
        this.batch = members;
        this.current = members?.[0];
      },
      keepLease: (member) => this.keepLease(member),
      scratchFor: (taskId) => this.scratchFor(taskId),
      sandboxFor: (prepared) => this.sandboxFor(prepared, this.options.executor),
      storePatch: (task, changes, stored) => this.storePatch(task, changes, stored),
      assertLeaseHeld: (member) => this.assertLeaseHeld(member),
      endFailed: (member, error, startedAt) => this.endFailed(member, error, startedAt),
      served: () => this.handBacks.served(),
    };
  }

  /**
   * Rethrows `error`; a full or read-only disk as BoardUnwritableError, a board server that cannot
   * be reached as BoardUnavailableError (no retry of this agent fixes either: the host says so once).
   */
  private explainBoardFailure(error: unknown): never {
    const code = errnoOf(error);
    if (code !== undefined && UNWRITABLE_CODES.has(code)) throw new BoardUnwritableError(this.options.board.describe(), code, error);
    throw error;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        done();
      };
    });
  }

  private async runAttempt(claim: Claim, leaseHeldUntil: number): Promise<void> {
    const { board } = this.options;
    const task = claim.task;
    const startedAt = Date.now();
    const controller = new AbortController();
    const current: CurrentAttempt = { claim, controller, leaseHeldUntil };
    this.current = current;
    this.options.report({ type: 'task-started', taskId: task.id, title: task.title, attempt: task.attempts, token: claim.token, startedAt });
    const stopHeartbeat = this.keepLease(current);
    // The attempt's files are made here, then stored on the board as artifacts: the board may be
    // a folder of this machine or a server elsewhere.
    const scratch = this.scratchPathFor(task.id);
    const log = new CappedLog(path.join(scratch, LOG_ARTIFACT), this.options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES);
    const logUpload = new LogUpload(board, task.id, log, this.options.logUploadMs ?? 2_000);
    let ended: TaskEnded;
    try {
      const executors = this.executorsFor(task);
      const outcome = executors.length === 1
        ? await this.attempt(task, executors[0], this.options.slot, scratch, controller.signal, (chunk) => log.write(chunk))
        : await this.bestOf(task, executors, scratch, controller.signal, log);
      const changes = await this.collectOrAbandon(task, outcome, scratch, controller.signal);
      const warnings = changes.warnings ?? [];
      if (warnings.length > 0) log.write(`\n${warnings.map((warning) => `warning: ${warning}`).join('\n')}\n`);
      const durationMs = Date.now() - startedAt;
      const { result } = outcome;
      const stored: TaskResult = { summary: result.summary, executor: outcome.executor.name, durationMs, files: changes.files };
      if (result.rounds !== undefined) stored.rounds = result.rounds;
      await this.storePatch(task, changes, stored);
      // On the board before the result that names it.
      if (await logUpload.finish()) Object.assign(stored, artifactFields(board, task.id, LOG_ARTIFACT, 'logArtifact', 'logFile'));
      if (changes.base) stored.base = changes.base;
      if (outcome.bestOf) stored.bestOf = outcome.bestOf;
      if (warnings.length > 0) stored.warnings = warnings;
      this.assertLeaseHeld(current);
      stopHeartbeat();
      await tracePhase('complete', task.id, () => board.complete(claim, stored));
      this.handBacks.served();
      ended = { taskId: task.id, outcome: 'done', durationMs, summary: result.summary, ...(stored.warnings && { warnings: stored.warnings }) };
    } catch (error) {
      stopHeartbeat();
      await logUpload.finish();
      ended = await this.endFailed(current, error, startedAt);
    } finally {
      stopHeartbeat();
      logUpload.stop();
      this.current = undefined;
      fs.rmSync(scratch, { recursive: true, force: true });
    }
    recordPhase('task', Date.now() - startedAt, task.id);
    this.options.report({ type: 'task-ended', ...ended });
  }

  /** A fresh folder of this process for one task's files (its log, its patch before upload). */
  private scratchFor(taskId: string): string {
    const dir = this.scratchPathFor(taskId);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * The path of a task's scratch folder, not made yet: whoever writes there first makes it (a log
   * that outgrew memory, an isolation's patch), so a task that writes nothing costs no folder.
   */
  private scratchPathFor(taskId: string): string {
    this.scratchRoot ??= fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), `${SCRATCH_PREFIX}${process.pid}-`)));
    const dir = path.join(this.scratchRoot, taskId);
    fs.rmSync(dir, { recursive: true, force: true });
    return dir;
  }

  /** Stores the collected patch as the task's patch artifact; one over the board's cap fails the task for good. */
  private async storePatch(task: Task, changes: CollectedChanges, stored: TaskResult): Promise<void> {
    if (!changes.patchFile) return;
    try {
      await this.options.board.putArtifact(task.id, PATCH_ARTIFACT, fs.readFileSync(changes.patchFile));
    } catch (error) {
      if (error instanceof BoardInputError) throw new ExecutorError('permanent', `The result could not be stored: ${error.message}`);
      throw error;
    }
    Object.assign(stored, artifactFields(this.options.board, task.id, PATCH_ARTIFACT, 'patchArtifact', 'patchFile'));
  }

  /**
   * A holder whose lease may have run out (renewals failed: the board could not be reached) does
   * not complete: the board may already have handed the task to someone else.
   */
  private assertLeaseHeld(current: CurrentAttempt): void {
    if (current.interruption === undefined && Date.now() < current.leaseHeldUntil) return;
    current.interruption ??= 'lease-lost';
    throw new LeaseLostError(current.claim.task.id, `The lease of task ${current.claim.task.id} could not be renewed in time, so its result was not stored; the task comes back to the board.`, 'reclaimed');
  }

  /**
   * The executor, or for a best-of-N task (payload.bestOf) one executor per attempt: the pool's own,
   * or executors the task names among those configured. Task data never chooses a command.
   */
  private executorsFor(task: Task): Executor[] {
    const request = bestOfRequest(task);
    if (!request) return [this.options.executor];
    if (typeof request === 'number') return Array.from({ length: request }, () => this.options.executor);
    const named = this.options.namedExecutors ?? {};
    const known = Object.keys(named);
    const create = this.options.createExecutor;
    return request.map((name) => {
      if (!Object.hasOwn(named, name)) {
        const choices = known.length > 0 ? `Configured executors: ${known.join(', ')}.` : 'No executor is configured by name (swarm.config.json "executors").';
        throw new ExecutorError('permanent', `payload.bestOf.executors names "${name}", which is not a configured executor. ${choices}`);
      }
      if (!create) throw new ExecutorError('permanent', 'This task asks for named executors (payload.bestOf.executors), but the agent cannot build executors.');
      return create(named[name]);
    });
  }

  /**
   * The winning workspace's changes. A cancel that arrived after the attempt finished, or a collect
   * that fails, abandons the workspace instead: every slot an attempt used is released either way.
   */
  private async collectOrAbandon(task: Task, outcome: AttemptOutcome, scratch: string, signal: AbortSignal): Promise<CollectedChanges> {
    const { isolation } = this.options;
    try {
      signal.throwIfAborted();
      return await tracePhase('collect', task.id, () => isolation.collect(task, outcome.slot, outcome.prepared, scratch));
    } catch (error) {
      await isolation.abandon(task, outcome.slot, outcome.prepared, classifyError(error).message).catch(() => undefined);
      throw error;
    }
  }

  /** One attempt in workspace `slot`: prepare, execute; the workspace is abandoned when it fails. */
  private async attempt(task: Task, executor: Executor, slot: string, artifactsDir: string, signal: AbortSignal, log: (chunk: string) => void): Promise<AttemptOutcome> {
    const { isolation } = this.options;
    const prepared = await tracePhase('prepare', task.id, () => isolation.prepare(task, slot, artifactsDir, signal));
    try {
      const sandbox = this.sandboxFor(prepared, executor);
      const result = await tracePhase('execute', task.id, () => executor.execute({ task, cwd: prepared.cwd, boardRoot: localBoardFolder(this.options.board), signal, log, env: this.options.env, limiter: this.options.limiter, hostModels: this.options.hostModels, sandbox }));
      if (signal.aborted) throw signal.reason;
      return { executor, slot, prepared, result };
    } catch (error) {
      await isolation.abandon(task, slot, prepared, classifyError(error).message).catch(() => undefined);
      throw error;
    }
  }

  /**
   * The attempt's sandbox: what the isolation says it may write; for an isolation that says nothing
   * (the workspace itself), its working directory with the `.git` inside it read-only. The board is
   * read-only either way (an attempt that could write it could post tasks or forge results).
   */
  private sandboxFor(prepared: PreparedWorkspace, executor: Executor): CommandSandbox | undefined {
    const active = this.options.sandbox;
    if (!active) return undefined;
    const paths = prepared.sandbox ?? { writable: [prepared.cwd], protect: [], protectAfter: [path.join(prepared.cwd, '.git')] };
    const boardFolder = localBoardFolder(this.options.board);
    const scope = { ...paths, cwd: prepared.cwd, protectAfter: [...(paths.protectAfter ?? []), ...(boardFolder ? [boardFolder] : [])] };
    return createCommandSandbox(active, scope, { homeState: executor.sandboxHomeState, env: { ...process.env, ...this.options.env } });
  }

  /**
   * Best of N: the attempts run at once, each in a workspace of its own (one after the other when
   * the isolation shares one folder); the first that succeeds (its verify passed) wins and the
   * others are cancelled. The task fails only when every attempt failed.
   */
  private async bestOf(task: Task, executors: Executor[], artifactsDir: string, signal: AbortSignal, log: CappedLog): Promise<AttemptOutcome> {
    const controllers = executors.map(() => new AbortController());
    const onAbort = (): void => controllers.forEach((controller) => controller.abort(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    const run = (index: number): Promise<AttemptOutcome> =>
      this.attempt(task, executors[index], `${this.options.slot}-b${index + 1}`, artifactsDir, controllers[index].signal, (chunk) => log.write(`[attempt ${index + 1}] ${chunk}`));
    const failures: unknown[] = [];
    try {
      let winner: { index: number; outcome: AttemptOutcome } | undefined;
      if (this.options.parallelAttempts === false) {
        for (let index = 0; index < executors.length && !winner && !signal.aborted; index++) {
          winner = await run(index).then((outcome) => ({ index, outcome }), (error: unknown) => void failures.push(error));
        }
      } else {
        const attempts = executors.map((_, index) => run(index).then((outcome) => ({ index, outcome })));
        winner = await Promise.any(attempts).catch((error: unknown) => void failures.push(...(error instanceof AggregateError ? error.errors : [error])));
        if (winner) {
          const won = winner.index;
          controllers.forEach((controller, index) => index !== won && controller.abort(new Error(`attempt ${won + 1} won`)));
          // The losers' processes are gone before the result is filed. A loser that finished too
          // (it succeeded a moment later) still holds its workspace: abandoned here, slot released.
          const settled = await Promise.allSettled(attempts);
          for (const entry of settled) {
            if (entry.status !== 'fulfilled' || entry.value.index === won) continue;
            await this.options.isolation.abandon(task, entry.value.outcome.slot, entry.value.outcome.prepared, `attempt ${won + 1} won`).catch(() => undefined);
          }
        }
      }
      if (!winner) throw combinedFailure(failures);
      log.write(`[best of ${executors.length}] attempt ${winner.index + 1} (${winner.outcome.executor.name}) won\n`);
      return { ...winner.outcome, bestOf: { attempts: executors.length, winner: winner.index + 1 } };
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private async endFailed(current: CurrentAttempt, error: unknown, startedAt: number): Promise<TaskEnded> {
    const { board } = this.options;
    const task = current.claim.task;
    const failure = classifyError(error);
    const durationMs = Date.now() - startedAt;
    const base = { taskId: task.id, durationMs, kind: failure.kind };
    if (current.interruption === 'cancelled') return { ...base, outcome: 'cancelled', message: 'The task was cancelled.' };
    // Its lease may be someone else's by now: nothing more is recorded under it.
    // The command ended because the lease was lost: say why the lease went, not that the command was stopped.
    if (current.interruption === 'lease-lost') return { ...base, outcome: 'lost', message: abortReason(current) ?? failure.message };
    try {
      if (current.interruption === 'release') {
        await board.release(current.claim, 'the agent was stopped');
        return { ...base, outcome: 'released', message: 'The task was handed back to the board.' };
      }
      if (error instanceof CannotServeTaskError) {
        const wait = await handBack(board, current.claim, this.options.agentId, error, this.handBacks);
        if (wait > 0) this.holdUntil = Math.max(this.holdUntil, Date.now() + wait);
        return { ...base, outcome: 'released', message: `Handed back: ${error.reason}` };
      }
      await board.fail(current.claim, failure.message, { permanent: failure.kind === 'permanent', retryAt: failure.retryAt });
      // A usage limit: this agent holds back at once (the host then holds back the others).
      if (failure.kind === 'rate-limited' && failure.retryAt !== undefined) this.holdUntil = Math.max(this.holdUntil, failure.retryAt);
      return { ...base, outcome: 'failed', message: failure.message, retryAt: failure.retryAt };
    } catch (boardError) {
      if (boardError instanceof LeaseLostError) return { ...base, outcome: 'lost', message: boardError.message };
      // The board cannot be reached to take the task back or record the failure: nothing is
      // recorded, and the task comes back once its lease runs out. Said as such (a stop that came
      // before the lease's own loss printed nothing for the task).
      if (boardError instanceof BoardUnavailableError) return { ...base, outcome: 'lost', message: unrecordedEnd(task.id, boardError) };
      throw boardError;
    }
  }

  /**
   * Renews the lease every leaseMs/3. A lost lease (cancelled, reclaimed) aborts the attempt; so
   * does a lease that can no longer be renewed before it runs out (the board cannot be reached),
   * because past that moment the board may give the task to another agent.
   */
  private keepLease(current: CurrentAttempt): () => void {
    const { board, leaseMs } = this.options;
    const periodMs = Math.max(50, Math.floor(leaseMs / 3));
    let renewing = false;
    let stopped = false;
    /** Why the last renewal failed while the board could not be reached; cleared by a renewal. */
    let unreachable: string | undefined;
    const stop = (interruption: Interruption, reason: unknown): void => {
      current.interruption ??= interruption;
      current.controller.abort(reason);
    };
    const renew = async (): Promise<void> => {
      const sentAt = Date.now();
      try {
        await board.heartbeat(current.claim, leaseMs);
        current.leaseHeldUntil = Math.max(current.leaseHeldUntil, sentAt + leaseMs);
        unreachable = undefined;
      } catch (error) {
        if (stopped) return;
        // Out of reach for a moment: the next renewal may still come in time.
        if (error instanceof BoardUnavailableError) unreachable = error.message;
        // The board says why the lease is gone; the message is for people.
        else stop(error instanceof LeaseLostError && error.cause === 'cancelled' ? 'cancelled' : 'lease-lost', error);
      }
    };
    const cannotRenewInTime = (now: number): boolean => (renewing ? now >= current.leaseHeldUntil : unreachable !== undefined && now + periodMs >= current.leaseHeldUntil);
    const timer = setInterval(() => {
      if (stopped) return;
      if (cannotRenewInTime(Date.now())) {
        const taskId = current.claim.task.id;
        const why = unreachable ?? 'the board did not answer';
        stop('lease-lost', new LeaseLostError(taskId, `The lease of task ${taskId} could not be renewed (${why}); the attempt stopped so that it cannot finish after the task was given to someone else.`, 'reclaimed'));
        return;
      }
      if (renewing) return;
      renewing = true;
      void renew().finally(() => (renewing = false));
    }, periodMs);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }
}

/** Why the attempt's signal was aborted (a LeaseLostError says why the lease went), when it says. */
function abortReason(current: CurrentAttempt): string | undefined {
  const reason: unknown = current.controller.signal.reason;
  return reason instanceof Error ? reason.message : undefined;
}

interface AttemptOutcome {
  executor: Executor;
  slot: string;
  prepared: PreparedWorkspace;
  result: ExecutionResult;
  bestOf?: { attempts: number; winner: number };
}

/**
 * `payload.bestOf`: a number of attempts with the pool's executor, or `{ executors: ["name", ...] }`
 * naming configured executors. An executor configuration in the payload is refused: a task (posted
 * by anyone who can write the board: another agent, an MCP client) must never choose the command.
 */
export function bestOfRequest(task: Task): number | string[] | undefined {
  const payload = task.payload as { bestOf?: unknown } | null | undefined;
  const request = typeof payload === 'object' && payload !== null ? payload.bestOf : undefined;
  if (request === undefined) return undefined;
  if (typeof request === 'number' && Number.isInteger(request) && request >= 1 && request <= 8) return request === 1 ? undefined : request;
  const executors = typeof request === 'object' && request !== null ? (request as { executors?: unknown }).executors : undefined;
  if (Array.isArray(executors) && executors.some((entry) => typeof entry !== 'string')) {
    throw new ExecutorError(
      'permanent',
      'payload.bestOf.executors must list names of executors configured under "executors" in swarm.config.json; a task cannot bring its own executor configuration, because that would let it choose the command that runs.',
    );
  }
  if (Array.isArray(executors) && executors.length >= 1 && executors.length <= 8) return executors as string[];
  throw new ExecutorError('permanent', 'payload.bestOf must be a number of attempts from 1 to 8, or { "executors": [ 1 to 8 names of configured executors ] }.');
}

/** Every attempt of a best-of-N task failed: permanent only if all of them were. */
function combinedFailure(failures: unknown[]): ExecutorError {
  const classified = failures.map((failure) => classifyError(failure));
  const kind = classified.length > 0 && classified.every((failure) => failure.kind === 'permanent') ? 'permanent' : 'transient';
  const retryAt = classified.map((failure) => failure.retryAt).filter((at): at is number => at !== undefined).sort((a, b) => a - b)[0];
  const message = `All ${classified.length} attempts failed:\n${classified.map((failure, index) => `${index + 1}. ${failure.message}`).join('\n')}`;
  return new ExecutorError(retryAt !== undefined && kind !== 'permanent' ? 'rate-limited' : kind, message, { retryAt });
}

/** An agent's scratch folder in the temp folder: `swarm-agent-<pid>-XXXXXX`. */
const SCRATCH_PREFIX = 'swarm-agent-';

/**
 * Removes the scratch folders of agents that died without removing theirs (kill -9, a crash);
 * those of live processes stay. Returns how many went. Never throws.
 */
export function removeDeadAgentScratch(tmpDir = os.tmpdir()): number {
  let removed = 0;
  let names: string[] = [];
  try {
    names = fs.readdirSync(tmpDir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const pid = new RegExp(`^${SCRATCH_PREFIX}(\\d+)-`).exec(name)?.[1];
    if (pid === undefined || isProcessAlive(Number(pid))) continue;
    try {
      fs.rmSync(path.join(tmpDir, name), { recursive: true, force: true });
      removed++;
    } catch {
      // Another user's, or being removed by someone else: left alone.
    }
  }
  return removed;
}

/** File-system errors that no retry fixes while the run goes on. */
const UNWRITABLE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT']);

function errnoOf(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? (error as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

function describeCause(code: string, cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  return text.includes(code) ? text : `${code}: ${text}`;
}

/**
 * The board cannot be used any more (written on this machine, or reached on its server): every
 * agent would fail the same way, so claiming stops, once, with one line saying what to do.
 */
export function boardOutageMessage(error: unknown): string | undefined {
  if (error instanceof BoardUnwritableError) return error.message;
  if (error instanceof BoardUnavailableError) return `${error.message.replace(/\.?$/, '.')} No more tasks are claimed; run again once the board can be reached.`;
  return undefined;
}

/** The board cannot be written any more: claiming stops, once, with what to do. */
export class BoardUnwritableError extends SwarmUserError {
  constructor(
    readonly boardRoot: string,
    readonly code: string,
    cause: unknown,
  ) {
    super(
      'environment',
      `The task board ${boardRoot} cannot be written any more (${describeCause(code, cause)}). ` +
        'No more tasks are claimed. Free disk space or make the folder writable, then run again; tasks that were running are reclaimed when their leases expire.',
    );
    this.name = 'BoardUnwritableError';
  }
}

/** Why an attempt's end was not recorded: the board could not be reached (its lease lapses instead). */
function unrecordedEnd(taskId: string, error: BoardUnavailableError): string {
  return `Lease lost on task ${taskId}: the board could not be reached to record how the attempt ended (${error.message.replace(/\.$/, '')}). The task comes back to the board when its lease runs out.`;
}

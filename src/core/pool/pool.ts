// The agent pool: the assembly of its units. The scheduler (scheduler.ts) decides who starts and
// when; the supervisor (supervisor.ts) forks agent processes, watches them and handles their exits;
// the pause (pause.ts) holds dispatch back after a usage limit; the sequential runner
// (sequential.ts) runs tasks in this process when agents cannot start. The pool holds what they
// share (the board, the agents, the isolation, the sandbox, the limiter), serves the public API,
// counts finished tasks, publishes the host's status and stops everything gracefully. Agents
// coordinate only through the board; the pool never hands out tasks itself.
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { FileBoardEngine } from '../board/board';
import type { Board } from '../board/interface';
import { BoardInputError } from '../board/types';
import { createExecutor, type HostModelBroker } from '../executors';
import { RateLimiter, type EndpointLimits } from '../ratelimit';
import { DEFAULT_SANDBOX_SETTINGS, resolveSandbox, type ResolvedSandbox, type SandboxSettings } from '../sandbox';
import type { TaskIsolation } from './isolation';
import { setUpIsolation, type IsolationChoice } from './isolation-setup';
import { createNoIsolation } from './isolation-modes';
import { tracePhase, tracePhaseSync } from '../trace';
import { verifyFailsFirst } from './verify-first';
import { HOST_MARK, hostIdentity, killDeadHostLeftovers } from '../process/orphans';
import { freeSlot, recordWorkerEvent, sendToAgent, type AgentHandle } from './agent-handle';
import type { AgentInit, HostToAgentBody, TaskEnded } from './protocol';
import { DispatchPause } from './pause';
import { createInHostAgent } from './sequential';
import { resolveAgentsPerProcess, type AgentsPerProcess, type ScalingLimits } from './scaling';
import { usableCpuCount } from '../monitor/cpus';
import { Scheduler } from './scheduler';
import { AgentSupervisor } from './supervisor';
import { HOST_STATUS_TTL_MS, hostRecordId, removeHostStatusNow, type HostStatus } from './status-file';
import type { AgentCurrentTask, PoolEvent, PoolMode, PoolStats } from './types';
import { DEFAULT_MAX_LOG_BYTES, boardOutageMessage, removeDeadAgentScratch, type WorkerEvent } from './worker';
import { BOARD_PASSWORD_ENV, asBoard, defaultBoardAccess, localBoardFolder, type BoardAccess } from './boardAccess';
import type { Serves } from '../board/routing';

export interface ResourceLimits {
  agentMemoryBytes?: number;
  totalMemoryBytes?: number;
  maxCpuPercent?: number;
  /** Memory the machine must keep available for another agent to start. */
  minFreeMemoryBytes?: number;
}

export type { IsolationChoice } from './isolation-setup';

export interface PoolOptions {
  /** The board the agents claim from (the file board's engine is taken as it is, behind the interface). */
  board: Board | FileBoardEngine;
  /**
   * How agent processes open the same board; the password reaches them only in their environment.
   * Default for a file board: its folder. Required for any other board.
   */
  boardAccess?: BoardAccess;
  workspaceRoot: string;
  /** Executor config JSON, validated by createExecutor (may contain `verify`). */
  executor: unknown;
  minAgents?: number;
  maxAgents?: number;
  /**
   * The most agents one agent process hosts: a number ≥ 1, or `auto` (see resolveAgentsPerProcess:
   * up to 4 per process, more where agents outnumber 4 per core). Default `auto`. Killing one
   * agent's process kills its siblings.
   */
  agentsPerProcess?: AgentsPerProcess;
  idleTimeoutMs?: number;
  leaseMs?: number;
  /** What the agents can serve on a shared board; the board routes on it at each claim. Absent: everything. */
  serves?: Serves;
  /** Default: 'worktree' in a git repository, 'direct' elsewhere. 'none': the workspace itself, nothing collected. */
  isolation?: IsolationChoice;
  limits?: ResourceLimits;
  /** Per model endpoint: requests in flight and per interval, shared by every agent of this host. */
  rateLimits?: Record<string, Partial<EndpointLimits>>;
  mode?: 'auto' | 'pool' | 'sequential';
  agentScript?: string;
  /** Node flags for agents; default none for .js and `--import tsx` for a .ts agentScript (tests). */
  agentExecArgv?: string[];
  hostModels?: HostModelBroker;
  env?: NodeJS.ProcessEnv;
  /** The wall around every command of every attempt; default mode `auto` (see docs/sandbox.md). */
  sandbox?: Partial<SandboxSettings>;
  /** Executors configured by name (swarm.config.json `executors`): the only ones a best-of-N task may name. */
  namedExecutors?: Record<string, unknown>;
  untilEmpty?: boolean;
  log?: (line: string) => void;
  /** Health check: ping period, and how long an agent may stay silent before it is killed. */
  pingIntervalMs?: number;
  unresponsiveMs?: number;
  /** How long a new agent may take to report ready. */
  startTimeoutMs?: number;
  /** Shortest time between two scheduling rounds: a burst of board events costs one round per period. */
  tickMs?: number;
  /** Safety poll: a round at least this often, for board events that were missed (default 5 s). */
  pollMs?: number;
  /** Resource sampling period. */
  monitorIntervalMs?: number;
  /** Write `<board>/hosts/<pid>.json` (default true). */
  statusFile?: boolean;
  maxLogBytes?: number;
}

const DEFAULT_LEASE_MS = 30_000;
/** setTimeout's longest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;
/** How long a stopping agent gets to hand its task back after SIGTERM before everything it started is killed. */
const AGENT_STOP_GRACE_MS = 3_000;

export class AgentPool {
  private readonly board: Board;
  /** The file board's folder on this machine; undefined for a board elsewhere. */
  private readonly boardFolder: string | undefined;
  private readonly options: PoolOptions;
  private readonly scaling: ScalingLimits;
  private readonly leaseMs: number;
  private readonly agentScript: string;
  private readonly emitter = new EventEmitter();
  private readonly agents = new Map<string, AgentHandle>();
  private readonly limiter: RateLimiter;
  private readonly hostTag = `h${process.pid}`;
  /** The workspace itself until the checks set up the isolation chosen (a stop before then releases nothing). */
  private isolation: TaskIsolation;
  private sandbox: ResolvedSandbox = { status: { mode: 'off', active: false, network: true, reason: 'the pool has not started' } };
  private executorName = '';
  private currentMode: PoolMode = 'pool';
  private started = false;
  private stopping: Promise<void> | undefined;
  private stopped = false;
  private resolveDone!: () => void;
  private readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));
  private timers: NodeJS.Timeout[] = [];
  private startedAt = Date.now();
  private tasksDone = 0;
  private tasksFailed = 0;
  private busyMs = 0;
  /** Attempts that ran the executor (a batch once); see PoolStats.commands. */
  private commands = 0;
  private readonly pause = new DispatchPause(() => this.resume());
  private readonly scheduler: Scheduler;
  private readonly supervisor: AgentSupervisor;
  private sequentialRun: Promise<void> | undefined;
  /** On a sudden exit only a file board's record can be removed (synchronously); elsewhere it expires. */
  private exitCleanup = (): void => {
    if (this.boardFolder) removeHostStatusNow(this.boardFolder);
  };

  constructor(options: PoolOptions) {
    this.options = options;
    this.board = asBoard(options.board);
    this.boardFolder = localBoardFolder(this.board);
    const minAgents = Math.max(0, options.minAgents ?? 0);
    const maxAgents = Math.max(1, options.maxAgents ?? Math.min(4, usableCpuCount()), minAgents);
    this.scaling = { minAgents, maxAgents, idleTimeoutMs: options.idleTimeoutMs ?? 60_000 };
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.agentScript = options.agentScript ?? path.join(__dirname, 'agent.js');
    this.limiter = new RateLimiter({ endpoints: options.rateLimits });
    this.emitter.setMaxListeners(0); // the CLI, the dashboard, metrics and trees all listen
    this.isolation = createNoIsolation(options.workspaceRoot);
    this.scheduler = this.createScheduler();
    this.supervisor = this.createSupervisor();
  }

  get mode(): PoolMode {
    return this.currentMode;
  }

  /**
   * Starts the pool. The agents the board wants now are forked first, and their processes boot
   * (a Node start-up is most of an agent's start) while the checks run: the sandbox probe, the
   * isolation, `checks` (the host's own, e.g. the CLI's template check), the sweep of dead hosts'
   * leftovers and the verify check. Their agents get their init, and with it the right to claim,
   * only once every check passed; a check that throws ends their processes before start() rethrows.
   */
  async start(options: { checks?: () => void | Promise<void> } = {}): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.startedAt = Date.now();
    const executor = createExecutor(this.options.executor); // invalid config: a permanent error, thrown now
    if (!this.boardAccess()) throw new Error(`Agents cannot open the board ${this.board.describe()}: the pool was not told where it is (boardAccess).`);
    this.executorName = executor.name;
    const requested = this.options.mode ?? 'auto';
    const agentScriptFound = fs.existsSync(this.agentScript);
    // Sampling first: the agents forked ahead are watched (memory, CPU) from their start.
    this.supervisor.startSampling({ limits: this.options.limits ?? {}, intervalMs: this.options.monitorIntervalMs ?? 1_000 });
    // The verify check's workspace is the first agent's, free until the checks passed.
    const verifySlot = freeSlot(this.agents.values());
    if (requested !== 'sequential' && agentScriptFound) {
      this.supervisor.holdInits();
      this.claimableAtStart = await this.scheduler.startAgentsAhead().catch((error: unknown) => {
        this.onBoardError(error);
        return 0;
      });
    }
    let verdict: string | undefined;
    try {
      this.verifyCheckRun = this.checkBeforeClaims(options.checks, verifySlot);
      verdict = await this.verifyCheckRun;
    } catch (error) {
      await this.supervisor.refuseInits();
      this.supervisor.stopSampling();
      throw error;
    }
    if (this.stopping) return; // stopped (Ctrl-C) during the checks: the shutdown ends the agents forked ahead; the verdict no longer matters
    this.verifyFailure = verdict;
    if (this.verifyFailure !== undefined) {
      void this.stop({ graceMs: 0 });
      return;
    }
    if (requested === 'sequential') this.enterSequential('sequential mode was requested');
    else if (!agentScriptFound) {
      const reason = `the agent program ${this.agentScript} does not exist (run "npm run build")`;
      if (requested === 'pool') {
        this.supervisor.stopSampling();
        throw new Error(`Cannot start agents: ${reason}.`);
      }
      this.enterSequential(reason);
    } else if (this.currentMode === 'pool') this.emit({ type: 'mode', mode: 'pool' }); // agents forked ahead may have failed into sequential mode
    this.log(`Pool started: ${this.currentMode} mode, up to ${this.scaling.maxAgents} agents, ${this.isolation.kind} isolation, executor ${this.executorName}.`);
    this.announceSandbox();
    if (this.options.statusFile !== false) process.on('exit', this.exitCleanup);
    this.every(1_000, () => this.publishStatus());
    this.publishStatus();
    this.supervisor.allowInits();
    this.scheduler.start();
  }

  /**
   * What must hold before any task is claimed; the verify check's verdict (a failure that is the
   * snapshot's, not a task's), or undefined. Throws when a check refuses the run.
   */
  private async checkBeforeClaims(checks: (() => void | Promise<void>) | undefined, verifySlot: string): Promise<string | undefined> {
    await tracePhase('host checks', undefined, async () => checks?.());
    // "required" without a working sandbox throws here, before anything runs.
    this.sandbox = tracePhaseSync('sandbox probe', undefined, () => resolveSandbox({ ...DEFAULT_SANDBOX_SETTINGS, ...this.options.sandbox }));
    this.isolation = setUpIsolation({ choice: this.options.isolation, workspaceRoot: this.options.workspaceRoot, sandboxed: this.sandbox.status.active, log: (line) => this.log(line), warn: (message) => this.warn(message) });
    this.isolation.useSandbox?.(this.sandbox.active, this.commandMarks());
    const swept = tracePhase('sweep', undefined, () => this.sweepLeftovers());
    // The workspaces of the agents forked ahead are made while they boot, not after their claims:
    // the snapshot at once, the slots once the sweep is done with them.
    this.isolation.warmUp?.(this.agentProcessSlots(), swept);
    await swept;
    if (this.stopping) return undefined;
    return this.checkVerifyBeforeRun(verifySlot);
  }

  /** What dead hosts left: their commands, their agents' scratch folders, their workspaces. */
  private async sweepLeftovers(): Promise<void> {
    // Commands of hosts that died (SIGKILL, out of memory) would run on and write into slots.
    const orphans = await killDeadHostLeftovers();
    if (orphans.length > 0) this.log(`Ended ${orphans.length} process(es) left running by agent hosts that died.`);
    // Their scratch folders (a log, a patch not yet stored) are of no use to anyone now.
    removeDeadAgentScratch();
    await this.isolation.prune?.().catch((error: unknown) => this.warn(`Cleaning up old workspaces failed: ${messageOf(error)}`));
  }

  /** Tasks the agents forked ahead may claim once the checks passed (see startAgentsAhead). */
  private claimableAtStart = 0;

  /**
   * The slots worth making ready ahead: those of the agents forked ahead (their processes still
   * boot), no more than there are tasks for them (an agent kept for minAgents may wait idle).
   */
  private agentProcessSlots(): string[] {
    return [...this.agents.values()].filter((agent) => !agent.inHost).map((agent) => agent.slot).slice(0, this.claimableAtStart);
  }

  /** Graceful: stop claiming, let running tasks finish for graceMs, then SIGTERM, then SIGKILL. */
  stop(options: { graceMs?: number } = {}): Promise<void> {
    // A second stop with a shorter grace (a second Ctrl-C) cuts the first one's grace short.
    this.stopDeadline = Math.min(this.stopDeadline, Date.now() + (options.graceMs ?? 30_000));
    this.stopDeadlineMoved?.();
    this.verifyCheck?.abort();
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private stopDeadline = Number.POSITIVE_INFINITY;
  /** Wakes the shutdown's wait when a second stop brings the deadline closer. */
  private stopDeadlineMoved: (() => void) | undefined;

  /** How agent processes open the board. */
  private boardAccess(): BoardAccess | undefined {
    return this.options.boardAccess ?? defaultBoardAccess(this.board);
  }

  /** Cancels the task on the board and kills the process tree of the attempt running it. */
  async cancelTask(taskId: string): Promise<boolean> {
    try {
      await this.board.cancel(taskId);
    } catch (error) {
      if (error instanceof BoardInputError) return false;
      throw error;
    }
    const handle = [...this.agents.values()].find((agent) => agent.info.currentTask?.id === taskId || agent.runningTasks.has(taskId));
    if (!handle) return true;
    if (handle.runningTasks.size > 1) return this.cancelInBatch(handle, taskId);
    handle.cancelledTask = taskId;
    if (handle.inHost) {
      handle.worker?.interrupt('cancelled', taskId);
      // The executor ends its process group on abort; report success once the attempt is over.
      const deadline = Date.now() + 15_000;
      while (handle.info.currentTask?.id === taskId && Date.now() < deadline) await delay(20);
      return true;
    }
    await this.supervisor.cancelTask(handle, taskId);
    return true;
  }

  /**
   * A task of a batch: the agent stops the batch's command itself and hands the other tasks back
   * uncounted (batchRun.ts); stopping the agent would make them look failed. Its lease renewal
   * notices the cancel too, should the message not arrive.
   */
  private async cancelInBatch(handle: AgentHandle, taskId: string): Promise<boolean> {
    if (handle.inHost) handle.worker?.interrupt('cancelled', taskId);
    else this.send(handle, { type: 'cancel', taskId });
    const deadline = Date.now() + 15_000;
    while (handle.runningTasks.has(taskId) && Date.now() < deadline) await delay(20);
    return true;
  }

  /** Environment marks of every process this host starts for attempts (see orphans.ts). */
  private commandMarks(): Record<string, string> {
    return { [HOST_MARK]: hostIdentity() };
  }

  /** Said once per pool, as an event: the run header, the Pool view and the extension's log show it. */
  private announceSandbox(): void {
    this.emit({ type: 'sandbox', status: this.sandbox.status });
  }

  stats(): PoolStats {
    const agents = [...this.agents.values()].map((handle) => ({ ...handle.info }));
    const latest = this.supervisor.latestSample();
    if (latest) {
      for (const agent of agents) {
        const usage = latest.agents.find((entry) => entry.agentId === agent.id);
        if (usage) {
          agent.cpuPercent = usage.cpuPercent;
          agent.rssBytes = usage.rssBytes;
        }
      }
    }
    const busy = agents.filter((agent) => agent.state === 'busy').length;
    const stats: PoolStats = {
      hostPid: process.pid,
      boardRoot: this.board.describe(),
      mode: this.currentMode,
      running: this.started && !this.stopped,
      minAgents: this.scaling.minAgents,
      maxAgents: this.scaling.maxAgents,
      busy,
      idle: agents.filter((agent) => agent.state === 'idle').length,
      total: agents.length,
      agents,
      tasksDone: this.tasksDone,
      tasksFailed: this.tasksFailed,
      busyMs: this.busyMs,
      commands: this.commands,
      startedAt: this.startedAt,
      limiters: this.limiter.state(),
      sandbox: this.sandbox.status,
    };
    if (latest) stats.system = latest.system;
    if (this.pause.pausedUntil !== undefined) {
      stats.pausedUntil = this.pause.pausedUntil;
      stats.pauseReason = this.pause.reason;
    }
    const blocked = this.scheduler.spawnBlockedReason;
    if (blocked) stats.spawnBlockedReason = blocked;
    return stats;
  }

  onEvent(listener: (event: PoolEvent) => void): { dispose(): void } {
    this.emitter.on('event', listener);
    return { dispose: () => this.emitter.off('event', listener) };
  }

  whenDone(): Promise<void> {
    return this.done;
  }

  // ------------------------------------------------------------------ setup

  private every(ms: number, action: () => void): void {
    const timer = setInterval(() => {
      try {
        action();
      } catch (error) {
        this.warn(`Pool housekeeping failed: ${messageOf(error)}`);
      }
    }, ms);
    this.timers.push(timer);
  }

  // ------------------------------------------------------------------ scheduling

  /** The scheduler decides; these are the pool's hands and eyes for it. */
  private createScheduler(): Scheduler {
    const mode = this.options.mode ?? 'auto';
    return new Scheduler(
      {
        board: this.board,
        agents: () => this.agents.values(),
        isStopping: () => this.stopping !== undefined || this.stopped,
        mode: () => this.currentMode,
        paused: (now) => this.pause.holds(now),
        sequentialRunning: () => this.sequentialRun !== undefined,
        runSequential: () => this.runSequential(),
        fallBackToSequential: (reason) => this.enterSequential(reason),
        spawnAgent: () => void this.supervisor.spawn(),
        drain: (agent) => this.drain(agent),
        wake: (agent) => this.send(agent, { type: 'wake' }),
        ping: (agent, timeoutMs) => agent.requests?.request({ type: 'ping' }, { timeoutMs }) ?? Promise.resolve(),
        kill: (agent, reason) => this.supervisor.kill(agent, reason),
        canSpawn: () => this.supervisor.canSpawn(),
        boardIsEmpty: () => {
          this.log('The board is empty: stopping the pool.');
          void this.stop();
        },
        roundFailed: (error) => this.onBoardError(error),
        log: (line) => this.log(line),
        warn: (message) => this.warn(message),
      },
      {
        limits: this.scaling,
        untilEmpty: this.options.untilEmpty === true,
        mayFallBack: mode === 'auto',
        tickMs: this.options.tickMs ?? 100,
        pollMs: this.options.pollMs ?? 5_000,
        pingIntervalMs: this.options.pingIntervalMs ?? 3_000,
        unresponsiveMs: this.options.unresponsiveMs ?? 15_000,
        ...(this.options.serves !== undefined && { serves: this.options.serves }),
      },
    );
  }

  /**
   * A board that cannot be written or reached stops the pool once, with its one line; any other
   * failure of a round is said once per distinct message (rounds run ten times a second).
   */
  private onBoardError(error: unknown): void {
    const outage = boardOutageMessage(error);
    if (outage !== undefined) return this.stopForBoard(outage);
    const message = `Pool housekeeping failed: ${messageOf(error)}`;
    if (message === this.lastHousekeepingProblem) return;
    this.lastHousekeepingProblem = message;
    this.warn(message);
  }

  private lastHousekeepingProblem: string | undefined;

  /** The supervisor runs agent processes; these are what it reads of the pool and where it reports. */
  private createSupervisor(): AgentSupervisor {
    return new AgentSupervisor(
      {
        board: this.board,
        agents: this.agents,
        scheduler: this.scheduler,
        isolation: () => this.isolation,
        // The board's password only in the agent's own environment (it removes it before running anything).
        environment: (agentId) => ({ ...this.options.env, ...this.commandMarks(), ...(agentId !== undefined && { SWARM_AGENT_ID: agentId }), [BOARD_PASSWORD_ENV]: this.boardAccess()?.password }),
        init: (handle) => this.agentInit(handle),
        isStopping: () => this.stopping !== undefined,
        boardLost: () => this.boardFailure !== undefined,
        boardFailed: (message) => this.stopForBoard(message),
        workerEvent: (handle, event) => this.onWorkerEvent(handle, event),
        attemptFailed: (handle, task, message) => this.onAttemptFailed(handle, task, message),
        emit: (event) => this.emit(event),
        log: (line) => this.log(line),
        warn: (message) => this.warn(message),
      },
      {
        hostTag: this.hostTag,
        capacity: this.scaling.maxAgents,
        agentScript: this.agentScript,
        agentExecArgv: this.options.agentExecArgv,
        workspaceRoot: this.options.workspaceRoot,
        limiter: this.limiter,
        hostModels: this.options.hostModels,
        startTimeoutMs: this.options.startTimeoutMs,
        agentsPerProcess: resolveAgentsPerProcess(this.options.agentsPerProcess ?? 'auto', this.scaling.maxAgents),
      },
    );
  }

  private agentInit(handle: AgentHandle): AgentInit {
    return {
      agentId: handle.info.id,
      slot: handle.slot,
      board: (this.boardAccess() as BoardAccess).location,
      workspaceRoot: this.options.workspaceRoot,
      executor: this.options.executor,
      namedExecutors: this.options.namedExecutors,
      leaseMs: this.leaseMs,
      ...(this.options.serves !== undefined && { serves: this.options.serves }),
      isolation: this.isolation.kind === 'none' ? 'none' : 'host',
      isolationKind: this.isolation.kind,
      hostModels: this.options.hostModels !== undefined,
      holdUntil: this.pause.pausedUntil,
      maxLogBytes: this.options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES,
      sandbox: this.sandbox.active,
      poolSize: this.scaling.maxAgents,
    };
  }

  /** A dead agent's task, failed by the supervisor: counted like any failed attempt. */
  private onAttemptFailed(handle: AgentHandle, task: AgentCurrentTask | undefined, message: string): void {
    this.tasksFailed++;
    handle.info.tasksFailed++;
    if (task) {
      const durationMs = Date.now() - task.startedAt;
      this.emit({ type: 'task-failed', agentId: handle.info.id, taskId: task.id, durationMs, kind: 'transient', message });
    }
  }

  /** Reports shared by agent processes and the in-host worker. */
  private onWorkerEvent(handle: AgentHandle, event: WorkerEvent): void {
    // What the agents do changes what the scheduler decides (an idle agent may retire later, a
    // free one may take a waiting task): a round soon, at most one per tickMs.
    recordWorkerEvent(handle, event);
    if (event.type === 'idle' && !this.anyAgentBusy()) this.scheduler.requestRoundSoon();
    else this.scheduler.requestRound();
    if (event.type === 'task-started') this.emit({ type: 'task-started', agentId: handle.info.id, taskId: event.taskId, title: event.title, attempt: event.attempt });
    if (event.type === 'task-ended') this.onTaskEnded(handle, event);
  }

  private anyAgentBusy(): boolean {
    return [...this.agents.values()].some((agent) => agent.info.state === 'busy');
  }

  private onTaskEnded(handle: AgentHandle, ended: TaskEnded): void {
    const agentId = handle.info.id;
    // A batch's tasks all report the one command's time: it counts once.
    if (ended.batch === undefined || ended.batch[0] === ended.taskId) {
      this.busyMs += ended.durationMs;
      this.commands++;
    }
    if (ended.batch?.[0] === ended.taskId) this.log(`Agent ${agentId} ran tasks ${ended.batch.join(', ')} in one command (a batch).`);
    if (ended.outcome === 'done') {
      this.tasksDone++;
      handle.info.tasksDone++;
      this.emit({ type: 'task-finished', agentId, taskId: ended.taskId, durationMs: ended.durationMs, summary: ended.summary ?? '', ...(ended.warnings && { warnings: ended.warnings }) });
      for (const warning of ended.warnings ?? []) this.log(`Task ${ended.taskId}: ${warning}`);
      return;
    }
    if (ended.outcome === 'failed') {
      this.tasksFailed++;
      handle.info.tasksFailed++;
    }
    const message = ended.message ?? ended.outcome;
    this.emit({ type: 'task-failed', agentId, taskId: ended.taskId, durationMs: ended.durationMs, kind: ended.outcome === 'failed' ? (ended.kind ?? 'transient') : ended.outcome, message });
    if (ended.kind === 'rate-limited' && ended.retryAt !== undefined && ended.retryAt > Date.now() + 1_000) this.pauseDispatch(ended.retryAt, message);
  }

  // ------------------------------------------------------------------ usage-limit pause

  private pauseDispatch(until: number, reason: string): void {
    if (!this.pause.extend(until, reason)) return;
    for (const agent of this.agents.values()) {
      if (agent.inHost) agent.worker?.hold(until);
      else this.send(agent, { type: 'hold', until });
    }
    this.warn(`Dispatch paused until ${new Date(until).toISOString()}: ${reason}`);
    this.emit({ type: 'paused', until, reason });
  }

  /**
   * What this runner serves changed (RunnerServesWatch updated `options.serves` in place, which the
   * scheduler and an in-host agent read): agent processes get the new value, and the scheduler looks
   * again at the tasks parked for it.
   */
  servesChanged(): void {
    const serves = this.options.serves;
    if (serves === undefined) return;
    for (const agent of this.agents.values()) if (!agent.inHost) this.send(agent, { type: 'serves', serves });
    this.scheduler.requestRound();
  }

  /** The pause ended (its reset time came): agents may claim again. */
  private resume(): void {
    for (const agent of this.agents.values()) {
      if (agent.inHost) agent.worker?.resume();
      else this.send(agent, { type: 'resume' });
    }
    this.log('Dispatch resumed after the usage-limit pause.');
    this.scheduler.requestRound();
  }

  // ------------------------------------------------------------------ stopping agents

  private drain(handle: AgentHandle): void {
    if (!handle.inHost) return this.supervisor.drain(handle);
    handle.life.drain();
    handle.worker?.drain();
  }

  private send(handle: AgentHandle, body: HostToAgentBody): void {
    sendToAgent(handle, body);
  }

  // ------------------------------------------------------------------ sequential fallback

  private enterSequential(reason: string): void {
    if (this.currentMode === 'sequential') return;
    this.currentMode = 'sequential';
    this.warn(`Running tasks one at a time inside this process (sequential mode): ${reason}.`);
    this.emit({ type: 'mode', mode: 'sequential', reason });
  }

  private runSequential(): void {
    const id = `${this.hostTag}-seq`;
    let handle: ReturnType<typeof createInHostAgent>;
    try {
      handle = createInHostAgent(id, {
        board: this.board,
        executor: this.options.executor,
        namedExecutors: this.options.namedExecutors,
        isolation: this.isolation,
        leaseMs: this.leaseMs,
        serves: this.options.serves,
        limiter: this.limiter,
        hostModels: this.options.hostModels,
        env: { ...this.options.env, ...this.commandMarks(), SWARM_AGENT_ID: id },
        sandbox: this.sandbox.active,
        maxLogBytes: this.options.maxLogBytes,
        holdUntil: this.pause.pausedUntil,
        report: (agent, event) => this.onWorkerEvent(agent, event),
      });
    } catch (error) {
      this.warn(messageOf(error));
      return;
    }
    this.agents.set(id, handle);
    this.sequentialRun = handle.worker
      .run()
      .catch((error: unknown) => {
        const outage = boardOutageMessage(error);
        if (outage !== undefined) this.stopForBoard(outage);
        else this.warn(`The in-host worker failed: ${messageOf(error)}`);
      })
      .finally(() => {
        handle.life.exited(false);
        this.agents.delete(id);
        this.sequentialRun = undefined;
        this.scheduler.requestRound();
      });
  }

  // ------------------------------------------------------------------ shutdown

  private async shutdown(): Promise<void> {
    this.log('Stopping the pool: no new tasks are claimed.');
    // Agents forked ahead of checks that had not passed yet never get their init: they end now.
    void this.supervisor.refuseInits();
    for (const handle of this.agents.values()) this.drain(handle);
    await this.agentsEndedOrDeadline();
    if (this.agents.size > 0) this.log(`Grace period over: stopping ${this.agents.size} agent(s); their tasks return to the board.`);
    for (const handle of this.agents.values()) {
      if (handle.inHost) handle.worker?.interrupt('release');
      else void this.supervisor.stopGracefully(handle, AGENT_STOP_GRACE_MS);
    }
    await this.sequentialRun;
    await this.verifyCheckRun?.catch(() => undefined); // its workspace is handed back before the isolation is released
    await this.supervisor.whenAllExited();
    await this.isolation.release?.().catch((error: unknown) => this.warn(`Removing idle worktrees failed: ${messageOf(error)}`));
    for (const timer of this.timers) clearInterval(timer);
    await this.scheduler.dispose();
    this.pause.dispose();
    this.supervisor.stopSampling();
    this.limiter.dispose();
    if (this.options.statusFile !== false) {
      await this.publishing;
      await this.board.removeHost(hostRecordId(this.board)).catch((error: unknown) => this.log(`Could not remove this host's record from the board: ${messageOf(error)}`));
      process.off('exit', this.exitCleanup);
    }
    this.stopped = true;
    this.emit({ type: 'stopped' });
    this.resolveDone();
  }

  /**
   * Until every agent ended (woken by their ends, not a poll: the last one's end is the end of the
   * run) or the stop's grace ran out; a second stop with a shorter grace wakes it too.
   */
  private async agentsEndedOrDeadline(): Promise<void> {
    let ended = false;
    const allEnded = Promise.all([this.supervisor.whenAllExited(), this.sequentialRun]).then(() => (ended = true));
    while (!ended && this.agents.size > 0 && Date.now() < this.stopDeadline) {
      let timer: NodeJS.Timeout | undefined;
      const deadlineOrMoved = new Promise<void>((resolve) => {
        this.stopDeadlineMoved = resolve;
        timer = setTimeout(resolve, Math.min(MAX_TIMER_MS, this.stopDeadline - Date.now()));
      });
      await Promise.race([allEnded, deadlineOrMoved]);
      clearTimeout(timer);
      this.stopDeadlineMoved = undefined;
    }
  }

  // ------------------------------------------------------------------ reporting

  /** The host record being written, awaited before it is removed (a late write would bring it back). */
  private publishing: Promise<void> | undefined;

  private publishStatus(): void {
    if (this.stopped) return;
    const stats = this.stats();
    this.emit({ type: 'stats', stats });
    if (this.options.statusFile === false || this.publishing || this.stopping) return;
    const status: HostStatus = { ...stats, updatedAt: Date.now(), workspaceRoot: this.options.workspaceRoot, isolation: this.isolation.kind, executor: this.executorName, host: os.hostname() };
    this.publishing = this.board
      .putHost(hostRecordId(this.board), status, HOST_STATUS_TTL_MS)
      .catch((error: unknown) => this.log(`Could not record this host's status on the board: ${messageOf(error)}`))
      .finally(() => (this.publishing = undefined));
  }

  private emit(event: PoolEvent): void {
    this.emitter.emit('event', event);
  }

  /** Set when the verify command failed on the unchanged snapshot: the pool stopped before claiming anything. */
  verifyFailure: string | undefined;

  /** Aborts the verify check before the run (a stop during it). */
  private verifyCheck: AbortController | undefined;
  private verifyCheckRun: Promise<string | undefined> | undefined;

  private async checkVerifyBeforeRun(slot: string): Promise<string | undefined> {
    this.verifyCheck = new AbortController();
    try {
      return await verifyFailsFirst({
        executor: this.options.executor,
        isolation: this.isolation,
        slot,
        sandbox: this.sandbox,
        boardFolder: this.boardFolder,
        env: this.options.env,
        signal: this.verifyCheck.signal,
        log: (line) => this.log(line),
      });
    } finally {
      this.verifyCheck = undefined;
    }
  }

  /** Why the pool stopped early because its board could not be written (`swarm run` exits 1). */
  boardFailure: string | undefined;

  /** Every agent would fail the same way: said once, then the pool stops instead of restarting agents. */
  private stopForBoard(message: string): void {
    if (this.boardFailure !== undefined) return;
    this.boardFailure = message;
    this.warn(message);
    void this.stop({ graceMs: 0 });
  }

  private warn(message: string): void {
    this.log(message);
    this.emit({ type: 'warning', message });
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

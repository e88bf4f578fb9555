// Supervision of agent processes: forking one, its start deadline, the messages it sends (ready,
// pongs, fatal errors, isolation requests), killing it (over its memory limit, unresponsive, a
// cancelled task, a shutdown), and what its exit means: reaping what it left running, handing
// back or failing the task it held, and telling the scheduler how it ended. The per-agent resource
// sampling lives here too, as it kills agents. The pool (pool.ts) assembles this with the
// scheduler, the pause and the sequential runner; it reaches this unit only through the methods
// below, and this unit reaches the pool only through `SupervisorHost`.
import PQueue from 'p-queue';
import type { Board } from '../board/interface';
import { listAllTasks } from '../board/paging';
import { BoardInputError, LeaseLostError } from '../board/types';
import type { HostModelBroker } from '../executors';
import { formatBytes } from '../format';
import { ResourceMonitor, type MonitorEvent, type MonitorLimits, type MonitorSnapshot } from '../monitor';
import { killAgentLeftovers } from '../process/orphans';
import type { RateLimiter } from '../ratelimit';
import { CannotServeTaskError } from '../remote/errors';
import { agentProcessHandle, freeSlot, openAgentRequests, sendToAgent, type AgentHandle } from './agent-handle';
import { forkAgent, type AgentProcess } from './agent-process';
import type { TaskIsolation } from './isolation';
import { runIsolationRequest } from './isolation-modes';
import type { AgentInit, AgentToHost } from './protocol';
import type { Scheduler } from './scheduler';
import type { AgentCurrentTask, PoolEvent } from './types';
import { boardOutageMessage, type WorkerEvent } from './worker';

/** What the scheduler hears about agent lives (its restart backoff and sequential fallback follow from them). */
export type AgentLifeReports = Pick<Scheduler, 'agentReady' | 'agentSpawnFailed' | 'agentCrashed' | 'agentEndedCleanly' | 'requestRound'>;

/** What the supervisor needs from the pool: what it reads, and where it reports. */
export interface SupervisorHost {
  readonly board: Board;
  /** The pool's agents: the supervisor adds each agent it forks and removes it once its exit is handled. */
  readonly agents: Map<string, AgentHandle>;
  readonly scheduler: AgentLifeReports;
  /** The host's isolation, which serves the agents' prepare/collect/abandon requests. */
  isolation(): TaskIsolation;
  /** The environment agent `agentId` starts with (the host's marks, its id, the board's password). */
  environment(agentId: string): NodeJS.ProcessEnv;
  /** The init message for a forked agent. */
  init(handle: AgentHandle): AgentInit;
  /** The pool is stopping: a new agent drains at once, and an agent that exits is checked for leftovers. */
  isStopping(): boolean;
  /** The pool stopped because its board is out of reach: a task that cannot be handed back is no news. */
  boardLost(): boolean;
  /** An agent cannot write or reach the board: every agent would fail the same way. */
  boardFailed(message: string): void;
  /** Reports shared with the in-host worker (idle, task-started, task-ended). */
  workerEvent(handle: AgentHandle, event: WorkerEvent): void;
  /** The supervisor failed the task a dead agent held, as transient, with `message`. */
  attemptFailed(handle: AgentHandle, task: AgentCurrentTask | undefined, message: string): void;
  emit(event: PoolEvent): void;
  log(line: string): void;
  warn(message: string): void;
}

export interface SupervisorOptions {
  /** Agent ids are `<hostTag>-a<n>`. */
  hostTag: string;
  /** How many agent processes may live at once. */
  capacity: number;
  agentScript: string;
  agentExecArgv?: string[];
  workspaceRoot: string;
  limiter: RateLimiter;
  hostModels?: HostModelBroker;
  /** How long a new agent may take to report ready (default 30 s). */
  startTimeoutMs?: number;
}

export interface SamplingOptions {
  limits: MonitorLimits;
  intervalMs: number;
}

export class AgentSupervisor {
  /** One job per agent life; its concurrency is the pool's capacity. */
  private readonly lives: PQueue;
  private monitor: ResourceMonitor | undefined;
  private agentSeq = 0;

  constructor(
    private readonly host: SupervisorHost,
    private readonly options: SupervisorOptions,
  ) {
    this.lives = new PQueue({ concurrency: options.capacity });
  }

  // ------------------------------------------------------------------ resource sampling

  /** Samples agents and the machine; an agent over its memory limit is killed. */
  startSampling(options: SamplingOptions): void {
    this.monitor = new ResourceMonitor({ intervalMs: options.intervalMs, limits: options.limits });
    this.monitor.onEvent((event) => this.onMonitorEvent(event));
    this.monitor.start();
  }

  stopSampling(): void {
    this.monitor?.stop();
  }

  /** The machine's room for another agent (the safe-spawn check); room when nothing is sampled. */
  canSpawn(): { ok: true } | { ok: false; reason: string } {
    return this.monitor?.canSpawn() ?? { ok: true };
  }

  /** The last sample of agents and machine, if any. */
  latestSample(): MonitorSnapshot | undefined {
    return this.monitor?.latest();
  }

  private onMonitorEvent(event: MonitorEvent): void {
    if (event.type === 'warning') this.host.warn(event.message);
    if (event.type !== 'agent-over-memory') return;
    const handle = this.host.agents.get(event.agentId);
    if (!handle || handle.life.killReason || handle.inHost) return;
    const reason = `Agent ${event.agentId} used ${formatBytes(event.rssBytes)} of memory, over its ${formatBytes(event.limitBytes)} limit; it was stopped and the task will be retried. Raise the per-agent memory limit if the task needs more.`;
    this.kill(handle, reason);
  }

  // ------------------------------------------------------------------ starting

  /** A new agent, in the lowest free slot: registered at once (starting), forked when capacity allows. */
  spawn(): AgentHandle {
    const id = `${this.options.hostTag}-a${++this.agentSeq}`;
    const handle = agentProcessHandle(id, freeSlot(this.host.agents.values()));
    this.host.agents.set(id, handle);
    void this.lives.add(() => this.runAgent(handle));
    return handle;
  }

  /** Resolves once every agent life has ended (its exit handled). */
  whenAllExited(): Promise<void> {
    return this.lives.onIdle();
  }

  private async runAgent(handle: AgentHandle): Promise<void> {
    const id = handle.info.id;
    let agent: AgentProcess;
    try {
      agent = await forkAgent(id, {
        agentScript: this.options.agentScript,
        agentExecArgv: this.options.agentExecArgv,
        workspaceRoot: this.options.workspaceRoot,
        env: this.host.environment(id),
        limiter: this.options.limiter,
        hostModels: this.options.hostModels,
        log: (line) => this.host.log(line),
        onMessage: (message) => this.onAgentMessage(handle, message),
      });
    } catch (error) {
      handle.life.exited(false);
      this.host.agents.delete(id);
      this.host.scheduler.agentSpawnFailed(`${id} could not start: ${messageOf(error)}`);
      return;
    }
    const child = agent.process;
    handle.process = child;
    openAgentRequests(handle);
    handle.info.pid = child.pid;
    this.monitor?.track(id, child.pid);
    sendToAgent(handle, { type: 'init', init: this.host.init(handle) });
    if (this.host.isStopping()) this.drain(handle);
    const startTimeoutMs = this.options.startTimeoutMs ?? 30_000;
    const startTimer = setTimeout(() => {
      if (!handle.life.wasReady) this.kill(handle, `Agent ${id} did not start within ${Math.round(startTimeoutMs / 1000)} s.`);
    }, startTimeoutMs);
    const exit = await child.exited;
    clearTimeout(startTimer);
    // Reap what the agent left: its process group, and executor commands in groups of their own.
    await child.stop({ graceMs: 0 }).catch(() => undefined);
    // An agent that drained and exited on its own ended its commands itself; scanning /proc for
    // leftovers is for agents that were killed, crashed, or stopped by a shutdown.
    const cleanExit = exit.code === 0 && handle.life.phase === 'draining' && !this.host.isStopping();
    const leftovers = cleanExit ? [] : await killAgentLeftovers(id);
    if (leftovers.length > 0) this.host.log(`Ended ${leftovers.length} process(es) agent ${id} left behind.`);
    agent.dispose();
    this.monitor?.untrack(id);
    await this.afterAgentExit(handle, exit.code, exit.signal);
  }

  // ------------------------------------------------------------------ what an agent says

  private onAgentMessage(handle: AgentHandle, message: AgentToHost): void {
    switch (message.type) {
      case 'ready':
        handle.life.ready();
        this.host.scheduler.agentReady();
        handle.idleSince ??= Date.now();
        this.host.scheduler.requestRound();
        this.host.emit({ type: 'agent-started', agentId: handle.info.id, pid: message.pid });
        return;
      case 'pong':
        handle.requests?.resolve(message.id);
        return;
      case 'fatal':
        handle.life.drain();
        if (message.board) return this.host.boardFailed(message.message);
        this.host.warn(`Agent ${handle.info.id} cannot work: ${message.message}`);
        return;
      case 'warning':
        this.host.warn(`Agent ${handle.info.id}: ${message.message}`);
        return;
      case 'isolation': {
        // Aborted when the agent asks (its attempt was cancelled) or exits: a setup command of a
        // dead agent's attempt does not run on in the host.
        const controller = new AbortController();
        handle.isolationRequests.set(message.id, controller);
        runIsolationRequest(this.host.isolation(), message.request, controller.signal)
          .then(
            (value) => sendToAgent(handle, { type: 'isolation-reply', id: message.id, ok: true, value }),
            (error: unknown) =>
              sendToAgent(handle, { type: 'isolation-reply', id: message.id, ok: false, message: messageOf(error), ...(error instanceof CannotServeTaskError && { handBack: { taskId: error.taskId, reason: error.reason } }) }),
          )
          .finally(() => handle.isolationRequests.delete(message.id));
        return;
      }
      case 'isolation-abort':
        handle.isolationRequests.get(message.id)?.abort(new Error('The attempt was cancelled.'));
        return;
      default:
        this.host.workerEvent(handle, message);
    }
  }

  // ------------------------------------------------------------------ stopping

  /** Finish the current task, claim nothing more, exit. */
  drain(handle: AgentHandle): void {
    handle.life.drain();
    sendToAgent(handle, { type: 'drain' });
  }

  /** Ends an agent at once; its task (if any) is failed as transient with `reason`. */
  kill(handle: AgentHandle, reason: string): void {
    if (!handle.life.kill(reason)) return;
    this.host.warn(reason);
    void handle.process?.stop({ graceMs: 0 }).catch((error: unknown) => this.host.warn(`Could not stop agent ${handle.info.id}: ${messageOf(error)}`));
  }

  /** The user cancelled the task the agent runs: the agent and everything it started end before this resolves. */
  async cancelTask(handle: AgentHandle, taskId: string): Promise<void> {
    handle.cancelledTask = taskId;
    handle.life.drain();
    this.host.log(`Cancelling task ${taskId}: stopping agent ${handle.info.id} and everything it started.`);
    await handle.process?.stop({ graceMs: 0 }).catch((error: unknown) => this.host.warn(`Could not stop agent ${handle.info.id}: ${messageOf(error)}`));
    // Its executor's commands lead process groups of their own: end them before reporting success.
    await killAgentLeftovers(handle.info.id);
  }

  /**
   * SIGTERM to the agent alone: it aborts its attempt, ends its commands and hands the task back
   * itself. Only after `graceMs` is everything it started killed. Signalling its commands together
   * with it raced that handover: an agent that saw its command die before it handled its own
   * SIGTERM recorded a failed attempt instead of a released one.
   */
  async stopGracefully(handle: AgentHandle, graceMs: number): Promise<void> {
    const agent = handle.process;
    if (!agent) return;
    try {
      agent.child.kill('SIGTERM');
    } catch {
      // Already gone.
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([agent.exited, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    await agent.stop({ graceMs: 0 }).catch(() => undefined);
  }

  // ------------------------------------------------------------------ after an exit

  private async afterAgentExit(handle: AgentHandle, code: number | null, signal: string | null): Promise<void> {
    const id = handle.info.id;
    for (const controller of handle.isolationRequests.values()) controller.abort(new Error(`Agent ${id} exited.`));
    handle.requests?.close(`agent ${id} exited (${describeExit(code, signal)}).`);
    const killReason = handle.life.killReason;
    const verdict = handle.life.exited(handle.cancelledTask !== undefined);
    this.host.agents.delete(id);
    // An agent can die between its claim and its report of it: look on the board for its claims.
    if (!handle.token && !(verdict.task === 'release' && code === 0)) handle.token = await this.orphanedClaim(id);
    if (handle.token) await this.recoverTask(handle, verdict.task, killReason, code, signal);
    const { scheduler } = this.host;
    if (verdict.kind === 'spawn-failure') {
      scheduler.agentSpawnFailed(`agent ${id} exited before it was ready (${describeExit(code, signal)})`);
    } else if (verdict.kind === 'crash') {
      const backoff = scheduler.agentCrashed();
      this.host.warn(killReason ?? `Agent ${id} exited unexpectedly (${describeExit(code, signal)}); a new agent starts in ${backoff} ms if tasks wait.`);
    } else {
      scheduler.agentEndedCleanly();
    }
    this.host.emit({ type: 'agent-exited', agentId: id, code, signal, expected: verdict.expected });
    scheduler.requestRound();
  }

  /** The agent died holding a lease: hand the task back (it was draining) or fail the attempt as transient. */
  private async recoverTask(handle: AgentHandle, action: 'release' | 'fail', killReason: string | undefined, code: number | null, signal: string | null): Promise<void> {
    const claim = { token: handle.token as string };
    const task = handle.info.currentTask;
    handle.token = undefined;
    handle.info.currentTask = undefined;
    handle.info.currentTasks = undefined;
    const message = killReason ?? `Agent ${handle.info.id} crashed while running the task (${describeExit(code, signal)}).`;
    await this.recoverBatchSiblings(handle, task, claim.token, action, message);
    if (handle.cancelledTask && handle.cancelledTask === task?.id) return; // already cancelled on the board
    await this.returnClaim(handle, claim, task, action, message);
  }

  /**
   * The other tasks of the batch the agent ran (batchRun.ts) come back at once too, the way its last
   * one does, instead of when their leases lapse. They are found on the board by holder: the agent
   * may have died after claiming them and before reporting them.
   */
  private async recoverBatchSiblings(handle: AgentHandle, task: AgentCurrentTask | undefined, token: string, action: 'release' | 'fail', message: string): Promise<void> {
    handle.runningTasks.clear();
    const running = await listAllTasks(this.host.board, 'running').catch(() => []);
    const siblings = running.filter((candidate) => candidate.claimedBy === handle.info.id && candidate.id !== task?.id && candidate.id !== handle.cancelledTask).map((candidate) => candidate.id);
    for (const id of siblings) {
      const claim = await this.host.board.findClaim(id, handle.info.id).catch(() => undefined);
      if (claim && claim.token !== token) await this.returnClaim(handle, claim, task && { ...task, id }, action, `${message} It ran in a batch with task ${task?.id ?? 'others'}.`);
    }
  }

  private async returnClaim(handle: AgentHandle, claim: { token: string }, task: AgentCurrentTask | undefined, action: 'release' | 'fail', message: string): Promise<void> {
    try {
      if (action === 'release') {
        await this.host.board.release(claim, `agent ${handle.info.id} stopped`);
        return;
      }
      await this.host.board.fail(claim, message);
      this.host.attemptFailed(handle, task, message);
    } catch (error) {
      // After the pool stopped because the board is out of reach, that one line said it all: the
      // task comes back when its lease lapses.
      if (this.host.boardLost() && boardOutageMessage(error) !== undefined) return;
      if (!(error instanceof LeaseLostError) && !(error instanceof BoardInputError)) this.host.warn(`Could not return task ${task?.id ?? ''} to the board: ${messageOf(error)}`);
    }
  }

  private async orphanedClaim(agentId: string): Promise<string | undefined> {
    try {
      const task = (await listAllTasks(this.host.board, 'running')).find((candidate) => candidate.claimedBy === agentId);
      return task ? (await this.host.board.findClaim(task.id, agentId))?.token : undefined;
    } catch {
      return undefined;
    }
  }
}

function describeExit(code: number | null, signal: string | null): string {
  return signal ? `signal ${signal}` : `exit code ${code ?? 'unknown'}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

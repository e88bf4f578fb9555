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
import type { SupervisedProcess } from '../process';
import { formatBytes } from '../format';
import { ResourceMonitor, type MonitorEvent, type MonitorLimits, type MonitorSnapshot } from '../monitor';
import { LeftoverSweeper } from '../process/orphans';
import type { RateLimiter } from '../ratelimit';
import { CannotServeTaskError } from '../remote/errors';
import { agentProcessHandle, freeSlot, openAgentRequests, sendToAgent, type AgentHandle } from './agent-handle';
import { forkAgent, type HostingProcess } from './agent-process';
import type { TaskIsolation } from './isolation';
import { runIsolationRequest } from './isolation-modes';
import { toAgent, type AgentInit, type AgentToHost } from './protocol';
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
  /**
   * The environment an agent process starts with (the host's marks, the board's password, and
   * `agentId` when it hosts that one agent only: a shared process names no agent, each agent's
   * commands carry their own).
   */
  environment(agentId: string | undefined): NodeJS.ProcessEnv;
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
  /** The most agents one agent process hosts (default 1: a process per agent). */
  agentsPerProcess?: number;
  /** What ends the processes agents left behind (tests count its passes over /proc). */
  sweeper?: LeftoverSweeper;
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
  /** The agent processes alive or starting. */
  private readonly processes = new Set<HostingProcess>();
  /** Each agent's life, resolved once its exit is handled. */
  private readonly lifeEnds = new Map<AgentHandle, Promise<void>>();
  private readonly perProcess: number;
  /** Leftover sweeps asked for together (agents of one process, a stopping pool) share one pass over /proc. */
  private readonly sweeper: LeftoverSweeper;
  /** The per-agent memory limit when processes may host several agents (checked per process, by the agents it hosts). */
  private memoryPerAgent: number | undefined;
  /** Whether forked agents get their init: true at once, unless held until the pool's checks passed. */
  private inits: Promise<boolean> = Promise.resolve(true);
  private decideInits: ((allowed: boolean) => void) | undefined;

  constructor(
    private readonly host: SupervisorHost,
    private readonly options: SupervisorOptions,
  ) {
    this.lives = new PQueue({ concurrency: options.capacity });
    this.perProcess = Math.max(1, Math.floor(options.agentsPerProcess ?? 1));
    this.sweeper = options.sweeper ?? new LeftoverSweeper();
  }

  // ------------------------------------------------------------------ resource sampling

  /**
   * Samples agent processes and the machine; a process over its memory limit is killed. A process
   * that may host several agents is held to the per-agent limit times the agents it hosts at the
   * sample (checked here, as the monitor knows one limit for every process it watches).
   */
  startSampling(options: SamplingOptions): void {
    const perAgent = options.limits.agentMemoryBytes;
    this.memoryPerAgent = this.perProcess === 1 ? undefined : perAgent;
    const limits = this.perProcess === 1 ? options.limits : { ...options.limits, agentMemoryBytes: undefined };
    this.monitor = new ResourceMonitor({ intervalMs: options.intervalMs, limits });
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

  /**
   * The last sample of agents and machine, if any. Each agent of a shared process shows an equal
   * share of its process's CPU and memory, so sums over agents (the pool's totals, the report's
   * peaks, the dashboard) count every process once.
   */
  latestSample(): MonitorSnapshot | undefined {
    const latest = this.monitor?.latest();
    if (!latest || this.perProcess === 1) return latest;
    const agents = [...this.processes].flatMap((hosting) => {
      const usage = latest.agents.find((entry) => entry.agentId === hosting.label);
      const members = [...hosting.members];
      if (!usage || members.length === 0) return [];
      const share = { cpuPercent: usage.cpuPercent / members.length, rssBytes: Math.round(usage.rssBytes / members.length) };
      return members.map((member) => ({ ...usage, ...share, agentId: member.info.id }));
    });
    return { ...latest, agents };
  }

  private onMonitorEvent(event: MonitorEvent): void {
    if (event.type === 'warning') this.host.warn(event.message);
    if (event.type === 'snapshot') this.stopSharedProcessesOverMemory(event.snapshot);
    if (event.type !== 'agent-over-memory') return;
    const hosting = [...this.processes].find((candidate) => candidate.label === event.agentId);
    if (!hosting) return;
    this.stopOverMemory(hosting, `Agent ${event.agentId} used ${formatBytes(event.rssBytes)} of memory, over its ${formatBytes(event.limitBytes)} limit; it was stopped and the task will be retried. Raise the per-agent memory limit if the task needs more.`);
  }

  /** Processes that may host several agents: each over the per-agent limit times the agents it hosts now is stopped (every sample, as the monitor repeats its events). */
  private stopSharedProcessesOverMemory(snapshot: MonitorSnapshot): void {
    const perAgent = this.memoryPerAgent;
    if (perAgent === undefined) return;
    for (const hosting of this.processes) {
      const hosted = hosting.members.size;
      const usage = snapshot.agents.find((entry) => entry.agentId === hosting.label);
      if (hosted === 0 || !usage || usage.rssBytes <= perAgent * hosted) continue;
      const limit = `${formatBytes(perAgent * hosted)} limit${hosted === 1 ? '' : ` (${hosted} agents × the per-agent limit)`}`;
      this.stopOverMemory(hosting, `The agent process of ${describeMembers(hosting)} used ${formatBytes(usage.rssBytes)} of memory, over its ${limit}; it was stopped and its tasks will be retried. Raise the per-agent memory limit if the tasks need more.`);
    }
  }

  private stopOverMemory(hosting: HostingProcess, reason: string): void {
    const handle = [...hosting.members].find((member) => !member.life.killReason && !member.inHost);
    if (handle) this.kill(handle, reason);
  }

  // ------------------------------------------------------------------ starting

  /** A new agent, in the lowest free slot: registered at once (starting), forked when capacity allows. */
  spawn(): AgentHandle {
    const id = `${this.options.hostTag}-a${++this.agentSeq}`;
    const handle = agentProcessHandle(id, freeSlot(this.host.agents.values()));
    this.host.agents.set(id, handle);
    const life = this.lives.add(() => this.runAgent(handle)).finally(() => this.lifeEnds.delete(handle));
    this.lifeEnds.set(handle, life);
    return handle;
  }

  /** Resolves once every agent life has ended (its exit handled). */
  whenAllExited(): Promise<void> {
    return this.lives.onIdle();
  }

  /**
   * Agents forked from now on boot but get no init (so claim nothing) until allowInits(); the pool
   * holds them while its checks run.
   */
  holdInits(): void {
    if (this.decideInits) return;
    this.inits = new Promise((resolve) => (this.decideInits = resolve));
  }

  /** The checks passed: held agents get their init, and so may claim. */
  allowInits(): void {
    this.decideInits?.(true);
  }

  /**
   * A check failed, or the pool stops before they passed: agents still held never get their init;
   * their processes are ended. Resolves once every agent life has ended. Nothing once inits were allowed.
   */
  refuseInits(): Promise<void> {
    this.decideInits?.(false);
    return this.whenAllExited();
  }

  private async runAgent(handle: AgentHandle): Promise<void> {
    const id = handle.info.id;
    const hosting = this.place(handle);
    const agent = await hosting.forked;
    if (agent instanceof Error) {
      hosting.members.delete(handle);
      handle.life.exited(false);
      this.host.agents.delete(id);
      // One process that could not be forked is one failed start for the backoff and the
      // sequential fallback, however many agents were placed in it.
      if (!hosting.exitReported) this.host.scheduler.agentSpawnFailed(`${id} could not start: ${agent.message}`);
      hosting.exitReported = true;
      // A round to start a replacement when the backoff ends (not at the next safety poll).
      this.host.scheduler.requestRound();
      return;
    }
    const child = agent.process;
    if (!(await this.inits)) return this.endUninitialised(handle, hosting, child);
    handle.process = child;
    openAgentRequests(handle);
    handle.info.pid = child.pid;
    const ended = new Promise<number>((resolve) => (handle.ended = resolve));
    // The process exits when this host says so (see endProcess): only here is it known whether
    // another agent was placed into it while its last one ended.
    // A process killed while its init was held gets none: it claims nothing on its way out.
    if (!hosting.killing) sendToAgent(handle, { type: 'init', init: { ...this.host.init(handle), exitWhenTold: true } });
    if (this.host.isStopping()) this.drain(handle);
    const startTimeoutMs = this.options.startTimeoutMs ?? 30_000;
    const startTimer = setTimeout(() => {
      if (!handle.life.wasReady) this.kill(handle, `Agent ${id} did not start within ${Math.round(startTimeoutMs / 1000)} s.`);
    }, startTimeoutMs);
    const processExit = child.exited.then((exit) => ({ code: exit.code, signal: exit.signal as string | null, processGone: true }));
    let exit = await Promise.race([processExit, ended.then((code) => ({ code: code as number | null, signal: null as string | null, processGone: false }))]);
    clearTimeout(startTimer);
    hosting.members.delete(handle);
    // The last agent of a process ended: the process exits now, and its exit is what counts (as
    // when each agent had a process of its own). No agent can be placed into it any more (none of
    // its agents is live), and none was meanwhile, or it would still be a member.
    if (!exit.processGone && hosting.members.size === 0) {
      endProcess(child, exit.code);
      exit = await processExit;
    }
    // While the pool stops, every agent process is on its way out: an agent that ended before its
    // process waits for it, so that the leftover sweeps of the process's agents share one pass.
    else if (!exit.processGone && this.host.isStopping()) await reap(hosting, child);
    // Reap what the process left: its process group, and executor commands in groups of their own.
    if (exit.processGone) await reap(hosting, child);
    // An agent that drained and ended on its own ended its commands itself; scanning /proc for
    // leftovers is for agents that were killed, crashed, or stopped by a shutdown. The scan finds
    // this agent's commands by its mark, not its siblings'.
    const cleanExit = exit.code === 0 && handle.life.phase === 'draining' && !this.host.isStopping();
    const leftovers = cleanExit ? [] : await this.sweeper.sweep(id);
    if (leftovers.length > 0) this.host.log(`Ended ${leftovers.length} process(es) agent ${id} left behind.`);
    // One process that died is one crash (or one failed start) for the restart backoff and the
    // sequential fallback, however many agents it hosted.
    const firstOfProcess = !exit.processGone || !hosting.exitReported;
    if (exit.processGone) hosting.exitReported = true;
    await this.afterAgentExit(handle, exit.code, exit.signal, firstOfProcess);
  }

  /**
   * An agent whose init was refused (the checks before the run failed, or the pool stopped during
   * them) never claimed anything: its process is ended, quietly, as no agent ever ran.
   */
  private async endUninitialised(handle: AgentHandle, hosting: HostingProcess, child: SupervisedProcess): Promise<void> {
    hosting.killing ??= 'the checks before the run did not pass';
    hosting.members.delete(handle);
    await child.stop({ graceMs: 0 }).catch((error: unknown) => this.host.warn(`Could not stop agent ${handle.info.id}: ${messageOf(error)}`));
    handle.life.exited(false);
    this.host.agents.delete(handle.info.id);
  }

  /**
   * The agent process `handle` goes into: one with room, or a new one. A process has room while it
   * hosts fewer than agentsPerProcess agents, is not being killed, and one of its agents is live
   * (not draining): a process whose agents all drain exits once they end, and an agent put into
   * it then would go down with it.
   */
  private place(handle: AgentHandle): HostingProcess {
    // Known to the agent from its placement on: a kill before its init (over memory while the
    // checks hold it) ends this process, and marks it so that no agent is placed into it.
    handle.hosting = [...this.processes].find((hosting) => this.hasRoom(hosting)) ?? this.forkProcess(handle);
    handle.hosting.members.add(handle);
    return handle.hosting;
  }

  private hasRoom(hosting: HostingProcess): boolean {
    if (hosting.exited || hosting.killing || hosting.members.size >= this.perProcess) return false;
    return this.hasLiveMember(hosting);
  }

  /** One of its agents is live (not draining, killed or gone): only then may an agent be placed there. */
  private hasLiveMember(hosting: HostingProcess): boolean {
    return [...hosting.members].some((member) => ['starting', 'idle', 'busy'].includes(member.life.phase));
  }

  private forkProcess(first: AgentHandle): HostingProcess {
    const label = first.info.id;
    const hosting: HostingProcess = { label, members: new Set([first]), exited: false, forked: Promise.resolve(new Error('not forked')) };
    this.processes.add(hosting);
    hosting.forked = forkAgent(label, {
      agentScript: this.options.agentScript,
      agentExecArgv: this.options.agentExecArgv,
      workspaceRoot: this.options.workspaceRoot,
      env: this.host.environment(this.perProcess === 1 ? label : undefined),
      limiter: this.options.limiter,
      hostModels: this.options.hostModels,
      log: (line) => this.host.log(line),
      onMessage: (message) => this.onProcessMessage(hosting, message),
    }).then(
      (agent) => {
        this.monitor?.track(label, agent.process.pid);
        void agent.process.exited.then(() => {
          hosting.exited = true;
          this.processes.delete(hosting);
          agent.dispose();
          this.monitor?.untrack(label);
        });
        return agent;
      },
      (error: unknown) => {
        hosting.exited = true;
        this.processes.delete(hosting);
        return error instanceof Error ? error : new Error(String(error));
      },
    );
    return hosting;
  }

  /** A message from an agent process, for the agent it names (or its only agent). */
  private onProcessMessage(hosting: HostingProcess, message: AgentToHost): void {
    const members = [...hosting.members];
    const handle = message.agent === undefined ? (members.length === 1 ? members[0] : undefined) : members.find((member) => member.info.id === message.agent);
    if (handle) return this.onAgentMessage(handle, message);
    // From an agent whose end was handled already, or from the process itself (what its agents
    // share, such as the board connection): only a warning still matters.
    if (message.type !== 'warning') return;
    if (message.agent !== undefined || hosting.members.size < 2) this.host.warn(`Agent ${message.agent ?? hosting.label}: ${message.message}`);
    else this.host.warn(`The agent process of ${describeMembers(hosting)} (shared by its agents): ${message.message}`);
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
      case 'ended':
        handle.ended?.(message.code);
        return;
      default:
        this.host.workerEvent(handle, message);
    }
  }

  // ------------------------------------------------------------------ stopping

  /** Finish the current task, claim nothing more, exit. */
  drain(handle: AgentHandle): void {
    handle.life.drain();
    // Its process's last live agent: nothing is placed into the process any more (see hasRoom), so
    // it may exit on its own once its agents ended instead of waiting for endProcess.
    const final = !handle.hosting || !this.hasLiveMember(handle.hosting);
    sendToAgent(handle, { type: 'drain', ...(final && { final }) });
  }

  /**
   * Ends an agent at once; its task (if any) is failed as transient with `reason`. Its process
   * goes down whole: the other agents it hosts are killed with it and their tasks failed the same way.
   */
  kill(handle: AgentHandle, reason: string): void {
    if (!handle.life.kill(reason)) return;
    this.host.warn(reason);
    const hosting = handle.hosting;
    if (hosting && !hosting.killing) {
      hosting.killing = reason;
      for (const sibling of hosting.members) {
        if (sibling !== handle) sibling.life.kill(`Agent ${sibling.info.id} was stopped with agent ${handle.info.id}, whose process it shared: ${reason}`);
      }
    }
    // Its process may still be starting, or its init held: then it is ended as soon as it exists.
    const child = handle.process ? Promise.resolve(handle.process) : hosting?.forked.then((agent) => (agent instanceof Error ? undefined : agent.process));
    void child
      ?.then((process) => process?.stop({ graceMs: 0 }))
      .catch((error: unknown) => this.host.warn(`Could not stop agent ${handle.info.id}: ${messageOf(error)}`));
  }

  /** The user cancelled the task the agent runs: the agent and everything it started end before this resolves. */
  async cancelTask(handle: AgentHandle, taskId: string): Promise<void> {
    if (this.perProcess > 1) return this.cancelInSharedProcess(handle, taskId);
    handle.cancelledTask = taskId;
    handle.life.drain();
    this.host.log(`Cancelling task ${taskId}: stopping agent ${handle.info.id} and everything it started.`);
    await handle.process?.stop({ graceMs: 0 }).catch((error: unknown) => this.host.warn(`Could not stop agent ${handle.info.id}: ${messageOf(error)}`));
    // Its executor's commands lead process groups of their own: end them before reporting success.
    await this.sweeper.sweep(handle.info.id);
  }

  /**
   * In a process other agents share, the agent alone stops: it drains, aborts the task (its
   * executor ends the command's process group), and ends; then whatever still carries its mark (a
   * daemon the command started) is killed. Its siblings and their commands run on.
   */
  private async cancelInSharedProcess(handle: AgentHandle, taskId: string): Promise<void> {
    handle.cancelledTask = taskId;
    this.host.log(`Cancelling task ${taskId}: stopping agent ${handle.info.id} and everything it started.`);
    this.drain(handle);
    sendToAgent(handle, { type: 'cancel', taskId });
    const life = this.lifeEnds.get(handle);
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([life?.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CANCEL_WAIT_MS)))]);
    clearTimeout(timer);
    if (!ended) {
      this.kill(handle, `Agent ${handle.info.id} did not end within ${CANCEL_WAIT_MS / 1000} s of the cancel of task ${taskId}; its process was stopped.`);
      await life;
    }
    await this.sweeper.sweep(handle.info.id);
  }

  /**
   * SIGTERM to the agent alone: it aborts its attempt, ends its commands and hands the task back
   * itself. Only after `graceMs` is everything it started killed. Signalling its commands together
   * with it raced that handover: an agent that saw its command die before it handled its own
   * SIGTERM recorded a failed attempt instead of a released one.
   */
  async stopGracefully(handle: AgentHandle, graceMs: number): Promise<void> {
    handle.life.stopSignalled();
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

  private async afterAgentExit(handle: AgentHandle, code: number | null, signal: string | null, reportToScheduler = true): Promise<void> {
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
    if (!reportToScheduler) {
      // Its process's end was reported with another of its agents.
      if (verdict.kind === 'crash') this.host.warn(killReason ?? `Agent ${id} exited unexpectedly with its agent process (${describeExit(code, signal)}).`);
    } else if (verdict.kind === 'spawn-failure') {
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

/**
 * The process's group ended once it exited (what it left in its group, executor commands aside),
 * shared by all its agents: they resume together, and their sweeps join one pass.
 */
function reap(hosting: HostingProcess, child: SupervisedProcess): Promise<void> {
  hosting.reaped ??= child.exited.then(() => child.stop({ graceMs: 0 })).then(
    () => undefined,
    () => undefined,
  );
  return hosting.reaped;
}

/** Tells a process whose last agent ended to exit with that agent's code (it waits for this: AgentInit.exitWhenTold). */
function endProcess(child: SupervisedProcess, code: number | null): void {
  if (!child.child.connected) return;
  try {
    child.child.send(toAgent({ type: 'exit', code: code ?? 0 }), (error) => error && undefined);
  } catch {
    // Exited meanwhile: its exit is awaited all the same.
  }
}

/** How long a cancelled agent in a shared process may take to end before its process is killed. */
const CANCEL_WAIT_MS = 15_000;

function describeMembers(hosting: HostingProcess): string {
  const ids = [...hosting.members].map((member) => member.info.id);
  return ids.length === 1 ? `agent ${ids[0]}` : `agents ${ids.join(', ')}`;
}

function describeExit(code: number | null, signal: string | null): string {
  return signal ? `signal ${signal}` : `exit code ${code ?? 'unknown'}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

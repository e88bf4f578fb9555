// The pool's scheduler: decides who starts and when. One round reads the board's counts, stops an
// --until-empty run, retires agents idle past the timeout, wakes idle agents when tasks wait and
// starts agents up to what the board needs, within the restart backoff and the machine's limits.
// It also runs the health checks. The pool (pool.ts) carries its decisions out.
import type { Board } from '../board/interface';
import type { AgentHandle } from './agent-handle';
import { RequestFailedError } from './request-reply';
import { agentsToRetire, wantedAgents, type ScalingLimits } from './scaling';
import type { PoolMode } from './types';

/** What the scheduler needs from the pool: what it sees, and the actions it decides on. */
export interface SchedulerHost {
  readonly board: Board;
  agents(): Iterable<AgentHandle>;
  /** The pool is stopping or stopped: no more rounds. */
  isStopping(): boolean;
  mode(): PoolMode;
  /** Dispatch is held back (a usage-limit pause). */
  paused(now: number): boolean;
  sequentialRunning(): boolean;
  runSequential(): void;
  /** Agents cannot be started: run tasks in the host instead. */
  fallBackToSequential(reason: string): void;
  spawnAgent(): void;
  drain(agent: AgentHandle): void;
  wake(agent: AgentHandle): void;
  /** Resolves when the agent answers; rejects with RequestFailedError after `timeoutMs` or when it is gone. */
  ping(agent: AgentHandle, timeoutMs: number): Promise<void>;
  kill(agent: AgentHandle, reason: string): void;
  /** The machine's room for another agent (the resource monitor's safe-spawn check). */
  canSpawn(): { ok: true } | { ok: false; reason: string };
  /** --until-empty: nothing is left to do. */
  boardIsEmpty(): void;
  /** A round failed (the board could not be read). */
  roundFailed(error: unknown): void;
  log(line: string): void;
  warn(message: string): void;
}

export interface SchedulerOptions {
  limits: ScalingLimits;
  untilEmpty: boolean;
  /** Whether falling back to sequential mode is allowed (mode `auto`). */
  mayFallBack: boolean;
  /** Scaling and bookkeeping period. */
  tickMs: number;
  pingIntervalMs: number;
  unresponsiveMs: number;
}

const MAX_RESTART_BACKOFF_MS = 30_000;
const SPAWN_FAILURES_BEFORE_FALLBACK = 2;
/** How often expired leases are reclaimed by the scheduler's rounds. */
const MAINTENANCE_MS = 1_000;

export class Scheduler {
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  private lastMaintenance = 0;
  private everReady = false;
  private spawnFailures = 0;
  private crashes = 0;
  private nextSpawnAt = 0;
  private blockedReason: string | undefined;
  /** Agents with a health ping in flight: one at a time each. */
  private readonly pinging = new Set<AgentHandle>();

  constructor(
    private readonly host: SchedulerHost,
    private readonly options: SchedulerOptions,
  ) {}

  /** Why no new agent is started right now (safe-spawn check), if that is the case. */
  get spawnBlockedReason(): string | undefined {
    return this.blockedReason;
  }

  start(): void {
    this.every(this.options.tickMs, () => this.requestRound());
    this.every(this.options.pingIntervalMs, () => this.checkHealth());
    this.requestRound();
  }

  dispose(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
  }

  /** One round of scaling at a time: the board answers asynchronously. */
  requestRound(): void {
    if (this.host.isStopping() || this.ticking) return;
    this.ticking = true;
    void this.round()
      .catch((error: unknown) => this.host.roundFailed(error))
      .finally(() => (this.ticking = false));
  }

  // ------------------------------------------------------------------ what agents report

  agentReady(): void {
    this.everReady = true;
    this.spawnFailures = 0;
  }

  /** An agent could not start; after repeated failures with none ever ready, mode `auto` falls back to sequential. */
  agentSpawnFailed(reason: string): void {
    this.spawnFailures++;
    this.host.warn(`An agent could not start: ${reason}.`);
    this.nextSpawnAt = Date.now() + Math.min(MAX_RESTART_BACKOFF_MS, 500 * 2 ** (this.spawnFailures - 1));
    if (!this.everReady && this.spawnFailures >= SPAWN_FAILURES_BEFORE_FALLBACK && this.options.mayFallBack && this.host.mode() === 'pool') {
      this.host.fallBackToSequential(`agents could not be started (${reason})`);
    }
  }

  /** An agent died unexpectedly: the next one starts after a backoff that doubles with each crash; returns it. */
  agentCrashed(): number {
    this.crashes++;
    const backoff = Math.min(MAX_RESTART_BACKOFF_MS, 250 * 2 ** (this.crashes - 1));
    this.nextSpawnAt = Date.now() + backoff;
    return backoff;
  }

  agentEndedCleanly(): void {
    this.crashes = 0;
  }

  // ------------------------------------------------------------------ one round

  private async round(): Promise<void> {
    const { board } = this.host;
    const now = Date.now();
    if (now - this.lastMaintenance >= MAINTENANCE_MS) {
      this.lastMaintenance = now;
      await board.reclaimExpired();
    }
    const { counts, delayed } = await board.stats();
    if (this.host.isStopping()) return;
    // Pending tasks minus those not due yet (retries in backoff, later notBefore).
    const claimable = Math.max(0, counts.pending - delayed);
    const live = [...this.host.agents()].filter((agent) => agent.life.isLive);
    const busy = live.filter((agent) => agent.info.state === 'busy').length;
    // Empty: nothing pending (delayed retries included), running (in any host) or waiting for children.
    const boardIsEmpty = counts.pending + counts.running + counts.waiting === 0;
    if (this.options.untilEmpty && claimable === 0 && busy === 0 && !this.host.sequentialRunning() && boardIsEmpty) {
      this.host.boardIsEmpty();
      return;
    }
    this.retireIdleAgents(live, Date.now());
    if (this.host.paused(Date.now())) return;
    if (claimable > 0) for (const agent of live) if (agent.info.state === 'idle') this.host.wake(agent);
    if (this.host.mode() === 'sequential') {
      if (claimable > 0 && !this.host.sequentialRunning()) this.host.runSequential();
      return;
    }
    this.spawnUpTo(wantedAgents(busy, claimable, this.options.limits), live.length, Date.now());
  }

  private retireIdleAgents(live: AgentHandle[], now: number): void {
    for (const agent of agentsToRetire(live, this.options.limits, now)) {
      this.host.log(`Agent ${agent.info.id} was idle for ${Math.round((now - (agent.idleSince ?? now)) / 1000)} s: stopping it.`);
      this.host.drain(agent);
    }
  }

  private spawnUpTo(wanted: number, liveCount: number, now: number): void {
    if (liveCount >= wanted) return;
    if (now < this.nextSpawnAt) return;
    const check = this.host.canSpawn();
    if (!check.ok) {
      if (this.blockedReason !== check.reason) this.host.warn(check.reason);
      this.blockedReason = check.reason;
      return;
    }
    this.blockedReason = undefined;
    for (let count = liveCount; count < wanted; count++) this.host.spawnAgent();
  }

  // ------------------------------------------------------------------ health

  /** Pings every ready agent process; one that leaves a ping unanswered for unresponsiveMs is killed. */
  private checkHealth(): void {
    for (const agent of this.host.agents()) {
      if (agent.inHost || !agent.life.isResponsive || this.pinging.has(agent)) continue;
      this.pinging.add(agent);
      const sentAt = Date.now();
      this.host
        .ping(agent, this.options.unresponsiveMs)
        .catch((error: unknown) => {
          // Gone in the meantime: its exit is handled where it is noticed.
          if (!(error instanceof RequestFailedError) || error.reason !== 'timeout' || !agent.life.isResponsive) return;
          const silentFor = Math.round((Date.now() - sentAt) / 1000);
          this.host.kill(agent, `Agent ${agent.info.id} stopped answering health checks for ${silentFor} s; it was stopped and its task returns to the board.`);
        })
        .finally(() => this.pinging.delete(agent));
    }
  }

  private every(ms: number, action: () => void): void {
    const timer = setInterval(() => {
      try {
        action();
      } catch (error) {
        this.host.warn(`Pool housekeeping failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }, ms);
    this.timers.push(timer);
  }
}

// The pool's scheduler: decides who starts and when. One round reads the board's counts, stops an
// --until-empty run, retires agents idle past the timeout, wakes idle agents when tasks wait and
// starts agents up to what the board needs, within the restart backoff and the machine's limits.
// It also runs the health checks. The pool (pool.ts) carries its decisions out.
//
// Rounds are woken, not polled: by the board's events (a post, an end, a release), by the agents'
// reports, and by timers for what the round itself knows will be due (an idle agent's retirement,
// the end of a restart backoff, a delayed retry). A slow safety poll catches missed events. A file
// board's stats() lists every state folder, so an idle pool must not read it ten times a second.
import type { Board, Following } from '../board/interface';
import { parkedNotServed, type Serves } from '../board/routing';
import { QUIET_EVENTS } from './worker';
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
  /** Shortest time between two rounds: a burst of events costs one round per period. */
  tickMs: number;
  /** Safety poll: a round at least this often, for events that were missed. */
  pollMs: number;
  pingIntervalMs: number;
  unresponsiveMs: number;
  /** What this pool's agents serve on a shared board: tasks parked for other runners are not claimable here. */
  serves?: Serves;
}

const MAX_RESTART_BACKOFF_MS = 30_000;
const SPAWN_FAILURES_BEFORE_FALLBACK = 2;
/** How often expired leases are reclaimed by the scheduler's rounds. */
const MAINTENANCE_MS = 1_000;
/**
 * While retries wait for their backoff (no event says when one is due) or the machine has no room
 * for another agent: how soon the next round looks again.
 */
const RECHECK_MS = 1_000;

export class Scheduler {
  private timers: NodeJS.Timeout[] = [];
  private following: Following | undefined;
  private ticking = false;
  /** A wake came while a round ran: the round may have read the board before the change. */
  private again = false;
  /** That wake was a `requestRoundSoon`: the next round runs as soon as this one ends. */
  private againSoon = false;
  private lastRoundAt = 0;
  private next: { timer: NodeJS.Timeout; at: number } | undefined;
  private disposed = false;
  /** No round runs before start(): agents started ahead of the pool's checks wait for it. */
  private started = false;
  private pollMs: number;
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
  ) {
    this.pollMs = options.pollMs;
  }

  /** Why no new agent is started right now (safe-spawn check), if that is the case. */
  get spawnBlockedReason(): string | undefined {
    return this.blockedReason;
  }

  start(): void {
    this.started = true;
    this.following = this.followBoard();
    this.every(this.options.pingIntervalMs, () => this.checkHealth());
    this.runRound();
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    clearTimeout(this.next?.timer);
    this.next = undefined;
    await this.following?.dispose().catch(() => undefined);
  }

  /** Something changed (a board event, an agent's report): a round soon, at most one per tickMs. */
  requestRound(): void {
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.wakeAt(this.lastRoundAt + this.options.tickMs);
  }

  /**
   * An agent found nothing to claim and none is busy: the board may be empty, so a round now (an
   * --until-empty run ends as soon as its last task is done, not a tick later). Not a throttle
   * breach: agents report idle once per idle spell, so this comes at most once per time the whole
   * pool went from busy to idle.
   */
  requestRoundSoon(): void {
    if (this.ticking) {
      this.again = true;
      this.againSoon = true;
      return;
    }
    this.wakeAt(Date.now());
  }

  /** The next round at `at` at the latest; an earlier wake already set stays. */
  private wakeAt(at: number): void {
    if (!this.started || this.disposed || this.host.isStopping()) return;
    if (this.next && this.next.at <= at) return;
    clearTimeout(this.next?.timer);
    const timer = setTimeout(() => {
      this.next = undefined;
      this.runRound();
    }, Math.max(0, at - Date.now()));
    this.next = { timer, at };
  }

  /** One round at a time (the board answers asynchronously); it says when it wants the next one. */
  private runRound(): void {
    if (this.disposed || this.host.isStopping() || this.ticking) return;
    this.ticking = true;
    this.again = false;
    this.againSoon = false;
    this.lastRoundAt = Date.now();
    let nextAt = this.lastRoundAt + RECHECK_MS; // after a failed round
    void this.round()
      .then(
        (wanted) => (nextAt = wanted),
        (error: unknown) => this.host.roundFailed(error),
      )
      .finally(() => {
        this.ticking = false;
        const again = this.againSoon ? Date.now() : this.lastRoundAt + this.options.tickMs;
        this.wakeAt(this.again ? again : Math.min(nextAt, this.lastRoundAt + this.pollMs));
      });
  }

  /**
   * Board events that may make a task claimable or end a run wake a round; claims and heartbeats
   * change nothing the scheduler acts on. Without an event feed, the safety poll runs every tickMs.
   */
  private followBoard(): Following | undefined {
    try {
      return this.host.board.follow((batch) => {
        if (batch.events.some((event) => !QUIET_EVENTS.has(event.type))) this.requestRound();
      }, { onError: () => undefined });
    } catch {
      this.pollMs = this.options.tickMs;
      return undefined;
    }
  }

  /**
   * Before start(), while the pool's checks run: starts the agents the board wants now, so that
   * their processes boot meanwhile (the pool holds their inits until the checks passed). The first
   * round after start() counts them as live and starts only what is still missing. Returns how
   * many tasks they may claim now (the pool makes ready no more slots than that).
   */
  async startAgentsAhead(): Promise<number> {
    if (this.host.mode() !== 'pool' || this.host.isStopping()) return 0;
    const { counts, delayed, parked } = await this.host.board.stats();
    const claimable = Math.max(0, counts.pending - delayed - parkedNotServed(parked, this.options.serves));
    this.spawnUpTo(wantedAgents(0, claimable, this.options.limits), 0, Date.now());
    return claimable;
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

  /** One round; returns when the next one is due by what it saw (the safety poll caps it). */
  private async round(): Promise<number> {
    const { board } = this.host;
    const now = Date.now();
    if (now - this.lastMaintenance >= MAINTENANCE_MS) {
      this.lastMaintenance = now;
      await board.reclaimExpired();
    }
    const { counts, delayed, parked } = await board.stats();
    const never = Number.POSITIVE_INFINITY;
    if (this.host.isStopping()) return never;
    // Pending tasks minus those not due yet (retries in backoff, later notBefore) and those set
    // aside for runners with other labels or repositories (no agent here would take them).
    const forOthers = parkedNotServed(parked, this.options.serves);
    const claimable = Math.max(0, counts.pending - delayed - forOthers);
    const live = [...this.host.agents()].filter((agent) => agent.life.isLive);
    const busy = live.filter((agent) => agent.info.state === 'busy').length;
    // Empty: nothing pending (delayed retries included), running (in any host) or waiting for
    // children, but for tasks that wait for runners with other labels or repositories.
    const boardIsEmpty = counts.pending - forOthers + counts.running + counts.waiting === 0;
    if (this.options.untilEmpty && claimable === 0 && busy === 0 && !this.host.sequentialRunning() && boardIsEmpty) {
      this.host.boardIsEmpty();
      return never;
    }
    const retiring = this.retireIdleAgents(live, Date.now());
    const stillLive = live.filter((agent) => !retiring.includes(agent));
    // Retries in backoff become claimable with no event to say so.
    const recheckDelayed = delayed > 0 ? Date.now() + RECHECK_MS : never;
    const nextAt = Math.min(this.nextRetirement(stillLive), recheckDelayed);
    if (this.host.paused(Date.now())) return nextAt; // its end wakes a round
    if (claimable > 0) for (const agent of stillLive) if (agent.info.state === 'idle') this.host.wake(agent);
    if (this.host.mode() === 'sequential') {
      if (claimable > 0 && !this.host.sequentialRunning()) this.host.runSequential();
      return nextAt;
    }
    return Math.min(nextAt, this.spawnUpTo(wantedAgents(busy, claimable, this.options.limits), stillLive.length, Date.now()));
  }

  private retireIdleAgents(live: AgentHandle[], now: number): AgentHandle[] {
    const retiring = agentsToRetire(live, this.options.limits, now);
    for (const agent of retiring) {
      this.host.log(`Agent ${agent.info.id} was idle for ${Math.round((now - (agent.idleSince ?? now)) / 1000)} s: stopping it.`);
      this.host.drain(agent);
    }
    return retiring;
  }

  /** When the first idle agent above minAgents reaches the idle timeout; never if none can retire. */
  private nextRetirement(live: AgentHandle[]): number {
    if (live.length <= this.options.limits.minAgents) return Number.POSITIVE_INFINITY;
    const idleSince = live.filter((agent) => agent.info.state === 'idle' && agent.idleSince !== undefined).map((agent) => agent.idleSince as number);
    return idleSince.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...idleSince) + this.options.limits.idleTimeoutMs;
  }

  /** Starts agents up to `wanted`; returns when to look again if it had to hold back. */
  private spawnUpTo(wanted: number, liveCount: number, now: number): number {
    if (liveCount >= wanted) return Number.POSITIVE_INFINITY;
    if (now < this.nextSpawnAt) return this.nextSpawnAt;
    const check = this.host.canSpawn();
    if (!check.ok) {
      if (this.blockedReason !== check.reason) this.host.warn(check.reason);
      this.blockedReason = check.reason;
      return now + RECHECK_MS;
    }
    this.blockedReason = undefined;
    for (let count = liveCount; count < wanted; count++) this.host.spawnAgent();
    return Number.POSITIVE_INFINITY;
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

// One agent's lifecycle as the host sees it: a single explicit phase, changed only through the
// legal transitions below. The pool's decisions (is it live? is it answering? what becomes of its
// task when it exits?) read this one value instead of flags spread over the pool.
//
//   starting ──ready──▶ idle ⇄ busy
//      │                 │      │
//      └──────drain──────┴──────┴──▶ draining ──▶ exited   (finishes its task, claims nothing more)
//      └──────kill───────┴──────┴──────┴──────▶ stopping ──▶ exited   (ended now; its task fails)
//   any phase but exited ──the process died──▶ exited
import type { AgentState } from './types';

export type AgentPhase = 'starting' | 'idle' | 'busy' | 'draining' | 'stopping' | 'exited';

const LEGAL: Readonly<Record<AgentPhase, readonly AgentPhase[]>> = {
  starting: ['idle', 'draining', 'stopping', 'exited'],
  idle: ['busy', 'draining', 'stopping', 'exited'],
  busy: ['idle', 'draining', 'stopping', 'exited'],
  draining: ['stopping', 'exited'],
  stopping: ['exited'],
  exited: [],
};

/** A transition the lifecycle does not allow: a bug in the host, never the agent's input. */
export class IllegalAgentTransitionError extends Error {
  constructor(
    readonly agentId: string,
    readonly from: AgentPhase,
    readonly to: AgentPhase,
  ) {
    super(`Agent ${agentId} cannot go from ${from} to ${to}.`);
    this.name = 'IllegalAgentTransitionError';
  }
}

/** What becomes of an agent that exited, decided by the phase it was in. */
export interface ExitVerdict {
  /** `expected`: it was asked to stop; `crash`: it died on its own or was killed; `spawn-failure`: it never got ready. */
  kind: 'expected' | 'crash' | 'spawn-failure';
  /** The task it still held (unless the user cancelled that task): handed back unfinished, or failed as transient. */
  task: 'release' | 'fail';
  /** Said in the agent-exited event: stopped on purpose (drained, or its task was cancelled). */
  expected: boolean;
}

export class AgentLifecycle {
  private current: AgentPhase;
  private readyAt: number | undefined;
  private stopReason: string | undefined;
  /** Whether it was draining before it was killed: a killed drainer still does not count as live. */
  private drainedBeforeStop = false;
  /** Whether the pool's stop signalled its process (SIGTERM once the grace ran out). */
  private signalledByStop = false;

  /**
   * `publish` receives the public state (what `swarm agents` and the Pool view show) after every
   * change; `hasTask` tells whether the agent runs a task right now.
   */
  constructor(
    readonly agentId: string,
    initial: 'starting' | 'idle',
    private readonly publish: (state: AgentState) => void = () => undefined,
    private readonly hasTask: () => boolean = () => false,
  ) {
    this.current = initial;
    if (initial === 'idle') this.readyAt = Date.now();
    this.publish(this.publicState());
  }

  get phase(): AgentPhase {
    return this.current;
  }

  /** Whether it ever reported ready (an agent drained while starting may report it later). */
  get wasReady(): boolean {
    return this.readyAt !== undefined;
  }

  /** Why the host killed it; its task is failed with this message. */
  get killReason(): string | undefined {
    return this.stopReason;
  }

  /** Counts toward the pool's agents: not asked to go away (a killed agent counts until it exits). */
  get isLive(): boolean {
    return this.current === 'starting' || this.current === 'idle' || this.current === 'busy' || (this.current === 'stopping' && !this.drainedBeforeStop);
  }

  /** Is answering health checks expected of it: ready, and neither killed nor gone. */
  get isResponsive(): boolean {
    return this.wasReady && this.current !== 'stopping' && this.current !== 'exited';
  }

  /** Checked move; throws IllegalAgentTransitionError on anything the diagram above does not allow. */
  to(next: AgentPhase): void {
    if (!LEGAL[this.current].includes(next)) throw new IllegalAgentTransitionError(this.agentId, this.current, next);
    this.current = next;
    this.publish(this.publicState());
  }

  /** It reported ready: starting → idle; an agent already draining stays draining. */
  ready(): void {
    this.readyAt ??= Date.now();
    if (this.current === 'starting') this.to('idle');
  }

  /** It claimed a task: idle → busy; a draining or stopping agent stays where it is. */
  taskStarted(): void {
    if (this.current === 'starting') this.ready(); // a claim proves it is ready, whatever came first
    if (this.current === 'idle') this.to('busy');
    else this.publish(this.publicState());
  }

  /** Its task ended, or it reported idle: busy → idle; a draining or stopping agent stays. */
  taskEnded(): void {
    if (this.current === 'busy') this.to('idle');
    else this.publish(this.publicState());
  }

  /** Finish the current task and claim nothing more; false when it is already on its way out. */
  drain(): boolean {
    if (this.current !== 'starting' && this.current !== 'idle' && this.current !== 'busy') return false;
    this.to('draining');
    return true;
  }

  /** Ended now by the host with `reason`; false when it is already being stopped or gone. */
  kill(reason: string): boolean {
    if (this.current === 'stopping' || this.current === 'exited') return false;
    this.drainedBeforeStop = this.current === 'draining';
    this.stopReason = reason;
    this.to('stopping');
    return true;
  }

  /**
   * The pool's stop signalled its process: an exit that follows while it drains is the stop's doing,
   * even if it never got as far as reporting ready (a process that is still booting has no SIGTERM
   * handler yet and dies of the signal: that is no failed start).
   */
  stopSignalled(): void {
    this.signalledByStop = true;
  }

  /**
   * The process is gone: what becomes of it and of its task, by the phase it died in.
   * `cancelled`: the user cancelled the task it ran, which is why it was stopped.
   */
  exited(cancelled: boolean): ExitVerdict {
    const phase = this.current;
    this.to('exited');
    const drained = phase === 'draining';
    const task = drained ? 'release' : 'fail';
    const stoppedWhileStarting = drained && this.signalledByStop;
    const kind = !this.wasReady && !stoppedWhileStarting ? 'spawn-failure' : drained || cancelled ? 'expected' : 'crash';
    return { kind, task, expected: drained || cancelled };
  }

  /** The state people see: a draining agent still shows busy while it finishes its task. */
  private publicState(): AgentState {
    if (this.current === 'draining') return this.hasTask() ? 'busy' : 'stopping';
    return this.current;
  }
}

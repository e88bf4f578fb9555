// The usage-limit pause: a coding-agent CLI that reports a usage limit with a reset time holds
// dispatch back until then, for every agent of the host. One state (until when, and why) and the
// one timer that ends it; the pool tells its agents to hold and resume.
export class DispatchPause {
  private until: number | undefined;
  private why: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** `onResume` runs when a pause ends by itself (its reset time came). */
  constructor(private readonly onResume: () => void) {}

  /** Until when dispatch is held back; undefined when it is not. */
  get pausedUntil(): number | undefined {
    return this.until;
  }

  get reason(): string | undefined {
    return this.why;
  }

  /** Whether dispatch is held back at `now`. */
  holds(now: number): boolean {
    return this.until !== undefined && now < this.until;
  }

  /** Pauses until `until`; false (nothing changes) when a pause as long or longer is in force. */
  extend(until: number, reason: string): boolean {
    if (this.until !== undefined && this.until >= until) return false;
    this.until = until;
    this.why = reason;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.end(), until - Date.now());
    return true;
  }

  /** The pool stops: no resume comes after it. */
  dispose(): void {
    clearTimeout(this.timer);
  }

  private end(): void {
    this.until = undefined;
    this.why = undefined;
    this.onResume();
  }
}

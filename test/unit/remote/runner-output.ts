// What the runner processes of a multi-runner test printed, kept per runner, and a wait that shows
// all of it when it times out (the runners' own words are what explains a failure there).
import type { ChildProcess } from 'child_process';

export class RunnerOutput {
  private readonly lines: Record<string, string[]> = {};

  /** Keeps what `child` prints on stdout and stderr under `name`. */
  record(name: string, child: ChildProcess): void {
    const lines: string[] = (this.lines[name] = []);
    child.stdout?.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  }

  all(): string {
    return Object.entries(this.lines).map(([name, lines]) => `--- ${name}\n${lines.join('')}`).join('\n');
  }

  /** Polls `check` until it returns a value; a timeout names `what` and every runner's output. */
  async waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; runner output:\n${this.all()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

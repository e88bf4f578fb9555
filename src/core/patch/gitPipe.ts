// Long-running git processes that answer one request per line: `git cat-file --batch` (blob
// contents) and `git hash-object --stdin-paths` (blob ids of files in the folder, through the clean
// filters). An apply of hundreds of files then costs one
// process per kind instead of one or two per file. Requests are pipelined; answers come in order.
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import { gitEnvironment } from '../worktree/git';

/** An answer read from the start of `buffer`; `need` when more bytes must come first (how many in all, if known). */
type Parse<T> = (buffer: Buffer) => { value: T; used: number } | { need: number };

interface Waiting {
  parse: Parse<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

export class GitPipe {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffer = Buffer.alloc(0);
  /** Chunks not yet joined to `buffer`: a large blob is joined once, not once per chunk. */
  private readonly chunks: Buffer[] = [];
  private received = 0;
  private need = 0;
  private readonly waiting: Waiting[] = [];
  private stderr = '';
  private failure: Error | undefined;
  private readonly exited: Promise<void>;

  constructor(
    private readonly args: string[],
    cwd: string,
    env: Record<string, string> = {},
  ) {
    // GIT_FLUSH=1: answer each line at once (hash-object would otherwise wait for the end of input).
    this.child = spawn('git', args, { cwd, env: gitEnvironment({ GIT_FLUSH: '1', ...env }), stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.received += chunk.length;
      if (this.received >= this.need) this.drain();
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (error) => this.fail(error));
      this.child.on('close', (code) => {
        this.fail(new Error(`git ${this.args.join(' ')} stopped (exit ${code}): ${this.stderr.trim() || 'no message'}`));
        resolve();
      });
    });
  }

  request<T>(line: string, parse: Parse<T>): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    if (/[\n\0]/.test(line)) return Promise.reject(new Error(`git ${this.args[0]}: cannot ask for a name with a line break: ${JSON.stringify(line)}`));
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ parse, resolve: resolve as (value: unknown) => void, reject });
      this.child.stdin.write(`${line}\n`);
    });
  }

  /** Ends the input and waits for the process to exit. */
  async close(): Promise<void> {
    this.child.stdin.end();
    await this.exited;
  }

  private drain(): void {
    this.buffer = Buffer.concat([this.buffer, ...this.chunks.splice(0)]);
    this.received = this.buffer.length;
    this.need = 0;
    try {
      while (this.waiting.length > 0) {
        const parsed = this.waiting[0].parse(this.buffer);
        if ('need' in parsed) {
          this.need = parsed.need;
          return;
        }
        this.buffer = this.buffer.subarray(parsed.used);
        this.received = this.buffer.length;
        this.waiting.shift()?.resolve(parsed.value);
      }
    } catch (error) {
      // An answer that cannot be read: nothing after it can be trusted either.
      this.fail(error as Error);
      this.child.kill();
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.waiting.splice(0)) waiting.reject(this.failure);
  }
}

/** `git cat-file --batch` answers: "<id> <type> <size>\n<content>\n", or "<name> missing\n". */
export function parseCatFileAnswer(buffer: Buffer): { value: { type: string; content: Buffer } | undefined; used: number } | { need: number } {
  const end = buffer.indexOf(0x0a);
  if (end < 0) return { need: buffer.length + 1 };
  const header = buffer.subarray(0, end).toString('utf8');
  if (/ (missing|ambiguous)$/.test(header)) return { value: undefined, used: end + 1 };
  const match = /^[0-9a-f]+ (\S+) (\d+)$/.exec(header);
  // Not the protocol git documents: a bug of this reader or a broken git, nothing a person can fix.
  if (!match) throw new Error(`git cat-file answered "${header}"`);
  const total = end + 1 + Number(match[2]) + 1;
  if (buffer.length < total) return { need: total };
  // A copy: the answer must not keep the whole read buffer alive.
  return { value: { type: match[1], content: Buffer.from(buffer.subarray(end + 1, total - 1)) }, used: total };
}

/** One line of text (hash-object's answer: an object id). */
export function parseLine(buffer: Buffer): { value: string; used: number } | { need: number } {
  const end = buffer.indexOf(0x0a);
  return end < 0 ? { need: buffer.length + 1 } : { value: buffer.subarray(0, end).toString('utf8'), used: end + 1 };
}

// A task's log while it runs: written to a capped file of the agent, stored on the board as the
// log artifact while it grows and once more at the end.
import * as fs from 'fs';
import * as path from 'path';
import { LOG_ARTIFACT, type Board } from '../board/interface';

/**
 * Stores a running task's log on the board while it grows (every `periodMs`, the whole log so
 * far, at most the log's cap), so people can read it before the task ends, and once more at the
 * end. A log that cannot be stored never fails the task.
 */
export class LogUpload {
  private storedBytes = 0;
  private uploading: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly board: Board,
    private readonly taskId: string,
    private readonly log: CappedLog,
    /** Undefined: stored once, at the end (the other tasks of a batch, whose first task shows the log as it grows). */
    periodMs: number | undefined,
  ) {
    this.timer = periodMs === undefined ? undefined : setInterval(() => void this.upload(), periodMs);
  }

  /** The last upload; true when the board holds the whole log. */
  async finish(): Promise<boolean> {
    this.stop();
    await this.uploading;
    this.log.close();
    await this.upload();
    return this.log.bytes > 0 && this.storedBytes === this.log.bytes;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private upload(): Promise<void> {
    if (this.uploading) return this.uploading;
    this.log.close(); // flush what is buffered
    const file = this.log.path;
    if (file === undefined || this.log.bytes === this.storedBytes) return Promise.resolve();
    this.uploading = (async () => {
      try {
        const data = fs.readFileSync(file);
        await this.board.putArtifact(this.taskId, LOG_ARTIFACT, data);
        this.storedBytes = data.length;
      } catch {
        // Stored at the next round or at the end; a log is never worth failing the task for.
      } finally {
        this.uploading = undefined;
      }
    })();
    return this.uploading;
  }
}

/**
 * A task's log file, cut off at `maxBytes`. Output is buffered and written at most every half
 * second (and at the end), so a chatty command costs few writes and a quiet one costs one.
 */
export class CappedLog {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  private truncated = false;
  private created = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly file: string,
    private readonly maxBytes: number,
  ) {}

  get path(): string | undefined {
    return this.created || this.pendingBytes > 0 ? this.file : undefined;
  }

  /** Bytes written to the file so far. */
  get bytes(): number {
    return this.written;
  }

  write(chunk: string): void {
    if (this.truncated || chunk.length === 0) return;
    let data = Buffer.from(chunk);
    const room = this.maxBytes - this.written - this.pendingBytes;
    if (data.length > room) {
      data = Buffer.concat([data.subarray(0, Math.max(0, room)), Buffer.from(`\n[log truncated at ${this.maxBytes} bytes]\n`)]);
      this.truncated = true;
    }
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= 64 * 1024) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 500);
  }

  close(): void {
    this.flush();
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    try {
      if (!this.created) fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.appendFileSync(this.file, data);
      this.created = true;
      this.written += data.length;
    } catch {
      // A log that cannot be written must not fail the task.
    }
  }
}

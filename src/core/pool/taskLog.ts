// A task's log while it runs: kept in memory (a capped file of the agent once it grows large),
// stored on the board as the log artifact while it grows and once more at the end.
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
    await this.upload();
    return this.log.bytes > 0 && this.storedBytes === this.log.bytes;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private upload(): Promise<void> {
    if (this.uploading) return this.uploading;
    if (this.log.bytes === this.storedBytes) return Promise.resolve();
    this.uploading = (async () => {
      try {
        const data = this.log.contents();
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
 * A task's log, cut off at `maxBytes`. It stays in memory until it reaches 64 KB, and only a log
 * that grows past that is written to its file (appended in 64 KB pieces): most logs are a few
 * lines, and for those a file written and read back would cost more than the task.
 */
export class CappedLog {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private written = 0;
  private truncated = false;
  private created = false;
  /** The file could not be written (a full disk): what it missed is kept in memory instead. */
  private unwritable = false;

  constructor(
    private readonly file: string,
    private readonly maxBytes: number,
  ) {}

  /** Bytes logged so far (in the file and in memory). */
  get bytes(): number {
    return this.written + this.pendingBytes;
  }

  write(chunk: string): void {
    if (this.truncated || chunk.length === 0) return;
    let data = Buffer.from(chunk);
    const room = this.maxBytes - this.bytes;
    if (data.length > room) {
      data = Buffer.concat([data.subarray(0, Math.max(0, room)), Buffer.from(`\n[log truncated at ${this.maxBytes} bytes]\n`)]);
      this.truncated = true;
    }
    this.pending.push(data);
    this.pendingBytes += data.length;
    if (this.pendingBytes >= SPILL_BYTES) this.spill();
  }

  /** The whole log so far; reads the file only when the log outgrew memory. */
  contents(): Buffer {
    this.spill();
    const inMemory = this.joinPending();
    if (!this.created) return inMemory;
    return Buffer.concat([fs.readFileSync(this.file), inMemory]);
  }

  private joinPending(): Buffer {
    if (this.pending.length !== 1) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0];
  }

  /** Moves what is in memory to the file once the log has a file or needs one. */
  private spill(): void {
    if (this.unwritable || this.pendingBytes === 0 || (!this.created && this.pendingBytes < SPILL_BYTES)) return;
    const data = this.joinPending();
    try {
      if (!this.created) fs.mkdirSync(path.dirname(this.file), { recursive: true });
      fs.appendFileSync(this.file, data);
      this.created = true;
      this.written += data.length;
      this.pending = [];
      this.pendingBytes = 0;
    } catch {
      // A log that cannot be written must not fail the task: it stays in memory (at most maxBytes),
      // and a piece the disk took only in part is cut off again so that no byte is there twice.
      this.unwritable = true;
      if (this.created) truncateQuietly(this.file, this.written);
    }
  }
}

function truncateQuietly(file: string, bytes: number): void {
  try {
    fs.truncateSync(file, bytes);
  } catch {
    // Then the piece shows twice in the log: untidy, and still no reason to fail the task.
  }
}

/** Log bytes kept in memory before they go to the log's file. */
const SPILL_BYTES = 64 * 1024;

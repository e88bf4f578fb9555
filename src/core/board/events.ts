// The board's event log: one JSON object per line in `events.jsonl`, appended by every process with
// O_APPEND and one write() per line, so concurrent writers never interleave within a line on a
// local file system. A process killed mid-write can leave a torn last line; readers skip it.
import * as fs from 'fs';
import { BoardEvent } from './types';
import { writeFully } from './durable';

/** Events a process could not write yet (disk full, read-only log); bounded so memory stays small. */
const BACKLOG_LIMIT = 10_000;

export class EventLog {
  private fd: number | undefined;
  /** Lines whose write failed, oldest first; written before the next event, or at close(). */
  private backlog: string[] = [];

  constructor(readonly file: string) {}

  /**
   * Appends one event. Throws when the line cannot be written; the line is then kept and written
   * before the next event this process appends (so a long-lived process repairs the gap once the
   * disk has room again). A line cut off by a full disk is a torn line that readers skip.
   */
  append(event: Omit<BoardEvent, 'pid'>): void {
    const line = JSON.stringify({ ...event, pid: process.pid }) + '\n';
    this.backlog.push(line);
    if (this.backlog.length > BACKLOG_LIMIT) this.backlog.shift();
    this.flush();
  }

  /** Appends several events with one attempt: a failure keeps all of them for the next write. */
  appendAll(events: Omit<BoardEvent, 'pid'>[]): void {
    for (const event of events) {
      this.backlog.push(JSON.stringify({ ...event, pid: process.pid }) + '\n');
      if (this.backlog.length > BACKLOG_LIMIT) this.backlog.shift();
    }
    this.flush();
  }

  /** Writes the lines still waiting; throws (keeping them) when the log cannot be written. */
  flush(): void {
    if (this.backlog.length === 0) return;
    if (this.fd === undefined) this.fd = fs.openSync(this.file, 'a');
    while (this.backlog.length > 0) {
      writeFully(this.fd, this.backlog[0]);
      this.backlog.shift();
    }
  }

  /** Events not written yet (for the warning that says so). */
  get unwritten(): number {
    return this.backlog.length;
  }

  close(): void {
    try {
      this.flush();
    } catch {
      // Still unwritable: the warnings already said which events are missing.
    }
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** Reads complete lines from a byte offset; returns the events and the offset to continue from. */
  read(fromOffset = 0): { events: BoardEvent[]; nextOffset: number } {
    let data: Buffer;
    try {
      const size = fs.statSync(this.file).size;
      if (size <= fromOffset) return { events: [], nextOffset: Math.min(fromOffset, size) };
      data = readRange(this.file, fromOffset, size);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { events: [], nextOffset: 0 };
      throw error;
    }
    const lastNewline = data.lastIndexOf(0x0a);
    if (lastNewline < 0) return { events: [], nextOffset: fromOffset };
    const events = parseLines(data.subarray(0, lastNewline).toString('utf8'));
    return { events, nextOffset: fromOffset + lastNewline + 1 };
  }

  /**
   * Calls `onEvents` with every event appended from `fromOffset` on (default: the current end).
   * Uses fs.watch and also polls, because watch events can be dropped or unavailable.
   */
  follow(onEvents: (events: BoardEvent[]) => void, options: { fromOffset?: number; pollMs?: number } = {}): { dispose(): void } {
    let offset = options.fromOffset ?? currentSize(this.file);
    const drain = (): void => {
      const { events, nextOffset } = this.read(offset);
      offset = nextOffset;
      if (events.length > 0) onEvents(events);
    };
    const timer = setInterval(drain, options.pollMs ?? 500);
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(this.file, drain);
      watcher.on('error', () => watcher?.close());
    } catch {
      // No watcher (file missing, inotify limit): polling alone still delivers every event.
    }
    drain();
    return {
      dispose: () => {
        clearInterval(timer);
        watcher?.close();
      },
    };
  }
}

function currentSize(file: string): number {
  return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
}

function readRange(file: string, start: number, end: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(end - start);
    const read = fs.readSync(fd, buffer, 0, buffer.length, start);
    return buffer.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}

function parseLines(text: string): BoardEvent[] {
  const events: BoardEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const event = parseLine(line);
    if (event) events.push(event);
  }
  return events;
}

/**
 * A writer killed mid-line leaves a fragment that the next writer's line is appended to; the
 * fragment is dropped and the whole event that follows it is kept.
 */
function parseLine(line: string): BoardEvent | undefined {
  try {
    return JSON.parse(line) as BoardEvent;
  } catch {
    const start = line.lastIndexOf('{"at":');
    if (start <= 0) return undefined;
    try {
      return JSON.parse(line.slice(start)) as BoardEvent;
    } catch {
      return undefined;
    }
  }
}

// Small file-system primitives with the durability and error semantics the board relies on.
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { threadId } from 'worker_threads';
import { isProcessAlive } from '../process/liveness'; // a zombie writer (killed, not reaped, as under a PID 1 that never reaps) is dead

export function nonce(bytes = 4): string {
  return randomBytes(bytes).toString('hex');
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export function isAlreadyExists(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EEXIST';
}

/** Persists a directory's entries (a file fsync does not persist its name). Best effort where unsupported. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'EISDIR' && code !== 'EINVAL') throw error;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes every byte of `data` at the file's current position. `fs.writeSync` may write less than
 * asked (a disk filling up mid-write) without throwing; the loop turns that into the ENOSPC error
 * the next write reports, instead of a silently truncated file.
 */
export function writeFully(fd: number, data: string | Buffer): void {
  const buffer = typeof data === 'string' ? Buffer.from(data) : data;
  for (let offset = 0; offset < buffer.length; ) offset += fs.writeSync(fd, buffer, offset, buffer.length - offset);
}

/** Writes data to a new file and fsyncs it; the name must not exist yet. A failed write leaves no file. */
export function writeNewFileSync(file: string, data: string | Buffer, durable: boolean): void {
  const fd = fs.openSync(file, 'wx', 0o644);
  let written = false;
  try {
    writeFully(fd, data);
    if (durable) fs.fsyncSync(fd);
    written = true;
  } finally {
    fs.closeSync(fd);
    if (!written) unlinkQuietly(file);
  }
}

/**
 * Writes `file` all at once: the data goes to a new file in `tmpDir` (same file system), then a
 * rename puts it in place, so a reader never sees a partial file and a failure leaves none.
 */
export function writeFileAtomicSync(file: string, data: string, options: { tmpDir: string; durable: boolean }): void {
  const tmp = path.join(options.tmpDir, `${writerTag()}.${nonce()}.side.json`);
  writeNewFileSync(tmp, data, options.durable);
  try {
    fs.renameSync(tmp, file);
  } catch (error) {
    unlinkQuietly(tmp);
    throw error;
  }
}

/** Removes a file, ignoring every error: for cleaning up after a failure that is already being reported. */
export function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Already gone, or the file system refuses: the original error is the one that matters.
  }
}

/** Renames, reporting a vanished source as `false` instead of throwing (someone else moved it). */
export function renameIfPresent(from: string, to: string): boolean {
  try {
    fs.renameSync(from, to);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

export function readDirNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

export function unlinkIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export function ensureDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
}

/** Creates an empty marker file exactly once; returns false when it already existed. */
export function createMarker(file: string): boolean {
  try {
    fs.closeSync(fs.openSync(file, 'wx'));
    return true;
  } catch (error) {
    if (isAlreadyExists(error)) return false;
    if (isNotFound(error)) {
      ensureDir(path.dirname(file));
      return createMarker(file);
    }
    throw error;
  }
}

/**
 * Who writes a file in tmp/: the process id, and the thread id when it is not the main thread
 * (`1234` or `1234t2`). A board engine can run in a worker thread beside another engine on the
 * main thread of the same process; repair must not take the other thread's files for leftovers.
 */
export function writerTag(): string {
  return threadId === 0 ? String(process.pid) : `${process.pid}t${threadId}`;
}

/**
 * Whether the writer of a file may still be working on it: another process that is alive, or
 * another thread of this process (which may be mid-operation; a thread that ended leaves its
 * files to the next process that repairs the board). Files of this very thread are leftovers: its
 * operations are synchronous, so none is under way while repair runs.
 */
export function isOtherLiveWriter(pid: number, thread = 0): boolean {
  if (pid !== process.pid) return isProcessAlive(pid);
  return thread !== threadId;
}

/** Blocks the thread briefly; used only by one-shot CLI paths that must observe twice. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The text of a file, or undefined when it does not exist. */
export function readTextIfPresent(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

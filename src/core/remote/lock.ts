// An exclusive lock between processes of one machine: a file created with O_EXCL that holds the
// owner's pid and host. A lock whose owner died (kill -9) is taken over; the takeover itself is
// guarded by a second, short-lived lock, so two waiters that find the same dead owner cannot both
// remove the lock (one of them would remove the other's fresh lock).
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { delay, errorCode, isProcessAlive } from '../process/liveness';
import { RemoteGitError } from './errors';

export interface LockOptions {
  /** Give up waiting after this long (a clone of a large repository can take minutes). */
  timeoutMs?: number;
  /** Called once when the lock is busy, to say what we wait for. */
  onWait?: (owner: string) => void;
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** A takeover lock older than this belongs to a process that died in the middle of a takeover. */
const TAKEOVER_STALE_MS = 10_000;

interface LockOwner {
  pid: number;
  host: string;
  nonce: string;
}

/** Runs `work` while holding the lock file `file`; waits for other holders. */
export async function withLock<T>(file: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const release = await acquireLock(file, options);
  try {
    return await work();
  } finally {
    release();
  }
}

export async function acquireLock(file: string, options: LockOptions = {}): Promise<() => void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const me: LockOwner = { pid: process.pid, host: os.hostname(), nonce: crypto.randomBytes(8).toString('hex') };
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let pause = 10;
  let told = false;
  for (;;) {
    if (tryCreate(file, me)) return () => releaseIfOurs(file, me);
    const owner = readOwner(file);
    const stale = staleLockContent(file, owner);
    if (stale !== undefined) takeOverStaleLock(file, stale);
    else if (Date.now() > deadline) {
      throw new RemoteGitError('busy', `Another process (${describe(owner)}) has held ${file} for longer than ${Math.max(1, Math.round((options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000))} s; try again, or remove the file if no runner is working on that repository.`);
    } else {
      if (!told) options.onWait?.(describe(owner));
      told = true;
      await delay(pause);
      pause = Math.min(pause * 2, 250);
    }
  }
}

function tryCreate(file: string, owner: LockOwner): boolean {
  try {
    fs.writeFileSync(file, `${owner.pid} ${owner.host} ${owner.nonce}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
}

/** The owner written in a lock file; undefined while it is missing or half-written. */
function readOwner(file: string): LockOwner | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  const [pid, host, nonce] = text.trim().split(' ');
  if (!text.endsWith('\n') || !nonce) return undefined;
  return { pid: Number.parseInt(pid, 10), host, nonce };
}

/** Only owners on this host can be judged; a lock from another machine (a shared folder) waits out. */
function isDead(owner: LockOwner): boolean {
  return owner.host === os.hostname() && !isProcessAlive(owner.pid);
}

/**
 * The lock file's text when it is stale: its owner died, or it stayed unwritten for seconds (its
 * creator died between creating and writing it). Undefined while it is held or already gone.
 */
function staleLockContent(file: string, owner: LockOwner | undefined): string | undefined {
  if (owner) return isDead(owner) ? `${owner.pid} ${owner.host} ${owner.nonce}\n` : undefined;
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat || Date.now() - stat.mtimeMs < TAKEOVER_STALE_MS) return undefined;
  return readText(file);
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function describe(owner: LockOwner | undefined): string {
  return owner ? `pid ${owner.pid} on ${owner.host}` : 'a process that is starting';
}

function takeOverStaleLock(file: string, staleContent: string): void {
  const guard = `${file}.takeover`;
  const me: LockOwner = { pid: process.pid, host: os.hostname(), nonce: crypto.randomBytes(8).toString('hex') };
  if (!tryCreate(guard, me)) {
    const stat = fs.statSync(guard, { throwIfNoEntry: false });
    if (stat && Date.now() - stat.mtimeMs > TAKEOVER_STALE_MS) fs.rmSync(guard, { force: true });
    return;
  }
  try {
    // Still the same stale lock (not one someone created since we looked)? Nonces make each lock's text unique.
    if (readText(file) === staleContent) fs.rmSync(file, { force: true });
  } finally {
    releaseIfOurs(guard, me);
  }
}

function releaseIfOurs(file: string, me: LockOwner): void {
  if (readOwner(file)?.nonce === me.nonce) fs.rmSync(file, { force: true });
}

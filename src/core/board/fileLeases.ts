// File-scope leases of the file board.
import * as fs from 'fs';
import * as path from 'path';
import { parseName } from './names';
import type { StoredTask } from './schema';
import type { AfterCommit } from './effects';
import { ensureDir, isNotFound, readDirNames, unlinkIfPresent, unlinkQuietly, writeNewFileSync } from './durable';
import { faultPoint } from './faults';
import type { BoardStore } from './store';

/** A live file-scope lease holder: its task id (for the conflict event) and its running file name. */
export interface LeaseHolder {
  id: string;
  token: string;
}

/**
 * File-scope leases: a task with `files` runs only while no other running task holds one of them.
 * A holder's lease is one record, locks/<holder's running file name>, listing its files (one file
 * created per claim, however many files the task names: creating a file is the slow part of a
 * claim on a real disk). A record counts while its holder's running file exists, so a crashed
 * holder's record needs no cleanup to stop counting.
 *
 * Records are JSON ending in a newline: a record still being written (or torn by a kill) does not
 * parse and is not counted. That is safe: its writer looks for others only after its own record
 * is complete, and by then it sees ours (see acquire).
 *
 * Boards written before records were one per holder have folders locks/<hash of a path>/ holding one
 * entry per holder (its content the path): those are read too, and removed once stale.
 */
export class FileLeases {
  constructor(private readonly store: BoardStore) {}

  private locksDir(): string {
    return this.store.dirPath('locks');
  }

  /**
   * Writes the task's lease record, then looks for other live records naming one of its files. Of
   * two racing claimants at least one sees the other's complete record and backs off (each writes
   * before it looks), so overlapping tasks never run together. Returns the blocking holder, or
   * undefined when the lease is held. Throws (having removed its record) when it cannot be written.
   */
  acquire(spec: StoredTask, token: string): LeaseHolder | undefined {
    if (spec.files.length === 0) return undefined;
    const record = path.join(this.locksDir(), token);
    this.writeRecord(record, spec.files);
    faultPoint('claim:after-lease-record');
    try {
      const blocker = this.liveHolderOf(new Set(spec.files), token);
      if (blocker) unlinkIfPresent(record);
      return blocker;
    } catch (error) {
      unlinkQuietly(record);
      throw error;
    }
  }

  private writeRecord(record: string, files: string[]): void {
    const text = `${JSON.stringify(files)}\n`;
    try {
      writeNewFileSync(record, text, false);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      ensureDir(path.dirname(record)); // a board whose locks/ was removed by hand
      writeNewFileSync(record, text, false);
    }
  }

  /** The first live holder other than `token` whose record names one of `files`; stale records are removed. */
  private liveHolderOf(files: Set<string>, token: string): LeaseHolder | undefined {
    const dir = this.locksDir();
    for (const entry of readDirNames(dir)) {
      if (entry === token) continue;
      const where = path.join(dir, entry);
      if (isLegacyFolder(entry)) {
        const holder = this.liveLegacyHolder(where, files);
        if (holder) return holder;
        continue;
      }
      if (!this.isLive(entry)) {
        unlinkIfPresent(where); // its holder ended or crashed: a stale record
        continue;
      }
      if (readRecord(where).some((file) => files.has(file))) return holderOf(entry);
    }
    return undefined;
  }

  /** A folder of the older layout (one per path): its live entries name that one path. */
  private liveLegacyHolder(folder: string, files: Set<string>): LeaseHolder | undefined {
    for (const entry of readDirNames(folder)) {
      const where = path.join(folder, entry);
      if (!this.isLive(entry)) {
        unlinkIfPresent(where);
        continue;
      }
      if (files.has(readText(where))) return holderOf(entry);
    }
    try {
      fs.rmdirSync(folder); // empty now; a holder of the older layout writing into it meanwhile keeps it
    } catch {
      // not empty, or gone: either is fine
    }
    return undefined;
  }

  private isLive(token: string): boolean {
    return fs.existsSync(this.store.filePath('running', token));
  }

  release(files: string[], token: string): void {
    if (files.length === 0) return;
    unlinkIfPresent(path.join(this.locksDir(), token));
  }

  /** After a commit: a lease record left behind is harmless (its holder's running file is gone). */
  releaseAfterCommit(files: string[], token: string, effects: AfterCommit, subject: string): void {
    if (files.length === 0) return;
    effects.attempt(`${subject}, but its file-scope lease record could not be removed (it is ignored from now on)`, () => this.release(files, token));
  }
}

/** Folders of the older layout are named by 20 hex digits of a hash; running file names never are. */
function isLegacyFolder(entry: string): boolean {
  return /^[0-9a-f]{20}$/.test(entry);
}

function holderOf(token: string): LeaseHolder {
  return { id: parseName('running', token)?.id ?? token, token };
}

/** A record's files; none for one still being written, torn or gone (see the class comment). */
function readRecord(file: string): string[] {
  const text = readText(file);
  if (!text.endsWith('\n')) return [];
  try {
    const files = JSON.parse(text) as unknown;
    return Array.isArray(files) ? files.filter((each): each is string => typeof each === 'string') : [];
  } catch {
    return [];
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (isNotFound(error) || (error as NodeJS.ErrnoException).code === 'EISDIR') return '';
    throw error;
  }
}

// File-scope leases of the file board.
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { parseName } from './names';
import type { StoredTask } from './schema';
import type { AfterCommit } from './effects';
import { ensureDir, readDirNames, unlinkIfPresent, unlinkQuietly, writeNewFileSync } from './durable';
import type { BoardStore } from './store';

/** A live file-scope lease holder: its task id (for the conflict event) and its running file name. */
export interface LeaseHolder {
  id: string;
  token: string;
}

/**
 * File-scope leases: a task with `files` runs only while no other running task holds one of them.
 * Entries live in locks/<hash of the path>/<holder's running file name>; an entry counts while its
 * holder's running file exists, so a crashed holder's entries need no cleanup to stop counting.
 */
export class FileLeases {
  constructor(private readonly store: BoardStore) {}

  private lockDir(file: string): string {
    return path.join(this.store.dirPath('locks'), createHash('sha1').update(file).digest('hex').slice(0, 20));
  }

  /**
   * Takes a lease entry for each of the task's files. An entry is live while its holder's running
   * file exists. A claimant first writes its own entry, then looks for others: of two racing
   * claimants at least one sees the other and backs off, so overlapping tasks never run together.
   * Returns the blocking holder, or undefined when all leases are held. Throws (having released
   * what it took) when an entry cannot be written.
   */
  acquire(spec: StoredTask, token: string): LeaseHolder | undefined {
    const taken: string[] = [];
    try {
      for (const file of [...spec.files].sort()) {
        const dir = this.lockDir(file);
        ensureDir(dir);
        writeNewFileSync(path.join(dir, token), file, false);
        taken.push(file);
        const blocker = this.liveHolderOtherThan(dir, token);
        if (blocker) {
          this.release(taken, token);
          return blocker;
        }
      }
    } catch (error) {
      for (const file of taken) unlinkQuietly(path.join(this.lockDir(file), token));
      throw error;
    }
    return undefined;
  }

  private liveHolderOtherThan(dir: string, token: string): LeaseHolder | undefined {
    for (const entry of readDirNames(dir)) {
      if (entry === token) continue;
      if (fs.existsSync(this.store.filePath('running', entry))) return { id: parseName('running', entry)?.id ?? entry, token: entry };
      unlinkIfPresent(path.join(dir, entry)); // its holder ended or crashed: a stale entry
    }
    return undefined;
  }

  release(files: string[], token: string): void {
    for (const file of files) unlinkIfPresent(path.join(this.lockDir(file), token));
  }

  /** After a commit: a lease entry left behind is harmless (its holder's running file is gone). */
  releaseAfterCommit(files: string[], token: string, effects: AfterCommit, subject: string): void {
    if (files.length === 0) return;
    effects.attempt(`${subject}, but its file-scope lease entries could not all be removed (they are ignored from now on)`, () =>
      this.release(files, token),
    );
  }
}

// Task artifacts (patches, logs) by task and name. The rules both boards share (names, the size
// cap) and the file board's store: `<board>/artifacts/<task id>/<name>`, written whole through
// tmp/ and renamed into place, read only when it is a plain file (a link planted there, or a
// hand-edited board, must not make a reader return some other file of the machine).
import * as fs from 'fs';
import * as path from 'path';
import { BoardInputError } from './types';
import { ARTIFACT_NAME_PATTERN, formatBytes, type ArtifactInfo } from './interface';
import { fsyncDir, isNotFound, unlinkQuietly, writeNewFileSync } from './durable';
import { tmpFileName } from './batches';
import { isValidId } from './names';

const NO_FOLLOW = fs.constants.O_NOFOLLOW ?? 0;

export function assertArtifactName(name: string): void {
  if (typeof name !== 'string' || !ARTIFACT_NAME_PATTERN.test(name)) {
    throw new BoardInputError(`${JSON.stringify(name)} is not an artifact name: use 1-100 letters, digits, "_", "." or "-", not starting with "." or "-".`);
  }
}

export function assertArtifactSize(taskId: string, name: string, bytes: number, cap: number): void {
  if (bytes > cap) {
    throw new BoardInputError(
      `Artifact ${name} of task ${taskId} is ${formatBytes(bytes)}, over the board's limit of ${formatBytes(cap)}; nothing was stored. Store less (a shorter log) or raise the limit.`,
    );
  }
}

/** Bytes as a Buffer, whatever crossed a thread boundary (a Buffer arrives as a plain Uint8Array). */
export function asBuffer(data: Buffer | Uint8Array | string): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export interface FileArtifactsOptions {
  root: string;
  capBytes: number;
  durable: boolean;
}

export class FileArtifacts {
  constructor(private readonly options: FileArtifactsOptions) {}

  /** The folder of a task's artifacts (a path only; nothing is read or created). */
  dirOf(taskId: string): string {
    if (typeof taskId !== 'string' || !isValidId(taskId)) throw new BoardInputError(`${JSON.stringify(taskId)} is not a task id (ids look like t1a2b3c4d01ab).`);
    return path.join(this.options.root, 'artifacts', taskId);
  }

  put(taskId: string, name: string, data: Buffer | Uint8Array | string): void {
    assertArtifactName(name);
    const dir = this.dirOf(taskId);
    const bytes = asBuffer(data);
    assertArtifactSize(taskId, name, bytes.length, this.options.capBytes);
    this.makeFolder(dir);
    const tmp = path.join(this.options.root, 'tmp', tmpFileName('artifact'));
    writeNewFileSync(tmp, bytes, this.options.durable);
    try {
      // A rename replaces whatever is at the name (a planted link included), never writes through it.
      fs.renameSync(tmp, path.join(dir, name));
    } catch (error) {
      unlinkQuietly(tmp);
      throw error;
    }
    if (this.options.durable) fsyncDir(dir);
  }

  get(taskId: string, name: string): Buffer | undefined {
    assertArtifactName(name);
    const file = path.join(this.dirOf(taskId), name);
    if (!this.isPlainChain(path.dirname(file))) return undefined;
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | NO_FOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (isNotFound(error) || code === 'ELOOP' || code === 'ENOTDIR') return undefined;
      throw error;
    }
    try {
      return fs.fstatSync(fd).isFile() ? fs.readFileSync(fd) : undefined;
    } finally {
      fs.closeSync(fd);
    }
  }

  list(taskId: string): ArtifactInfo[] {
    const dir = this.dirOf(taskId);
    if (!this.isPlainChain(dir)) return [];
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
    return names
      .filter((name) => ARTIFACT_NAME_PATTERN.test(name))
      .flatMap((name) => {
        const stat = fs.lstatSync(path.join(dir, name), { throwIfNoEntry: false });
        return stat?.isFile() ? [{ name, bytes: stat.size }] : [];
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Unlinks the artifact (never what a planted link points at); false when there was none. */
  remove(taskId: string, name: string): boolean {
    assertArtifactName(name);
    const dir = this.dirOf(taskId);
    if (!this.isPlainChain(dir)) return false;
    try {
      fs.unlinkSync(path.join(dir, name));
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    if (this.options.durable) fsyncDir(dir);
    return true;
  }

  /** artifacts/ and artifacts/<id>/ as real folders: created when missing, refused when a link or a file. */
  private makeFolder(dir: string): void {
    for (const folder of [path.dirname(dir), dir]) {
      try {
        fs.mkdirSync(folder);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (!this.isPlainFolder(folder)) {
        throw new BoardInputError(`${folder} is not a folder (a link or a file is in its place); nothing was stored. Move it away and try again.`);
      }
    }
  }

  /** artifacts/ and artifacts/<id>/ are both real folders (a link at either could lead anywhere). */
  private isPlainChain(dir: string): boolean {
    return this.isPlainFolder(path.dirname(dir)) && this.isPlainFolder(dir);
  }

  private isPlainFolder(dir: string): boolean {
    const stat = fs.lstatSync(dir, { throwIfNoEntry: false });
    return stat !== undefined && stat.isDirectory() && !stat.isSymbolicLink();
  }
}

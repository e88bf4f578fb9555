// Writing a file without ever following a symbolic link: the content goes to a new file under an
// unpredictable name, created exclusively (O_EXCL | O_NOFOLLOW, so a link planted at that name
// fails the open instead of being written through), then renamed over the final path, which
// replaces whatever is there (a planted link included) rather than writing into its target.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ResultActionError } from './errors';

const NO_FOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/** Replaces `file` with `content` (mode as given, umask ignored); never follows a link at `file`. */
export function replaceFile(file: string, content: Buffer | string, mode = 0o644): void {
  const temp = tempNameBeside(file);
  const fd = fs.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | NO_FOLLOW, mode);
  try {
    try {
      fs.writeFileSync(fd, content);
      fs.fchmodSync(fd, mode);
    } finally {
      fs.closeSync(fd);
    }
    const replaced = holdReplaced(file);
    try {
      fs.renameSync(temp, file);
    } finally {
      releaseLater(replaced);
    }
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * Linux's O_PATH: an fd that refers to a name's inode without opening the file (no read access
 * needed, no FIFO or device opened, a link itself with O_NOFOLLOW). Node does not export it.
 */
const O_PATH = process.platform === 'linux' ? 0o10000000 : undefined;
/** Replaced files whose release is queued (counted down only when this thread is back in its event loop); above this many a rename frees the file itself, so a large apply does not run out of fds. */
const MAX_HELD = 128;
let held = 0;

/**
 * A reference to the file that a rename is about to replace, so that freeing it (its blocks, its
 * inode: most of the cost of a rename over a file on ext4) happens when that reference is closed
 * on a libuv thread, beside the next writes, instead of inside the rename on this thread. Nothing
 * is read or written through it; undefined when there is nothing to hold (no file, not Linux).
 */
function holdReplaced(file: string): number | undefined {
  if (O_PATH === undefined || held >= MAX_HELD) return undefined;
  try {
    const fd = fs.openSync(file, O_PATH | NO_FOLLOW);
    held += 1;
    return fd;
  } catch {
    return undefined;
  }
}

function releaseLater(fd: number | undefined): void {
  if (fd === undefined) return;
  fs.close(fd, () => {
    held -= 1;
  });
}

/** Replaces `file` with a symbolic link to `target`, made under a temp name and renamed into place. */
export function replaceWithLink(file: string, target: string): void {
  const temp = tempNameBeside(file);
  fs.symlinkSync(target, temp);
  try {
    fs.renameSync(temp, file);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * Gives `file` the same content as `existing` by a hard link, made under a temp name and renamed
 * into place (so it replaces whatever is at `file`, a planted link included, and is whole or
 * absent after a crash). A link adds a name, not a file: on file systems where creating a file is
 * the slow part of an apply, a second record costs nearly nothing. Where hard links are not
 * supported, `content` is written instead.
 */
export function replaceWithHardLink(file: string, existing: string, content: () => Buffer | string): void {
  const temp = tempNameBeside(file);
  try {
    fs.linkSync(existing, temp);
  } catch {
    replaceFile(file, content());
    return;
  }
  try {
    fs.renameSync(temp, file);
  } finally {
    // rename of two names of one file does nothing: the temp name would stay.
    fs.rmSync(temp, { force: true });
  }
}

/** Random per process, so nobody can tell the temp names in advance; a counter makes each one new. */
const TEMP_PREFIX = `.swarm-${crypto.randomBytes(8).toString('hex')}`;
let tempCounter = 0;

/** A fresh name in the folder of `file`, short enough for any name `file` may have. */
function tempNameBeside(file: string): string {
  tempCounter += 1;
  return path.join(path.dirname(file), `${TEMP_PREFIX}-${tempCounter}.tmp`);
}

/**
 * Creates the folders from `root` down to `dir` one at a time, checking each is a real folder
 * (not a link made in the meantime), so a write never lands outside through a planted link.
 */
export function makeRealFolders(root: string, dir: string): void {
  const relative = path.relative(root, dir);
  if (relative === '') return;
  let current = root;
  for (const segment of relative.split(path.sep)) {
    current = path.join(current, segment);
    // One look at a folder that is there; a second only after making it (or finding it made meanwhile).
    let stat = fs.lstatSync(current, { throwIfNoEntry: false });
    if (!stat) {
      try {
        fs.mkdirSync(current);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      stat = fs.lstatSync(current);
    }
    if (stat.isSymbolicLink() || !stat.isDirectory()) throw new ResultActionError('refused', `${current} is not a folder (it is ${stat.isSymbolicLink() ? 'a symbolic link' : 'a file'}); nothing was written there.`);
  }
}

/**
 * A regular file's bytes, refusing links (a record or saved copy must not lead elsewhere) and
 * anything else put there since it was looked at: O_NONBLOCK and fstat, so a named pipe swapped in
 * is not waited on (reading one waits for a writer forever).
 */
export function readRegularFile(file: string): Buffer | undefined {
  const stat = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) return undefined;
  const fd = fs.openSync(file, fs.constants.O_RDONLY | NO_FOLLOW | (fs.constants.O_NONBLOCK ?? 0));
  try {
    if (!fs.fstatSync(fd).isFile()) return undefined;
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

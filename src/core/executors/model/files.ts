// Reading the task's files for the model and resolving the paths it wants to edit. Every path goes
// through the core's one check for writers (assertSafePatchPath: no .git in any spelling, not the
// task board, no symbolic link on the way) and then through the real path: the model executor never
// reads or writes outside its worktree, never .git, never the board.
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_BOARD_DIR } from '../../board/board';
import { assertSafePatchPath, UnsafePatchPathError } from '../../patch/paths';

export interface FileLimits {
  maxFileBytes: number;
  maxTotalBytes: number;
}

export interface FileSnapshot {
  /** Workspace-relative path as given. */
  path: string;
  /** File content, when it could be included. */
  content?: string;
  /** Why the content is missing (new file, too large, binary...). */
  note?: string;
}

/**
 * Resolves `relative` inside `cwd`, or returns a message saying why it is refused. Works for paths
 * that do not exist yet by checking their nearest existing ancestor. `boardRoot` is the task board's
 * folder (the pool's; `<cwd>/.swarm` when not known), refused wherever it is.
 */
export function resolveInside(cwd: string, relative: string, boardRoot?: string): { absolute: string; relative: string } | { refused: string } {
  // Models often write "./src/a.ts"; the core check wants plain relative paths, so only that prefix is dropped.
  const plain = relative.replace(/^(?:\.\/)+/, '');
  try {
    assertSafePatchPath({ workspaceRoot: cwd, boardRoot: boardRoot ?? path.join(cwd, DEFAULT_BOARD_DIR) }, plain);
  } catch (error) {
    if (error instanceof UnsafePatchPathError) return { refused: `${shown(relative)} ${error.reason}` };
    throw error;
  }
  const root = fs.realpathSync(cwd);
  const absolute = path.resolve(root, plain);
  // The core check lets the last name be a link (git applies links as links); a write here would follow it.
  if (fs.lstatSync(absolute, { throwIfNoEntry: false })?.isSymbolicLink()) return { refused: `${shown(relative)} is a symbolic link` };
  const real = realpathOfNearestExisting(absolute);
  const realInside = path.relative(root, real);
  if (realInside === '' || realInside.startsWith('..') || path.isAbsolute(realInside)) return { refused: `${shown(relative)} leads outside the task's directory` };
  return { absolute, relative: path.relative(root, absolute).split(path.sep).join('/') };
}

/** A path as a refusal shows it: a crafted one must not flood the model's context or the log. */
function shown(relative: string): string {
  return relative.length <= 160 ? relative : `${relative.slice(0, 160)}… (${relative.length} characters)`;
}

function realpathOfNearestExisting(absolute: string): string {
  let candidate = absolute;
  const missing: string[] = [];
  for (;;) {
    try {
      return path.join(fs.realpathSync(candidate), ...missing.reverse());
    } catch {
      const parent = path.dirname(candidate);
      if (parent === candidate) return absolute;
      missing.push(path.basename(candidate));
      candidate = parent;
    }
  }
}

/** The task's files as the model should see them, within the size caps. */
export function readTaskFiles(cwd: string, files: string[], limits: FileLimits, boardRoot?: string): FileSnapshot[] {
  let budget = limits.maxTotalBytes;
  return files.map((file): FileSnapshot => {
    const resolved = resolveInside(cwd, file, boardRoot);
    if ('refused' in resolved) return { path: file, note: `not shown: ${resolved.refused}` };
    let stat: fs.Stats;
    try {
      stat = fs.statSync(resolved.absolute);
    } catch {
      return { path: file, note: 'does not exist yet; create it with a FILE block' };
    }
    if (stat.isDirectory()) return { path: file, note: 'is a directory; name the files inside it to edit them' };
    if (stat.size > limits.maxFileBytes) return { path: file, note: `not shown: ${stat.size} bytes is over the ${limits.maxFileBytes}-byte limit per file` };
    if (stat.size > budget) return { path: file, note: `not shown: the ${limits.maxTotalBytes}-byte limit for all files is used up` };
    const buffer = fs.readFileSync(resolved.absolute);
    if (buffer.subarray(0, 8_000).includes(0)) return { path: file, note: 'not shown: binary file' };
    budget -= stat.size;
    return { path: file, content: buffer.toString('utf8') };
  });
}

/** Renders snapshots for the prompt, each file fenced with its path. */
export function renderFiles(snapshots: FileSnapshot[]): string {
  return snapshots
    .map((snapshot) => {
      if (snapshot.content === undefined) return `${snapshot.path}\n(${snapshot.note ?? 'not shown'})`;
      const fence = snapshot.content.includes('```') ? '~~~~' : '```';
      return `${snapshot.path}\n${fence}\n${snapshot.content}${snapshot.content.endsWith('\n') ? '' : '\n'}${fence}`;
    })
    .join('\n\n');
}

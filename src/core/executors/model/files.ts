// Reading the task's files for the model and resolving the paths it wants to edit. Every path is
// checked against the working directory, symlinks included: the model executor never reads or
// writes outside its worktree, and never touches .git.
import fs from 'node:fs';
import path from 'node:path';

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
 * that do not exist yet by checking their nearest existing ancestor.
 */
export function resolveInside(cwd: string, relative: string): { absolute: string; relative: string } | { refused: string } {
  const root = fs.realpathSync(cwd);
  const absolute = path.resolve(root, relative);
  const inside = path.relative(root, absolute);
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) return { refused: `${relative} is outside the task's directory` };
  if (inside.split(path.sep)[0] === '.git') return { refused: `${relative} is inside .git` };
  const real = realpathOfNearestExisting(absolute);
  const realInside = path.relative(root, real);
  if (realInside.startsWith('..') || path.isAbsolute(realInside)) return { refused: `${relative} leads outside the task's directory through a symbolic link` };
  return { absolute, relative: inside.split(path.sep).join('/') };
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
export function readTaskFiles(cwd: string, files: string[], limits: FileLimits): FileSnapshot[] {
  let budget = limits.maxTotalBytes;
  return files.map((file): FileSnapshot => {
    const resolved = resolveInside(cwd, file);
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

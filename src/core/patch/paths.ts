// Patches never write outside the workspace, into `.git`, or through a symbolic link. Checked before
// anything is read or written, with errors that name the offending path.
import * as fs from 'fs';
import * as path from 'path';

export class UnsafePatchPathError extends Error {
  constructor(
    readonly patchPath: string,
    readonly reason: string,
  ) {
    super(`Refusing to apply the patch: "${patchPath}" ${reason}. Patches may only change files inside the workspace (not in .git, not through symbolic links). Discard this result or fix the patch by hand.`);
    this.name = 'UnsafePatchPathError';
  }
}

export function assertSafePatchPath(workspaceRoot: string, relPath: string): void {
  if (relPath.length === 0) throw new UnsafePatchPathError(relPath, 'is an empty path');
  if (relPath.includes('\0')) throw new UnsafePatchPathError(relPath, 'contains a NUL byte');
  if (path.isAbsolute(relPath) || path.win32.isAbsolute(relPath) || relPath.startsWith('~')) throw new UnsafePatchPathError(relPath, 'is an absolute path');
  const segments = relPath.split(/[\\/]/);
  if (segments.includes('..')) throw new UnsafePatchPathError(relPath, 'contains ".." and would leave the workspace');
  if (segments.some((segment) => segment.toLowerCase().replace(/[. ]+$/, '') === '.git' || segment.toLowerCase() === '.git')) {
    throw new UnsafePatchPathError(relPath, 'is inside a .git directory');
  }
  const root = path.resolve(workspaceRoot);
  const target = path.resolve(root, relPath);
  const relative = path.relative(root, target);
  if (relative.startsWith('..') || path.isAbsolute(relative) || relative === '') throw new UnsafePatchPathError(relPath, 'resolves outside the workspace');
  // Every existing parent directory must be a real directory, not a link to somewhere else.
  let current = root;
  for (const segment of relative.split(path.sep).slice(0, -1)) {
    current = path.join(current, segment);
    const stat = fs.lstatSync(current, { throwIfNoEntry: false });
    if (!stat) break;
    if (stat.isSymbolicLink()) throw new UnsafePatchPathError(relPath, `goes through the symbolic link "${path.relative(root, current)}"`);
    if (!stat.isDirectory()) throw new UnsafePatchPathError(relPath, `needs "${path.relative(root, current)}" to be a folder, but it is a file`);
  }
}

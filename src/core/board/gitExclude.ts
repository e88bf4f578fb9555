// Keeps the board out of `git status`: adds it to the repository's .git/info/exclude (a local,
// uncommitted ignore file), so users never see .swarm/ as a change and never commit it by accident.
import * as fs from 'fs';
import * as path from 'path';

interface GitLocation {
  topLevel: string;
  commonDir: string;
}

/** Finds the enclosing repository without spawning git, following `.git` files of worktrees. */
export function findGitRepository(start: string): GitLocation | undefined {
  let dir = path.resolve(start);
  for (;;) {
    const dotGit = path.join(dir, '.git');
    const stat = fs.statSync(dotGit, { throwIfNoEntry: false });
    if (stat?.isDirectory()) return { topLevel: dir, commonDir: dotGit };
    if (stat?.isFile()) {
      const gitDir = readGitDirPointer(dotGit, dir);
      if (gitDir) return { topLevel: dir, commonDir: readCommonDir(gitDir) };
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function readGitDirPointer(dotGitFile: string, dir: string): string | undefined {
  const match = /^gitdir:\s*(.+)\s*$/m.exec(fs.readFileSync(dotGitFile, 'utf8'));
  return match ? path.resolve(dir, match[1]) : undefined;
}

function readCommonDir(gitDir: string): string {
  const commonFile = path.join(gitDir, 'commondir');
  if (!fs.existsSync(commonFile)) return gitDir;
  return path.resolve(gitDir, fs.readFileSync(commonFile, 'utf8').trim());
}

/** Adds `/<relative board path>/` to info/exclude once. Returns true when a line was added. */
export function excludeFromGit(boardDir: string): boolean {
  const repo = findGitRepository(path.dirname(path.resolve(boardDir)));
  if (!repo) return false;
  const relative = path.relative(repo.topLevel, path.resolve(boardDir)).split(path.sep).join('/');
  if (relative.startsWith('..')) return false;
  const pattern = `/${relative}/`;
  const excludeFile = path.join(repo.commonDir, 'info', 'exclude');
  const current = fs.existsSync(excludeFile) ? fs.readFileSync(excludeFile, 'utf8') : '';
  if (current.split(/\r?\n/).includes(pattern)) return false;
  fs.mkdirSync(path.dirname(excludeFile), { recursive: true });
  const separator = current.length > 0 && !current.endsWith('\n') ? '\n' : '';
  fs.appendFileSync(excludeFile, `${separator}# Agent Swarm task board\n${pattern}\n`);
  return true;
}

// Where the board lives when the caller does not say: the nearest existing board above the working
// directory, else `.swarm/` at the top of the enclosing git repository, else in the directory itself.
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_BOARD_DIR } from './board';
import { findGitRepository } from './gitExclude';

export function resolveBoardDir(options: { explicit?: string; env?: string; cwd: string }): string {
  if (options.explicit) return path.resolve(options.cwd, options.explicit);
  if (options.env) return path.resolve(options.cwd, options.env);
  for (let dir = path.resolve(options.cwd); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, DEFAULT_BOARD_DIR, 'board.json'))) return path.join(dir, DEFAULT_BOARD_DIR);
    if (path.dirname(dir) === dir) break;
  }
  const repo = findGitRepository(options.cwd);
  return path.join(repo?.topLevel ?? path.resolve(options.cwd), DEFAULT_BOARD_DIR);
}

/** The workspace a board belongs to: the folder that contains the board directory. */
export function workspaceOfBoard(boardDir: string): string {
  return path.dirname(path.resolve(boardDir));
}

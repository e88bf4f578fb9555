// Where a result lives and where the user's own records of it are kept. The result (its patch) is a
// board artifact, read through the board, so a Redis board works like the file board. Apply, undo
// and discard records are the user's local state, not the shared board's: for the file board they
// stay where they always were (the task's artifacts folder); for a remote board they live in a
// local folder under the repository's git directory (or the user's cache without one), one folder
// per board and task, so two developers sharing a board keep their own records.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Board } from '../board/interface';
import { FileBoard } from '../board/fileBoard';
import { findGitRepository } from '../board/gitExclude';
import { isValidId } from '../board/names';
import type { WriteScope } from './paths';
import { makeRealFolders } from './write';
import { ResultActionError } from './errors';

/** A board and the workspace its results apply to. */
export interface ResultPlace {
  board: Board;
  workspaceRoot: string;
}

/**
 * The folder under which a board's records live, and which no result may write into: the board
 * folder of a file board; for a remote board a folder named after it (inside .git when there is
 * a repository, which the path check refuses anyway).
 */
export function recordsRoot(place: ResultPlace): string {
  if (place.board instanceof FileBoard) return place.board.root;
  const repo = findGitRepository(place.workspaceRoot);
  const base = repo ? path.join(repo.commonDir, 'swarm', 'boards') : path.join(cacheHome(), 'agent-swarm', 'boards', digest(path.resolve(place.workspaceRoot)));
  return path.join(base, boardFolderName(place.board.describe()));
}

/** The folder of one task's records (a path only). */
export function recordsDir(place: ResultPlace, taskId: string): string {
  if (place.board instanceof FileBoard) return place.board.artifactsDir(taskId);
  if (typeof taskId !== 'string' || !isValidId(taskId)) throw new ResultActionError('input', `${JSON.stringify(taskId)} is not a task id.`);
  return path.join(recordsRoot(place), taskId);
}

/** The task's records folder, created when missing, and never a link to somewhere else. */
export function makeRecordsDir(place: ResultPlace, taskId: string): string {
  const root = recordsRoot(place);
  const dir = recordsDir(place, taskId);
  if (!(place.board instanceof FileBoard)) fs.mkdirSync(root, { recursive: true });
  makeRealFolders(root, dir);
  return dir;
}

/** Where writers of results may write: the workspace, never the board or its records. */
export function writeScopeOf(place: ResultPlace): WriteScope {
  return { workspaceRoot: place.workspaceRoot, boardRoot: recordsRoot(place) };
}

/** `redis-host-6379-0-team-1a2b3c4d`: readable, and unique per board (the description has no password). */
function boardFolderName(description: string): string {
  const readable = description.replace(/^[a-z]+:\/\//, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return `${readable || 'board'}-${digest(description)}`;
}

function digest(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 8);
}

function cacheHome(): string {
  return process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
}

// What the pool and its agents need to know about their board beyond the Board interface: where an
// agent process opens it (a location without the password: the password travels only in the
// agent's environment, never in argv, IPC or logs), and the folder a file board keeps on this
// machine (attempts' sandboxes keep it read-only; its artifacts have paths people can open).
import * as path from 'path';
import { FileBoardEngine } from '../board/board';
import { FileBoard } from '../board/fileBoard';
import type { Board } from '../board/interface';
import type { BoardLocation } from '../board/open';
import { describeRedis } from '../board/redis/connection';

/** The environment variable that carries a Redis board's password to a process that opens it. */
export const BOARD_PASSWORD_ENV = 'SWARM_BOARD_PASSWORD';

/** How another process on this machine opens the same board. */
export interface BoardAccess {
  /** A folder, or `redis://[user@]host:port/db?board=NAME` without a password. */
  location: string;
  /** Handed to agent processes as SWARM_BOARD_PASSWORD in their environment, nowhere else. */
  password?: string;
}

/** The access of a parsed location: the URL keeps the user name, the password is set apart. */
export function boardAccessOf(location: BoardLocation): BoardAccess {
  if (location.kind === 'file') return { location: location.root };
  const described = describeRedis(location);
  const text = location.username ? described.replace('://', `://${encodeURIComponent(location.username)}@`) : described;
  return { location: text, ...(location.password ? { password: location.password } : {}) };
}

/** The access of a board opened here, when it can be told from the board alone (a file board). */
export function defaultBoardAccess(board: Board): BoardAccess | undefined {
  const folder = localBoardFolder(board);
  return folder === undefined ? undefined : { location: folder };
}

/**
 * The pool takes the async Board; callers that hold the file board's engine (tests, benches, the
 * extension's session until it moves) pass it as it is and get the same engine behind the interface.
 */
export function asBoard(board: Board | FileBoardEngine): Board {
  return board instanceof FileBoardEngine ? FileBoard.over(board) : board;
}

/** The folder of a file board on this machine; undefined for a board elsewhere (Redis). */
export function localBoardFolder(board: Board): string | undefined {
  return board instanceof FileBoard ? board.root : undefined;
}

/** The file an artifact is stored in on a file board (for people and older readers); undefined elsewhere. */
export function localArtifactFile(board: Board, taskId: string, name: string): string | undefined {
  return board instanceof FileBoard ? path.join(board.artifactsDir(taskId), name) : undefined;
}

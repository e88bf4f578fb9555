// The patch module takes a board through the async interface with the workspace it applies to:
// the session's view board (its engine in a worker thread, or a Redis board).
import type { Board } from '../../core/board/interface';
import type { ResultPlace } from '../../core/patch';

export function resultPlace(board: Board, root: string): ResultPlace {
  return { board, workspaceRoot: root };
}

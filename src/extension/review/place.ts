// The patch module takes a board through the async interface with the workspace it applies to.
// The extension still holds the synchronous engine (until it moves to the Board interface); this
// wraps it, in this thread, for the review commands.
import { FileBoard, type FileBoardEngine } from '../../core/board';
import type { ResultPlace } from '../../core/patch';

export function resultPlace(board: FileBoardEngine, root: string): ResultPlace {
  return { board: FileBoard.over(board), workspaceRoot: root };
}

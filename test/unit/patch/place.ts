// Tests build boards with the synchronous engine (to set up tasks step by step); the patch,
// metrics and report modules take the async Board. These wrap an engine, in this thread.
import { FileBoard, workspaceOfBoard, type FileBoardEngine } from '../../../src/core/board';
import type { ResultPlace } from '../../../src/core/patch';

export function over(engine: FileBoardEngine): FileBoard {
  return FileBoard.over(engine);
}

/** The engine's board with the workspace its results apply to (default: the folder holding the board). */
export function placeOf(engine: FileBoardEngine, workspaceRoot: string = workspaceOfBoard(engine.root)): ResultPlace {
  return { board: FileBoard.over(engine), workspaceRoot };
}

export * from './types';
export { FileBoard, BoardFormatError, DEFAULT_BOARD_DIR, BOARD_FORMAT_VERSION, newTaskId } from './board';
export type { BoardOptions, ClaimOptions, FailOptions } from './board';
export { EventLog } from './events';
export { findGitRepository } from './gitExclude';
export { resolveBoardDir, workspaceOfBoard } from './location';

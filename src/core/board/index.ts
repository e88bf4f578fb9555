export * from './types';
export { FileBoard, BoardFormatError, DEFAULT_BOARD_DIR, BOARD_FORMAT_VERSION, MAX_LEASE_MS, newTaskId } from './board';
export { MAX_TIME_MS, PRIORITY_LIMIT } from './names';
export { MAX_ATTEMPTS_LIMIT, TASK_SPEC_FIELDS, checkTaskSpec, taskFileProblem } from './schema';
export { describeError } from './effects';
export type { BoardOptions, ClaimOptions, FailOptions } from './board';
export { EventLog } from './events';
export { findGitRepository } from './gitExclude';
export { resolveBoardDir, workspaceOfBoard } from './location';

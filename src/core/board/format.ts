// The file board's format marker (`board.json`). Its own module so that what the board reads and
// writes beside the marker (host records: hosts.ts) can name the format without importing board.ts.

export const BOARD_FORMAT = 'agent-swarm-board';
/**
 * 2: a file-scope lease is one record per holder (`locks/<running file name>`), which builds that
 * wrote one entry per path do not see: they must refuse the board rather than run a task whose files
 * another task holds. A build of format 2 still honours the per-path entries of format 1.
 */
export const BOARD_FORMAT_VERSION = 2;

// Runners on one machine over loopback: a real redis-server on a free port holding the shared
// board, the origin repository and its clones (makeWorld), and a git daemon serving them. A test
// file starts one in `before` and stops it in `after`, killing the runners it started.
import type { ChildProcess } from 'child_process';
import { openBoard } from '../../../src/core/board/open';
import type { Board } from '../../../src/core/board';
import { startRedis, type RedisServer } from '../../harness/redis';
import { git } from '../worktree/helpers';
import { makeWorld, type World } from './machines';
import { startGitDaemon } from './netns';

export interface LoopbackWorld {
  redis: RedisServer;
  daemon: Awaited<ReturnType<typeof startGitDaemon>>;
  w: World;
  board: Board;
  boardUrl: string;
}

/** The developer's clone (`w.dev`) fetches origin from the daemon, as from a server. */
export async function startLoopbackWorld(boardName: string): Promise<LoopbackWorld> {
  const redis = await startRedis();
  const boardUrl = `redis://127.0.0.1:${redis.port}/0?board=${boardName}`;
  const w = makeWorld();
  const daemon = await startGitDaemon(w.dir, ['127.0.0.1']);
  git(w.dev, ['remote', 'set-url', 'origin', daemon.url('origin.git')]);
  git(w.dev, ['fetch', '-q', 'origin']);
  const board = await openBoard(boardUrl);
  return { redis, daemon, w, board, boardUrl };
}

/** Whatever of the world was started (a failed `before` leaves parts undefined). */
export async function stopLoopbackWorld(world: Partial<LoopbackWorld>, runners: ChildProcess[]): Promise<void> {
  for (const runner of runners) if (runner.exitCode === null && runner.signalCode === null) runner.kill('SIGKILL');
  await world.board?.close();
  await world.daemon?.stop();
  await world.redis?.stop();
  world.w?.cleanup();
}

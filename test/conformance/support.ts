// What the conformance suite needs from a board implementation: fresh boards and a second handle
// on the same board (another process or machine).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Board } from '../../src/core/board/interface';
import type { RetryPolicy } from '../../src/core/board/types';
import { FileBoard } from '../../src/core/board/fileBoard';
import { RedisBoard } from '../../src/core/board/redis/board';
import { startRedis, type RedisServer } from '../harness/redis';
import { parseBoardLocation } from '../../src/core/board/open';

export interface BoardSettings {
  retry?: Partial<RetryPolicy>;
  artifactCapBytes?: number;
}

export interface FreshBoard {
  board: Board;
  /** Another handle on the same board, as another machine would open it. */
  another(): Promise<Board>;
}

export interface BoardKind {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  fresh(settings?: BoardSettings): Promise<FreshBoard>;
  /** Closes every handle opened by fresh/another. */
  closeAll(): Promise<void>;
}

let counter = 0;

export function fileBoards(): BoardKind {
  const dirs: string[] = [];
  let open: Board[] = [];
  return {
    name: 'file board',
    start: async () => undefined,
    stop: async () => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })),
    fresh: async (settings = {}) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-conformance-'));
      dirs.push(dir);
      const root = path.join(dir, '.swarm');
      const openOne = (): Board => {
        const board = FileBoard.openInline({ root, durable: false, sweepIntervalMs: 20, excludeFromGit: false, ...settings });
        open.push(board);
        return board;
      };
      return { board: openOne(), another: async () => openOne() };
    },
    closeAll: async () => {
      await Promise.all(open.map((board) => board.close()));
      open = [];
    },
  };
}

export function redisBoards(): BoardKind {
  let server: RedisServer | undefined;
  let open: Board[] = [];
  return {
    name: 'Redis board',
    start: async () => {
      server = await startRedis();
    },
    stop: async () => {
      await server?.stop();
    },
    fresh: async (settings = {}) => {
      const name = `conformance-${process.pid}-${++counter}`;
      const location = parseBoardLocation(server!.url(0, name));
      if (location.kind !== 'redis') throw new Error('expected a Redis location');
      const openOne = async (): Promise<Board> => {
        const board = await RedisBoard.open({ ...location, sweepIntervalMs: 100, conflictDelayMs: 300, ...settings });
        open.push(board);
        return board;
      };
      return { board: await openOne(), another: openOne };
    },
    closeAll: async () => {
      await Promise.all(open.map((board) => board.close()));
      open = [];
    },
  };
}

/** Polls until `check` returns a value other than undefined/false, or fails after the deadline. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 20_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

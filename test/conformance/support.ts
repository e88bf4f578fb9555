// What the conformance suite needs from a board implementation: fresh boards, a second handle on
// the same board (another process or machine), two ways to break things from outside the board,
// and the few places where the boards differ on purpose (each with its reason).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Redis } from 'ioredis';
import type { Board } from '../../src/core/board/interface';
import type { Claim, RetryPolicy } from '../../src/core/board/types';
import { FileBoard } from '../../src/core/board/fileBoard';
import { RedisBoard, keyBase } from '../../src/core/board/redis/board';
import { startRedis, type RedisServer } from '../harness/redis';
import { parseBoardLocation } from '../../src/core/board/open';

export interface BoardSettings {
  retry?: Partial<RetryPolicy>;
  artifactCapBytes?: number;
  onWarning?: (warning: string) => void;
  /** Minimum time between the sweeps claims and heartbeats start; a test sets it high to keep sweeps out. */
  sweepIntervalMs?: number;
}

export interface FreshBoard {
  board: Board;
  /** Another handle on the same board, as another machine would open it. */
  another(): Promise<Board>;
}

/** Where the boards behave differently on purpose (docs/redis-board.md says why). */
export interface Differences {
  /**
   * A second complete() with the same token succeeds on the Redis board (a completion whose reply
   * was lost on the network can be sent again); the file board refuses it (LeaseLostError, ended),
   * since a local rename cannot lose its reply.
   */
  repeatableComplete: boolean;
}

export interface BoardKind {
  name: string;
  differences: Differences;
  start(): Promise<void>;
  stop(): Promise<void>;
  fresh(settings?: BoardSettings): Promise<FreshBoard>;
  /** Closes every handle opened by fresh/another. */
  closeAll(): Promise<void>;
  /** Removes a claimed task from the board behind the board's back (an operator deleting it). */
  removeBehindBoard(board: Board, claim: Claim): Promise<void>;
  /**
   * Makes the after-commit side effects of this handle fail, the way they fail in the field: on
   * the file board the event log cannot be written (as on a full disk); on the Redis board the
   * handle loses its connection to the queue (BullMQ's), which hands posted tasks to the claimers.
   * Returns what undoes it, where it can be undone (a lost connection stays lost: another handle
   * repairs).
   */
  breakAfterCommit(board: Board): Promise<() => Promise<void>>;
}

let counter = 0;

export function fileBoards(): BoardKind {
  const dirs: string[] = [];
  let open: Board[] = [];
  const rootOf = (board: Board): string => (board as FileBoard).root;
  return {
    name: 'file board',
    differences: { repeatableComplete: false },
    start: async () => undefined,
    stop: async () => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })),
    fresh: async (settings = {}) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-conformance-'));
      dirs.push(dir);
      const root = path.join(dir, '.swarm');
      const openOne = (): Board => {
        const board = FileBoard.openInline({ root, durable: false, sweepIntervalMs: 20, repairIntervalMs: 50, excludeFromGit: false, ...settings });
        open.push(board);
        return board;
      };
      return { board: openOne(), another: async () => openOne() };
    },
    closeAll: async () => {
      await Promise.all(open.map((board) => board.close()));
      open = [];
    },
    removeBehindBoard: async (board, claim) => fs.rmSync(path.join(rootOf(board), 'running', claim.token)),
    breakAfterCommit: async (board) => {
      const log = path.join(rootOf(board), 'events.jsonl');
      const aside = `${log}.aside`;
      if (fs.existsSync(log)) fs.renameSync(log, aside);
      fs.mkdirSync(log); // writes to it fail (EISDIR)
      return async () => {
        fs.rmdirSync(log);
        if (fs.existsSync(aside)) fs.renameSync(aside, log);
      };
    },
  };
}

export function redisBoards(): BoardKind {
  let server: RedisServer | undefined;
  let open: Board[] = [];
  const names = new Map<Board, string>();
  return {
    name: 'Redis board',
    differences: { repeatableComplete: true },
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
        const board = await RedisBoard.open({ ...location, sweepIntervalMs: 100, conflictDelayMs: 300, postRepairAgeMs: 300, ...settings });
        open.push(board);
        names.set(board, name);
        return board;
      };
      return { board: await openOne(), another: openOne };
    },
    closeAll: async () => {
      await Promise.all(open.map((board) => board.close()));
      open = [];
    },
    removeBehindBoard: async (board, claim) => {
      const client = new Redis({ port: server!.port, host: '127.0.0.1' });
      try {
        await client.del(`${keyBase(names.get(board)!)}:t:${claim.task.id}`);
      } finally {
        client.disconnect();
      }
    },
    breakAfterCommit: async (board) => {
      await (board as unknown as { queue: { disconnect(): Promise<void> } }).queue.disconnect();
      return async () => undefined;
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

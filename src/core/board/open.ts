// Opens the board a location names: a path or file:// URL is the file board in that folder;
// redis://[user:password@]host:port[/db][?board=NAME] (rediss:// for TLS) is a Redis board. The
// password may also come from SWARM_BOARD_PASSWORD, so it need not appear on a command line. No
// error or description ever contains the password.
import * as path from 'path';
import { fileURLToPath } from 'url';
import { BoardInputError } from './types';
import type { Board } from './interface';
import { FileBoard, type FileBoardOptions } from './fileBoard';
import { BOARD_NAME_PATTERN, describeRedis, type RedisLocation } from './redis/connection';

export type BoardLocation = { kind: 'file'; root: string } | ({ kind: 'redis' } & RedisLocation);

export const DEFAULT_REDIS_PORT = 6379;
export const DEFAULT_REDIS_BOARD = 'default';

export interface ParseOptions {
  /** Relative paths resolve against this folder. */
  cwd?: string;
  /** Defaults to process.env; SWARM_BOARD_PASSWORD is read from it. */
  env?: NodeJS.ProcessEnv;
}

export function parseBoardLocation(text: string, options: ParseOptions = {}): BoardLocation {
  const trimmed = text.trim();
  if (trimmed === '') throw new BoardInputError('The board location is empty: give a folder, file://…, redis://host:port or rediss://host:port.');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'file', root: path.resolve(options.cwd ?? process.cwd(), trimmed) };
  if (scheme === 'file') {
    try {
      return { kind: 'file', root: fileURLToPath(trimmed) };
    } catch (error) {
      throw new BoardInputError(`"${trimmed}" is not a usable file:// URL (${(error as Error).message}).`);
    }
  }
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw new BoardInputError(`Unknown board scheme "${scheme}://": use a folder, file://, redis:// or rediss://.`);
  }
  return { kind: 'redis', ...parseRedisUrl(trimmed, scheme === 'rediss', options.env ?? process.env) };
}

function parseRedisUrl(text: string, tls: boolean, env: NodeJS.ProcessEnv): RedisLocation {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text may hold a password: name only the shape that is wrong.
    throw new BoardInputError(`The board URL is not valid; write it as ${tls ? 'rediss' : 'redis'}://[user:password@]host:port[/db][?board=NAME].`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new BoardInputError('The board URL names no host; write it as redis://host:port[/db][?board=NAME].');
  const port = url.port === '' ? DEFAULT_REDIS_PORT : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d{1,2}$/.test(dbText)) throw new BoardInputError(`"/${dbText}" is not a Redis database number; use /0 to /15 (or leave it out for 0).`);
  const db = dbText === '' ? 0 : Number(dbText);
  const board = url.searchParams.get('board') ?? DEFAULT_REDIS_BOARD;
  if (!BOARD_NAME_PATTERN.test(board)) throw new BoardInputError(`"${board}" is not a board name: use 1-64 letters, digits, "_", "." or "-".`);
  for (const key of url.searchParams.keys()) {
    if (key !== 'board') throw new BoardInputError(`Unknown board URL parameter "${key}": only ?board=NAME is understood.`);
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : env.SWARM_BOARD_PASSWORD || undefined;
  return { host, port, db, board, tls, ...(username ? { username } : {}), ...(password ? { password } : {}) };
}

/** A location as people should see it (logs, status bar, errors): never with a password. */
export function describeBoardLocation(location: BoardLocation): string {
  return location.kind === 'file' ? location.root : describeRedis(location);
}

export interface OpenBoardOptions extends Omit<FileBoardOptions, 'root'> {
  sweepIntervalMs?: number;
  conflictDelayMs?: number;
  eventRetention?: number;
  connectTimeoutMs?: number;
  postRepairAgeMs?: number;
  /** Redis board: replicas that must have a post before it returns (WAIT); see docs/redis-board.md. */
  waitForReplicas?: number;
  replicaTimeoutMs?: number;
}

export async function openBoard(location: BoardLocation | string, options: OpenBoardOptions & ParseOptions = {}): Promise<Board> {
  const where = typeof location === 'string' ? parseBoardLocation(location, options) : location;
  if (where.kind === 'file') {
    const { cwd: _cwd, env: _env, conflictDelayMs: _conflict, eventRetention: _retention, connectTimeoutMs: _connect, postRepairAgeMs: _repair, ...file } = options;
    return FileBoard.open({ ...file, root: where.root });
  }
  const { RedisBoard } = await import('./redis/board');
  const { kind: _kind, ...redis } = where;
  return RedisBoard.open({ ...redis, ...options });
}

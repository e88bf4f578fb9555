// Where a Redis board lives and what its server's errors mean for people. No message here ever
// contains the password: locations are described without it.
import { SwarmUserError } from '../../errors';
import { BoardUnavailableError } from '../interface';

export interface RedisLocation {
  host: string;
  port: number;
  db: number;
  /** The board's name: its keys share the hash tag {swarm:<board>}. */
  board: string;
  username?: string;
  password?: string;
  tls?: boolean;
}

export const BOARD_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** `redis://host:port/db?board=name`, without credentials. */
export function describeRedis(location: RedisLocation): string {
  const host = location.host.includes(':') ? `[${location.host}]` : location.host;
  return `${location.tls ? 'rediss' : 'redis'}://${host}:${location.port}/${location.db}?board=${location.board}`;
}

const UNREACHABLE = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|connect ETIMEDOUT|getaddrinfo/;
const AUTH = /WRONGPASS|NOAUTH|invalid password|invalid username-password|AUTH <password> called without any password/i;
const LOST = /Connection is closed|MaxRetriesPerRequest|Reached the max retries|Stream isn't writeable|ECONNRESET|EPIPE|Connection reset|LOADING|Command timed out/;

/** Turns a driver error into a BoardUnavailableError with one line naming the problem and the fix. */
export function classifyRedisError(error: unknown, where: string): Error {
  // The board's own errors (bad input, a lost lease, a foreign format, one already classified) pass as they are.
  if (error instanceof SwarmUserError) return error;
  const message = (error as Error)?.message ?? String(error);
  const code = (error as NodeJS.ErrnoException)?.code ?? '';
  const text = `${code} ${message}`;
  if (AUTH.test(text)) {
    return new BoardUnavailableError(
      'auth',
      `The Redis server at ${where} refused the credentials (${firstWord(message)}); set the right password in SWARM_BOARD_PASSWORD (or the board URL) and try again.`,
    );
  }
  if (UNREACHABLE.test(text)) {
    return new BoardUnavailableError(
      'unreachable',
      `Cannot reach the board's Redis server at ${where} (${code || firstWord(message)}); start the server or correct the address given with --board or SWARM_BOARD.`,
    );
  }
  if (/^OOM /.test(message)) {
    return new BoardUnavailableError(
      'config',
      `The Redis server at ${where} is out of memory (maxmemory reached) and refused the change; nothing was written. Raise maxmemory or remove old boards, then try again.`,
    );
  }
  if (LOST.test(text)) {
    return new BoardUnavailableError(
      'connection-lost',
      `Lost contact with the board's Redis server at ${where} (${message.split('\n')[0]}); check the server and the network. A running task whose lease lapses comes back to the board.`,
    );
  }
  return error instanceof Error ? error : new Error(message);
}

function firstWord(message: string): string {
  return message.split(/[\s:]/)[0] || message;
}

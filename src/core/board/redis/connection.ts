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

/** Who sent a command that failed, and what it was running, for a refused permission. */
export interface RedisErrorContext {
  /** The ACL user of the connection (absent: the server's `default` user). */
  user?: string;
  /** What the board was running (`the board's CLAIM script`), when the server does not name it. */
  running?: string;
}

/** A command (or a key) the server's ACL refused this user: a NOPERM reply, or its form inside a script. */
const NOPERM = /^NOPERM |The user executing the script can't (run|access)/;

/** Turns a driver error into a BoardUnavailableError with one line naming the problem and the fix. */
export function classifyRedisError(error: unknown, where: string, context: RedisErrorContext = {}): Error {
  // The board's own errors (bad input, a lost lease, a foreign format, one already classified) pass as they are.
  if (error instanceof SwarmUserError) return error;
  const message = (error as Error)?.message ?? String(error);
  const code = (error as NodeJS.ErrnoException)?.code ?? '';
  const text = `${code} ${message}`;
  if (NOPERM.test(message)) return refusedPermission(message, where, context);
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

/**
 * "The Redis user swarm-team-runner at … may not run the 'xadd' command (NOPERM); …": who, what, and
 * the fix (the board's ACL lines). Redis names the command of a NOPERM reply; inside a script it
 * does not, so the script the board was running is named instead.
 */
function refusedPermission(message: string, where: string, context: RedisErrorContext): BoardUnavailableError {
  const user = context.user ?? 'default';
  const command = /'([^']+)' command/.exec(message)?.[1];
  const keys = /keys|key /.test(message);
  const what = command ? `run the '${command}' command` : keys ? `use a key of this board${context.running ? ` (in ${context.running})` : ''}` : `run a command of ${context.running ?? 'the board'}`;
  const board = /[?&]board=([^&\s]+)/.exec(where)?.[1] ?? 'NAME';
  return new BoardUnavailableError(
    'permission',
    `The Redis user ${user} at ${where} may not ${what} (NOPERM); give it the board's ACL rights (ACL SETUSER ${user} … ~{swarm:${board}}* … as in docs/redis-board.md, "ACL users") and try again.`,
  );
}

function firstWord(message: string): string {
  return message.split(/[\s:]/)[0] || message;
}

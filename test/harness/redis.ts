// A real redis-server for tests and benchmarks: a free loopback port, its own temp dir, no
// persistence by default (`--save '' --appendonly no`), AOF with `appendfsync always` on request.
// It is stopped by pid. A missing redis-server is a failure that names the Debian package, never a skip.
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync, type ChildProcess } from 'child_process';

export interface RedisServerOptions {
  /** Append-only file with an fsync before every reply (the durability test). */
  aof?: boolean;
  password?: string;
  /** Default noeviction (what the Redis board needs); the fault tests set allkeys-lru. */
  maxmemoryPolicy?: string;
  /** Extra `--name value` arguments. */
  extra?: string[];
}

export interface RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly pid: number;
  /** redis://127.0.0.1:<port>/<db> with the password when one is set. */
  url(db?: number, board?: string): string;
  /** kill -9, as a crash would; restart() brings it back on the same port and dir. */
  crash(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that stops answering without closing connections (a partition). */
  pause(): void;
  resume(): void;
  /** Stops it (SIGTERM, then SIGKILL) and removes the temp dir. */
  stop(): Promise<void>;
}

const INSTALL_HINT = 'redis-server is not installed: install the Debian package redis-server (apt-get install -y redis-server)';

export function redisServerBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const binary = found.stdout.trim();
  if (found.status !== 0 || !binary) throw new Error(INSTALL_HINT);
  return binary;
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = redisServerBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  const args = (): string[] => [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--daemonize', 'no',
    '--logfile', path.join(dir, 'redis.log'),
    '--maxmemory-policy', options.maxmemoryPolicy ?? 'noeviction',
    ...(options.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.password ? ['--requirepass', options.password] : []),
    ...(options.extra ?? []),
  ];
  const launch = async (): Promise<void> => {
    child = spawn(binary, args(), { stdio: 'ignore' });
    const spawned = child;
    const exited = new Promise<string>((resolve) => spawned.once('exit', (code, signal) => resolve(`exited (${signal ?? code})`)));
    spawned.once('error', () => undefined);
    const outcome = await Promise.race([waitForPing(port, 20_000).then(() => 'ready'), exited]);
    if (outcome !== 'ready') throw new Error(`redis-server on port ${port} ${outcome}: ${tail(path.join(dir, 'redis.log'))}`);
  };
  for (let tries = 0; ; tries++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (error) {
      if (tries >= 3) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const stopChild = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(signal);
    const timer = setTimeout(() => current.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    port,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    url: (db = 0, board?: string) =>
      `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}/${db}${board ? `?board=${board}` : ''}`,
    crash: () => stopChild('SIGKILL'),
    restart: async () => {
      await stopChild('SIGKILL');
      await launch();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    stop: async () => {
      child?.kill('SIGCONT');
      await stopChild('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port on 127.0.0.1 free at the moment of asking (for servers the tests start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address() as net.AddressInfo;
      server.close(() => resolve(address.port));
    });
  });
}

/** Waits until the server answers PING (or asks for a password, which also means it is up). */
async function waitForPing(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pingOnce(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
}

function pingOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH'));
    });
  });
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '(no log)';
  }
}

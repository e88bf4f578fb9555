// Board locations, and a Redis server the board must refuse (unreachable, wrong password, evicting,
// a newer format) or survive (a server that stops answering mid-work), each on a real redis-server.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Redis } from 'ioredis';
import { BoardFormatError } from '../../../src/core/board/board';
import { BoardInputError, LeaseLostError } from '../../../src/core/board/types';
import { BoardUnavailableError, leaseLostCause } from '../../../src/core/board/interface';
import { describeBoardLocation, openBoard, parseBoardLocation } from '../../../src/core/board/open';
import { FileBoard } from '../../../src/core/board/fileBoard';
import { startRedis, type RedisServer } from '../../harness/redis';

const servers: RedisServer[] = [];
after(async () => {
  for (const server of servers) await server.stop();
});

async function server(options: Parameters<typeof startRedis>[0] = {}): Promise<RedisServer> {
  const started = await startRedis(options);
  servers.push(started);
  return started;
}

async function keysOf(port: number, password?: string): Promise<string[]> {
  const client = new Redis({ port, host: '127.0.0.1', password, lazyConnect: true });
  await client.connect();
  const keys = await client.keys('*');
  client.disconnect();
  return keys.sort();
}

function oneLine(error: Error): void {
  assert.ok(!error.message.includes('\n'), `one line: ${error.message}`);
}

describe('board locations', () => {
  it('reads paths and file:// URLs as file boards', () => {
    assert.deepEqual(parseBoardLocation('.swarm', { cwd: '/work/x' }), { kind: 'file', root: '/work/x/.swarm' });
    assert.deepEqual(parseBoardLocation('file:///srv/boards/team', { cwd: '/' }), { kind: 'file', root: '/srv/boards/team' });
  });

  it('reads redis:// and rediss:// URLs with user, password, db and board name', () => {
    const location = parseBoardLocation('rediss://ci:s3cr%40t@redis.example:6380/2?board=team-a', { env: {} });
    assert.deepEqual(location, { kind: 'redis', host: 'redis.example', port: 6380, db: 2, board: 'team-a', tls: true, username: 'ci', password: 's3cr@t' });
    assert.deepEqual(parseBoardLocation('redis://localhost', { env: {} }), { kind: 'redis', host: 'localhost', port: 6379, db: 0, board: 'default', tls: false });
  });

  it('takes the password from SWARM_BOARD_PASSWORD when the URL has none, and never shows it', () => {
    const location = parseBoardLocation('redis://10.0.0.5:6379/0?board=b', { env: { SWARM_BOARD_PASSWORD: 'hunter2' } });
    assert.equal(location.kind === 'redis' && location.password, 'hunter2');
    assert.equal(describeBoardLocation(location), 'redis://10.0.0.5:6379/0?board=b');
    const withUrlPassword = parseBoardLocation('redis://:pw-in-url@h:1/0', { env: { SWARM_BOARD_PASSWORD: 'env' } });
    assert.equal(withUrlPassword.kind === 'redis' && withUrlPassword.password, 'pw-in-url');
    assert.ok(!describeBoardLocation(withUrlPassword).includes('pw-in-url'));
  });

  it('refuses malformed locations with one line that says how to write them, without echoing a password', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['ftp://host/x', /Unknown board scheme "ftp:\/\/"/],
      ['redis://:topsecret@host:99999', /not valid; write it as redis:\/\//],
      ['redis://host:6379/db1', /not a Redis database number/],
      ['redis://host:6379/0?board={evil}', /not a board name/],
      ['redis://host:6379/0?board=a&tls=1', /Unknown board URL parameter "tls"/],
    ];
    for (const [text, expected] of cases) {
      assert.throws(() => parseBoardLocation(text, { env: {} }), (error: Error) => {
        assert.ok(error instanceof BoardInputError, text);
        assert.match(error.message, expected);
        assert.ok(!error.message.includes('topsecret'));
        oneLine(error);
        return true;
      });
    }
  });

  it('opens a file board from a path', async () => {
    const board = await openBoard(`file://${os.tmpdir()}/swarm-open-${process.pid}/.swarm`);
    try {
      assert.ok(board instanceof FileBoard);
      assert.equal((await board.post({ title: 'x' })).status, 'pending');
    } finally {
      await board.close();
      fs.rmSync(`${os.tmpdir()}/swarm-open-${process.pid}`, { recursive: true, force: true });
    }
  });
});

describe('Redis board: servers it refuses', () => {
  it('names an unreachable server and the fix', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(port));
      });
    });
    await assert.rejects(openBoard(`redis://:pw@127.0.0.1:${closed}/0?board=x`, { connectTimeoutMs: 2_000 }), (error: Error) => {
      assert.ok(error instanceof BoardUnavailableError);
      assert.equal(error.problem, 'unreachable');
      assert.match(error.message, new RegExp(`Cannot reach the board's Redis server at redis://127.0.0.1:${closed}/0\\?board=x \\(ECONNREFUSED\\); start the server`));
      assert.ok(!error.message.includes('pw'));
      oneLine(error);
      return true;
    });
  });

  it('names a wrong or missing password and changes nothing; the right one from the environment works', async () => {
    const redis = await server({ password: 'correct horse' });
    for (const url of [`redis://:wrong@127.0.0.1:${redis.port}/0?board=x`, `redis://127.0.0.1:${redis.port}/0?board=x`]) {
      await assert.rejects(openBoard(url, { env: {} }), (error: Error) => {
        assert.ok(error instanceof BoardUnavailableError, error.message);
        assert.equal(error.problem, 'auth');
        assert.match(error.message, /refused the credentials .*SWARM_BOARD_PASSWORD/);
        assert.ok(!error.message.includes('wrong'));
        oneLine(error);
        return true;
      });
    }
    assert.deepEqual(await keysOf(redis.port, 'correct horse'), []);
    const board = await openBoard(`redis://127.0.0.1:${redis.port}/0?board=x`, { env: { SWARM_BOARD_PASSWORD: 'correct horse' } });
    try {
      assert.ok(!board.describe().includes('correct'));
      assert.equal((await board.post({ title: 'ok' })).status, 'pending');
    } finally {
      await board.close();
    }
  });

  it('refuses a server that may evict keys, before writing anything', async () => {
    const redis = await server({ maxmemoryPolicy: 'allkeys-lru' });
    await assert.rejects(openBoard(redis.url(0, 'x')), (error: Error) => {
      assert.ok(error instanceof BoardUnavailableError);
      assert.equal(error.problem, 'config');
      assert.match(error.message, /maxmemory-policy allkeys-lru.*set maxmemory-policy noeviction/);
      oneLine(error);
      return true;
    });
    assert.deepEqual(await keysOf(redis.port), []);
  });

  it('refuses a board written by a newer format, and a key that is not a board, changing nothing', async () => {
    const redis = await server();
    const board = await openBoard(redis.url(0, 'future'));
    await board.post({ title: 'kept' });
    await board.close();
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    await client.hset('{swarm:future}:meta', 'version', '99');
    await client.hset('{swarm:alien}:meta', 'format', 'something-else');
    const before = await client.keys('*');
    await assert.rejects(openBoard(redis.url(0, 'future')), (error: Error) => error instanceof BoardFormatError && /format 99, newer than this Agent Swarm supports \(2\)\. Update Agent Swarm\./.test(error.message));
    await assert.rejects(openBoard(redis.url(0, 'alien')), (error: Error) => error instanceof BoardFormatError && /not an Agent Swarm board marker/.test(error.message));
    assert.deepEqual((await client.keys('*')).sort(), before.sort());
    assert.equal(await client.hget('{swarm:future}:meta', 'version'), '99');
    client.disconnect();
  });
});

describe('Redis board: losing the server during work', () => {
  it('a holder cut off from the server loses its lease, the task comes back, nothing completes twice', { timeout: 120_000 }, async () => {
    const redis = await server({ aof: true });
    const holder = await openBoard(redis.url(0, 'partition'), { sweepIntervalMs: 100 });
    const rescuer = await openBoard(redis.url(0, 'partition'), { sweepIntervalMs: 100 });
    try {
      const task = await holder.post({ title: 'long work' });
      const claim = (await holder.claim({ agent: 'cut-off', leaseMs: 1_500 }))!;
      await holder.heartbeat(claim, 1_500);
      redis.pause();
      const started = Date.now();
      await assert.rejects(holder.heartbeat(claim, 1_500), (error: Error) => {
        assert.ok(error instanceof LeaseLostError, error.message);
        assert.equal(leaseLostCause(error), 'reclaimed');
        assert.match(error.message, /lost contact with the board's server/);
        return true;
      });
      assert.ok(Date.now() - started < 5_000, 'the heartbeat gives up when the lease runs out, not later');
      redis.resume();
      const deadline = Date.now() + 30_000;
      let second;
      while (!second && Date.now() < deadline) {
        await rescuer.reclaimExpired();
        second = await rescuer.claim({ agent: 'rescuer' });
        if (!second) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(second?.task.id, task.id);
      await assert.rejects(holder.complete(claim, { stale: true }), LeaseLostError);
      await rescuer.complete(second!, { fresh: true });
      const done = (await rescuer.get(task.id))!;
      assert.deepEqual(done.result, { fresh: true });
      const completed = (await rescuer.readEvents()).events.filter((event) => event.type === 'completed');
      assert.equal(completed.length, 1);
    } finally {
      redis.resume();
      await holder.close();
      await rescuer.close();
    }
  });
});

describe('Redis board: a server out of memory', () => {
  it('refuses changes whole with a clear error, keeps the board consistent, and recovers when memory is freed', { timeout: 120_000 }, async () => {
    const redis = await server({ extra: ['--maxmemory', '3mb'] });
    const board = await openBoard(redis.url(0, 'full'));
    try {
      let posted = 0;
      let refusal: Error | undefined;
      while (!refusal) {
        try {
          posted += (await board.postMany(Array.from({ length: 20 }, (_, i) => ({ title: `t${posted + i}`, prompt: 'x'.repeat(200) })))).length;
        } catch (error) {
          refusal = error as Error;
        }
      }
      assert.ok(refusal instanceof BoardUnavailableError, refusal.message);
      assert.equal(refusal.problem, 'config');
      assert.match(refusal.message, /out of memory \(maxmemory reached\).*Raise maxmemory/);
      oneLine(refusal);
      await assert.rejects(board.claim({ agent: 'starved' }), (error: Error) => error instanceof BoardUnavailableError && error.problem === 'config');
      const stats = await board.stats();
      assert.equal(stats.counts.pending + stats.counts.running, posted, 'every acknowledged post, and nothing of the refused one');
      assert.equal((await board.list()).total, posted);
      assert.equal((await board.readEvents(undefined, 10_000)).events.filter((e) => e.type === 'posted').length, posted);
      const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
      const done = new Set<string>();
      for (;;) {
        await board.reclaimExpired();
        const claim = await board.claim({ agent: 'after', leaseMs: 1_000 });
        if (!claim) {
          const counts = (await board.stats()).counts;
          if (counts.pending === 0 && counts.running === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        await board.complete(claim);
        done.add(claim.task.id);
      }
      assert.equal(done.size, posted, 'every task ran once memory was freed');
    } finally {
      await board.close();
    }
  });
});

describe('the redis-server harness', () => {
  it('fails, naming the Debian package, when redis-server is not installed', () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-no-redis-'));
    try {
      fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
      const harness = path.join(__dirname, '..', '..', 'harness', 'redis.ts');
      const result = spawnSync(process.execPath, ['--import', 'tsx', '-e', `require(${JSON.stringify(harness)}).startRedis().then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); })`], {
        env: { ...process.env, PATH: bin },
        encoding: 'utf8',
      });
      assert.equal(result.status, 3, result.stderr);
      assert.match(result.stderr, /redis-server is not installed: install the Debian package redis-server \(apt-get install -y redis-server\)/);
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});

// Routing on the Redis board, at the level of its keys and events: a runner that cannot serve a
// task parks it in the claim script instead of claiming it (no lease, no attempt, no claimed or
// released event), a runner that can serve it brings it back in priority order, and nothing else
// on the board (cancel, stats, lists, map progress, older records) is fooled by a parked task.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisBoard, keyBase } from '../../../src/core/board/redis/board';
import { parseBoardLocation } from '../../../src/core/board/open';
import type { BoardEvent, TaskSpec } from '../../../src/core/board/types';
import { HOST_GONE_KEPT_MS } from '../../../src/core/board/interface';
import type { Serves } from '../../../src/core/board/routing';
import { startRedis, type RedisServer } from '../../harness/redis';

let redis: RedisServer;
let client: Redis;
let counter = 0;
before(async () => {
  redis = await startRedis();
  client = new Redis({ host: '127.0.0.1', port: redis.port });
});
after(async () => {
  client.disconnect();
  await redis.stop();
});

const CPU: Serves = { labels: ['linux'], repositories: ['github.com/a/b'], unsourced: true };
const GPU: Serves = { labels: ['linux', 'gpu'], repositories: ['github.com/a/b'], unsourced: true };

function gpuTask(title: string, priority = 0): TaskSpec {
  return { title, priority, requires: ['gpu'], source: { repository: 'github.com/a/b', prefix: '', snapshot: 'b'.repeat(40), snapshotId: 'tsnapshot0001', bundle: 'none', bundleBytes: 0 } };
}

async function freshBoard(conflictDelayMs?: number): Promise<{ board: RedisBoard; name: string; open: () => Promise<RedisBoard> }> {
  const name = `routing-${++counter}`;
  const location = parseBoardLocation(redis.url(0, name));
  if (location.kind !== 'redis') throw new Error('expected a Redis location');
  const opened: RedisBoard[] = [];
  const open = async (): Promise<RedisBoard> => {
    const board = await RedisBoard.open({ ...location, sweepIntervalMs: 3_600_000, ...(conflictDelayMs !== undefined && { conflictDelayMs }) });
    opened.push(board);
    return board;
  };
  const board = await open();
  const close = board.close.bind(board);
  board.close = async () => {
    await close();
    for (const other of opened.slice(1)) await other.close();
  };
  return { board, name, open };
}

async function allEvents(board: RedisBoard): Promise<BoardEvent[]> {
  const events: BoardEvent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const batch = await board.readEvents(cursor, 1_000);
    events.push(...batch.events);
    if (batch.events.length === 0) return events;
    cursor = batch.cursor;
  }
}

function count(events: BoardEvent[], type: string): number {
  return events.filter((event) => event.type === type).length;
}

describe('Redis board routing (parking in the claim script)', { timeout: 120_000 }, () => {
  it('N claims by an incapable runner against M unservable tasks park each once, claim none; a capable runner started later gets them all in priority order', async () => {
    const { board, name, open } = await freshBoard();
    try {
      const M = 30;
      const posted = await board.postMany(Array.from({ length: M }, (_, index) => gpuTask(`t${index}`, index % 7)));
      const plain = await board.post({ title: 'plain', priority: -5 });
      for (let claim = 0; claim < 50; claim++) {
        const got = await board.claim({ agent: 'cpu', serves: CPU });
        if (claim === 0) assert.equal(got?.task.id, plain.id, 'the servable task is claimed past the parked ones');
        else assert.equal(got, undefined);
      }
      let events = await allEvents(board);
      assert.equal(count(events, 'waiting-for-runner'), M, 'one waiting event per task, however often it is passed over');
      // BullMQ's own stream records each move of a job: exactly one park (move to delayed) per task.
      const bullEvents = (await client.xrange(`${keyBase(name)}:q:events`, '-', '+')).map(([, fields]) => fields[fields.indexOf('event') + 1]);
      assert.equal(bullEvents.filter((event) => event === 'delayed').length, M, 'at most one park per task');
      assert.equal(count(events, 'claimed'), 1);
      assert.equal(count(events, 'requeued'), 0);
      const waiting = events.find((event) => event.type === 'waiting-for-runner')!;
      assert.deepEqual(waiting.detail, { labels: ['gpu'], repository: 'github.com/a/b' });
      const read = (await board.get(posted[3].id))!;
      assert.equal(read.status, 'pending');
      assert.equal(read.attempts, 0);
      assert.deepEqual(read.waitingForRunner, { labels: ['gpu'], repository: 'github.com/a/b' });
      assert.equal((await board.list({ status: 'pending' })).total, M);
      const stats = await board.stats();
      assert.equal(stats.counts.pending, M);
      assert.equal(stats.delayed, 0, 'a parked task is not a delayed one: it is claimable as soon as a runner that serves it asks');

      const gpu = await open();
      const order: string[] = [];
      for (;;) {
        const claim = await gpu.claim({ agent: 'gpu', serves: GPU });
        if (!claim) break;
        assert.equal(claim.task.waitingForRunner, undefined);
        order.push(claim.task.id);
        await gpu.complete(claim);
      }
      const expected = [...posted].sort((a, b) => b.priority - a.priority || a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map((task) => task.id);
      assert.deepEqual(order, expected);
      events = await allEvents(board);
      assert.equal(count(events, 'waiting-for-runner'), M);
      assert.equal(count(events, 'claimed'), M + 1);
      assert.equal(count(events, 'requeued'), 0);
      const base = keyBase(board.describe().split('board=')[1]);
      assert.equal(await client.scard(`${base}:pks`), 0, 'no park set left behind');
    } finally {
      await board.close();
    }
  });

  it('ping-pong between a capable and an incapable runner is bounded: the incapable one never claims, the capable one gets every task, one waiting event each', async () => {
    const { board, open } = await freshBoard();
    try {
      const M = 12;
      const posted = await board.postMany(Array.from({ length: M }, (_, index) => gpuTask(`t${index}`, M - index)));
      const gpu = await open();
      const claimed: string[] = [];
      for (let round = 0; round < 3 * M && claimed.length < M; round++) {
        assert.equal(await board.claim({ agent: 'cpu', serves: CPU }), undefined);
        const claim = await gpu.claim({ agent: 'gpu', serves: GPU });
        if (claim) {
          claimed.push(claim.task.id);
          await gpu.complete(claim);
        }
      }
      assert.deepEqual(claimed, posted.map((task) => task.id));
      const events = await allEvents(board);
      assert.equal(count(events, 'claimed'), M);
      assert.ok(count(events, 'waiting-for-runner') <= M, `at most one waiting event per task (${count(events, 'waiting-for-runner')})`);
      assert.equal(count(events, 'requeued'), 0);
    } finally {
      await board.close();
    }
  });

  it('a parked task can be cancelled (it leaves the park set), counts as pending in map progress, and is woken with its map siblings', async () => {
    const { board } = await freshBoard();
    try {
      const { parent, children } = await board.map({ title: 'map' }, [gpuTask('a', 1), gpuTask('b', 2), { title: 'cpu child' }]);
      const cpuClaim = (await board.claim({ agent: 'cpu', serves: CPU }))!;
      assert.equal(cpuClaim.task.id, children[2].id);
      assert.equal(await board.claim({ agent: 'cpu', serves: CPU }), undefined);
      const progress = await board.progress(parent.id);
      assert.equal(progress.pending, 2);
      assert.equal(progress.running, 1);
      await board.cancel(children[0].id);
      assert.equal((await board.get(children[0].id))!.status, 'cancelled');
      const claim = (await board.claim({ agent: 'gpu', serves: GPU }))!;
      assert.equal(claim.task.id, children[1].id);
      assert.equal(await board.claim({ agent: 'gpu', serves: GPU }), undefined, 'the cancelled task stays out of the queue');
      await board.complete(claim);
      await board.complete(cpuClaim);
      assert.equal((await board.get(parent.id))!.status, 'done');
    } finally {
      await board.close();
    }
  });

  it('a parked task released by a capable runner is parked again by an incapable one without a second waiting event', async () => {
    const { board } = await freshBoard();
    try {
      const task = await board.post(gpuTask('x'));
      assert.equal(await board.claim({ agent: 'cpu', serves: CPU }), undefined);
      const claim = (await board.claim({ agent: 'gpu', serves: GPU }))!;
      await board.release(claim, 'busy');
      assert.equal(await board.claim({ agent: 'cpu', serves: CPU }), undefined);
      const events = await allEvents(board);
      assert.equal(count(events, 'waiting-for-runner'), 2, 'a task that was claimed and came back is announced again, once');
      assert.deepEqual((await board.get(task.id))!.waitingForRunner, { labels: ['gpu'], repository: 'github.com/a/b' });
      assert.equal((await board.claim({ agent: 'gpu', serves: GPU }))!.task.id, task.id);
    } finally {
      await board.close();
    }
  });

  it('a task that waited for files and was parked meanwhile: the holder\'s end wakes it, an incapable runner parks it again silently, a capable one claims it', async () => {
    const { board } = await freshBoard(200);
    try {
      const holder = await board.post({ title: 'holder', files: ['a.ts'], priority: 5 });
      const waiter = await board.post({ ...gpuTask('waiter'), files: ['a.ts'] });
      const held = (await board.claim({ agent: 'gpu-1', serves: GPU }))!;
      assert.equal(held.task.id, holder.id);
      assert.equal(await board.claim({ agent: 'gpu-2', serves: GPU }), undefined, 'the waiter waits for a.ts');
      const deadline = Date.now() + 30_000;
      while (!(await board.get(waiter.id))!.waitingForRunner) {
        assert.ok(Date.now() < deadline, 'the conflict delay ran out and the incapable runner parked the waiter');
        assert.equal(await board.claim({ agent: 'cpu', serves: CPU }), undefined);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await board.complete(held); // wakes the waiter (promote), although it is parked
      assert.equal(await board.claim({ agent: 'cpu', serves: CPU }), undefined);
      const claim = (await board.claim({ agent: 'gpu-2', serves: GPU }))!;
      assert.equal(claim.task.id, waiter.id);
      const events = await allEvents(board);
      assert.equal(count(events, 'waiting-for-runner'), 1);
      assert.equal(count(events, 'claimed'), 2);
      assert.equal(count(events, 'requeued'), 0);
      await board.complete(claim);
      assert.equal((await board.get(waiter.id))!.status, 'done');
    } finally {
      await board.close();
    }
  });

  it('a retry parked after its backoff shows no stale due time and is not counted as delayed', async () => {
    const { board } = await freshBoard();
    try {
      const task = await board.post(gpuTask('flaky'));
      await board.fail((await board.claim({ agent: 'gpu', serves: GPU }))!, 'try again');
      const deadline = Date.now() + 30_000;
      while (!(await board.get(task.id))!.waitingForRunner) {
        assert.ok(Date.now() < deadline, 'the retry became due and was parked');
        assert.equal(await board.claim({ agent: 'cpu', serves: CPU }), undefined);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const read = (await board.get(task.id))!;
      assert.equal(read.status, 'pending');
      assert.equal(read.notBefore, undefined, 'no due time in the past');
      assert.equal(read.attempts, 1);
      assert.equal((await board.stats()).delayed, 0);
      const claim = (await board.claim({ agent: 'gpu', serves: GPU }))!;
      assert.equal(claim.task.id, task.id);
      assert.equal(claim.task.attempts, 2);
    } finally {
      await board.close();
    }
  });

  it('a task recorded before routing (no route key) and a board of format 1 still claim as before', async () => {
    const { board, name, open } = await freshBoard();
    try {
      const task = await board.post(gpuTask('old'));
      const base = keyBase(name);
      await client.hdel(`${base}:t:${task.id}`, 'rk');
      await client.hset(`${base}:meta`, 'version', '1');
      const reopened = await open();
      assert.equal(await client.hget(`${base}:meta`, 'version'), '2', 'the marker is upgraded when the board opens');
      assert.equal((await reopened.claim({ agent: 'cpu', serves: CPU }))!.task.id, task.id, 'no route key: the runner claims it and hands it back itself, as before');
    } finally {
      await board.close();
    }
  });

  it('a board of format 1 that an older build has open is not upgraded under it: its live pool or claim refuses the open, by name; once they are gone it upgrades', async () => {
    const { board, name, open } = await freshBoard();
    try {
      const base = keyBase(name);
      await client.hset(`${base}:meta`, 'version', '1');
      // An older pool's host record, as it rewrites it every second.
      await client.multi().set(`${base}:host:4242`, JSON.stringify({ host: 'old-machine', hostPid: 4242 }), 'PX', HOST_GONE_KEPT_MS + 10_000).zadd(`${base}:hosts`, Date.now(), '4242').exec();
      await assert.rejects(open(), /in use by an older Agent Swarm \(board format 1: the pool 4242 on old-machine\); .*Stop or update them/);
      assert.equal(await client.hget(`${base}:meta`, 'version'), '1', 'not upgraded');
      await client.multi().del(`${base}:host:4242`).zrem(`${base}:hosts`, '4242').exec();
      // An older claimer (`board`, opened before: it checked the format then) holds a task.
      const task = await board.post({ title: 'held the old way' });
      const claim = (await board.claim({ agent: 'old' }))!;
      await assert.rejects(open(), new RegExp(`board format 1: a claim of task ${task.id}\\)`));
      await board.complete(claim);
      await open();
      assert.equal(await client.hget(`${base}:meta`, 'version'), '2', 'upgraded once nobody older uses it');
    } finally {
      await board.close();
    }
  });
});

describe('what a runner serves (watchRunnerServesFor, from its settings and clone)', () => {
  it('a clone serves its remotes and its root commit, with its labels and tasks without a snapshot; a repository cache serves any repository', async () => {
    const { execFileSync } = await import('child_process');
    const fs = await import('fs');
    const os = await import('os');
    const path = await import('path');
    const { watchRunnerServesFor } = await import('../../../src/core/pool/fromConfig');
    const runnerServesFor = async (...args: Parameters<typeof watchRunnerServesFor>) => (await watchRunnerServesFor(...args)).serves;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-serves-'));
    try {
      const git = (...args: string[]): string => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir, encoding: 'utf8' }).trim();
      git('init', '-q', '-b', 'main');
      fs.writeFileSync(path.join(dir, 'a.txt'), 'a\n');
      git('add', 'a.txt');
      git('commit', '-q', '-m', 'root');
      git('remote', 'add', 'origin', 'git@github.com:A/B.git');
      git('remote', 'add', 'mirror', 'https://example.com:8443/team/b.git');
      const root = git('rev-parse', 'HEAD');
      const serves = await runnerServesFor({ workspaceRoot: dir }, { runner: { labels: ['gpu', 'gpu', 'linux'] } });
      assert.deepEqual(serves, { labels: ['gpu', 'linux'], repositories: ['example.com:8443/team/b', 'github.com/a/b', `unpublished:${root}`].sort(), unsourced: true });
      assert.deepEqual(await runnerServesFor({ workspaceRoot: dir }, { isolation: 'direct', runner: { reposDir: path.join(dir, 'cache') } }), { labels: [], repositories: 'any', unsourced: false });
      const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-serves-plain-'));
      try {
        assert.deepEqual(await runnerServesFor({ workspaceRoot: outside }, {}), { labels: [], repositories: [], unsourced: false });
        fs.mkdirSync(path.join(outside, '.git'));
        assert.deepEqual((await runnerServesFor({ workspaceRoot: outside }, {})).repositories, [], 'a broken clone serves no repository, without failing the start');
      } finally {
        fs.rmSync(outside, { recursive: true, force: true });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

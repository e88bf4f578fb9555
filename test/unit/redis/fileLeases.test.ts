// File-scope leases on the Redis board, at the level of its keys: a holder's heartbeat and its end
// touch only the file leases that name it. The conformance suite proves the rule through the
// board's interface; here a lease naming another holder is planted directly (as a board written by
// an older version, or any writer that got it wrong, would leave it), so that the holder's own
// scripts are seen to leave it alone.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'crypto';
import { Redis } from 'ioredis';
import { RedisBoard, keyBase } from '../../../src/core/board/redis/board';
import { parseBoardLocation } from '../../../src/core/board/open';
import { startRedis, type RedisServer } from '../../harness/redis';

let redis: RedisServer;
let client: Redis;
let counter = 0;
/** A file lease of another claim, planted behind the board's back. */
const FOREIGN = 'tother000000~b.000000000000';
before(async () => {
  redis = await startRedis();
  client = new Redis({ host: '127.0.0.1', port: redis.port });
});
after(async () => {
  client.disconnect();
  await redis.stop();
});

async function freshBoard(): Promise<{ board: RedisBoard; fileKey: (file: string) => string }> {
  const name = `leases-${++counter}`;
  const location = parseBoardLocation(redis.url(0, name));
  if (location.kind !== 'redis') throw new Error('expected a Redis location');
  const board = await RedisBoard.open({ ...location, sweepIntervalMs: 3_600_000 });
  return { board, fileKey: (file) => `${keyBase(name)}:f:${createHash('sha1').update(file).digest('hex')}` };
}

describe('Redis board file-scope lease keys', { timeout: 60_000 }, () => {
  it('a claim names its holder in each file lease, held with no expiry of its own', async () => {
    const { board, fileKey } = await freshBoard();
    try {
      await board.post({ title: 't', files: ['x.ts', 'y.ts'] });
      const claim = (await board.claim({ agent: 'a', leaseMs: 200 }))!;
      for (const file of ['x.ts', 'y.ts']) {
        assert.equal(await client.get(fileKey(file)), claim.token);
        assert.equal(await client.pttl(fileKey(file)), -1, 'held until the claim ends or is reclaimed, not until a timer runs out');
      }
      await board.complete(claim);
      assert.equal(await client.exists(fileKey('x.ts'), fileKey('y.ts')), 0, 'freed when the claim ends');
    } finally {
      await board.close();
    }
  });

  it("a holder's heartbeat leaves a file lease that names another holder as it is, and restores a lost one of its own", async () => {
    const { board, fileKey } = await freshBoard();
    try {
      await board.post({ title: 't', files: ['x.ts', 'y.ts'] });
      const claim = (await board.claim({ agent: 'a', leaseMs: 10_000 }))!;
      await client.set(fileKey('x.ts'), FOREIGN);
      await client.del(fileKey('y.ts'));
      await board.heartbeat(claim, 10_000);
      assert.equal(await client.get(fileKey('x.ts')), FOREIGN, 'the heartbeat did not write its name over it');
      assert.equal(await client.get(fileKey('y.ts')), claim.token);
    } finally {
      await board.close();
    }
  });

  for (const end of ['complete', 'fail', 'release', 'cancel'] as const) {
    it(`a holder's ${end} frees its own file leases and leaves one that names another holder`, async () => {
      const { board, fileKey } = await freshBoard();
      try {
        await board.post({ title: 't', files: ['x.ts', 'y.ts'] });
        const claim = (await board.claim({ agent: 'a', leaseMs: 10_000 }))!;
        await client.set(fileKey('x.ts'), FOREIGN);
        if (end === 'complete') await board.complete(claim);
        else if (end === 'fail') await board.fail(claim, 'broken');
        else if (end === 'release') await board.release(claim);
        else await board.cancel(claim.task.id);
        assert.equal(await client.get(fileKey('x.ts')), FOREIGN, `the ${end} did not delete it`);
        assert.equal(await client.exists(fileKey('y.ts')), 0, 'its own is freed');
      } finally {
        await board.close();
      }
    });
  }
  it('a task blocked by a file lease is not moved again by later claims, and is claimable as soon as its blocker ends', async () => {
    const { board } = await freshBoard();
    const queueEvents = `${keyBase(`leases-${counter}`)}:q:events`;
    try {
      await board.post({ title: 'holder', files: ['x.ts'], priority: 2 });
      const blocked = await board.post({ title: 'blocked', files: ['x.ts'], priority: 1 });
      const holder = (await board.claim({ agent: 'a', leaseMs: 60_000 }))!;
      assert.equal(await board.claim({ agent: 'b' }), undefined, 'the first try finds the task blocked and puts it aside');
      const movesAfterFirstTry = await client.xlen(queueEvents);
      for (let i = 0; i < 40; i++) assert.equal(await board.claim({ agent: 'b' }), undefined);
      assert.equal(await client.xlen(queueEvents), movesAfterFirstTry, '40 claims moved the blocked task again (BullMQ logs every move of a job)');
      await board.complete(holder);
      assert.equal((await board.claim({ agent: 'b' }))?.task.id, blocked.id, 'the end of the blocker made the task claimable at once, not after the conflict delay');
    } finally {
      await board.close();
    }
  });
});

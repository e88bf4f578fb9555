// Posts and a failover to a replica: with waitForReplicas the board waits (Redis WAIT) until a
// replica has each post, so a post that returned survives the primary's crash and a promotion of
// the replica; when the replica does not confirm in time the post returns with a warning that
// says so. Real servers: a primary and a replica started by the harness.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { openBoard } from '../../../src/core/board/open';
import type { Board } from '../../../src/core/board/interface';
import { startRedis, type RedisServer } from '../../harness/redis';

const servers: RedisServer[] = [];
const boards: Board[] = [];
after(async () => {
  for (const board of boards) await board.close().catch(() => undefined);
  for (const server of servers) await server.stop();
});

async function pair(): Promise<{ primary: RedisServer; replica: RedisServer }> {
  const primary = await startRedis();
  servers.push(primary);
  const replica = await startRedis({ extra: ['--replicaof', '127.0.0.1', String(primary.port)] });
  servers.push(replica);
  const client = new Redis({ port: replica.port, host: '127.0.0.1' });
  try {
    const deadline = Date.now() + 30_000;
    while (!/master_link_status:up/.test(await client.info('replication'))) {
      if (Date.now() > deadline) throw new Error('the replica did not connect to its primary within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.disconnect();
  }
  return { primary, replica };
}

async function open(url: string, options: Parameters<typeof openBoard>[1] = {}): Promise<Board> {
  const board = await openBoard(url, { sweepIntervalMs: 50, postRepairAgeMs: 200, ...options });
  boards.push(board);
  return board;
}

describe('Redis board: posts and a failover to a replica', { timeout: 120_000 }, () => {
  it('with waitForReplicas, a post that returned survives the crash of the primary and the promotion of the replica', async () => {
    const { primary, replica } = await pair();
    const board = await open(primary.url(0, 'failover'), { waitForReplicas: 1, replicaTimeoutMs: 10_000 });
    const posted = await board.postMany([{ title: 'survives' }, { title: 'survives too' }]);
    assert.equal(posted[0].warnings, undefined, JSON.stringify(posted[0].warnings));
    await primary.crash();
    const promote = new Redis({ port: replica.port, host: '127.0.0.1' });
    await promote.call('REPLICAOF', 'NO', 'ONE');
    promote.disconnect();
    const survivor = await open(replica.url(0, 'failover'));
    for (const task of posted) assert.equal((await survivor.get(task.id))?.status, 'pending', `${task.id} is on the new primary`);
    const claimed = new Set<string>();
    const deadline = Date.now() + 30_000;
    while (claimed.size < 2 && Date.now() < deadline) {
      await survivor.reclaimExpired(); // hands over a post whose BullMQ job had not reached the replica
      const claim = await survivor.claim({ agent: 'after-failover' });
      if (claim) claimed.add(claim.task.id);
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual([...claimed].sort(), posted.map((task) => task.id).sort(), 'both run after the failover');
  });

  it('when the replica does not confirm in time, the post still happens and says so in a warning', async () => {
    const { primary, replica } = await pair();
    const warnings: string[] = [];
    const board = await open(primary.url(0, 'slow-replica'), { waitForReplicas: 1, replicaTimeoutMs: 300, onWarning: (warning) => warnings.push(warning) });
    replica.pause();
    try {
      const posted = await board.post({ title: 'not copied yet' });
      assert.equal(posted.warnings?.length, 1);
      assert.match(posted.warnings![0], new RegExp(`^Task ${posted.id} was posted, but only 0 of the 1 replicas asked for confirmed it within 300 ms`));
      assert.deepEqual(warnings, posted.warnings);
      assert.equal((await board.get(posted.id))?.status, 'pending', 'the post happened on the primary');
    } finally {
      replica.resume();
    }
  });

  it('without waitForReplicas a post does not wait for a replica that is not answering', async () => {
    const { primary, replica } = await pair();
    const board = await open(primary.url(0, 'no-wait'));
    replica.pause();
    try {
      const started = Date.now();
      const posted = await board.post({ title: 'fast' });
      assert.equal(posted.warnings, undefined);
      assert.ok(Date.now() - started < 5_000, 'no wait for the replica');
    } finally {
      replica.resume();
    }
  });
});

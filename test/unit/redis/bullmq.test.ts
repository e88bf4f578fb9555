// The Redis board runs BullMQ's own Lua scripts inside its scripts (src/core/board/redis/bullmq.ts),
// giving each the KEYS/ARGV layout its header documents. These tests hold that contract: the
// installed BullMQ matches it, a BullMQ whose layout changed is refused with a clear message
// before anything is written, and the wrapped scripts still run as BullMQ's own do.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import * as bullmqScripts from 'bullmq/dist/cjs/scripts/index';
import { BULLMQ_LAYOUTS, bullmqLayoutProblem, bullmqLua, documentedLayout, type BullmqScripts } from '../../../src/core/board/redis/bullmq';
import { startRedis, type RedisServer } from '../../harness/redis';

const installed = bullmqScripts as unknown as BullmqScripts;
const servers: RedisServer[] = [];
after(async () => {
  for (const server of servers) await server.stop();
});

describe('BullMQ scripts inside the Redis board', () => {
  it('the installed BullMQ documents exactly the layout the board gives each script', () => {
    assert.equal(bullmqLayoutProblem(), undefined);
    for (const layout of BULLMQ_LAYOUTS) {
      const script = installed[layout.name]!;
      assert.equal(script.keys, layout.keys.length, `${layout.name} takes ${script.keys} keys`);
      assert.deepEqual(documentedLayout(script.content), { keys: layout.keys, argv: layout.argv });
    }
  });

  it('a BullMQ that moved an argument or dropped a script is refused, naming the script and what to install', () => {
    const moved: BullmqScripts = { ...installed };
    const original = installed.moveToDelayed!;
    moved.moveToDelayed = { ...original, content: original.content.replace('ARGV[5] delay value', 'ARGV[5] delay timestamp') };
    const problem = bullmqLayoutProblem(moved, '7.0.0');
    assert.match(problem!, /BullMQ 7\.0\.0 changed the arguments of its script moveToDelayed/);
    assert.match(problem!, /install the BullMQ version Agent Swarm was built with/);
    assert.ok(!problem!.includes('\n'));
    const dropped: BullmqScripts = { ...installed, promote: undefined };
    assert.match(bullmqLayoutProblem(dropped, '7.0.0')!, /BullMQ 7\.0\.0 has no script promote, which the Redis board runs/);
  });

  it('the wrapped scripts compile and run on a real server, each reading the arguments it is given', async () => {
    const server = await startRedis();
    servers.push(server);
    const client = new Redis({ port: server.port, host: '127.0.0.1' });
    try {
      // No job: moveToActive answers "nothing" through our helper, and an unknown job cannot be promoted.
      const lua = `local rcall = redis.call\nlocal base = ARGV[1]\nlocal queue = base .. ':q:'\n${bullmqLua()}\nreturn { bullActivate('tok', 1000, 1700000000000) or 'none', bullPromote('nosuchjob') }`;
      assert.deepEqual(await client.eval(lua, 1, '{swarm:probe}:meta', '{swarm:probe}'), ['none', -3]);
    } finally {
      client.disconnect();
    }
  });
});

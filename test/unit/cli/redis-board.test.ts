// `swarm --board redis://…`: the board commands, and the review commands, against a real
// redis-server (test/harness/redis.ts); the faults a setup can have end with one line and exit 2,
// changing nothing on the server.
//   node scripts/run-unit-tests.js test/unit/cli/redis-board.test.ts
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Redis } from 'ioredis';
import { openBoard } from '../../../src/core/board/open';
import { freePort, startRedis, type RedisServer } from '../../harness/redis';
import { runSwarm, type SwarmRun, succeeded } from '../patch/helpers';

const servers: RedisServer[] = [];
const folders: string[] = [];
after(async () => {
  for (const server of servers) await server.stop();
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

async function server(options: Parameters<typeof startRedis>[0] = {}): Promise<RedisServer> {
  const started = await startRedis(options);
  servers.push(started);
  return started;
}

/** A folder without a board: the commands must not create one there. */
function scratch(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-cli-redis-'));
  folders.push(dir);
  return dir;
}

function swarm(cwd: string, url: string, args: string[], env: Record<string, string> = {}): SwarmRun {
  return runSwarm(cwd, ['--board', url, ...args], env);
}

/** One line on stderr, exit 2, no stack trace. */
function refusedAsSetup(run: SwarmRun, message: RegExp): void {
  assert.equal(run.code, 2, `exit ${run.code}: ${run.stderr}`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line: ${run.stderr}`);
  assert.match(lines[0], message);
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}

describe('swarm --board redis://', { timeout: 300_000 }, () => {
  it('post, list, show, claim, heartbeat, complete, fail, cancel, stats, dlq and log work on a Redis board', async () => {
    const redis = await server();
    const url = redis.url(0, 'cli');
    const cwd = scratch();
    const first = succeeded(swarm(cwd, url, ['post', 'first task', '--max-attempts', '1']), 'post').trim();
    const second = succeeded(swarm(cwd, url, ['post', 'second task']), 'post').trim();
    const third = succeeded(swarm(cwd, url, ['post', 'third task']), 'post').trim();
    const listed = JSON.parse(succeeded(swarm(cwd, url, ['list', '--json']), 'list')) as Array<{ id: string }>;
    assert.deepEqual(listed.map((task) => task.id).sort(), [first, second, third].sort());
    assert.equal(JSON.parse(succeeded(swarm(cwd, url, ['show', first, '--json']), 'show')).title, 'first task');

    const claim = JSON.parse(succeeded(swarm(cwd, url, ['claim', '--agent', 'a']), 'claim')) as { id: string; token: string };
    assert.equal(claim.id, first);
    assert.match(succeeded(swarm(cwd, url, ['heartbeat', claim.id, '--token', claim.token]), 'heartbeat'), /^\d{4}-\d\d-\d\dT/);
    assert.match(succeeded(swarm(cwd, url, ['fail', claim.id, '--token', claim.token, '--error', 'broken']), 'fail'), /dead-letter queue/);
    // The fenced token is refused the way the file board refuses it (exit 4).
    assert.equal(swarm(cwd, url, ['complete', claim.id, '--token', claim.token]).code, 4);

    const next = JSON.parse(succeeded(swarm(cwd, url, ['claim', '--agent', 'b']), 'claim')) as { id: string; token: string };
    assert.equal(next.id, second);
    succeeded(swarm(cwd, url, ['complete', next.id, '--token', next.token, '--result', '{"summary":"ok"}']), 'complete');
    succeeded(swarm(cwd, url, ['cancel', third]), 'cancel');
    assert.equal(swarm(cwd, url, ['claim', '--agent', 'c']).code, 3, 'nothing left to claim');

    const stats = JSON.parse(succeeded(swarm(cwd, url, ['stats', '--json']), 'stats'));
    assert.equal(stats.done, 1);
    assert.equal(stats.dead, 1);
    assert.equal(stats.cancelled, 1);
    const dead = JSON.parse(succeeded(swarm(cwd, url, ['dlq', 'list', '--json']), 'dlq list')) as Array<{ id: string; errors: unknown[] }>;
    assert.deepEqual(dead.map((task) => task.id), [first]);
    assert.equal(dead[0].errors.length, 1);
    assert.match(succeeded(swarm(cwd, url, ['dlq', 'requeue', first]), 'dlq requeue'), /requeued 1 task/);

    const events = succeeded(swarm(cwd, url, ['log', '--json']), 'log').trim().split('\n').map((line) => JSON.parse(line) as { type: string; taskId?: string });
    assert.ok(events.some((event) => event.type === 'completed' && event.taskId === second), events.map((event) => event.type).join(' '));
    assert.deepEqual(fs.readdirSync(cwd), [], 'no board folder was created here');
  });

  it('diff shows a result whose patch is a board artifact', async () => {
    const redis = await server();
    const url = redis.url(0, 'review');
    const board = await openBoard(url);
    const patch = 'diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1 +1 @@\n-a\n+b\n';
    try {
      const task = await board.post({ title: 'edit a' });
      const claim = (await board.claim({ agent: 'a' }))!;
      await board.putArtifact(task.id, 'result.patch', patch);
      await board.complete(claim, { patchArtifact: 'result.patch' });
      const cwd = scratch();
      assert.equal(succeeded(swarm(cwd, url, ['diff', task.id, '--no-color']), 'diff'), patch);
      const json = JSON.parse(succeeded(swarm(cwd, url, ['diff', task.id, '--json']), 'diff --json'));
      assert.deepEqual(json.files.map((file: { path: string }) => file.path), ['a.txt']);
      assert.deepEqual(fs.readdirSync(cwd), [], 'reading a result writes nothing');
    } finally {
      await board.close();
    }
  });

  it('an unreachable server, a wrong password, an evicting server and a newer board: one line, exit 2, nothing changed', async () => {
    const port = await freePort();
    refusedAsSetup(swarm(scratch(), `redis://127.0.0.1:${port}/0?board=x`, ['list']), /127\.0\.0\.1:\d+/);

    const guarded = await server({ password: 'right-password' });
    const wrong = swarm(scratch(), `redis://127.0.0.1:${guarded.port}/0?board=x`, ['post', 'never'], { SWARM_BOARD_PASSWORD: 'wrong-password' });
    refusedAsSetup(wrong, /password|auth/i);
    assert.doesNotMatch(wrong.stderr, /wrong-password/, 'the password is never printed');

    const evicting = await server({ maxmemoryPolicy: 'allkeys-lru' });
    refusedAsSetup(swarm(scratch(), evicting.url(0, 'x'), ['post', 'never']), /noeviction/);
    const evictingClient = new Redis({ port: evicting.port, host: '127.0.0.1' });
    assert.equal(await evictingClient.dbsize(), 0, 'nothing was written');
    evictingClient.disconnect();

    const redis = await server();
    const seeded = await openBoard(redis.url(0, 'future'));
    await seeded.post({ title: 'kept' });
    await seeded.close();
    const client = new Redis({ port: redis.port, host: '127.0.0.1' });
    await client.hset('{swarm:future}:meta', 'version', '99');
    const before = (await client.keys('*')).sort();
    refusedAsSetup(swarm(scratch(), redis.url(0, 'future'), ['post', 'never']), /newer than this Agent Swarm supports.*Update Agent Swarm/);
    assert.deepEqual((await client.keys('*')).sort(), before);
    client.disconnect();
  });

  it('a board user the ACL refuses a command or a key: one line naming the user, what was refused and the ACL fix, exit 2', async () => {
    const redis = await server();
    const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
    try {
      const documented = ['~{swarm:team}*', '-@all', '+@read', '+@write', '+@scripting', '+@stream', '+@connection', '+@transaction', '-@dangerous', '+info', '+config|get'];
      await admin.call('ACL', 'SETUSER', 'swarm-noscript', 'reset', 'on', '>pw', ...documented, '-@scripting');
      await admin.call('ACL', 'SETUSER', 'swarm-noxadd', 'reset', 'on', '>pw', ...documented, '-xadd');
      await admin.call('ACL', 'SETUSER', 'swarm-otherboard', 'reset', 'on', '>pw', ...documented.map((rule) => rule.replace('{swarm:team}', '{swarm:other}')));
      const as = (user: string, args: string[]) => swarm(scratch(), `redis://${user}@127.0.0.1:${redis.port}/0?board=team`, args, { SWARM_BOARD_PASSWORD: 'pw' });
      const fix = /give it the board's ACL rights \(ACL SETUSER \S+ … ~\{swarm:team\}\* … as in docs\/redis-board\.md, "ACL users"\) and try again\./;
      const noScript = as('swarm-noscript', ['list']);
      refusedAsSetup(noScript, /^swarm: The Redis user swarm-noscript at redis:\/\/127\.0\.0\.1:\d+\/0\?board=team may not run the 'eval(sha)?' command \(NOPERM\)/);
      assert.match(noScript.stderr, fix);
      // A post from outside a clone first notes that its tasks carry no snapshot; the refusal is the last line.
      const noXadd = as('swarm-noxadd', ['post', 'never']);
      assert.equal(noXadd.code, 2, noXadd.stderr);
      assert.match(noXadd.stderr.trim().split('\n').pop()!, /^swarm: The Redis user swarm-noxadd at \S+ may not run a command of the board's POST script \(NOPERM\)/);
      assert.doesNotMatch(noXadd.stderr, /\n\s+at /);
      refusedAsSetup(as('swarm-otherboard', ['list']), /The Redis user swarm-otherboard at \S+ may not use a key of this board \(NOPERM\)/);
      assert.equal(await admin.exists('{swarm:team}:ev'), 0, 'no event was written');
    } finally {
      admin.disconnect();
    }
  });

  it('a task no runner could serve yet is listed as pending with what it needs, and show says it waits for such a runner', async () => {
    const redis = await server();
    const url = redis.url(0, 'routed');
    const cwd = scratch();
    const id = succeeded(swarm(cwd, url, ['post', 'needs a gpu', '--requires', 'gpu,linux']), 'post').trim();
    const board = await openBoard(url);
    try {
      assert.equal(await board.claim({ agent: 'cpu-runner', serves: { labels: ['linux'], repositories: 'any', unsourced: true } }), undefined);
    } finally {
      await board.close();
    }
    const listed = succeeded(swarm(cwd, url, ['list']), 'list');
    assert.match(listed, new RegExp(`${id}\\s+pending .* needs runner +needs a gpu \\(waits for a runner with the labels gpu, linux that runs`));
    const shown = succeeded(swarm(cwd, url, ['show', id]), 'show');
    assert.match(shown, /waiting: {3}for a runner with the labels gpu, linux that runs tasks without a snapshot \(one with a local workspace\): no runner that asked so far could serve it/);
    const json = JSON.parse(succeeded(swarm(cwd, url, ['show', id, '--json']), 'show --json')) as { status: string; waitingForRunner: unknown };
    assert.equal(json.status, 'pending');
    assert.deepEqual(json.waitingForRunner, { labels: ['gpu', 'linux'] });
    const log = succeeded(swarm(cwd, url, ['log']), 'log');
    assert.match(log, /waiting-for-runner/);
  });
});

// docs/redis-board.md, "Security": the ACL lines it gives are read from the page and applied to a
// real redis-server; the poster posts and the runner claims, stores and completes with them, and
// both are refused another board and the server's dangerous commands. TLS: rediss:// against
// redis-server --tls-port with a CA the test makes (openssl), trusted through NODE_EXTRA_CA_CERTS.
//   node scripts/run-unit-tests.js test/unit/remote/security.test.ts
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Redis } from 'ioredis';
import { openBoard } from '../../../src/core/board/open';
import type { Board } from '../../../src/core/board';
import { freePort, startRedis, type RedisServer } from '../../harness/redis';
import { runSwarm } from '../patch/helpers';

const DOC = path.resolve(__dirname, '..', '..', '..', 'docs', 'redis-board.md');
const PASSWORDS = { poster: 'poster-secret-1', runner: 'runner-secret-2' };

let dir: string;
let redis: RedisServer;
let tlsPort: number;
const boards: Board[] = [];
const clients: Redis[] = [];

/** The documented `ACL SETUSER` lines, exactly as written in docs/redis-board.md. */
function documentedAclLines(): Map<'poster' | 'runner', string[]> {
  const text = fs.readFileSync(DOC, 'utf8');
  const lines = new Map<'poster' | 'runner', string[]>();
  for (const match of text.matchAll(/^ACL SETUSER swarm-team-(poster|runner) (.+)$/gm)) {
    const role = match[1] as 'poster' | 'runner';
    lines.set(role, ['ACL', 'SETUSER', `swarm-team-${role}`, ...match[2].split(' ').map((word) => word.replace(`>${role.toUpperCase()}-PASSWORD`, `>${PASSWORDS[role]}`))]);
  }
  return lines;
}

function openssl(args: string[]): void {
  const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (run.error) throw new Error(`openssl is needed to make the test's certificates: ${run.error.message} (apt-get install openssl)`);
  if (run.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${run.stderr}`);
}

/** A CA and a server certificate for localhost, made here. */
function makeCertificates(): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=swarm test CA']);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf']);
}

before(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-security-')));
  makeCertificates();
  tlsPort = await freePort();
  const tls = ['--tls-port', String(tlsPort), '--tls-cert-file', path.join(dir, 'server.pem'), '--tls-key-file', path.join(dir, 'server.key'), '--tls-ca-cert-file', path.join(dir, 'ca.pem'), '--tls-auth-clients', 'no'];
  redis = await startRedis({ extra: tls });
});

after(async () => {
  for (const board of boards) await board.close();
  for (const client of clients) client.disconnect();
  await redis?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function userUrl(role: 'poster' | 'runner', board: string): string {
  return `redis://swarm-team-${role}@127.0.0.1:${redis.port}/0?board=${board}`;
}

async function openAs(role: 'poster' | 'runner', board: string): Promise<Board> {
  const opened = await openBoard(userUrl(role, board), { env: { SWARM_BOARD_PASSWORD: PASSWORDS[role] } });
  boards.push(opened);
  return opened;
}

describe('board security (docs/redis-board.md)', { timeout: 300_000 }, () => {
  it('the documented ACL users work the board they are for, and nothing else on the server', async () => {
    const admin = new Redis({ port: redis.port, host: '127.0.0.1' });
    clients.push(admin);
    const lines = documentedAclLines();
    assert.deepEqual([...lines.keys()].sort(), ['poster', 'runner'], 'the page gives a poster and a runner line');
    for (const line of lines.values()) assert.equal(await admin.call(line[0], ...line.slice(1)), 'OK', line.join(' '));

    // The poster posts with the CLI (password from the environment, user in the URL).
    const posted = runSwarm(dir, ['--board', userUrl('poster', 'team'), 'post', 'through the ACL', '--json'], { SWARM_BOARD_PASSWORD: PASSWORDS.poster });
    assert.equal(posted.code, 0, posted.stderr);
    const id = (JSON.parse(posted.stdout) as string[])[0];
    // The runner claims, renews, stores an artifact, completes and follows the events.
    const runner = await openAs('runner', 'team');
    const claim = await runner.claim({ agent: 'acl-runner' });
    assert.equal(claim?.task.id, id);
    await runner.heartbeat(claim!, 10_000);
    await runner.putArtifact(id, 'result.patch', 'patch');
    await runner.complete(claim!, { summary: 'done' });
    const events: string[] = [];
    const following = runner.follow((batch) => events.push(...batch.events.map((event) => event.type)));
    const poster = await openAs('poster', 'team');
    await poster.post({ title: 'followed' });
    const deadline = Date.now() + 30_000;
    while (!events.includes('posted') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    await following.dispose();
    assert.ok(events.includes('posted'), `the runner follows the board's events: ${events.join(', ')}`);
    assert.equal((await poster.get(id))?.status, 'done');

    // Another board on the same server is out of reach, and so are the server's dangerous commands.
    await assert.rejects(openAs('runner', 'other'), (error: Error) => {
      assert.match(error.message, /permission|NOPERM/i);
      return true;
    });
    const raw = new Redis({ port: redis.port, host: '127.0.0.1', username: 'swarm-team-runner', password: PASSWORDS.runner, maxRetriesPerRequest: 0 });
    clients.push(raw);
    for (const command of [['FLUSHALL'], ['KEYS', '*'], ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru'], ['SCAN', '0'], ['GET', '{swarm:other}:x']]) {
      await assert.rejects(raw.call(command[0], ...command.slice(1)), /NOPERM/, command.join(' '));
    }
    assert.equal(await admin.call('CONFIG', 'GET', 'maxmemory-policy').then((reply) => (reply as string[])[1]), 'noeviction');
  });

  it('rediss:// verifies the server certificate: trusted through NODE_EXTRA_CA_CERTS it works, otherwise nothing is sent', async () => {
    const url = `rediss://localhost:${tlsPort}/0?board=tls`;
    const trusted = runSwarm(dir, ['--board', url, 'post', 'over TLS'], { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') });
    assert.equal(trusted.code, 0, trusted.stderr);
    const listed = runSwarm(dir, ['--board', url, 'list', '--json'], { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') });
    assert.deepEqual((JSON.parse(listed.stdout) as { title: string }[]).map((task) => task.title), ['over TLS']);

    const untrusted = runSwarm(dir, ['--board', url, 'post', 'must not arrive'], { NODE_EXTRA_CA_CERTS: '' });
    assert.notEqual(untrusted.code, 0, 'a certificate from an unknown CA is refused');
    assert.equal(untrusted.stderr.trim().split('\n').length, 1, `one line: ${untrusted.stderr}`);
    assert.match(untrusted.stderr, /certificate/i);
    const titles = (JSON.parse(runSwarm(dir, ['--board', url, 'list', '--json'], { NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem') }).stdout) as { title: string }[]).map((task) => task.title);
    assert.deepEqual(titles, ['over TLS'], 'nothing was posted without a verified server');
  });
});

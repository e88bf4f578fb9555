// A build of format 2 does not mark a format-1 board as format 2 while a build of format 1 still
// uses it (that build checks the format only when it opens the board, and would not see format 2's
// file-scope lease records). The fixtures are written as 417894a's build writes them: a pool's
// hosts/<pid>.json (fields and names copied from a real run of that build) and a claim's per-path
// lease entry locks/<20 hex>/<running file name>, the running file's mtime being its lease's expiry.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { BoardFormatError, FileBoardEngine as FileBoard } from '../../../src/core/board';
import { BoardInUseError } from '../../../src/core/board/board';
import { FileBoard as AsyncFileBoard } from '../../../src/core/board/fileBoard';
import { FileHosts } from '../../../src/core/board/hosts';
import { makeBoard } from './helpers';
import { assertCliBuilt, runSwarm } from '../cli/helpers';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
  cleanups = [];
});

/** A board created by this build, then marked format 1 as a build of format 1 left it. */
function formatOneBoard(): string {
  const made = makeBoard();
  cleanups.push(made.cleanup);
  made.board.close();
  fs.writeFileSync(path.join(made.root, 'board.json'), JSON.stringify({ format: 'agent-swarm-board', version: 1, createdAt: 1234 }, null, 2));
  return made.root;
}

function markerVersion(root: string): number {
  return (JSON.parse(fs.readFileSync(path.join(root, 'board.json'), 'utf8')) as { version: number }).version;
}

/** A real process standing for the older build's pool (or agent): alive until killed. */
function liveProcess(): ChildProcess {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
  return child;
}

async function deadPid(): Promise<number> {
  const child = liveProcess();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited; // reaped: the pid is free
  return child.pid!;
}

/** hosts/<pid>.json as 417894a's pool writes it every second (one busy agent). */
function writeOlderPoolRecord(root: string, pid: number, options: { agentPid?: number; expiresAt?: number; host?: string } = {}): string {
  const now = Date.now();
  const agent = `h${pid}-a1`;
  const record = {
    hostPid: pid,
    boardRoot: root,
    mode: 'pool',
    running: true,
    minAgents: 0,
    maxAgents: 1,
    busy: 1,
    idle: 0,
    total: 1,
    agents: [{ id: agent, state: 'busy', tasksDone: 0, tasksFailed: 0, startedAt: now - 3000, pid: options.agentPid ?? pid + 1, currentTask: { id: 'tmx3lfml200d762', title: 't1', attempt: 1, startedAt: now - 2000 } }],
    tasksDone: 0,
    tasksFailed: 0,
    busyMs: 0,
    commands: 0,
    startedAt: now - 3000,
    limiters: [],
    updatedAt: now,
    workspaceRoot: '/tmp/oldrepo',
    isolation: 'worktree',
    executor: 'command',
    host: options.host ?? os.hostname(),
    expiresAt: options.expiresAt ?? now + 10_000,
  };
  fs.mkdirSync(path.join(root, 'hosts'), { recursive: true });
  fs.writeFileSync(path.join(root, 'hosts', `${pid}.json`), JSON.stringify(record));
  return agent;
}

/** A claim held the old way: its running file (mtime = lease expiry) and one per-path lease entry. */
function writeOlderWayClaim(root: string, agent: string, leaseExpiresAt: number): string {
  const token = `tmx3lfml200d762~a1~${agent}~8a808baa.json`;
  const running = path.join(root, 'running', token);
  fs.writeFileSync(running, JSON.stringify({ id: 'tmx3lfml200d762', title: 't1', files: ['a.txt'] }));
  fs.utimesSync(running, new Date(), new Date(leaseExpiresAt));
  fs.mkdirSync(path.join(root, 'locks', 'cfc7b4885384957ae445'), { recursive: true });
  fs.writeFileSync(path.join(root, 'locks', 'cfc7b4885384957ae445', token), 'a.txt');
  return token;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function assertRefused(root: string, pattern: RegExp): void {
  assert.throws(
    () => FileBoard.open({ root }).close(),
    (error: Error) => error instanceof BoardInUseError && pattern.test(error.message) && /Stop or update it, then retry\.$/.test(error.message) && !error.message.includes('\n'),
  );
  assert.equal(markerVersion(root), 1, 'the board stays format 1');
}

function assertUpgraded(root: string): void {
  FileBoard.open({ root }).close();
  assert.equal(markerVersion(root), 2);
}

describe('board format 2: no upgrade under a live build of format 1', () => {
  it('refuses while a pool of format 1 runs on this machine, naming its pid, machine and workspace', () => {
    const root = formatOneBoard();
    const pool = liveProcess();
    writeOlderPoolRecord(root, pool.pid!);
    assertRefused(root, new RegExp(`in use by an older Agent Swarm \\(board format 1\\).*a pool, pid ${pool.pid} on ${os.hostname()} \\(workspace /tmp/oldrepo\\)`));
  });

  it('upgrades once that pool has exited (its record not yet expired), or its record has expired', async () => {
    const root = formatOneBoard();
    writeOlderPoolRecord(root, await deadPid());
    assertUpgraded(root);

    const other = formatOneBoard();
    writeOlderPoolRecord(other, liveProcess().pid!, { expiresAt: Date.now() - 1 });
    assertUpgraded(other);
  });

  it('upgrades when that pool is a zombie: killed, its parent not reaping it (as under a PID 1 that never reaps)', async () => {
    const root = formatOneBoard();
    // sh starts the stand-in pool, prints its pid, then becomes a sleep that never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 600 & echo $!; exec sleep 600'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => parent.kill('SIGKILL'));
    const pid = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (data: Buffer) => resolve(String(data)))));
    writeOlderPoolRecord(root, pid);
    assertRefused(root, new RegExp(`a pool, pid ${pid} `));
    process.kill(pid, 'SIGKILL');
    await waitFor(() => /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8')), 'the stand-in pool to become a zombie');
    assertUpgraded(root);
  });

  it('a record of a build before expiresAt counts as live for 30 s after its last rewrite', () => {
    const root = formatOneBoard();
    const pool = liveProcess();
    const file = path.join(root, 'hosts', `${pool.pid}.json`);
    const withoutExpiry = (updatedAt: number): void => {
      const { expiresAt: _dropped, ...record } = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
      fs.writeFileSync(file, JSON.stringify({ ...record, updatedAt }));
    };
    writeOlderPoolRecord(root, pool.pid!);
    withoutExpiry(Date.now() - 1_000);
    assertRefused(root, new RegExp(`a pool, pid ${pool.pid} `));
    withoutExpiry(Date.now() - 31_000);
    assertUpgraded(root);
  });

  it('refuses while the record of a pool on another machine has not expired (its pid cannot be checked from here)', () => {
    const root = formatOneBoard();
    writeOlderPoolRecord(root, 4_000_000, { host: 'elsewhere.example' });
    assertRefused(root, /a pool, pid 4000000 on elsewhere\.example/);
  });

  it('ignores host records of builds that know format 2', () => {
    const root = formatOneBoard();
    const pool = liveProcess();
    writeOlderPoolRecord(root, pool.pid!);
    const file = path.join(root, 'hosts', `${pool.pid}.json`);
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), boardFormat: 2 }));
    assertUpgraded(root);
  });

  it('refuses while a claim held the old way (per-path lease entry) has a live lease, naming the task and agent', () => {
    const root = formatOneBoard();
    writeOlderWayClaim(root, 'scripted-worker', Date.now() + 30_000);
    assertRefused(root, /task tmx3lfml200d762 claimed by agent scripted-worker \(lease until /);
  });

  it('upgrades when the lease of that claim has run out, or its pool and agent on this machine have both exited', async () => {
    const root = formatOneBoard();
    writeOlderWayClaim(root, 'scripted-worker', Date.now() - 1000);
    assertUpgraded(root);

    const killed = formatOneBoard();
    const poolPid = await deadPid();
    const agent = writeOlderPoolRecord(killed, poolPid, { agentPid: await deadPid() });
    writeOlderWayClaim(killed, agent, Date.now() + 30_000);
    assertUpgraded(killed);
  });

  it('refuses while the agent holding that claim still runs, though its pool has exited', async () => {
    const root = formatOneBoard();
    const poolPid = await deadPid();
    const agent = writeOlderPoolRecord(root, poolPid, { agentPid: liveProcess().pid! });
    writeOlderWayClaim(root, agent, Date.now() + 30_000);
    assertRefused(root, new RegExp(`task tmx3lfml200d762 claimed by agent ${agent}`));
  });

  it('opened in a worker thread (the editor\'s views), the refusal is a BoardInUseError, which passes once the older build stops', async () => {
    const root = formatOneBoard();
    const pool = liveProcess();
    writeOlderPoolRecord(root, pool.pid!);
    await assert.rejects(AsyncFileBoard.open({ root, thread: 'worker' }), (error: Error) => error instanceof BoardInUseError && error instanceof BoardFormatError && /a pool, pid /.test(error.message));
    const exited = new Promise((resolve) => pool.once('exit', resolve));
    pool.kill('SIGKILL');
    await exited;
    const board = await AsyncFileBoard.open({ root, thread: 'worker' });
    await board.close();
    assert.equal(markerVersion(root), 2);
  });

  it('records the format in the host records this build writes', () => {
    const made = makeBoard();
    cleanups.push(made.cleanup);
    made.board.close();
    new FileHosts(made.root).put(String(process.pid), { host: os.hostname() }, 10_000);
    assert.equal(JSON.parse(fs.readFileSync(path.join(made.root, 'hosts', `${process.pid}.json`), 'utf8')).boardFormat, 2);
  });

  it('swarm refuses with one line and exit 2, and the board keeps format 1', () => {
    assertCliBuilt();
    const root = formatOneBoard();
    const pool = liveProcess();
    writeOlderPoolRecord(root, pool.pid!);
    const run = runSwarm(os.tmpdir(), ['--board', root, 'list']);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`a pool, pid ${pool.pid} on .*Stop or update it, then retry\\.`));
    assert.equal(markerVersion(root), 1);
  });
});

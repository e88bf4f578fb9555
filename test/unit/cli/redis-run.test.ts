// `swarm run --board redis://…`: runners in separate clones of one repository claim from one Redis
// board (a real redis-server, test/harness/redis.ts) and the poster's clone applies their patches;
// a runner killed with SIGKILL, a cancel from another process, a server that goes away mid-run.
// The runners are the built CLI with real agent processes (dist/cli.js, dist/agent.js).
//   npm run build && node scripts/run-unit-tests.js test/unit/cli/redis-run.test.ts
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Redis } from 'ioredis';
import { openBoard } from '../../../src/core/board/open';
import type { Board } from '../../../src/core/board/interface';
import { startRedis, type RedisServer } from '../../harness/redis';
import { makeRepo, type TempRepo } from '../worktree/helpers';
import { processesWithArgs, uniqueSleep } from '../sandbox/helpers';

const dist = path.resolve(__dirname, '..', '..', '..', 'dist');
const cli = path.join(dist, 'cli.js');

before(() => {
  assert.ok(fs.existsSync(cli) && fs.existsSync(path.join(dist, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
});

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function server(options: Parameters<typeof startRedis>[0] = {}): Promise<RedisServer> {
  const started = await startRedis(options);
  cleanups.push(() => started.stop());
  return started;
}

async function boardAt(url: string): Promise<Board> {
  const board = await openBoard(url);
  cleanups.push(() => board.close());
  return board;
}

/** The poster's repository and `count` runner clones of it, each its own folder (as on other machines). */
function clones(count: number): { poster: TempRepo; runners: string[] } {
  const poster = makeRepo({ 'README.md': '# demo\n' });
  cleanups.push(() => poster.cleanup());
  const runners = Array.from({ length: count }, () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-runner-'));
    const dir = path.join(parent, 'clone');
    const cloned = spawnSync('git', ['clone', '-q', poster.root, dir], { encoding: 'utf8' });
    assert.equal(cloned.status, 0, cloned.stderr);
    cleanups.push(() => fs.rmSync(parent, { recursive: true, force: true }));
    return dir;
  });
  return { poster, runners };
}

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Runner {
  child: ChildProcess;
  exited: Promise<Finished>;
  output(): string;
}

/** `swarm --board URL run ...` in `cwd`, in the background. */
function startRun(cwd: string, url: string, args: string[], env: NodeJS.ProcessEnv = {}): Runner {
  const child = spawn(process.execPath, [cli, '--board', url, 'run', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<Finished>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  cleanups.push(() => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL')));
  return { child, exited, output: () => `${stdout}\n${stderr}` };
}

function swarm(cwd: string, url: string, args: string[]): Finished {
  const result = spawnSync(process.execPath, [cli, '--board', url, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** How many times each task was completed, from the board's own event history. */
async function completions(board: Board): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor: string | undefined;
  for (;;) {
    const batch = await board.readEvents(cursor, 1_000);
    for (const event of batch.events) if (event.type === 'completed' && event.taskId) counts.set(event.taskId, (counts.get(event.taskId) ?? 0) + 1);
    if (batch.events.length === 0) return counts;
    cursor = batch.cursor;
  }
}

/** The board's resource log lines as the server keeps them. */
async function redisLines(url: string, boardName: string): Promise<string[]> {
  const client = new Redis(url);
  try {
    return await client.lrange(`{swarm:${boardName}}:resources`, 0, -1);
  } finally {
    client.disconnect();
  }
}

/** Each task writes a file named after itself: its patch adds that one file. */
const WRITE_OWN_FILE = 'printf "%s\\n" "$SWARM_TASK_ID" > "out-$SWARM_TASK_ID.txt"';

describe('swarm run --board redis://', { timeout: 600_000 }, () => {
  it('two runners in two clones drain the posted tasks exactly once; diff and apply in the poster\'s clone use their patches', async () => {
    const redis = await server();
    const url = redis.url(0, 'drain');
    const { poster, runners } = clones(2);
    const ids = Array.from({ length: 8 }, (_, index) => {
      const posted = swarm(poster.root, url, ['post', `task ${index}`]);
      assert.equal(posted.code, 0, posted.stderr);
      return posted.stdout.trim();
    });
    const runs = runners.map((dir) => startRun(dir, url, ['--agents', '2', '--exec', WRITE_OWN_FILE, '--until-empty', '--json']));
    const finished = await Promise.all(runs.map((run) => run.exited));
    for (const run of finished) assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const summaries = finished.map((run) => JSON.parse(run.stdout) as { done: number; dead: number });
    assert.equal(summaries[0].done + summaries[1].done, ids.length, 'every task was done by one of the runners');
    assert.match(finished[0].stderr + finished[0].stdout, /own clone/, 'the runner says it works from its own clone');

    const board = await boardAt(url);
    const done = await completions(board);
    for (const id of ids) {
      assert.equal(done.get(id), 1, `task ${id} was completed exactly once`);
      assert.equal((await board.get(id))?.status, 'done');
    }
    // The poster reviews and applies in its own clone; the runners' clones are not touched by it.
    const diff = swarm(poster.root, url, ['diff', ids[0], '--no-color']);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, new RegExp(`out-${ids[0]}\\.txt`));
    for (const id of ids) {
      const applied = swarm(poster.root, url, ['apply', id]);
      assert.equal(applied.code, 0, `${applied.stdout}\n${applied.stderr}`);
      assert.equal(fs.readFileSync(path.join(poster.root, `out-${id}.txt`), 'utf8'), `${id}\n`);
    }
  });

  it('a runner killed with SIGKILL mid-task: the task comes back after its lease and the other runner does it, once', async () => {
    const redis = await server();
    const url = redis.url(0, 'kill');
    const { poster, runners } = clones(2);
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-kill-marker-'));
    cleanups.push(() => fs.rmSync(shared, { recursive: true, force: true }));
    const marker = path.join(shared, 'first-attempt');
    // The first attempt leaves a marker outside both clones and blocks; the next one finishes.
    // (No sandbox: its private /tmp would hide the marker from this test.)
    const command = `if [ -e ${marker} ]; then ${WRITE_OWN_FILE}; else touch ${marker}; sleep 60; fi`;
    const id = swarm(poster.root, url, ['post', 'slow first attempt']).stdout.trim();
    const victim = startRun(runners[0], url, ['--agents', '1', '--lease-ms', '3000', '--sandbox', 'off', '--exec', command]);
    await waitFor('the first attempt to run its command', () => fs.existsSync(marker));
    victim.child.kill('SIGKILL');
    await victim.exited;

    const survivor = startRun(runners[1], url, ['--agents', '1', '--lease-ms', '3000', '--sandbox', 'off', '--exec', command, '--until-empty']);
    const finished = await survivor.exited;
    assert.equal(finished.code, 0, `${finished.stdout}\n${finished.stderr}`);
    const board = await boardAt(url);
    const task = await board.get(id);
    assert.equal(task?.status, 'done');
    assert.equal((await completions(board)).get(id), 1, 'completed exactly once');
    const files = (task?.result as { files?: Array<{ path: string }> }).files ?? [];
    assert.deepEqual(files.map((file) => file.path), [`out-${id}.txt`], 'the result is the second attempt\'s, from the surviving runner');
  });

  it('a runner run --until-empty ends when only tasks for other runners are left: they stay parked, counted by route key, and it starts no agent for them', async () => {
    const redis = await server();
    const url = redis.url(0, 'others');
    const { poster, runners } = clones(1);
    const gpu = swarm(poster.root, url, ['post', 'needs a gpu', '--requires', 'gpu']).stdout.trim();
    const plain = swarm(poster.root, url, ['post', 'any runner']).stdout.trim();
    const runner = startRun(runners[0], url, ['--agents', '2', '--sandbox', 'off', '--exec', WRITE_OWN_FILE, '--until-empty']);
    // Before, the parked gpu task counted as work for this runner: it never ended.
    let ended = false;
    void runner.exited.then(() => (ended = true));
    await waitFor(`the runner to end with only a task for other runners left (its output so far: ${runner.output()})`, () => ended, 60_000);
    const finished = await runner.exited;
    assert.equal(finished.code, 0, runner.output());
    const board = await boardAt(url);
    assert.equal((await board.get(plain))?.status, 'done');
    const waiting = await board.get(gpu);
    assert.equal(waiting?.status, 'pending');
    const stats = await board.stats();
    assert.equal(Object.values(stats.parked ?? {}).reduce((sum, count) => sum + count, 0), 1, JSON.stringify(stats.parked));
    assert.ok(Object.keys(stats.parked ?? {}).every((key) => key.startsWith('gpu|')), JSON.stringify(stats.parked));
  });

  it('swarm cancel from the poster reaches the running holder on another clone: its command ends', async () => {
    const redis = await server();
    const url = redis.url(0, 'cancel');
    const { poster, runners } = clones(1);
    const seconds = uniqueSleep();
    const id = swarm(poster.root, url, ['post', 'long']).stdout.trim();
    const runner = startRun(runners[0], url, ['--agents', '1', '--lease-ms', '3000', '--exec', `sleep ${seconds}`, '--until-empty']);
    const board = await boardAt(url);
    await waitFor('the task to run', async () => (await board.get(id))?.status === 'running');
    await waitFor('its command to start', () => processesWithArgs(['sleep', seconds]).length > 0);
    const cancelled = swarm(poster.root, url, ['cancel', id]);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const finished = await runner.exited;
    assert.equal(finished.code, 0, `${finished.stdout}\n${finished.stderr}`);
    assert.equal((await board.get(id))?.status, 'cancelled');
    assert.equal((await completions(board)).get(id), undefined, 'never completed');
    await waitFor('the cancelled command to be gone', () => processesWithArgs(['sleep', seconds]).length === 0, 30_000);
  });

  it('swarm report on a Redis board, from another clone, has the run\'s resource figures (recorded on the server by the runner\'s host)', async () => {
    const redis = await server();
    const url = redis.url(0, 'report');
    const { poster, runners } = clones(1);
    for (const title of ['first', 'second']) assert.equal(swarm(poster.root, url, ['post', title]).code, 0);
    // Each task lasts a few pool samples (one a second), so the run has figures to record.
    const runner = startRun(runners[0], url, ['--agents', '2', '--sandbox', 'off', '--exec', 'sleep 3', '--until-empty']);
    const finished = await runner.exited;
    assert.equal(finished.code, 0, runner.output());
    const reported = swarm(poster.root, url, ['report', '--json']);
    assert.equal(reported.code, 0, reported.stderr);
    const report = JSON.parse(reported.stdout) as { hasResources: boolean; summary: { peaks: { agents: number; agentRssBytes: number } } };
    assert.equal(report.hasResources, true, 'the report has resource figures');
    assert.ok(report.summary.peaks.agents >= 1, `peak agents ${report.summary.peaks.agents}`);
    assert.ok(report.summary.peaks.agentRssBytes > 0, 'an agent\'s memory was recorded');
    const markdown = swarm(poster.root, url, ['report']);
    assert.equal(markdown.code, 0, markdown.stderr);
    assert.doesNotMatch(markdown.stdout, /No pool resource figures/);
    // The lines name the host that wrote them: agents of two machines with the same names stay apart.
    const lines = await redisLines(url, 'report');
    assert.ok(lines.length > 0, 'resource lines on the server');
    assert.equal((JSON.parse(lines[0]) as { host?: string }).host, `${os.hostname().replace(/[^A-Za-z0-9_.-]+/g, '-')}-${runner.child.pid}`);
  });

  it('a Redis server that goes away while the lease is long: the stop comes first, and the running task is still reported, as lost', async () => {
    const redis = await server({ aof: true });
    const url = redis.url(0, 'outage-long-lease');
    const { poster, runners } = clones(1);
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-outage-marker-'));
    cleanups.push(() => fs.rmSync(shared, { recursive: true, force: true }));
    const marker = path.join(shared, 'started');
    swarm(poster.root, url, ['post', 'outlives the server']);
    // A lease of 30 s: the run stops for the lost server long before the agent's lease could lapse.
    const runner = startRun(runners[0], url, ['--agents', '1', '--lease-ms', '30000', '--sandbox', 'off', '--exec', `touch ${marker}; sleep 20`]);
    await waitFor('the command to run', () => fs.existsSync(marker));
    await redis.crash();
    const finished = await runner.exited;
    const said = `${finished.stdout}\n${finished.stderr}`;
    assert.equal(finished.code, 1, said);
    assert.match(said, /^lost +\S+ +outlives the server: Lease lost on task \S+: the board could not be reached to record how the attempt ended .*The task comes back to the board when its lease runs out\./m, said);
    assert.doesNotMatch(said, /\n\s+at /, 'no stack trace');
  });

  it('a Redis server that goes away mid-run: the run stops within seconds with one line, exit 1; the task is done once after the server is back', async () => {
    const redis = await server({ aof: true });
    const url = redis.url(0, 'outage');
    const { poster, runners } = clones(1);
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-outage-marker-'));
    cleanups.push(() => fs.rmSync(shared, { recursive: true, force: true }));
    const marker = path.join(shared, 'first-attempt');
    const command = `if [ -e ${marker} ]; then ${WRITE_OWN_FILE}; else touch ${marker}; sleep 8; ${WRITE_OWN_FILE}; fi`;
    const id = swarm(poster.root, url, ['post', 'outlives the server']).stdout.trim();
    const runner = startRun(runners[0], url, ['--agents', '1', '--lease-ms', '3000', '--sandbox', 'off', '--exec', command]);
    await waitFor('the first attempt to run its command', () => fs.existsSync(marker));
    await redis.crash();
    const crashedAt = Date.now();
    const finished = await runner.exited;
    const exitMs = Date.now() - crashedAt;
    assert.equal(finished.code, 1, `${finished.stdout}\n${finished.stderr}`);
    // It took 15-28 s (each release, host record and close waited for the server); about 1 s now.
    assert.ok(exitMs < 10_000, `the run exited ${exitMs} ms after the server went away`);
    const said = `${finished.stdout}\n${finished.stderr}`;
    // The task was not cancelled: its lease went with the server (it printed "failed … was cancelled" before).
    assert.doesNotMatch(said, /was cancelled|^failed /m, said);
    assert.match(said, /^lost +\S+ +outlives the server: Lease lost on task/m, said);
    const stopLines = said.split('\n').filter((line) => /No more tasks are claimed/.test(line));
    assert.equal(stopLines.length, 1, `one line says why the run stopped: ${said}`);
    assert.match(stopLines[0], /Redis server at redis:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(said, /\n\s+at /, 'no stack trace');

    await redis.restart();
    const again = startRun(runners[0], url, ['--agents', '1', '--lease-ms', '3000', '--sandbox', 'off', '--exec', command, '--until-empty']);
    const second = await again.exited;
    assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
    const board = await boardAt(url);
    assert.equal((await board.get(id))?.status, 'done');
    assert.equal((await completions(board)).get(id), 1, 'completed exactly once');
  });

  it('swarm mcp serves a Redis board: a task posted through it is run by a runner and its patch read back', async () => {
    const redis = await server();
    const url = redis.url(0, 'mcp');
    const { poster, runners } = clones(1);
    const transport = new StdioClientTransport({ command: process.execPath, args: [cli, '--board', url, 'mcp'], cwd: poster.root, stderr: 'pipe' });
    const client = new Client({ name: 'swarm-test', version: '1.0.0' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    const call = async (name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const result = (await client.callTool({ name, arguments: args })) as { structuredContent?: Record<string, unknown>; isError?: boolean; content: Array<{ text: string }> };
      assert.ok(!result.isError, result.content.map((part) => part.text).join('\n'));
      return result.structuredContent ?? {};
    };
    const posted = await call('post_task', { title: 'posted through MCP' });
    const id = (posted.task as { id: string }).id;
    assert.equal(posted.agentPools, 0, 'no runner yet: the note says tasks wait');
    const runner = startRun(runners[0], url, ['--agents', '1', '--exec', WRITE_OWN_FILE]);
    await waitFor('the MCP server to see the runner', async () => (await call('get_status', {})).agentPools === 1);
    await waitFor('the task done', async () => ((await call('get_status', { taskId: id })).task as { status: string }).status === 'done');
    const result = await call('get_result', { taskId: id });
    assert.match(String(result.patch), new RegExp(`out-${id}\\.txt`));
    runner.child.kill('SIGINT');
    await runner.exited;
  });

  it('the board password reaches the agents but no command they run, and no result or log', async () => {
    const password = `pw-${Date.now()}-secret`;
    const redis = await server({ password });
    const url = `redis://127.0.0.1:${redis.port}/0?board=secret`;
    const { poster, runners } = clones(1);
    const posted = spawnSync(process.execPath, [cli, '--board', url, 'post', 'look for the password'], { cwd: poster.root, encoding: 'utf8', env: { ...process.env, SWARM_BOARD_PASSWORD: password } });
    assert.equal(posted.status, 0, posted.stderr);
    const id = posted.stdout.trim();
    const command = 'if [ -n "$SWARM_BOARD_PASSWORD" ]; then echo leaked; else echo none; fi > seen.txt';
    const runner = startRun(runners[0], url, ['--agents', '1', '--exec', command, '--until-empty', '--verbose'], { SWARM_BOARD_PASSWORD: password });
    const finished = await runner.exited;
    assert.equal(finished.code, 0, `${finished.stdout}\n${finished.stderr}`);
    assert.doesNotMatch(runner.output(), new RegExp(password), 'the run\'s output never shows the password');
    const board = await openBoard(url, { env: { SWARM_BOARD_PASSWORD: password } });
    cleanups.push(() => board.close());
    assert.equal((await board.get(id))?.status, 'done');
    const patch = (await board.getArtifact(id, 'result.patch'))?.toString('utf8') ?? '';
    assert.match(patch, /^\+none$/m, 'the command saw no SWARM_BOARD_PASSWORD');
    const log = (await board.getArtifact(id, 'log.txt'))?.toString('utf8') ?? '';
    assert.doesNotMatch(`${patch}\n${log}\n${JSON.stringify(await board.get(id))}`, new RegExp(password), 'the password is in no result, patch or log');
  });

  it('swarm agents lists the runners on the board by host name; swarm init and reclaim work on Redis', async () => {
    const redis = await server();
    const url = redis.url(0, 'hosts');
    const { poster, runners } = clones(1);
    const init = swarm(poster.root, url, ['init']);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /Board ready at redis:\/\/127\.0\.0\.1:\d+\/0\?board=hosts/);
    const id = swarm(poster.root, url, ['post', 'long']).stdout.trim();
    const runner = startRun(runners[0], url, ['--agents', '1', '--grace-ms', '200', '--exec', `sleep ${uniqueSleep()}`]);
    const board = await boardAt(url);
    await waitFor('the task to run', async () => (await board.get(id))?.status === 'running');
    const listed = await waitFor('the runner in swarm agents', () => {
      const agents = swarm(poster.root, url, ['agents', '--json']);
      const hosts = JSON.parse(agents.stdout) as Array<{ host: string; hostPid: number; gone: boolean; agents: Array<{ currentTask?: { id: string } }> }>;
      return hosts.find((host) => host.hostPid === runner.child.pid && host.agents.some((agent) => agent.currentTask?.id === id));
    });
    assert.equal(listed.host, os.hostname());
    assert.equal(listed.gone, false);
    const text = swarm(poster.root, url, ['agents']).stdout;
    assert.match(text, new RegExp(`Host ${runner.child.pid} · pool mode .* on ${os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, last heartbeat`));
    const reclaim = swarm(poster.root, url, ['reclaim', '--json']);
    assert.equal(reclaim.code, 0, reclaim.stderr);
    assert.equal(JSON.parse(reclaim.stdout).reclaimed, 0, 'a live lease is not reclaimed');
    runner.child.kill('SIGINT');
    const finished = await runner.exited;
    assert.equal(finished.code, 130, finished.stderr);
    const after = JSON.parse(swarm(poster.root, url, ['agents', '--json']).stdout) as unknown[];
    assert.deepEqual(after, [], 'a host that stopped removed its record');
  });
});

// Ctrl-C on `swarm run`, end to end through the built CLI (run `npm run build` first): a real host
// process, real agents, real commands, signalled with process.kill.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterEach, before, test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { isAlive, waitFor } from './helpers';

const dist = path.join(__dirname, '..', '..', '..', 'dist');
const cli = path.join(dist, 'cli.js');
const dirs: string[] = [];
const hosts: ChildProcess[] = [];

before(() => {
  assert.ok(fs.existsSync(cli) && fs.existsSync(path.join(dist, 'agent.js')), 'dist/cli.js and dist/agent.js are built (npm run build)');
});
afterEach(() => {
  for (const host of hosts.splice(0)) if (host.exitCode === null && host.signalCode === null) host.kill('SIGKILL');
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function workspace(): { dir: string; board: FileBoard } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-run-signals-'));
  dirs.push(dir);
  return { dir, board: FileBoard.open({ root: path.join(dir, '.swarm'), durable: false }) };
}

interface Host {
  pid: number;
  output: () => string;
  exited: Promise<number | null>;
}

function startRun(dir: string, args: string[]): Host {
  const host = spawn(process.execPath, [cli, '--board', path.join(dir, '.swarm'), 'run', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  hosts.push(host);
  let output = '';
  host.stdout?.on('data', (chunk) => (output += chunk));
  host.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => host.on('exit', (code) => resolve(code)));
  return { pid: host.pid as number, output: () => output, exited };
}

test('Ctrl-C: the running task finishes within the grace period, no new task is claimed, exit 130 with what is left', async () => {
  const { dir, board } = workspace();
  const first = board.post({ title: 'first' });
  const second = board.post({ title: 'second' });
  // Each task waits for a "go" file, so the test decides when the running one may finish.
  const go = path.join(dir, 'go');
  const host = startRun(dir, ['--agents', '1', '--exec', `while [ ! -e '${go}' ]; do sleep 0.05; done; echo finished > done-$SWARM_TASK_ID.txt`, '--isolation', 'none', '--sandbox', 'off', '--grace-ms', '120000']);
  const running = await waitFor('a task to run', () => board.list({ status: 'running' })[0], 60_000, 50);
  process.kill(host.pid, 'SIGINT');
  await waitFor('the stop notice', () => /Stopping: no new tasks are started/.test(host.output()), 60_000, 50);
  fs.writeFileSync(go, '');
  const code = await host.exited;
  assert.equal(code, 130, host.output());
  const other = running.id === first.id ? second : first;
  assert.equal(board.get(running.id)?.status, 'done', 'the running task finished within the grace period');
  assert.equal(board.get(other.id)?.status, 'pending', 'no new task was claimed after Ctrl-C');
  assert.match(host.output(), /^Stopped by Ctrl-C\. Left on the board: 1 pending, none running\. Run "swarm run" again to go on\.$/m);
  assert.match(host.output(), /Done 1, dead 0/);
});

test('a second Ctrl-C stops at once: the task is handed back and every process of its attempt ends', async () => {
  const { dir, board } = workspace();
  const task = board.post({ title: 'long' });
  // The attempt starts a background process of its own (in the command's process group) and a foreground one.
  const command = 'sleep 300 & echo $! > bg.pid; echo $$ > fg.pid; sleep 300';
  const host = startRun(dir, ['--agents', '1', '--exec', command, '--isolation', 'none', '--sandbox', 'off', '--grace-ms', '600000']);
  const pids = await waitFor('the attempt to start its processes', () => {
    const read = (name: string) => Number.parseInt(fs.readFileSync(path.join(dir, name), 'utf8'), 10);
    try {
      const found = [read('bg.pid'), read('fg.pid')];
      return found.every((pid) => pid > 0) && found;
    } catch {
      return undefined;
    }
  }, 60_000, 50);
  process.kill(host.pid, 'SIGINT');
  await waitFor('the stop notice', () => /Stopping: /.test(host.output()), 60_000, 50);
  const secondAt = Date.now();
  process.kill(host.pid, 'SIGINT');
  const code = await host.exited;
  const stopMs = Date.now() - secondAt;
  assert.equal(code, 130, host.output());
  assert.ok(stopMs < 60_000, `stopped in ${stopMs} ms, not after the 600 s grace period`);
  assert.match(host.output(), /Stopping now/);
  assert.equal(board.get(task.id)?.status, 'pending', 'the task was handed back');
  assert.match(host.output(), /^Stopped by Ctrl-C\. Left on the board: 1 pending \(1 of them handed back unfinished\), none running\./m);
  for (const pid of pids) await waitFor(`process ${pid} of the attempt to end`, () => !isAlive(pid), 15_000, 50);
});

test('--json: a stopped run says so in the summary and still exits 130', async () => {
  const { dir, board } = workspace();
  board.post({ title: 'long' });
  const host = startRun(dir, ['--agents', '1', '--exec', 'sleep 300', '--isolation', 'none', '--sandbox', 'off', '--grace-ms', '100', '--json']);
  await waitFor('the task to run', () => board.stats().counts.running === 1, 60_000, 50);
  process.kill(host.pid, 'SIGINT');
  const code = await host.exited;
  assert.equal(code, 130, host.output());
  const summary = JSON.parse(host.output()) as { stoppedBy?: string; left?: { pending: number; running: number; handedBack: number } };
  assert.equal(summary.stoppedBy, 'SIGINT');
  assert.deepEqual(summary.left, { pending: 1, running: 0, handedBack: 1 });
});

test('Ctrl-C during the verify check before the run: exit 130 at once, nothing claimed, no workspace left behind', async () => {
  const { dir, board } = workspace();
  const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
  fs.writeFileSync(path.join(dir, '.gitignore'), '.swarm/\n');
  assert.equal(git('init', '-q').status, 0);
  git('add', '.');
  assert.equal(git('commit', '-qm', 'init').status, 0);
  const task = board.post({ title: 'waits for the check' });
  const host = startRun(dir, ['--agents', '1', '--exec', 'true', '--verify', 'sleep 300', '--sandbox', 'off', '--grace-ms', '600000', '--verbose']);
  await waitFor('the verify check to run', () => /Checking that the verify command passes/.test(host.output()), 60_000, 50);
  const startedAt = Date.now();
  process.kill(host.pid, 'SIGINT');
  const code = await host.exited;
  assert.equal(code, 130, host.output());
  assert.ok(Date.now() - startedAt < 60_000, 'the check was cut short');
  assert.equal(board.get(task.id)?.status, 'pending');
  assert.equal(board.get(task.id)?.attempts, 0);
  const worktrees = git('worktree', 'list', '--porcelain').stdout.split('\n').filter((line) => line.startsWith('worktree '));
  assert.equal(worktrees.length, 1, `only the checkout itself: ${worktrees.join(', ')}`);
});

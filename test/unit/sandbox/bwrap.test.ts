// The Linux sandbox with the real bwrap: what a command may write, what it may not (and how the
// refusal is reported), network off, and the end of every process it started (daemons included)
// when it exits, is cancelled, times out, or its parent is killed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { createExecutor } from '../../../src/core/executors';
import { ExecutorError } from '../../../src/core/executors/types';
import { createCommandSandbox, type ActiveSandbox, type CommandSandbox, type SandboxScope } from '../../../src/core/sandbox';
import { makeContext } from '../executors/helpers';
import { processesWithArgs, requireBwrap, tempDir, uniqueSleep, waitUntil } from './helpers';

const ACTIVE: ActiveSandbox = { tool: 'bwrap', network: true, cacheDirs: ['.npm', '.cache'], allowWrite: [] };

before(requireBwrap);

interface Layout {
  root: string;
  work: string;
  outside: string;
  home: string;
}

function layout(): Layout {
  const root = tempDir('swarm-sbx-');
  const dirs = { root, work: path.join(root, 'work'), outside: path.join(root, 'outside'), home: path.join(root, 'home') };
  for (const dir of [dirs.work, dirs.outside, dirs.home]) fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dirs.outside, 'readable.txt'), 'visible\n');
  return dirs;
}

function sandboxFor(dirs: Layout, scope: Partial<SandboxScope> = {}, active: ActiveSandbox = ACTIVE) {
  return createCommandSandbox(active, { cwd: dirs.work, writable: [dirs.work], protect: [], readable: [dirs.root], ...scope }, { env: { ...process.env, HOME: dirs.home } });
}

async function run(dirs: Layout, command: string, sandbox: CommandSandbox | undefined = sandboxFor(dirs), extra: Record<string, unknown> = {}) {
  const context = makeContext(dirs.work, undefined, { sandbox, env: { HOME: dirs.home } });
  const executor = createExecutor({ type: 'command', command, ...extra });
  const outcome = await executor.execute(context).then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return { outcome, log: context.output(), context };
}

test('a sandboxed command writes its folder, a private /tmp and the cache folders; reads the rest', async () => {
  const dirs = layout();
  const { outcome, log } = await run(dirs, 'echo in > inside.txt && echo t > /tmp/private.txt && cat /tmp/private.txt && echo c > "$HOME/.npm/cached" && cat ../outside/readable.txt && echo "tmp=$TMPDIR"');
  assert.ok(outcome.ok, log);
  assert.equal(fs.readFileSync(path.join(dirs.work, 'inside.txt'), 'utf8'), 'in\n');
  assert.equal(fs.readFileSync(path.join(dirs.home, '.npm', 'cached'), 'utf8'), 'c\n', 'the npm cache folder was created and is writable');
  assert.match(log, /^t$/m, '/tmp is writable inside');
  assert.match(log, /^visible$/m, 'the rest of the file system is readable');
  assert.match(log, /^tmp=\/tmp$/m);
  assert.equal(fs.existsSync('/tmp/private.txt'), false, "the sandbox's /tmp is not the host's");
});

test('writes outside are refused; the log and the error name each path and say how to allow it', async () => {
  const dirs = layout();
  const script = [
    `echo x > ${path.join(dirs.outside, 'absolute.txt')} || true`,
    'echo x > ../outside/relative.txt || true',
    'touch "$HOME/home.txt" || true',
    'mkdir -p ../outside/newdir',
  ].join('; ');
  const { outcome, log } = await run(dirs, script);
  assert.equal(outcome.ok, false);
  const error = (outcome as { error: unknown }).error;
  assert.ok(error instanceof ExecutorError);
  for (const refused of [path.join(dirs.outside, 'absolute.txt'), path.join(dirs.outside, 'relative.txt'), path.join(dirs.home, 'home.txt'), path.join(dirs.outside, 'newdir')]) {
    const line = `The sandbox refused a write to ${refused} (outside this task's worktree).`;
    assert.ok(log.includes(line), `log names ${refused}:\n${log}`);
    assert.ok(error.message.includes(line), `error names ${refused}:\n${error.message}`);
    assert.equal(fs.existsSync(refused), false);
  }
  assert.match(error.message, /allowWrite/);
  assert.match(error.message, /--sandbox off/);
});

test('a protected folder inside a writable one stays read-only; allowWrite opens a folder', async () => {
  const dirs = layout();
  const board = path.join(dirs.work, '.swarm');
  fs.mkdirSync(board);
  const sandbox = sandboxFor(dirs, { protectAfter: [board] }, { ...ACTIVE, allowWrite: [dirs.outside] });
  const { log } = await run(dirs, 'echo ok > fine.txt; echo no > .swarm/forged.json || true; echo yes > ../outside/allowed.txt', sandbox);
  assert.equal(fs.existsSync(path.join(dirs.work, 'fine.txt')), true);
  assert.equal(fs.existsSync(path.join(board, 'forged.json')), false, 'the board stays read-only');
  assert.ok(log.includes(`refused a write to ${path.join(board, 'forged.json')}`), log);
  assert.equal(fs.readFileSync(path.join(dirs.outside, 'allowed.txt'), 'utf8'), 'yes\n');
});

test('no capabilities inside, even for root: no remount of / read-write, no write outside through it', async () => {
  const dirs = layout();
  const target = path.join(dirs.outside, 'after-remount.txt');
  const { log } = await run(dirs, `grep CapEff /proc/self/status; mount -o remount,rw / 2>&1; mount -o remount,rw ${dirs.outside} 2>&1; echo x > ${target}; true`);
  assert.match(log, /^CapEff:\s+0+$/m, log);
  assert.equal(fs.existsSync(target), false, `the write outside stayed refused:\n${log}`);
});

test("a Docker-like daemon socket is hidden: a read-only mount does not stop connect()", async () => {
  const dirs = layout();
  const runtime = path.join(dirs.root, 'run');
  fs.mkdirSync(runtime);
  const socket = path.join(runtime, 'docker.sock');
  const server = net.createServer((connection) => connection.end('daemon says hi\n'));
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  try {
    const probe = `node -e "require('net').connect(process.argv[1]).on('data', (d) => console.log('connected:', String(d).trim())).on('error', (e) => console.log('refused:', e.code))" ${socket}`;
    const sandbox = createCommandSandbox(ACTIVE, { cwd: dirs.work, writable: [dirs.work], protect: [], readable: [dirs.root] }, { env: { ...process.env, HOME: dirs.home, XDG_RUNTIME_DIR: runtime } });
    const { log } = await run(dirs, probe, sandbox);
    assert.match(log, /^refused: /m, log);
    const unsandboxed = await run(dirs, probe, undefined);
    assert.match(unsandboxed.log, /^connected: daemon says hi$/m, 'the socket works outside the sandbox (the test is real)');
  } finally {
    server.close();
  }
});

test('network off leaves only the loopback interface', async () => {
  const dirs = layout();
  const interfaces = async (network: boolean): Promise<string[]> => {
    const { log } = await run(dirs, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '", sandboxFor(dirs, {}, { ...ACTIVE, network }));
    return log.split('\n').filter((line) => /^[\w.-]+$/.test(line));
  };
  assert.deepEqual(await interfaces(false), ['lo']);
  const online = await interfaces(true);
  assert.ok(online.length >= 1 && online.join() === fs.readFileSync('/proc/net/dev', 'utf8').split('\n').slice(2).map((line) => line.split(':')[0].trim()).filter(Boolean).join(), 'network on: the host interfaces');
});

test('a daemonised grandchild ends with the command: on exit, on cancel and on timeout', { timeout: 120_000 }, async () => {
  const dirs = layout();
  // Exit: the command returns at once, leaving a setsid'd sleeper behind.
  const leftBehind = uniqueSleep();
  const exited = await run(dirs, `(setsid sleep ${leftBehind} &); echo started`);
  assert.ok(exited.outcome.ok, exited.log);
  assert.deepEqual(processesWithArgs(['sleep', leftBehind]), [], 'gone once the command exited');

  // Cancel.
  const cancelled = uniqueSleep();
  const sandbox = sandboxFor(dirs);
  const context = makeContext(dirs.work, undefined, { sandbox });
  const running = createExecutor({ type: 'command', command: `(setsid sleep ${cancelled} &); sleep 300` }).execute(context).catch((error: unknown) => error);
  await waitUntil('the daemon to start', () => processesWithArgs(['sleep', cancelled]).length === 1);
  context.controller.abort();
  const error = await running;
  assert.ok(error instanceof ExecutorError && error.cancelled, String(error));
  assert.deepEqual(processesWithArgs(['sleep', cancelled]), [], 'gone when the cancelled attempt settled');

  // Timeout.
  const timedOut = uniqueSleep();
  const slow = await run(dirs, `(setsid sleep ${timedOut} &); sleep 300`, sandboxFor(dirs), { timeoutMs: 1_500 });
  assert.equal(slow.outcome.ok, false);
  assert.match(String((slow.outcome as { error: Error }).error.message), /did not finish within/);
  assert.deepEqual(processesWithArgs(['sleep', timedOut]), [], 'gone when the timed-out attempt settled');
});

test('kill -9 of the process that started the sandbox ends everything inside, with nobody sweeping', { timeout: 60_000 }, async () => {
  const dirs = layout();
  const seconds = uniqueSleep();
  const parent = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'sandboxed-parent.ts'), dirs.work, seconds], { stdio: 'ignore' });
  try {
    await waitUntil('the daemon inside the sandbox', () => processesWithArgs(['sleep', seconds]).length === 1);
    parent.kill('SIGKILL');
    await waitUntil('every process of the sandbox to end', () => processesWithArgs(['sleep', seconds]).length === 0 && processesWithArgs(['sleep', String(Number(seconds) + 1)]).length === 0, 10_000);
  } finally {
    parent.kill('SIGKILL');
  }
});

// A board that becomes unwritable in the middle of a run (its disk fills up; issue 15): the pool stops claiming, says
// why once, and `swarm run` exits 1, instead of restarting agents that fail the same way forever. Once with one
// agent, once with two agents in one agent process (agentsPerProcess 2), where both meet the outage.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../src/core/board';

const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-ro-board-'));
const mounts: string[] = [];
after(() => {
  for (const mount of mounts) spawnSync('umount', ['-l', mount]);
  fs.rmSync(parent, { recursive: true, force: true });
});

const VARIANTS = [
  { what: 'a board whose disk fills up mid-run', agents: ['--agents', '1'] },
  { what: 'two agents sharing a process, a board whose disk fills up mid-run', agents: ['--agents', '2', '--agents-per-process', '2'] },
];

for (const [index, { what, agents }] of VARIANTS.entries()) test(`${what}: one message, exit 1, no agent restarts in a loop`, async () => {
  assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)');
  const mount = path.join(parent, `mnt-${index}`);
  fs.mkdirSync(mount);
  mounts.push(mount);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mount], { encoding: 'utf8' });
  assert.equal(mounted.status, 0, `mount needs root: ${mounted.stderr}`);
  const boardRoot = path.join(mount, '.swarm');
  const board = FileBoard.open({ root: boardRoot, durable: false });
  board.postMany(Array.from({ length: 4 }, (_, index) => ({ title: `slow ${index}` })));
  board.close();
  const run = spawn(process.execPath, [cli, '--board', boardRoot, 'run', ...agents, '--exec', 'sleep 1', '--isolation', 'none', '--until-empty', '--sandbox', 'off'], { cwd: parent, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  run.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  run.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (fs.readdirSync(path.join(boardRoot, 'running')).length === 0) {
    assert.ok(Date.now() < deadline, `no task started: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  fillUp(path.join(mount, 'filler'));
  const timer = setTimeout(() => run.kill('SIGKILL'), 90_000);
  const code = await exited;
  clearTimeout(timer);
  assert.equal(code, 1, out);
  assert.equal(out.match(/cannot be written any more \(ENOSPC/g)?.length, 1, out);
  assert.match(out, /No more tasks are claimed\. Free disk space or make the folder writable/);
  assert.ok((out.match(/exited unexpectedly/g) ?? []).length <= 2, `agents are not restarted in a loop: ${out}`);
});

/** Writes until the file system refuses: every later write on it fails with ENOSPC. */
function fillUp(file: string): void {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const fd = fs.openSync(file, 'w');
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    fs.closeSync(fd);
  }
  // The last partial page too.
  for (let size = 4096; size >= 1; size = Math.floor(size / 2)) {
    try {
      fs.appendFileSync(file, Buffer.alloc(size, 1));
    } catch {
      // full at this size: try smaller
    }
  }
}

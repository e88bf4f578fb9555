// A live task must always be found, even while other processes move it between folders as fast as
// they can (claim → release → claim → fail → delayed → pending ...): `get`, `cancel` and a lease
// holder's "why was my lease lost" all locate the task by scanning the state folders.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { FileBoard } from '../../src/core/board';
import { removeDir, tempDir } from '../unit/board/helpers';

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));
const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');

function startMovers(root: string, count: number): { stop(): Promise<number[]> } {
  const stopFile = path.join(path.dirname(root), 'stop');
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'board-mover.ts'), root, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const outputs = children.map(
    (child) =>
      new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk) => (out += chunk));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`mover exited ${code}`))));
      }),
  );
  return {
    stop: async () => {
      fs.writeFileSync(stopFile, '');
      return Promise.all(outputs);
    },
  };
}

/** Waits until the movers have visibly started (the task left pending/ at least once). */
async function waitForMoves(board: FileBoard, id: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (board.events.read().events.some((event) => event.type === 'claimed' && event.taskId === id)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail('the movers never claimed the task');
}

describe('attack: locating a task that other processes keep moving', () => {
  it('get() finds it every time and the CLI\'s show never says "No task"', { timeout: 180_000 }, async (t) => {
    const dir = tempDir('swarm-locate-');
    dirs.push(dir);
    const root = path.join(dir, '.swarm');
    const board = FileBoard.open({ root, durable: false });
    const task = board.post({ title: 'always moving', maxAttempts: 100 });
    // Neighbours in every folder, so a scan has real work between its listings.
    board.postMany(Array.from({ length: 200 }, (_, i) => ({ title: `still ${i}`, priority: -1, notBefore: i % 2 === 0 ? Date.now() + 3_600_000 : undefined })));
    const movers = startMovers(root, 2);
    let misses = 0;
    let looks = 0;
    try {
      await waitForMoves(board, task.id);
      const until = Date.now() + 8_000;
      while (Date.now() < until) {
        looks++;
        if (board.get(task.id) === undefined) misses++;
        if (looks % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      for (let i = 0; i < 5; i++) {
        const shown = spawnSync(process.execPath, [cli, '--board', root, 'show', task.id, '--json'], { encoding: 'utf8' });
        assert.equal(shown.status, 0, shown.stderr);
      }
    } finally {
      const moves = await movers.stop();
      assert.ok(moves.reduce((sum, count) => sum + count, 0) > 100, `the task really moved (${moves.join(', ')} moves)`);
    }
    assert.equal(misses, 0, `get() missed the task ${misses} times in ${looks} looks`);
    t.diagnostic(`${looks} looks, ${misses} misses`);
    board.close();
  });

  it('cancel() and the CLI\'s cancel find and cancel a task while it moves, every time', { timeout: 180_000 }, async (t) => {
    const dir = tempDir('swarm-locate-cancel-');
    dirs.push(dir);
    const root = path.join(dir, '.swarm');
    const board = FileBoard.open({ root, durable: false });
    const movers = startMovers(root, 2);
    const rounds = 60;
    try {
      for (let round = 0; round < rounds; round++) {
        const task = board.post({ title: `moving target ${round}`, maxAttempts: 100, priority: round });
        await waitForMoves(board, task.id);
        if (round % 10 === 9) {
          const result = spawnSync(process.execPath, [cli, '--board', root, 'cancel', task.id], { encoding: 'utf8' });
          assert.equal(result.status, 0, `round ${round}: ${result.stderr}`);
        } else {
          assert.equal(board.cancel(task.id).status, 'cancelled', `round ${round}`);
        }
        assert.equal(board.get(task.id)?.status, 'cancelled');
      }
    } finally {
      await movers.stop();
    }
    t.diagnostic(`${rounds} moving tasks cancelled`);
    board.close();
  });
});

// File-scope leases of the file board (src/core/board/fileLeases.ts): one record per holder, exact
// across processes, and records of older boards (one folder per path) still honoured.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { spawn } from 'child_process';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { makeBoard, removeDir, tempDir } from './helpers';

const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((cleanup) => cleanup()));

function setup(): ReturnType<typeof makeBoard> {
  const made = makeBoard();
  cleanups.push(made.cleanup);
  return made;
}

const files = (count: number, prefix = 'src/f'): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}.js`);

describe('file-scope leases: one record per holder', () => {
  it('a claim of a task naming 80 files creates one lease record, removed when the task ends', () => {
    const { board, root } = setup();
    board.post({ title: 'many files', files: files(80) });
    const claim = board.claim({ agent: 'a' })!;
    assert.deepEqual(fs.readdirSync(path.join(root, 'locks')), [claim.token], 'one record, named by the holder');
    board.complete(claim);
    assert.deepEqual(fs.readdirSync(path.join(root, 'locks')), []);
  });

  it('a record counts only while its holder runs: one left by a holder that is gone neither blocks nor stays', () => {
    const { board, root } = setup();
    const gone = 'tgone0001~a1~dead-agent~0000.json';
    fs.writeFileSync(path.join(root, 'locks', gone), `${JSON.stringify(['x.ts'])}\n`);
    const next = board.post({ title: 'next', files: ['x.ts'] });
    const claim = board.claim({ agent: 'b' })!;
    assert.equal(claim.task.id, next.id);
    assert.deepEqual(fs.readdirSync(path.join(root, 'locks')), [claim.token], 'the stale record was removed');
  });

  it('conflicts are exact: the same path blocks, a different path (or a folder of it) does not, as before', () => {
    const { board } = setup();
    const holder = board.post({ title: 'holder', files: ['src/a.ts', 'src/b.ts'], priority: 3 });
    const same = board.post({ title: 'same path', files: ['lib/z.ts', 'src/b.ts'], priority: 2 });
    const other = board.post({ title: 'other paths', files: ['src/a.tsx', 'src', 'b.ts'], priority: 1 });
    assert.equal(board.claim({ agent: 'a' })!.task.id, holder.id);
    assert.equal(board.claim({ agent: 'b' })!.task.id, other.id, 'the task naming src/b.ts waits');
    assert.equal(board.claim({ agent: 'c' }), undefined);
    assert.equal(board.get(same.id)!.status, 'pending');
  });

  it('a record still being written (no final newline yet) is not read as its holder\'s files', () => {
    const { board, root } = setup();
    const first = board.post({ title: 'first', files: ['x.ts'], priority: 2 });
    const second = board.post({ title: 'second', files: ['x.ts'], priority: 1 });
    const claim = board.claim({ agent: 'w' })!;
    assert.equal(claim.task.id, first.id);
    // As a claimant caught half-way through writing its record sees it: that claimant looks for
    // other records only once its own is complete, so it is the one that backs off.
    fs.writeFileSync(path.join(root, 'locks', claim.token), '["x.t');
    assert.equal(board.claim({ agent: 'b' })?.task.id, second.id);
  });
});

describe('file-scope leases: boards of the older layout (one folder per path)', () => {
  const legacyFolder = (root: string, file: string): string => path.join(root, 'locks', createHash('sha1').update(file).digest('hex').slice(0, 20));

  it('a live holder\'s entry there blocks the same path; a stale one is removed with its folder', () => {
    const { board, root } = setup();
    const holder = board.post({ title: 'holder of the older layout', files: ['y.ts'], priority: 3 });
    const claim = board.claim({ agent: 'old' })!;
    assert.equal(claim.task.id, holder.id);
    fs.rmSync(path.join(root, 'locks', claim.token)); // as an older host would have written it:
    fs.mkdirSync(legacyFolder(root, 'x.ts'));
    fs.writeFileSync(path.join(legacyFolder(root, 'x.ts'), claim.token), 'x.ts');
    fs.mkdirSync(legacyFolder(root, 'z.ts'));
    fs.writeFileSync(path.join(legacyFolder(root, 'z.ts'), 'tgone0001~a1~dead-agent~0000.json'), 'z.ts');
    const blocked = board.post({ title: 'blocked', files: ['x.ts'], priority: 2 });
    const free = board.post({ title: 'free', files: ['z.ts'], priority: 1 });
    assert.equal(board.claim({ agent: 'b' })!.task.id, free.id, 'x.ts is held by the older entry');
    assert.equal(fs.existsSync(legacyFolder(root, 'z.ts')), false, 'the stale folder is gone');
    board.complete(claim);
    assert.equal(board.claim({ agent: 'c' })!.task.id, blocked.id);
    assert.equal(fs.existsSync(legacyFolder(root, 'x.ts')), false);
  });
});

describe('file-scope leases across processes', () => {
  it('4 processes drain 120 tasks over 10 shared files: no two overlapping tasks ever run at once', { timeout: 180_000 }, async () => {
    const dir = tempDir('swarm-leases-');
    cleanups.push(() => removeDir(dir));
    const root = path.join(dir, '.swarm');
    const held = path.join(dir, 'held');
    fs.mkdirSync(held);
    const board = FileBoard.open({ root, durable: false });
    cleanups.push(() => board.close());
    const pool = files(10, 'f');
    // Each task names three of the ten files: most pairs overlap.
    board.postMany(Array.from({ length: 120 }, (_, i) => ({ title: `t${i}`, files: [pool[i % 10], pool[(i * 3 + 1) % 10], pool[(i * 7 + 2) % 10]] })));
    const ready = path.join(dir, 'ready');
    fs.mkdirSync(ready);
    const outputs = Array.from({ length: 4 }, (_, i) => path.join(dir, `worker-${i}.txt`));
    const results = await Promise.all(outputs.map((out, i) => runWorker([root, `w${i}`, held, out, ready, String(outputs.length)])));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const lines = outputs.flatMap((out) => fs.readFileSync(out, 'utf8').split('\n').filter(Boolean));
    assert.deepEqual(lines.filter((line) => line.startsWith('OVERLAP')), [], 'two tasks naming one file ran at once');
    assert.equal(new Set(lines).size, 120, 'every task ran once');
    assert.equal(board.stats().counts.done, 120);
    assert.deepEqual(fs.readdirSync(path.join(root, 'locks')), [], 'no lease record is left');
    assert.ok(outputs.filter((out) => fs.readFileSync(out, 'utf8').length > 0).length >= 2, 'the processes shared the work');
  });
});

function runWorker(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'lease-worker.ts'), ...args]);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

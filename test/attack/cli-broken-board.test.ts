// Every `swarm` subcommand against a broken board: a --board that names a file, a board on a
// read-only file system, a board folder the user may not write (run as `nobody`), a full disk, an
// event log that is a folder. Whatever the command: it ends in time with a documented exit code,
// an error is one line starting with "swarm:" that names the problem, and no stack trace is
// printed (that needs --verbose). Read-only boards can still be read.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { FileBoard } from '../../src/core/board';
import { removeDir, tempDir } from '../unit/board/helpers';
import { fillInodesLeaving, fillLeaving, isMounted, mountReadOnly, mountTmpfs, requireRoot, unmount } from './helpers';

const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const cleanups: (() => void)[] = [];
after(() => cleanups.reverse().forEach((cleanup) => cleanup()));

const NOBODY = 65534;

interface Seeded {
  id: string;
  token: string;
}

/** A board with a pending, a running (token) and a dead task, plus a map: something for every command. */
function seed(root: string): Seeded {
  const board = FileBoard.open({ root, excludeFromGit: false });
  const id = board.post({ title: 'pending one', priority: 5 }).id;
  board.post({ title: 'will die', maxAttempts: 1, priority: 9 });
  board.fail(board.claim({ agent: 'seed' })!, 'boom');
  board.map({ title: 'a map' }, [{ title: 'child', priority: -1 }]);
  const token = board.claim({ agent: 'seed', leaseMs: 3_600_000 })!.token;
  board.close();
  return { id, token };
}

function commands({ id, token }: Seeded): { args: string[]; input?: string }[] {
  return [
    { args: ['init'] },
    { args: ['post', 'x'] },
    { args: ['post', '--jsonl', '-'], input: '{"title":"a"}\n' },
    { args: ['map', 'm', '--jsonl', '-'], input: '{"title":"a"}\n' },
    { args: ['list'] },
    { args: ['list', '--json'] },
    { args: ['show', id] },
    { args: ['stats'] },
    { args: ['claim', '--agent', 'a'] },
    { args: ['heartbeat', token.split('~')[0], '--token', token] },
    { args: ['complete', token.split('~')[0], '--token', token] },
    { args: ['fail', token.split('~')[0], '--token', token, '--error', 'e'] },
    { args: ['cancel', id] },
    { args: ['reclaim'] },
    { args: ['dlq', 'list'] },
    { args: ['dlq', 'requeue', '--all'] },
    { args: ['log'] },
    { args: ['run', '--until-empty', '--exec', 'true', '--isolation', 'none', '--mode', 'sequential', '--grace-ms', '0'] },
    { args: ['agents'] },
    { args: ['report'] },
    { args: ['diff', id] },
    { args: ['apply', id] },
    { args: ['undo', id] },
    { args: ['discard', id] },
    { args: ['conflicts'] },
    { args: ['worktrees'] },
    { args: ['mcp'], input: '' },
  ];
}

/** Runs every command against `board`; returns what went wrong, one line per offence. */
function sweepCommands(board: string, seeded: Seeded, options: { uid?: number; cwd: string; readable?: boolean }): string[] {
  const problems: string[] = [];
  for (const { args, input } of commands(seeded)) {
    const result = spawnSync(process.execPath, [cli, '--board', board, ...args], {
      cwd: options.cwd,
      input: input ?? '',
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, SWARM_BOARD: '', HOME: options.cwd },
      ...(options.uid !== undefined && { uid: options.uid, gid: options.uid }),
    });
    const what = `swarm ${args.join(' ')}`;
    if (result.error || result.status === null) {
      problems.push(`${what}: did not end (${result.error?.message ?? result.signal})`);
      continue;
    }
    if (![0, 1, 2, 3, 4].includes(result.status)) problems.push(`${what}: exit ${result.status}`);
    if (/^\s+at .+[(:]\d+/m.test(result.stderr) || /^\s+at /m.test(result.stdout)) problems.push(`${what}: printed a stack trace: ${result.stderr.slice(0, 300)}`);
    if (result.status !== 0 && result.status !== 3) {
      const errors = result.stderr.split('\n').filter((line) => line.startsWith('swarm:') && !line.startsWith('swarm: warning:'));
      if (errors.length !== 1) problems.push(`${what}: exit ${result.status} with ${errors.length} error lines: ${result.stderr.slice(0, 300)}`);
      if (/swarm: unexpected error/.test(result.stderr)) problems.push(`${what}: an environment problem reported as unexpected: ${result.stderr.trim()}`);
    }
    const reads = ['list', 'show', 'stats', 'log', 'dlq list', 'agents', 'report'].some((read) => args.join(' ').startsWith(read));
    if (options.readable && reads && result.status !== 0) problems.push(`${what}: a read failed on a readable board: ${result.stderr.trim()}`);
  }
  return problems;
}

function workspaceDir(): string {
  const dir = tempDir('swarm-broken-');
  fs.chmodSync(dir, 0o755);
  cleanups.push(() => removeDir(dir));
  return dir;
}

describe('attack: every subcommand against a broken board', { timeout: 600_000 }, () => {
  it('--board names a file', () => {
    const dir = workspaceDir();
    const file = path.join(dir, 'board-file');
    fs.writeFileSync(file, 'not a board');
    assert.deepEqual(sweepCommands(file, { id: 'tabcdef0001', token: 'tabcdef0001~a1~a~0123abcd.json' }, { cwd: dir }), []);
  });

  it('the board is on a read-only file system (reads work, writes say so)', () => {
    requireRoot();
    const dir = workspaceDir();
    const root = path.join(dir, '.swarm');
    const seeded = seed(root);
    mountReadOnly(root);
    cleanups.push(() => isMounted(root) && unmount(root));
    assert.deepEqual(sweepCommands(root, seeded, { cwd: dir, readable: true }), []);
  });

  it('the board folder belongs to someone else (EACCES, run as nobody)', () => {
    requireRoot();
    const dir = workspaceDir();
    const root = path.join(dir, '.swarm');
    const seeded = seed(root);
    const home = workspaceDir();
    fs.chownSync(home, NOBODY, NOBODY);
    assert.deepEqual(sweepCommands(root, seeded, { cwd: home, uid: NOBODY }), []);
  });

  it('the disk is full (no free page, no free inode)', () => {
    requireRoot();
    const dir = workspaceDir();
    mountTmpfs(dir, 1024, 2000);
    cleanups.push(() => isMounted(dir) && unmount(dir));
    const root = path.join(dir, '.swarm');
    const seeded = seed(root);
    fillLeaving(path.join(dir, 'filler'), 0);
    fillInodesLeaving(path.join(dir, 'inodes'), 0);
    assert.deepEqual(sweepCommands(root, seeded, { cwd: dir, readable: true }), []);
  });

  it('the event log is a folder', () => {
    const dir = workspaceDir();
    const root = path.join(dir, '.swarm');
    const seeded = seed(root);
    fs.rmSync(path.join(root, 'events.jsonl'));
    fs.mkdirSync(path.join(root, 'events.jsonl'));
    assert.deepEqual(sweepCommands(root, seeded, { cwd: dir }), []);
  });
});

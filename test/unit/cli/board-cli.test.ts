// The `swarm` CLI contract, run as a real process against the built dist/cli.js.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { removeDir, tempDir } from '../board/helpers';
import { assertCliBuilt, runSwarm, type SwarmRun } from './helpers';

let workspace: string;

function swarm(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): SwarmRun {
  return runSwarm(options.cwd ?? workspace, args, options);
}

function json<T>(args: string[]): T {
  const result = swarm(args);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as T;
}

before(() => {
  assertCliBuilt();
  workspace = tempDir('swarm-cli-');
});
after(() => removeDir(workspace));

describe('swarm CLI', () => {
  it('init creates .swarm in the working directory', () => {
    const result = swarm(['init']);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(fs.existsSync(path.join(workspace, '.swarm', 'board.json')));
  });

  it('post prints an id, list/show/stats speak JSON with --json', () => {
    const post = swarm(['post', 'Fix the parser', '--prompt', 'make tests pass', '--files', 'src/a.ts,src/b.ts', '--priority', '4', '--payload', '{"line":3}']);
    assert.equal(post.code, 0, post.stderr);
    const id = post.stdout.trim();
    assert.match(id, /^t[a-z0-9]+$/);
    const listed = json<{ id: string; files: string[]; payload: unknown }[]>(['list', '--json']);
    assert.equal(listed[0].id, id);
    assert.deepEqual(listed[0].files, ['src/a.ts', 'src/b.ts']);
    const shown = json<{ title: string; payload: unknown; errors: unknown[] }>(['show', id, '--json']);
    assert.equal(shown.title, 'Fix the parser');
    assert.deepEqual(shown.payload, { line: 3 });
    const stats = json<Record<string, unknown>>(['stats', '--json']);
    for (const key of ['pending', 'running', 'done', 'dead', 'cancelled', 'quarantined']) assert.equal(typeof stats[key], 'number', key);
    assert.equal(stats.pending, 1);
  });

  it('claim, heartbeat, complete and fail by id and token; exit 3 when nothing is claimable; exit 4 on a lost lease', () => {
    const claimed = json<{ id: string; claimedBy: string; token: string }>(['claim', '--agent', 'w1']);
    assert.equal(claimed.claimedBy, 'w1');
    assert.match(claimed.token, new RegExp(`^${claimed.id}~a1~w1~[0-9a-f]+\\.json$`));
    assert.equal(swarm(['claim', '--agent', 'w2']).code, 3);
    assert.equal(swarm(['heartbeat', claimed.id, '--token', claimed.token]).code, 0);
    const forged = claimed.token.replace('~w1~', '~w2~');
    const wrongToken = swarm(['complete', claimed.id, '--token', forged]);
    assert.equal(wrongToken.code, 4);
    assert.match(wrongToken.stderr, /Lease lost/);
    assert.equal(swarm(['complete', claimed.id, '--token', claimed.token, '--result', '{"fixed":true}']).code, 0);
    assert.deepEqual(json<{ result: unknown }>(['show', claimed.id, '--json']).result, { fixed: true });
    assert.equal(swarm(['complete', claimed.id, '--token', claimed.token]).code, 4, 'completing twice is refused');
    const second = swarm(['post', 'will fail', '--max-attempts', '1']).stdout.trim();
    const claim = json<{ token: string }>(['claim', '--agent', 'w1']);
    const failed = swarm(['fail', second, '--token', claim.token, '--error', 'compiler crashed']);
    assert.equal(failed.code, 0, failed.stderr);
    assert.match(failed.stdout, /dead-letter/);
  });

  it('dlq list and requeue', () => {
    const dead = json<{ id: string; errors: { message: string }[] }[]>(['dlq', 'list', '--json']);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].errors[0].message, 'compiler crashed');
    assert.equal(swarm(['dlq', 'requeue', '--all']).code, 0);
    assert.equal(json<unknown[]>(['dlq', 'list', '--json']).length, 0);
    assert.equal(json<{ status: string }>(['show', dead[0].id, '--json']).status, 'pending');
  });

  it('invalid input: one line on stderr, exit 2, nothing changed', () => {
    const before = fs.readdirSync(path.join(workspace, '.swarm', 'pending')).sort();
    const cases: [string[], RegExp, string?][] = [
      [['post'], /needs a title/],
      [['post', 'x', '--priority', 'high'], /whole number/],
      [['post', 'x', '--payload', '{bad'], /not valid JSON/],
      [['post', 'x', '--files', '../escape.ts'], /without "\.\."/],
      [['list', '--status', 'sleeping'], /status must be one of/],
      [['show', 'nope!'], /not a task id/],
      [['cancel', 'tdoesnotexist1'], /No task with id/],
      [['frobnicate'], /unknown command/],
      [['post', '--jsonl', '-'], /Line 2 .* not valid JSON/, '{"title":"ok"}\n{oops\n'],
      [['post', '--jsonl', '-'], /title/, '{"title":"ok"}\n{"prompt":"no title"}\n'],
    ];
    for (const [args, message, input] of cases) {
      const result = swarm(args, { input });
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}`);
    }
    assert.deepEqual(fs.readdirSync(path.join(workspace, '.swarm', 'pending')).sort(), before);
  });

  it('post --jsonl and map --jsonl; map progress in stats', () => {
    const posted = swarm(['post', '--jsonl', '-'], { input: '{"title":"a"}\n\n{"title":"b","priority":2}\n' });
    assert.equal(posted.stdout.trim().split('\n').length, 2);
    const map = swarm(['map', 'Fix all', '--jsonl', '-'], { input: '{"title":"f1","files":["x.ts"]}\n{"title":"f2","files":["y.ts"]}\n' });
    assert.equal(map.code, 0, map.stderr);
    const parentId = map.stdout.trim();
    const stats = json<{ parents: Record<string, { total: number; percent: number }> }>(['stats', '--json']);
    assert.equal(stats.parents[parentId].total, 2);
    assert.equal(stats.parents[parentId].percent, 0);
  });

  it('--board and SWARM_BOARD choose another board; log prints events', () => {
    const other = path.join(workspace, 'elsewhere');
    assert.equal(swarm(['--board', other, 'post', 'there']).code, 0);
    assert.equal(json<unknown[]>(['--board', other, 'list', '--json']).length, 1);
    const viaEnv = swarm(['list', '--json'], { env: { SWARM_BOARD: other } });
    assert.equal(JSON.parse(viaEnv.stdout).length, 1);
    const log = swarm(['--board', other, 'log', '--json']);
    assert.equal(JSON.parse(log.stdout.trim().split('\n')[0]).type, 'posted');
  });

  it('reclaim returns expired leases', () => {
    const board = path.join(workspace, 'leases');
    swarm(['--board', board, 'post', 'short lease']);
    json(['--board', board, 'claim', '--agent', 'gone', '--lease-ms', '100']);
    spawnSync('sleep', ['0.3']);
    const reclaimed = json<{ reclaimed: number }>(['--board', board, 'reclaim', '--json']);
    assert.equal(reclaimed.reclaimed, 1);
    assert.equal(json<{ attempts: number }>(['--board', board, 'claim', '--agent', 'next']).attempts, 2);
  });
});

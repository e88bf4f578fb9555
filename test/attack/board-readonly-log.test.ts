// A read-only events.jsonl (bind-mounted read-only, so even root cannot write it): every `swarm`
// command that changes the board still does, prints its real outcome, exits 0, and says on stderr
// which event could not be logged. Nothing prints a stack trace.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { removeDir, tempDir } from '../unit/board/helpers';
import { isMounted, mountReadOnly, requireRoot, unmount } from './helpers';

const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const cleanups: (() => void)[] = [];
after(() => cleanups.reverse().forEach((cleanup) => cleanup()));

function swarmIn(board: string) {
  return (args: string[], input?: string) => {
    const result = spawnSync(process.execPath, [cli, '--board', board, ...args], { input, encoding: 'utf8', env: { ...process.env, SWARM_BOARD: '' } });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
}

describe('attack: a read-only event log', () => {
  it('every board command does its work, exits 0 and warns once per missing event', { timeout: 120_000 }, () => {
    requireRoot();
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)');
    const dir = tempDir('swarm-rolog-');
    cleanups.push(() => removeDir(dir));
    const board = path.join(dir, '.swarm');
    const swarm = swarmIn(board);
    const ok = (args: string[], input?: string): string => {
      const result = swarm(args, input);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      return result.stdout;
    };
    // Seed while the log is writable.
    const deadChild = JSON.parse(ok(['map', 'doomed', '--jsonl', '-', '--json'], '{"title":"ok","priority":9}\n{"title":"dies","maxAttempts":1,"priority":9}\n')) as { id: string; childIds: string[] };
    ok(['complete', deadChild.childIds[0], '--token', (JSON.parse(ok(['claim', '--agent', 'seed'])) as { token: string }).token]);
    ok(['fail', deadChild.childIds[1], '--permanent', '--error', 'boom', '--token', (JSON.parse(ok(['claim', '--agent', 'seed'])) as { token: string }).token]);
    const log = path.join(board, 'events.jsonl');
    const logSize = fs.statSync(log).size;
    mountReadOnly(log);
    cleanups.push(() => isMounted(log) && unmount(log));

    const expectWarned = (args: string[], event: RegExp, input?: string): string => {
      const result = swarm(args, input);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`swarm: warning: .*${event.source}.* not written to events\\.jsonl: the file system is read-only \\(EROFS\\)`), args.join(' '));
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
      return result.stdout;
    };
    const id = expectWarned(['post', 'written anyway', '--priority', '5'], /'posted'/).trim();
    const batch = expectWarned(['post', '--jsonl', '-'], /'posted'/, '{"title":"b1"}\n{"title":"b2"}\n').trim().split('\n');
    assert.equal(batch.length, 2);
    const map = expectWarned(['map', 'm', '--jsonl', '-'], /'posted'/, '{"title":"c1"}\n').trim();
    const claim = JSON.parse(expectWarned(['claim', '--agent', 'w'], /'claimed'/)) as { id: string; token: string };
    assert.equal(claim.id, id);
    assert.match(ok(['heartbeat', id, '--token', claim.token]), /^\d{4}-/);
    const failed = expectWarned(['fail', id, '--token', claim.token, '--error', 'flaky'], /'failed', 'retry-scheduled'/);
    assert.match(failed, /failed: retry after/);
    const reclaimed = JSON.parse(expectWarned(['claim', '--agent', 'w', '--lease-ms', '100'], /'claimed'/)) as { id: string };
    spawnSync('sleep', ['0.3']);
    assert.match(expectWarned(['reclaim'], /'reclaimed'/), /reclaimed 1/);
    assert.equal((JSON.parse(ok(['show', reclaimed.id, '--json'])) as { status: string }).status, 'pending', 'the reclaim happened');
    // Not necessarily the reclaimed task: on a slow machine the failed one's retry may be due by now
    // (it has the higher priority), and either claim proves the point.
    const again = JSON.parse(expectWarned(['claim', '--agent', 'w'], /'claimed'/)) as { id: string; token: string };
    assert.ok([reclaimed.id, id].includes(again.id), again.id);
    assert.equal(expectWarned(['complete', again.id, '--token', again.token, '--result', '{"ok":true}'], /'completed'/).trim(), `${again.id} done`);
    assert.equal(expectWarned(['cancel', batch[0]], /'cancelled'/).trim(), `${batch[0]} cancelled`);
    expectWarned(['cancel', map], /'cancelled'/);
    assert.match(expectWarned(['dlq', 'requeue', deadChild.childIds[1]], /'requeued'/), /requeued 1 task/);
    for (const read of [['list', '--json'], ['show', id, '--json'], ['stats', '--json'], ['log', '--json'], ['dlq', 'list', '--json']]) ok(read);
    const shown = JSON.parse(ok(['show', again.id, '--json'])) as { status: string; result: unknown };
    assert.deepEqual([shown.status, shown.result], ['done', { ok: true }], 'the changes were made');
    assert.equal(fs.statSync(log).size, logSize, 'and the log really was read-only');
  });
});

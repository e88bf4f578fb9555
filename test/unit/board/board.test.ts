import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { BoardFormatError, BoardInputError, FileBoardEngine as FileBoard, LeaseLostError } from '../../../src/core/board';
import { makeBoard, removeDir, statesById, tempDir } from './helpers';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function setup(options: Parameters<typeof makeBoard>[0] = {}) {
  const made = makeBoard(options);
  cleanups.push(made.cleanup);
  return made;
}

describe('board: creation and format', () => {
  it('creates the layout with a versioned format marker', () => {
    const { root } = setup();
    const marker = JSON.parse(fs.readFileSync(path.join(root, 'board.json'), 'utf8'));
    assert.equal(marker.format, 'agent-swarm-board');
    assert.equal(marker.version, 2);
    for (const dir of ['pending', 'running', 'done', 'dead', 'cancelled', 'quarantine']) assert.ok(fs.statSync(path.join(root, dir)).isDirectory());
  });

  it('recreates missing folders of an existing board (git keeps no empty folders)', () => {
    const { root } = setup();
    for (const dir of ['tmp', 'pending', 'done']) fs.rmSync(path.join(root, dir), { recursive: true, force: true });
    const reopened = FileBoard.open({ root });
    try {
      const task = reopened.post({ title: 'after a checkout' });
      assert.equal(reopened.get(task.id)?.status, 'pending');
    } finally {
      reopened.close();
    }
  });

  it('marks a board of format 1 with format 2 when it opens (keeping its creation time), so builds of format 1 refuse it from then on', () => {
    const { root } = setup();
    fs.writeFileSync(path.join(root, 'board.json'), JSON.stringify({ format: 'agent-swarm-board', version: 1, createdAt: 1234 }));
    FileBoard.open({ root }).close();
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(root, 'board.json'), 'utf8')), { format: 'agent-swarm-board', version: 2, createdAt: 1234 });
  });

  it('refuses a board written by a newer format, with a message that says to update', () => {
    const { root } = setup();
    fs.writeFileSync(path.join(root, 'board.json'), JSON.stringify({ format: 'agent-swarm-board', version: 99 }));
    assert.throws(() => FileBoard.open({ root }), (error: Error) => error instanceof BoardFormatError && /newer.*Update Agent Swarm/.test(error.message));
  });

  it('adds the board to .git/info/exclude inside a repository, once', () => {
    const dir = tempDir();
    cleanups.push(() => removeDir(dir));
    execFileSync('git', ['init', '-q'], { cwd: dir });
    FileBoard.open({ root: path.join(dir, '.swarm') }).close();
    FileBoard.open({ root: path.join(dir, '.swarm') }).close();
    const exclude = fs.readFileSync(path.join(dir, '.git', 'info', 'exclude'), 'utf8');
    assert.equal(exclude.split('\n').filter((line) => line === '/.swarm/').length, 1);
    fs.writeFileSync(path.join(dir, 'file.txt'), 'x');
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: dir, encoding: 'utf8' });
    assert.equal(status.trim(), '?? file.txt');
  });
});

describe('board: posting and claim order', () => {
  it('claims highest priority first, then oldest', () => {
    const { board, clock } = setup();
    const low = board.post({ title: 'low', priority: -1 });
    clock.now += 10;
    const oldNormal = board.post({ title: 'normal old' });
    clock.now += 10;
    const high = board.post({ title: 'high', priority: 5 });
    clock.now += 10;
    const newNormal = board.post({ title: 'normal new' });
    const order = [1, 2, 3, 4].map(() => board.claim({ agent: 'a' })!.task.id);
    assert.deepEqual(order, [high.id, oldNormal.id, newNormal.id, low.id]);
    assert.equal(board.claim({ agent: 'a' }), undefined);
  });

  it('keeps tasks with a future notBefore waiting until their time', () => {
    const { board, clock } = setup();
    const later = board.post({ title: 'later', notBefore: clock.now + 5_000 });
    assert.equal(board.claim({ agent: 'a' }), undefined);
    assert.equal(board.get(later.id)!.status, 'pending');
    assert.equal(board.get(later.id)!.notBefore, clock.now + 5_000);
    clock.now += 5_001;
    assert.equal(board.claim({ agent: 'a' })!.task.id, later.id);
  });

  it('rejects invalid tasks with a clear error and writes nothing', () => {
    const { board } = setup();
    assert.throws(() => board.post({ title: '  ' }), (e: Error) => e instanceof BoardInputError && /title must not be empty/.test(e.message));
    assert.throws(() => board.post({ title: 'x', files: ['../outside.ts'] }), /without ".."/);
    assert.throws(() => board.post({ title: 'x', maxAttempts: 0 }), /maxAttempts/);
    assert.throws(() => board.postMany([{ title: 'ok' }, { title: '' }]), BoardInputError);
    assert.equal(board.list().length, 0);
  });

  it('stores every field and reads them back', () => {
    const { board } = setup();
    const task = board.post({ title: 'Fix', type: 'fix', prompt: 'do it', files: ['./src/a.ts', 'src/a.ts'], priority: 3, payload: { line: 4 }, maxAttempts: 5 });
    const read = board.get(task.id)!;
    assert.deepEqual(
      { title: read.title, type: read.type, prompt: read.prompt, files: read.files, priority: read.priority, payload: read.payload, maxAttempts: read.maxAttempts, status: read.status, attempts: read.attempts },
      { title: 'Fix', type: 'fix', prompt: 'do it', files: ['src/a.ts'], priority: 3, payload: { line: 4 }, maxAttempts: 5, status: 'pending', attempts: 0 },
    );
  });
});

describe('board: leases', () => {
  it('records the holder and lease expiry, and heartbeats extend it', () => {
    const { board, clock } = setup();
    board.post({ title: 't' });
    const claim = board.claim({ agent: 'agent-1', leaseMs: 1_000 })!;
    assert.equal(claim.task.claimedBy, 'agent-1');
    assert.equal(claim.leaseExpiresAt, clock.now + 1_000);
    clock.now += 900;
    assert.equal(board.heartbeat(claim, 1_000), clock.now + 1_000);
    assert.equal(board.get(claim.task.id)!.leaseExpiresAt, clock.now + 1_000);
  });

  it('reclaims an expired lease only on the second observation, then the old holder is fenced', () => {
    const { board, clock } = setup();
    const task = board.post({ title: 't' });
    const first = board.claim({ agent: 'crashed', leaseMs: 1_000 })!;
    clock.now += 1_500;
    assert.equal(board.sweep(), 0, 'one look is not enough');
    assert.equal(board.get(task.id)!.status, 'running');
    clock.now += 100;
    assert.equal(board.sweep(), 1);
    const second = board.claim({ agent: 'rescuer' })!;
    assert.equal(second.task.id, task.id);
    assert.equal(second.task.attempts, 2);
    assert.throws(() => board.complete(first, { late: true }), (e: Error) => e instanceof LeaseLostError && /rescuer now holds/.test(e.message));
    assert.throws(() => board.heartbeat(first), LeaseLostError);
    board.complete(second, { ok: true });
    const done = board.get(task.id)!;
    assert.equal(done.status, 'done');
    assert.deepEqual(done.result, { ok: true });
    assert.equal(board.errors(task.id)[0].kind, 'lease-expired');
    const completions = board.events.read().events.filter((event) => event.type === 'completed');
    assert.equal(completions.length, 1, 'the late result is not counted');
  });

  it('does not reclaim a lease that was renewed between observations', () => {
    const { board, clock } = setup();
    board.post({ title: 't' });
    const claim = board.claim({ agent: 'slow', leaseMs: 1_000 })!;
    clock.now += 1_200;
    board.sweep();
    board.heartbeat(claim, 1_000);
    clock.now += 100;
    assert.equal(board.sweep(), 0);
    board.complete(claim);
  });

  it('sends a task whose lease keeps expiring to the dead-letter queue after maxAttempts', () => {
    const { board, clock } = setup();
    const task = board.post({ title: 'poison', maxAttempts: 2 });
    for (let attempt = 1; attempt <= 2; attempt++) {
      assert.ok(board.claim({ agent: 'a', leaseMs: 100 }));
      clock.now += 200;
      board.sweep();
      clock.now += 10;
      board.sweep();
    }
    assert.equal(board.get(task.id)!.status, 'dead');
    assert.equal(board.errors(task.id).length, 2);
  });
});

describe('board: failure, retry and the dead-letter queue', () => {
  it('retries transient failures with exponential backoff and jitter bounds', () => {
    let random = 0;
    const { board, clock } = setup({ retry: { baseMs: 1_000, multiplier: 2, capMs: 5_000, jitter: 0.5 }, random: () => random });
    for (const [attempt, full] of [[1, 1_000], [2, 2_000], [3, 4_000], [4, 5_000], [9, 5_000]]) {
      random = 0;
      assert.equal(board.backoffDelay(attempt), full, `upper bound at attempt ${attempt}`);
      random = 0.999999;
      assert.ok(board.backoffDelay(attempt) >= full * 0.5, `lower bound at attempt ${attempt}`);
    }
    random = 0;
    const task = board.post({ title: 'flaky', maxAttempts: 3 });
    const claim = board.claim({ agent: 'a' })!;
    const failed = board.fail(claim, 'connection reset');
    assert.equal(failed.status, 'pending');
    assert.equal(failed.notBefore, clock.now + 1_000);
    clock.now += 999;
    assert.equal(board.claim({ agent: 'a' }), undefined, 'not promoted early');
    clock.now += 2;
    board.promoteDelayed();
    const retry = board.claim({ agent: 'a' })!;
    assert.equal(retry.task.id, task.id);
    assert.equal(retry.task.attempts, 2);
  });

  it('dead-letters after maxAttempts and at once for permanent errors, with the history', () => {
    const { board, clock } = setup({ retry: { baseMs: 10, capMs: 10, multiplier: 1, jitter: 0 } });
    const flaky = board.post({ title: 'flaky', maxAttempts: 2 });
    board.fail(board.claim({ agent: 'a' })!, 'first');
    clock.now += 20;
    board.fail(board.claim({ agent: 'a' })!, 'second');
    assert.equal(board.get(flaky.id)!.status, 'dead');
    assert.deepEqual(board.errors(flaky.id).map((e) => e.message), ['first', 'second']);
    const broken = board.post({ title: 'broken', maxAttempts: 5 });
    const dead = board.fail(board.claim({ agent: 'a' })!, 'bad configuration', { permanent: true });
    assert.equal(dead.status, 'dead');
    assert.equal(board.get(broken.id)!.lastError!.message, 'bad configuration');
    assert.equal(board.stats().counts.dead, 2);
  });

  it('requeues dead tasks with a fresh budget and keeps their errors', () => {
    const { board } = setup();
    const task = board.post({ title: 't', maxAttempts: 1 });
    board.fail(board.claim({ agent: 'a' })!, 'boom');
    assert.throws(() => board.requeue(board.post({ title: 'other' }).id), /only dead tasks/);
    board.requeue(task.id);
    const claim = board.claim({ agent: 'a' })!;
    assert.equal(claim.task.id, task.id);
    assert.equal(claim.task.attempts, 1);
    assert.equal(board.errors(task.id).length, 1);
  });

  it('honours a retryAt later than the backoff (rate-limit reset)', () => {
    const { board, clock } = setup();
    board.post({ title: 't' });
    const failed = board.fail(board.claim({ agent: 'a' })!, '429', { retryAt: clock.now + 60_000 });
    assert.equal(failed.notBefore, clock.now + 60_000);
  });
});

describe('board: cancel', () => {
  it('cancels pending and running tasks; the holder loses its lease', () => {
    const { board } = setup();
    const queued = board.post({ title: 'queued' });
    const running = board.post({ title: 'running', priority: 1 });
    const claim = board.claim({ agent: 'a' })!;
    assert.equal(claim.task.id, running.id);
    board.cancel(running.id);
    board.cancel(queued.id);
    assert.throws(() => board.heartbeat(claim), (e: Error) => e instanceof LeaseLostError && /cancelled/.test(e.message));
    assert.throws(() => board.complete(claim), LeaseLostError);
    assert.equal(board.stats().counts.cancelled, 2);
    assert.throws(() => board.cancel(queued.id), /already ended/);
  });
});

describe('board: map tasks', () => {
  it('reports progress and completes the parent once every child ended', () => {
    const { board } = setup();
    const { parent, children } = board.map({ title: 'fix all' }, [{ title: 'a' }, { title: 'b' }, { title: 'c', maxAttempts: 1 }]);
    assert.equal(children.length, 3);
    assert.equal(board.get(parent.id)!.status, 'waiting');
    const first = board.claim({ agent: 'x' })!;
    assert.deepEqual(board.progress(parent.id), { total: 3, done: 0, dead: 0, cancelled: 0, running: 1, pending: 2, percent: 0 });
    board.complete(first);
    board.complete(board.claim({ agent: 'x' })!);
    assert.equal(board.progress(parent.id).percent, 66.7);
    board.fail(board.claim({ agent: 'x' })!, 'nope');
    const ended = board.get(parent.id)!;
    assert.equal(ended.status, 'dead', 'a map with a dead child did not succeed');
    assert.match(ended.lastError!.message, /1 of 3 children died/);
    const completions = board.events.read().events.filter((e) => e.type === 'parent-completed');
    assert.equal(completions.length, 1);
    assert.deepEqual(completions[0].detail, { outcome: 'dead', done: 2, dead: 1, cancelled: 0, total: 3 });
  });

  it('accepts extra children with --parent while the parent waits, and refuses afterwards', () => {
    const { board } = setup();
    const { parent } = board.map({ title: 'p' }, [{ title: 'a' }]);
    board.post({ title: 'extra', parentId: parent.id });
    assert.equal(board.progress(parent.id).total, 2);
    board.complete(board.claim({ agent: 'x' })!);
    assert.equal(board.get(parent.id)!.status, 'waiting');
    board.complete(board.claim({ agent: 'x' })!);
    assert.equal(board.get(parent.id)!.status, 'done');
    assert.throws(() => board.post({ title: 'late', parentId: parent.id }), /still waiting/);
  });

  it('cancelling a map parent cancels its children', () => {
    const { board } = setup();
    const { parent } = board.map({ title: 'p' }, [{ title: 'a' }, { title: 'b' }]);
    board.cancel(parent.id);
    assert.equal(board.stats().counts.cancelled, 3);
  });
});

describe('board: file-scope leases', () => {
  it('never runs two tasks with overlapping files at once, and records the wait', () => {
    const { board } = setup();
    const first = board.post({ title: 'first', files: ['src/a.ts', 'src/b.ts'], priority: 2 });
    const overlapping = board.post({ title: 'overlaps', files: ['src/b.ts'], priority: 1 });
    const independent = board.post({ title: 'independent', files: ['src/c.ts'] });
    const claimFirst = board.claim({ agent: 'a' })!;
    assert.equal(claimFirst.task.id, first.id);
    assert.equal(board.claim({ agent: 'b' })!.task.id, independent.id, 'the overlapping task is skipped');
    assert.equal(board.claim({ agent: 'c' }), undefined);
    const conflicts = board.events.read().events.filter((e) => e.type === 'conflict');
    assert.equal(conflicts.length, 1);
    assert.equal(conflicts[0].taskId, overlapping.id);
    assert.equal(conflicts[0].detail!.waitingFor, first.id);
    assert.equal(board.get(overlapping.id)!.status, 'pending');
    board.complete(claimFirst);
    assert.equal(board.claim({ agent: 'c' })!.task.id, overlapping.id);
  });

  it('a task blocked by a file lease costs no rename (and wakes no watcher) until its blocker ends', async () => {
    const { board, root, clock } = setup();
    const other = FileBoard.open({ root, now: () => clock.now, random: () => 0.5, durable: false });
    cleanups.push(() => other.close());
    const first = board.post({ title: 'first', files: ['src/a.ts'], priority: 2 });
    const blocked = board.post({ title: 'blocked', files: ['src/a.ts'], priority: 1 });
    const holder = board.claim({ agent: 'a' })!;
    assert.equal(holder.task.id, first.id);
    // Each engine (one per agent process) pays one try to learn what blocks the task.
    assert.equal(board.claim({ agent: 'b' }), undefined);
    assert.equal(other.claim({ agent: 'c' }), undefined);

    const seen: string[] = [];
    const watcher = fs.watch(path.join(root, 'pending'), (_event, name) => seen.push(String(name)));
    cleanups.push(() => watcher.close());
    for (let i = 0; i < 40; i++) {
      assert.equal(board.claim({ agent: 'b' }), undefined);
      assert.equal(other.claim({ agent: 'c' }), undefined);
    }
    // inotify reports events in order: once the sentinel's post shows up, every earlier rename has.
    const sentinel = board.post({ title: 'sentinel', files: ['src/a.ts'] });
    await waitFor(() => seen.some((name) => name.includes(sentinel.id)), 'the sentinel post to reach the watcher');
    const churn = seen.slice(0, seen.findIndex((name) => name.includes(sentinel.id)));
    assert.deepEqual(churn, [], '80 claims of a blocked task renamed it back and forth');

    board.complete(holder);
    assert.equal(other.claim({ agent: 'c' })!.task.id, blocked.id, 'the blocker ended: the task is claimable at once');
  });

  it('a task blocked by a holder that crashed becomes claimable once the holder is reclaimed', () => {
    const { board, clock } = setup();
    board.post({ title: 'crashes', files: ['x.ts'], priority: 2 });
    const blocked = board.post({ title: 'blocked', files: ['x.ts'], priority: 1 });
    board.claim({ agent: 'a', leaseMs: 100 });
    assert.equal(board.claim({ agent: 'b' }), undefined);
    clock.now += 200;
    board.reclaimExpired(0);
    const next = board.claim({ agent: 'b' })!;
    assert.ok(next, 'the reclaimed holder no longer blocks');
    assert.ok([blocked.id, board.list({ status: 'running' })[0].id].includes(next.task.id));
  });

  it("another engine's memory of the blocker never outlives it: cancelled, released or reclaimed elsewhere, the task is claimable at once", () => {
    const { board, root, clock } = setup();
    const other = FileBoard.open({ root, now: () => clock.now, random: () => 0.5, durable: false });
    cleanups.push(() => other.close());
    for (const end of ['cancel', 'release', 'reclaim'] as const) {
      const holder = board.post({ title: `holder ${end}`, files: ['x.ts'], priority: 2 });
      const blocked = board.post({ title: `blocked ${end}`, files: ['x.ts'], priority: 1 });
      const claim = board.claim({ agent: 'a', leaseMs: 100 })!;
      assert.equal(claim.task.id, holder.id);
      assert.equal(other.claim({ agent: 'b' }), undefined, 'blocked: the other engine remembers the holder');
      assert.equal(other.claim({ agent: 'b' }), undefined);
      if (end === 'cancel') board.cancel(holder.id);
      else if (end === 'release') board.release(claim);
      else {
        clock.now += 200; // the holder's process died (kill -9): its lease runs out
        board.reclaimExpired(0);
      }
      const next = other.claim({ agent: 'b' });
      assert.ok(next, `after ${end}, a task is claimable`);
      if (end === 'cancel') assert.equal(next.task.id, blocked.id);
      const again = next.task.id === blocked.id ? undefined : other.claim({ agent: 'b' });
      assert.equal(again, undefined, 'never two overlapping tasks at once');
      for (const task of [...board.list({ status: 'running' }), ...board.list({ status: 'pending' })]) board.cancel(task.id);
    }
  });

  it('ignores the lease entries of a holder whose claim is gone', () => {
    const { board, clock } = setup();
    board.post({ title: 'crashes', files: ['x.ts'] });
    board.claim({ agent: 'a', leaseMs: 100 });
    clock.now += 200;
    board.sweep();
    clock.now += 10;
    board.sweep();
    board.cancel(board.list({ status: 'pending' })[0].id);
    const next = board.post({ title: 'next', files: ['x.ts'] });
    assert.equal(board.claim({ agent: 'b' })!.task.id, next.id);
  });
});

describe('board: quarantine of bad files', () => {
  function plant(root: string, dir: string, name: string, content: string | null): void {
    const file = path.join(root, dir, name);
    if (content === null) fs.mkdirSync(file);
    else fs.writeFileSync(file, content);
  }

  it('quarantines truncated, empty, non-JSON, future-schema, foreign and non-regular files, and keeps working', () => {
    const { board, root } = setup();
    const good = board.post({ title: 'good' });
    const body = JSON.stringify({ v: 1, id: 'tbad0001', title: 'x', type: 'task', prompt: '', files: [], priority: 0, payload: null, maxAttempts: 3, createdAt: 1 });
    plant(root, 'pending', '09999~00000000000001~tbad0001~a0.json', body.slice(0, 20));
    plant(root, 'pending', '09999~00000000000001~tbad0002~a0.json', '');
    plant(root, 'pending', '09999~00000000000001~tbad0003~a0.json', 'not json');
    plant(root, 'pending', '09999~00000000000001~tbad0004~a0.json', body.replace('"v":1', '"v":7').replace('tbad0001', 'tbad0004'));
    plant(root, 'pending', 'notes.txt', 'hello');
    plant(root, 'pending', '09999~00000000000001~tbad0005~a0.json', null);
    fs.symlinkSync('/etc/hostname', path.join(root, 'done', 'tbad0006~a1~0011aabb.json'));
    const listed = board.list();
    assert.deepEqual(listed.map((task) => task.id), [good.id]);
    const quarantined = board.quarantined();
    assert.equal(quarantined.length, 7);
    const reasons = quarantined.map((entry) => entry.reason).join('\n');
    for (const expected of ['empty', 'not valid JSON', 'newer than this Agent Swarm', 'not a task name', 'a directory', 'a symbolic link']) {
      assert.match(reasons, new RegExp(expected));
    }
    assert.equal(board.stats().quarantined, 7);
    assert.equal(board.claim({ agent: 'a' })!.task.id, good.id);
    assert.equal(board.events.read().events.filter((e) => e.type === 'quarantined').length, 7, 'each logged once');
    board.list();
    assert.equal(board.events.read().events.filter((e) => e.type === 'quarantined').length, 7);
  });

  it('a claimer skips a corrupt pending file and claims the next task', () => {
    const { board, root } = setup();
    fs.writeFileSync(path.join(root, 'pending', '00000~00000000000001~tcorrupt01~a0.json'), '{"v":1,');
    const good = board.post({ title: 'good' });
    assert.equal(board.claim({ agent: 'a' })!.task.id, good.id);
    assert.equal(board.stats().quarantined, 1);
  });
});

describe('board: events and watch', () => {
  it('logs every state change and skips a torn line', () => {
    const { board, root } = setup();
    const task = board.post({ title: 't' });
    board.complete(board.claim({ agent: 'a' })!);
    fs.appendFileSync(path.join(root, 'events.jsonl'), '{"at":1,"type":"po');
    board.cancel(board.post({ title: 'u' }).id);
    const types = board.events.read().events.map((event) => `${event.type}:${event.taskId === task.id ? 't' : 'u'}`);
    assert.deepEqual(types, ['posted:t', 'claimed:t', 'completed:t', 'posted:u', 'cancelled:u']);
  });

  it('watch() reports changes made by another process', async () => {
    const { board, root } = setup({ now: Date.now });
    let changes = 0;
    const watcher = board.watch(() => changes++, { debounceMs: 20, pollMs: 200 });
    try {
      const other = FileBoard.open({ root });
      other.post({ title: 'from elsewhere' });
      other.close();
      const deadline = Date.now() + 5_000;
      while (changes === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(changes > 0);
    } finally {
      watcher.dispose();
    }
  });
});

describe('board: consistency', () => {
  it('keeps every task in exactly one state through a mixed workload', () => {
    const { board, root, clock } = setup({ retry: { baseMs: 5, capMs: 5, multiplier: 1, jitter: 0 } });
    board.postMany(Array.from({ length: 50 }, (_, i) => ({ title: `t${i}`, maxAttempts: 2, files: [`f${i % 7}`] })));
    for (let round = 0; round < 200; round++) {
      const claim = board.claim({ agent: `a${round % 3}`, leaseMs: 50 });
      clock.now += 3;
      if (!claim) continue;
      if (round % 5 === 0) board.fail(claim, 'flaky');
      else if (round % 11 === 0) continue; // abandoned: the lease will expire
      else board.complete(claim, { round });
    }
    for (const [id, states] of statesById(root)) assert.equal(states.length, 1, `${id} is in ${states.join(', ')}`);
    assert.equal(statesById(root).size, 50);
  });
});

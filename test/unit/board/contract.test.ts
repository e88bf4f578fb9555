// The board's contract where adversarial testing found it broken: typed lease loss, the truth of
// map states, repair where work happens, input limits, task file paths, and side effects that
// fail after a change was made.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { BoardInputError, FileBoard, LeaseLostError, MAX_LEASE_MS, MAX_TIME_MS, Task } from '../../../src/core/board';
import { makeBoard, statesById } from './helpers';

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
});

function setup(options: Parameters<typeof makeBoard>[0] = {}) {
  const made = makeBoard(options);
  cleanups.push(made.cleanup);
  return made;
}

function lossOf(action: () => unknown): LeaseLostError {
  try {
    action();
  } catch (error) {
    if (error instanceof LeaseLostError) return error;
    throw error;
  }
  assert.fail('expected a LeaseLostError');
}

describe('board: lease loss has a typed cause', () => {
  it('cancelled, reclaimed, ended and missing are told apart without reading the message', () => {
    const { board, root, clock } = setup();
    board.post({ title: 'cancel me' });
    const cancelled = board.claim({ agent: 'a' })!;
    board.cancel(cancelled.task.id);
    assert.equal(lossOf(() => board.heartbeat(cancelled)).cause, 'cancelled');

    board.post({ title: 'reclaim me' });
    const expired = board.claim({ agent: 'a', leaseMs: 100 })!;
    clock.now += 200;
    board.sweep();
    clock.now += 10;
    board.sweep();
    const pendingAgain = lossOf(() => board.complete(expired, { late: true }));
    assert.equal(pendingAgain.cause, 'reclaimed');
    assert.equal(pendingAgain.taskId, expired.task.id);
    const rescuer = board.claim({ agent: 'a' })!; // the same agent name, a later attempt
    assert.equal(lossOf(() => board.complete(expired)).cause, 'reclaimed');
    board.complete(rescuer, { ok: true });
    assert.equal(lossOf(() => board.complete(expired)).cause, 'reclaimed', 'the task ended by another claim after ours expired');
    assert.equal(lossOf(() => board.complete(rescuer)).cause, 'ended', 'completing twice');

    board.post({ title: 'vanishes' });
    const vanished = board.claim({ agent: 'a' })!;
    fs.rmSync(path.join(root, 'running', vanished.token));
    assert.equal(lossOf(() => board.heartbeat(vanished)).cause, 'missing');
  });
});

describe('board: map states tell the truth', () => {
  it('a map whose children all died ends dead, not done; requeueing it requeues its dead children', () => {
    const { board } = setup();
    const { parent } = board.map({ title: 'all die' }, [{ title: 'a', maxAttempts: 1 }, { title: 'b', maxAttempts: 1 }]);
    board.fail(board.claim({ agent: 'x' })!, 'broken');
    board.fail(board.claim({ agent: 'x' })!, 'broken');
    assert.equal(board.get(parent.id)!.status, 'dead');
    assert.equal(board.progress(parent.id).percent, 100, 'both children ran to an end');
    const requeued = board.requeueAll();
    assert.equal(requeued.length, 2, 'the two children, once each');
    assert.equal(board.get(parent.id)!.status, 'waiting', 'the map is open again');
    board.complete(board.claim({ agent: 'x' })!);
    board.complete(board.claim({ agent: 'x' })!);
    const done = board.get(parent.id)!;
    assert.equal(done.status, 'done');
    assert.deepEqual(done.result, { done: 2, dead: 0, cancelled: 0, total: 2 }, 'the summary is recomputed');
  });

  it('requeueing a dead child of an ended map reopens the map, and its summary is recomputed when it ends again', () => {
    const { board } = setup();
    const { parent, children } = board.map({ title: 'p' }, [{ title: 'ok' }, { title: 'flaky', maxAttempts: 1 }]);
    board.complete(board.claim({ agent: 'x' })!);
    board.fail(board.claim({ agent: 'x' })!, 'first try failed');
    assert.equal(board.get(parent.id)!.status, 'dead');
    board.requeue(children[1].id);
    assert.equal(board.get(parent.id)!.status, 'waiting');
    assert.deepEqual(board.progress(parent.id), { total: 2, done: 1, dead: 0, cancelled: 0, running: 0, pending: 1, percent: 50 });
    board.complete(board.claim({ agent: 'x' })!);
    const ended = board.get(parent.id)!;
    assert.equal(ended.status, 'done');
    assert.deepEqual(ended.result, { done: 2, dead: 0, cancelled: 0, total: 2 });
    const types = board.events.read().events.filter((event) => event.taskId === parent.id).map((event) => event.type);
    assert.deepEqual(types, ['posted', 'parent-completed', 'reopened', 'parent-completed']);
  });

  it('a cancelled map ends cancelled and does not read 100 %; a map whose children were all cancelled ends cancelled', () => {
    const { board } = setup();
    const { parent } = board.map({ title: 'p' }, [{ title: 'a' }, { title: 'b' }, { title: 'c' }]);
    board.complete(board.claim({ agent: 'x' })!);
    board.cancel(parent.id);
    assert.equal(board.get(parent.id)!.status, 'cancelled');
    const progress = board.progress(parent.id);
    assert.deepEqual([progress.done, progress.cancelled, progress.percent], [1, 2, 33.3]);

    const { parent: second, children } = board.map({ title: 'q' }, [{ title: 'a' }, { title: 'b' }]);
    for (const child of children) board.cancel(child.id);
    assert.equal(board.get(second.id)!.status, 'cancelled');
    assert.equal(board.progress(second.id).percent, 0);
  });

  it('cancelling a map also cancels the children added to it later, and refuses new ones', () => {
    const { board, root } = setup();
    const { parent } = board.map({ title: 'p' }, [{ title: 'own' }]);
    const added = board.post({ title: 'added', parentId: parent.id });
    board.cancel(parent.id);
    assert.equal(board.get(added.id)!.status, 'cancelled');
    assert.deepEqual(fs.readdirSync(path.join(root, 'cancelling')), [], 'the cancel finished');
    assert.throws(() => board.post({ title: 'late', parentId: parent.id }), /cancelled/);
    assert.throws(() => board.requeue(added.id), /only dead tasks/);
  });

  it('a dead child of a cancelled map cannot be requeued into a map that no longer runs', () => {
    const { board } = setup();
    const { parent, children } = board.map({ title: 'p' }, [{ title: 'dies', maxAttempts: 1 }, { title: 'waits' }]);
    board.fail(board.claim({ agent: 'x' })!, 'boom');
    board.cancel(parent.id);
    assert.throws(() => board.requeue(children[0].id), (error: Error) => error instanceof BoardInputError && /was cancelled; post the task again/.test(error.message));
    assert.equal(board.get(children[0].id)!.status, 'dead', 'nothing changed');
  });
});

describe('board: repair runs where work happens', () => {
  function stickParent(board: FileBoard, root: string): string {
    // What a crash between a child's end and its marker leaves: the child done, no marker, the
    // parent waiting (the crash itself is reproduced with SWARM_FAULT in processes.test.ts).
    const { parent } = board.map({ title: 'p' }, [{ title: 'only child' }]);
    board.complete(board.claim({ agent: 'x' })!);
    const doneName = fs.readdirSync(path.join(root, 'done')).find((name) => name.startsWith(`${parent.id}~`))!;
    fs.renameSync(path.join(root, 'done', doneName), path.join(root, 'waiting', `${parent.id}~a0.json`));
    fs.rmSync(path.join(root, 'children', parent.id), { recursive: true });
    return parent.id;
  }

  it('sweep() (what a pool calls every second) completes a map parent stuck in waiting, throttled', () => {
    const { board, root, clock } = setup({ repairIntervalMs: 5_000 });
    board.sweep(); // the first sweep repairs at once; the next one only after the interval
    const parentId = stickParent(board, root);
    assert.equal(board.sweep(), 0);
    assert.equal(board.get(parentId)!.status, 'waiting', 'not repaired again within the interval');
    clock.now += 5_000;
    board.sweep();
    assert.equal(board.get(parentId)!.status, 'done');
  });

  it('claim() repairs it too (its maintenance sweeps)', () => {
    const { board, root, clock } = setup({ repairIntervalMs: 5_000, sweepIntervalMs: 1_000 });
    board.sweep();
    const parentId = stickParent(board, root);
    clock.now += 5_000;
    assert.equal(board.claim({ agent: 'x' }), undefined);
    assert.equal(board.get(parentId)!.status, 'done');
  });
});

describe('board: every time and number at its limits', () => {
  it('notBefore: 0 and the largest time round-trip through the file name; larger, negative, fractional and non-numbers are refused', () => {
    const { board, root, clock } = setup();
    const zero = board.post({ title: 'zero', notBefore: 0 });
    assert.equal(board.get(zero.id)!.status, 'pending');
    const latest = board.post({ title: 'latest', notBefore: MAX_TIME_MS });
    const read = board.get(latest.id)!;
    assert.equal(read.notBefore, MAX_TIME_MS, 'the id printed still names the task, with its time');
    assert.equal(board.stats().quarantined, 0);
    for (const bad of [MAX_TIME_MS + 1, 253402214400000, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e300]) {
      assert.throws(() => board.post({ title: 'bad', notBefore: bad }), BoardInputError, String(bad));
    }
    clock.now = MAX_TIME_MS - 1;
    board.promoteDelayed();
    assert.notEqual(board.claim({ agent: 'a' })?.task.id, latest.id);
    clock.now = MAX_TIME_MS;
    board.promoteDelayed();
    const ids = [board.claim({ agent: 'a' })?.task.id, board.claim({ agent: 'a' })?.task.id];
    assert.ok(ids.includes(latest.id), 'claimable at its time');
    for (const [id, states] of statesById(root)) assert.equal(states.length, 1, id);
  });

  it('priority, maxAttempts and lease lengths: the limits pass, one past them and fractions are refused', () => {
    const { board } = setup();
    for (const priority of [-9999, 0, 9999]) board.post({ title: `p${priority}`, priority });
    for (const priority of [-10000, 10000, 0.5, Number.NaN]) assert.throws(() => board.post({ title: 'x', priority }), BoardInputError, String(priority));
    for (const maxAttempts of [1, 100]) board.post({ title: `m${maxAttempts}`, maxAttempts });
    for (const maxAttempts of [0, 101, 2.5, -1]) assert.throws(() => board.post({ title: 'x', maxAttempts }), BoardInputError, String(maxAttempts));
    for (const leaseMs of [0, -1, 1.5, Number.NaN, MAX_LEASE_MS + 1]) {
      assert.throws(() => board.claim({ agent: 'a', leaseMs }), BoardInputError, String(leaseMs));
    }
    const claim = board.claim({ agent: 'a', leaseMs: MAX_LEASE_MS })!;
    assert.ok(claim);
    assert.throws(() => board.heartbeat(claim, MAX_LEASE_MS + 1), BoardInputError);
    assert.throws(() => board.fail(claim, 'x', { retryAt: Number.NaN }), BoardInputError);
    const failed = board.fail(claim, 'rate limited', { retryAt: Number.MAX_SAFE_INTEGER });
    assert.equal(failed.notBefore, MAX_TIME_MS, 'a retry time beyond the name format is capped, not garbled');
    assert.equal(board.get(claim.task.id)!.notBefore, MAX_TIME_MS);
  });
});

describe('board: task files stay inside the workspace', () => {
  it('refuses absolute paths, "..", anything in a .git folder (any case or trailing dot); keeps look-alikes that are fine', () => {
    const { board } = setup();
    const refused: [string, RegExp][] = [
      ['/etc/passwd', /absolute/],
      ['\\\\server\\share', /absolute/],
      ['C:\\Windows\\x', /absolute/],
      ['../outside.ts', /without "\.\."/],
      ['src/../../x', /without "\.\."/],
      ['.git/config', /\.git folder/],
      ['sub/.GIT/hooks/pre-commit', /\.git folder/],
      ['.git./config', /\.git folder/],
      ['.git', /\.git folder/],
      ['.', /workspace itself/],
      ['a\0b', /NUL/],
    ];
    for (const [file, message] of refused) {
      assert.throws(() => board.post({ title: 'x', files: [file] }), (error: Error) => error instanceof BoardInputError && message.test(error.message), file);
      assert.throws(() => board.map({ title: 'm' }, [{ title: 'c', files: [file] }]), BoardInputError, file);
    }
    const fine = board.post({ title: 'ok', files: ['.gitignore', '.github/workflows/ci.yml', 'x.git', 'src/a~b.ts'] });
    assert.deepEqual(board.get(fine.id)!.files, ['.gitignore', '.github/workflows/ci.yml', 'x.git', 'src/a~b.ts']);
    assert.equal(board.list().length, 1, 'nothing refused was written');
  });

  it('refuses unknown fields instead of dropping them', () => {
    const { board } = setup();
    assert.throws(() => board.post({ title: 'x', file: ['a.ts'] } as never), /unknown field "file"/);
    assert.equal(board.list().length, 0);
  });
});

describe('board: side effects that fail after the change was made', () => {
  it('with an event log that cannot be written, every operation still happens, says so in warnings, and throws nothing', () => {
    const warnings: string[] = [];
    const { board, root, clock } = setup({ onWarning: (warning) => warnings.push(warning), retry: { baseMs: 10, capMs: 10, jitter: 0 } });
    fs.mkdirSync(path.join(root, 'events.jsonl')); // writes to it fail with EISDIR
    const expectWarned = (task: { warnings?: string[] }, event: string): void => {
      assert.ok(task.warnings?.some((warning) => warning.includes(`'${event}'`) && /events\.jsonl/.test(warning)), `${event}: ${JSON.stringify(task.warnings)}`);
    };
    const posted = board.post({ title: 'a', maxAttempts: 2 });
    expectWarned(posted, 'posted');
    const claim = board.claim({ agent: 'w' })!;
    expectWarned(claim, 'claimed');
    const failed = board.fail(claim, 'flaky');
    expectWarned(failed, 'failed');
    clock.now += 20;
    board.promoteDelayed();
    const second = board.claim({ agent: 'w' })!;
    const done = board.complete(second, { ok: true });
    expectWarned(done, 'completed');
    assert.equal(board.get(posted.id)!.status, 'done');
    const other = board.post({ title: 'b', maxAttempts: 1 });
    expectWarned(board.cancel(other.id), 'cancelled');
    const third = board.post({ title: 'c', maxAttempts: 1 });
    const dead = board.fail(board.claim({ agent: 'w' })!, 'boom', { permanent: true });
    expectWarned(dead, 'dead');
    expectWarned(board.requeue(third.id), 'requeued');
    board.cancel(third.id);
    const { parent } = board.map({ title: 'm' }, [{ title: 'child' }]);
    expectWarned(parent, 'posted');
    const child = board.claim({ agent: 'w' })!;
    const childDone = board.complete(child);
    assert.ok(childDone.warnings?.some((warning) => warning.includes("'parent-completed'")));
    assert.equal(board.get(parent.id)!.status, 'done', 'the parent still completed');
    assert.ok(warnings.length >= 8, 'every warning also went to onWarning');
    assert.equal(fs.readdirSync(path.join(root, 'tmp')).length, 0);
  });

  it('posted events missing because the log was unwritable are written by a later repair, once', () => {
    const { board, root } = setup();
    fs.mkdirSync(path.join(root, 'events.jsonl'));
    const tasks = board.postMany([{ title: 'a' }, { title: 'b' }]);
    assert.equal(fs.readdirSync(path.join(root, 'batches')).length, 1, 'the record stays until the events are written');
    fs.rmdirSync(path.join(root, 'events.jsonl'));
    board.close();
    const reopened = FileBoard.open({ root, durable: false });
    cleanups.push(() => reopened.close());
    reopened.repairParents();
    reopened.repairParents();
    const posted = reopened.events.read().events.filter((event) => event.type === 'posted').map((event) => event.taskId).sort();
    assert.deepEqual(posted, tasks.map((task) => task.id).sort());
    assert.deepEqual(fs.readdirSync(path.join(root, 'batches')), []);
  });

  it('a batch whose commit record cannot be written throws and leaves nothing behind', () => {
    const { board, root } = setup();
    board.post({ title: 'before' });
    fs.rmdirSync(path.join(root, 'batches'));
    fs.writeFileSync(path.join(root, 'batches'), 'in the way');
    assert.throws(() => board.postMany([{ title: 'a' }, { title: 'b' }]), /ENOTDIR/);
    assert.throws(() => board.map({ title: 'm' }, [{ title: 'c' }]), /ENOTDIR/);
    assert.deepEqual(board.list().map((task: Task) => task.title), ['before']);
    assert.deepEqual(fs.readdirSync(path.join(root, 'tmp')), []);
  });
});

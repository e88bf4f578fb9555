// Disk full at every board write: each operation runs on a real tmpfs filled so that exactly k
// pages are free, for k = 0, 1, 2, ... until it runs clean. Every write the operation makes fails
// in one of these runs (tmp files, commit records, results, error files, lease entries, summaries,
// event lines). Whatever k: an operation that throws changed nothing; one that returns made its
// change, and any side effect it could not make is in its warnings; and once space is free again,
// the next process to open and sweep the board finds a consistent board.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { BoardEvent, FileBoard, Task } from '../../src/core/board';
import { statesById, tempDir, removeDir } from '../unit/board/helpers';
import { diffSnapshots, fillInodesLeaving, fillLeaving, isMounted, mountTmpfs, padToPage, requireRoot, snapshot, unmount } from './helpers';

const mounts: string[] = [];
const dirs: string[] = [];
after(() => {
  for (const mount of mounts) if (isMounted(mount)) unmount(mount);
  dirs.forEach(removeDir);
});

interface Context {
  board: FileBoard;
  ids: Record<string, string>;
  clock: { now: number };
}

interface DiskCase {
  name: string;
  /** Prepares the board while there is room. */
  seed(context: Context): void;
  /** The operation under test, on a full disk. */
  run(context: Context): unknown;
  /** What must be true when the operation returned. */
  changed(board: FileBoard, context: Context, result: unknown): void;
  /** Event types the operation logs when nothing fails. */
  events: BoardEvent['type'][];
}

const byTitle = (board: FileBoard, title: string): Task => board.list().find((task) => task.title === title)!;

const cases: DiskCase[] = [
  {
    name: 'post',
    seed: () => undefined,
    run: ({ board }) => board.post({ title: 'new', prompt: 'x'.repeat(100) }),
    changed: (board) => assert.equal(byTitle(board, 'new').status, 'pending'),
    events: ['posted'],
  },
  {
    name: 'post of a batch',
    seed: () => undefined,
    run: ({ board }) => board.postMany([0, 1, 2].map((i) => ({ title: `batch ${i}` }))),
    changed: (board) => assert.equal(board.list().filter((task) => task.title.startsWith('batch')).length, 3),
    events: ['posted'],
  },
  {
    name: 'map',
    seed: () => undefined,
    run: ({ board }) => board.map({ title: 'map' }, [0, 1, 2].map((i) => ({ title: `child ${i}` }))),
    changed: (board) => {
      assert.equal(byTitle(board, 'map').status, 'waiting');
      assert.equal(board.list().filter((task) => task.title.startsWith('child')).length, 3);
    },
    events: ['posted'],
  },
  {
    name: 'post of a child to a map',
    seed: ({ board, ids }) => void (ids.parent = board.map({ title: 'map' }, [{ title: 'own' }]).parent.id),
    run: ({ board, ids }) => board.post({ title: 'added', parentId: ids.parent }),
    changed: (board, { ids }) => assert.equal(board.progress(ids.parent).total, 2),
    events: ['posted'],
  },
  {
    name: 'claim (with file-scope leases)',
    seed: ({ board }) => void board.post({ title: 'files', files: ['a.ts', 'b.ts', 'c.ts'] }),
    run: ({ board }) => board.claim({ agent: 'w', leaseMs: 60_000 }),
    changed: (board) => assert.equal(byTitle(board, 'files').status, 'running'),
    events: ['claimed'],
  },
  {
    name: 'complete (the last child of a map, with a result)',
    seed: ({ board, ids }) => {
      board.map({ title: 'map' }, [{ title: 'first' }, { title: 'last', files: ['x.ts'] }]);
      board.complete(board.claim({ agent: 'w' })!, { first: true });
      ids.token = board.claim({ agent: 'w', leaseMs: 60_000 })!.token;
    },
    run: ({ board, ids }) => board.complete({ token: ids.token }, { answer: 'y'.repeat(5000) }),
    changed: (board) => {
      assert.equal(board.get(byTitle(board, 'last').id)!.status, 'done');
      assert.equal((board.get(byTitle(board, 'last').id)!.result as { answer: string }).answer.length, 5000);
    },
    events: ['completed', 'parent-completed'],
  },
  {
    name: 'fail (retry)',
    seed: ({ board, ids }) => {
      board.post({ title: 'flaky', maxAttempts: 3 });
      ids.token = board.claim({ agent: 'w', leaseMs: 60_000 })!.token;
    },
    run: ({ board, ids }) => board.fail({ token: ids.token }, 'e'.repeat(5000)),
    changed: (board) => assert.equal(board.errors(byTitle(board, 'flaky').id).length, 1),
    events: ['failed', 'retry-scheduled'],
  },
  {
    name: 'fail (to the dead-letter queue, the last child of a map)',
    seed: ({ board, ids }) => {
      board.map({ title: 'map' }, [{ title: 'ok' }, { title: 'dies', maxAttempts: 1 }]);
      board.complete(board.claim({ agent: 'w' })!);
      ids.token = board.claim({ agent: 'w', leaseMs: 60_000 })!.token;
    },
    run: ({ board, ids }) => board.fail({ token: ids.token }, 'fatal', { permanent: true }),
    changed: (board) => assert.equal(byTitle(board, 'dies').status, 'dead'),
    events: ['failed', 'dead', 'parent-completed'],
  },
  {
    name: 'release',
    seed: ({ board, ids }) => {
      board.post({ title: 'held', files: ['r.ts'] });
      ids.token = board.claim({ agent: 'w', leaseMs: 60_000 })!.token;
    },
    run: ({ board, ids }) => board.release({ token: ids.token }),
    changed: (board) => assert.equal(byTitle(board, 'held').status, 'pending'),
    events: ['requeued'],
  },
  {
    name: 'heartbeat',
    seed: ({ board, ids }) => {
      board.post({ title: 'held' });
      ids.token = board.claim({ agent: 'w', leaseMs: 60_000 })!.token;
    },
    run: ({ board, ids }) => board.heartbeat({ token: ids.token }, 120_000),
    changed: (board) => assert.equal(byTitle(board, 'held').status, 'running'),
    events: [],
  },
  {
    name: 'cancel',
    seed: ({ board, ids }) => void (ids.task = board.post({ title: 'cancel me' }).id),
    run: ({ board, ids }) => board.cancel(ids.task),
    changed: (board, { ids }) => assert.equal(board.get(ids.task)!.status, 'cancelled'),
    events: ['cancelled'],
  },
  {
    name: 'cancel of a map',
    seed: ({ board, ids }) => void (ids.parent = board.map({ title: 'map' }, [0, 1, 2].map((i) => ({ title: `child ${i}` }))).parent.id),
    run: ({ board, ids }) => board.cancel(ids.parent),
    changed: (board, { ids }) => assert.equal(board.get(ids.parent)!.status, 'cancelled'),
    events: ['cancelled'],
  },
  {
    name: 'requeue (a dead child reopens its dead map)',
    seed: ({ board, ids }) => {
      const { children } = board.map({ title: 'map' }, [{ title: 'ok' }, { title: 'dies', maxAttempts: 1 }]);
      board.complete(board.claim({ agent: 'w' })!);
      board.fail(board.claim({ agent: 'w' })!, 'fatal');
      ids.task = children[1].id;
    },
    run: ({ board, ids }) => board.requeue(ids.task),
    changed: (board, { ids }) => {
      assert.equal(board.get(ids.task)!.status, 'pending');
      assert.equal(byTitle(board, 'map').status, 'waiting');
    },
    events: ['reopened', 'requeued'],
  },
  {
    name: 'reclaim of an expired lease (sweep)',
    seed: ({ board, clock }) => {
      board.map({ title: 'map' }, [{ title: 'expires', maxAttempts: 1 }]);
      board.claim({ agent: 'gone', leaseMs: 100 });
      clock.now += 1_000;
    },
    run: ({ board, clock }) => {
      board.sweep(); // the first look at an expired lease only notes it
      clock.now += 10;
      return board.sweep();
    },
    changed: (board) => assert.equal(byTitle(board, 'expires').status, 'dead'),
    events: ['reclaimed', 'dead', 'parent-completed'],
  },
  {
    name: 'promotion of delayed tasks',
    seed: ({ board, clock }) => void board.postMany([0, 1].map((i) => ({ title: `later ${i}`, notBefore: clock.now + 1_000 }))),
    run: ({ board, clock }) => {
      clock.now += 2_000;
      return board.promoteDelayed();
    },
    changed: (board) => assert.equal(board.claim({ agent: 'w' })?.task.title.startsWith('later'), true),
    events: ['promoted'],
  },
  {
    name: 'quarantine of a corrupt file (while listing)',
    seed: ({ board }) => fs.writeFileSync(path.join(board.root, 'pending', '09999~00000000000001~tbadfile01~a0.json'), '{not json'),
    run: ({ board }) => board.list(),
    changed: (board) => assert.equal(board.stats().quarantined, 1),
    events: ['quarantined'],
  },
];

/** The board the next process finds, once space is free again: open, sweep, check. */
function checkRecovered(root: string, clock: { now: number }): void {
  const board = FileBoard.open({ root, now: () => clock.now });
  try {
    board.reclaimExpired(10);
    for (const [id, states] of statesById(root)) assert.equal(states.length, 1, `${id} is in ${states.join(', ')}`);
    for (const dir of ['tmp', 'batches']) assert.deepEqual(fs.readdirSync(path.join(root, dir)), [], `${dir}/ is empty`);
    const posted = new Map<string, number>();
    for (const event of board.events.read().events) if (event.type === 'posted' && event.taskId) posted.set(event.taskId, (posted.get(event.taskId) ?? 0) + 1);
    for (const task of board.list()) {
      assert.equal(posted.get(task.id), 1, `${task.title} has exactly one posted event`);
      if (task.status === 'waiting') {
        const progress = board.progress(task.id);
        assert.ok(progress.done + progress.dead + progress.cancelled < progress.total, `${task.title} does not wait for ended children`);
      }
    }
  } finally {
    board.close();
  }
}

function runAtEveryLimit(testCase: DiskCase, limit: 'pages' | 'inodes'): string[] {
  const outcomes: string[] = [];
  for (let free = 0; free <= 16; free++) {
    const mount = tempDir('swarm-full-');
    dirs.push(mount);
    if (limit === 'pages') mountTmpfs(mount, 512);
    else mountTmpfs(mount, 4096, 400);
    mounts.push(mount);
    try {
      const root = path.join(mount, '.swarm');
      const clock = { now: 1_700_000_000_000 };
      const seeded = FileBoard.open({ root, now: () => clock.now, excludeFromGit: false });
      const ids: Record<string, string> = {};
      testCase.seed({ board: seeded, ids, clock });
      seeded.close();
      padToPage(path.join(root, 'events.jsonl'));
      const filler = path.join(mount, 'filler');
      if (limit === 'pages') fillLeaving(filler, free);
      else fillInodesLeaving(filler, free);
      const before = snapshot(root);
      const eventsBefore = fs.statSync(path.join(root, 'events.jsonl')).size;
      const warnings: string[] = [];
      const board = FileBoard.open({ root, now: () => clock.now, excludeFromGit: false, onWarning: (warning) => warnings.push(warning) });
      let result: unknown;
      let thrown: unknown;
      try {
        result = testCase.run({ board, ids, clock });
      } catch (error) {
        thrown = error;
      }
      if (thrown !== undefined) {
        assert.equal((thrown as NodeJS.ErrnoException).code, 'ENOSPC', `only the full disk may fail it: ${String(thrown)}`);
        assert.deepEqual(diffSnapshots(before, snapshot(root)), [], `with ${free} free ${limit} it threw, so it must have changed nothing`);
        outcomes.push(`${free}: refused`);
      } else {
        testCase.changed(board, { board, ids, clock }, result);
        const logged = new Set(board.events.read(eventsBefore).events.map((event) => event.type));
        const missing = testCase.events.filter((type) => !logged.has(type));
        // A missing event is fine when a warning names it, or says the step it logs did not happen.
        const explains = (type: string) => (warning: string) =>
          warning.includes(`'${type}'`) ||
          (type === 'parent-completed' && /could not be completed \(repair will complete it\)|was not recorded for its map task .* \(repair will record it\)/.test(warning));
        for (const type of missing) assert.ok(warnings.some(explains(type)), `with ${free} free ${limit} the '${type}' event is missing and no warning says so: ${warnings.join(' | ')}`);
        outcomes.push(`${free}: ${warnings.length === 0 ? 'clean' : `done, ${warnings.length} warning(s)`}`);
      }
      board.close();
      fs.rmSync(filler, { recursive: true });
      checkRecovered(root, clock);
      if (thrown === undefined && warnings.length === 0) break;
    } finally {
      unmount(mount);
    }
  }
  assert.match(outcomes[outcomes.length - 1], /clean/, `it ran clean with enough room: ${outcomes.join(', ')}`);
  return outcomes;
}

describe('attack: disk full at every board write', () => {
  for (const testCase of cases) {
    it(testCase.name, { timeout: 120_000 }, (t) => {
      requireRoot();
      t.diagnostic(`free pages ${runAtEveryLimit(testCase, 'pages').join(', ')}`);
      t.diagnostic(`free inodes ${runAtEveryLimit(testCase, 'inodes').join(', ')}`);
    });
  }
});

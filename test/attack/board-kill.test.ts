// kill -9 at every step of every multi-step board command (batch post, map, claim, complete,
// fail, cancel, requeue, reclaim), then the board as the next process finds it: after it opens
// the board and sweeps once (what every claimer and pool host does), each task is in exactly one
// state, no acknowledged change is lost, a batch is entirely there or entirely absent, every task
// has exactly one `posted` event, and no map task waits for children that have all ended.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { FileBoardEngine as FileBoard, Task } from '../../src/core/board';
import { removeDir, statesById, tempDir } from '../unit/board/helpers';

const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

function runVictim(root: string, scenario: string, step: string): Promise<{ signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'board-victim.ts'), root, scenario], {
      env: { ...process.env, SWARM_FAULT: step },
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve({ signal, output }));
  });
}

const byTitle = (board: FileBoard, title: string): Task | undefined => board.list().find((task) => task.title === title);
const titled = (board: FileBoard, prefix: string): Task[] => board.list().filter((task) => task.title.startsWith(prefix));

function seedAcknowledged(board: FileBoard): void {
  board.post({ title: 'ack done', priority: 9999 });
  board.complete(board.claim({ agent: 'seed' })!, { ack: 1 });
  board.post({ title: 'ack pending', priority: -9999 });
}

/** Runs one claim+complete (or fail) of the next task as the seed process. */
function seedFinishNext(board: FileBoard, how: 'complete' | 'fail'): void {
  const claim = board.claim({ agent: 'seed' })!;
  if (how === 'complete') board.complete(claim, { seeded: true });
  else board.fail(claim, 'seeded failure', { permanent: true });
}

interface Scenario {
  seed(board: FileBoard): void;
  steps: Record<string, (board: FileBoard) => void>;
}

const POST_STEPS = ['post:after-tmp-write', 'post:after-commit', 'post:after-first-rename', 'post:after-rename', 'post:after-events'];
const MAP_STEPS = ['map:after-tmp-write', 'map:after-commit', 'map:after-parent', 'map:after-first-child', 'map:after-rename', 'map:after-events'];

function expectBatch(present: boolean, prefix: string, size: number, status: Task['status']) {
  return (board: FileBoard): void => {
    const tasks = titled(board, prefix);
    assert.equal(tasks.length, present ? size : 0, `the batch is ${present ? 'entirely there' : 'entirely absent'}`);
    for (const task of tasks) assert.equal(task.status, status, task.title);
  };
}

const scenarios: Record<string, Scenario> = {
  'post-batch': {
    seed: () => undefined,
    steps: Object.fromEntries(POST_STEPS.map((step, i) => [step, expectBatch(i > 0, 'victim batch', 5, 'pending')])),
  },
  'post-child': {
    seed: (board) => void board.map({ title: 'open map', priority: -5 }, [{ title: 'open map child', priority: -5 }]),
    steps: Object.fromEntries(
      POST_STEPS.map((step, i) => [
        step,
        (board: FileBoard) => {
          const parent = byTitle(board, 'open map')!;
          expectBatch(i > 0, 'victim child', 1, 'pending')(board);
          assert.equal(board.progress(parent.id).total, i > 0 ? 2 : 1, 'the child counts toward its map exactly when it exists');
          assert.equal(parent.status, 'waiting');
        },
      ]),
    ),
  },
  map: {
    seed: () => undefined,
    steps: Object.fromEntries(
      MAP_STEPS.map((step, i) => [
        step,
        (board: FileBoard) => {
          expectBatch(i > 0, 'victim child', 5, 'pending')(board);
          expectBatch(i > 0, 'victim map', 1, 'waiting')(board);
        },
      ]),
    ),
  },
  claim: {
    seed: (board) => void board.post({ title: 'claim me', priority: 5 }),
    steps: Object.fromEntries(['claim:after-rename', 'claim:after-lease'].map((step) => [step, (board: FileBoard) => assert.equal(byTitle(board, 'claim me')!.status, 'pending')])),
  },
  // Killed with its lease record written: the record counts while the task's running file exists,
  // so once the lease runs out and the task is reclaimed, its files are free again (no stuck lease).
  'claim-files': {
    seed: (board) => {
      board.post({ title: 'claim me', files: ['src/x.ts', 'src/y.ts'], priority: 5 });
      board.post({ title: 'shares a file', files: ['src/y.ts'], priority: 4 });
    },
    steps: {
      'claim:after-lease-record': (board: FileBoard) => {
        assert.equal(byTitle(board, 'claim me')!.status, 'pending', 'reclaimed');
        const claim = board.claim({ agent: 'next', leaseMs: 60_000 });
        assert.equal(claim?.task.title, 'claim me', 'its files are not held by the killed claimant');
        assert.equal(board.claim({ agent: 'other', leaseMs: 60_000 })?.task.title, 'ack pending', 'and they are held by the new claim');
      },
    },
  },
  complete: {
    seed: (board) => {
      board.map({ title: 'complete map' }, [{ title: 'first', priority: 5 }, { title: 'last', priority: 5 }]);
      seedFinishNext(board, 'complete');
    },
    steps: {
      'complete:after-result-write': (board) => {
        assert.equal(byTitle(board, 'last')!.status, 'pending', 'an uncommitted completion is run again');
        assert.equal(byTitle(board, 'complete map')!.status, 'waiting');
      },
      ...Object.fromEntries(
        ['complete:after-rename', 'child:before-marker', 'parent:before-promote'].map((step) => [
          step,
          (board: FileBoard) => {
            assert.deepEqual(board.get(byTitle(board, 'last')!.id)!.result, { answer: 42 }, 'the committed result is kept');
            const parent = board.get(byTitle(board, 'complete map')!.id)!;
            assert.equal(parent.status, 'done');
            assert.deepEqual(parent.result, { done: 2, dead: 0, cancelled: 0, total: 2 });
          },
        ]),
      ),
    },
  },
  fail: {
    seed: (board) => {
      board.map({ title: 'fail map' }, [{ title: 'survivor', priority: 5 }, { title: 'dying', priority: 5 }]);
      seedFinishNext(board, 'complete');
    },
    steps: {
      'fail:after-error-write': (board) => {
        assert.equal(byTitle(board, 'dying')!.status, 'pending');
        assert.equal(byTitle(board, 'fail map')!.status, 'waiting');
      },
      ...Object.fromEntries(
        ['fail:after-rename', 'child:before-marker', 'parent:before-promote'].map((step) => [
          step,
          (board: FileBoard) => {
            assert.equal(byTitle(board, 'dying')!.status, 'dead');
            assert.equal(byTitle(board, 'fail map')!.status, 'dead', 'a map with a dead child ends dead');
          },
        ]),
      ),
    },
  },
  'fail-retry': {
    seed: (board) => void board.post({ title: 'flaky', priority: 5 }),
    steps: {
      'fail:after-error-write': (board) => assert.equal(byTitle(board, 'flaky')!.status, 'pending'),
      'fail:after-rename': (board) => {
        const task = byTitle(board, 'flaky')!;
        assert.equal(task.status, 'pending');
        assert.equal(board.errors(task.id)[0].message, 'victim retries');
      },
    },
  },
  cancel: {
    seed: (board) => void board.post({ title: 'cancel me' }),
    steps: { 'cancel:after-rename': (board) => assert.equal(byTitle(board, 'cancel me')!.status, 'cancelled') },
  },
  'cancel-map': {
    seed: (board) => {
      board.map({ title: 'map to cancel' }, [0, 1, 2, 3].map((i) => ({ title: `to cancel ${i}`, priority: 5 })));
      seedFinishNext(board, 'complete');
      board.claim({ agent: 'seed-holder', leaseMs: 3_600_000 });
    },
    steps: Object.fromEntries(
      ['cancel:after-rename', 'cancel:after-first-child'].map((step) => [
        step,
        (board: FileBoard) => {
          assert.equal(byTitle(board, 'map to cancel')!.status, 'cancelled');
          assert.deepEqual(titled(board, 'to cancel').map((task) => task.status), ['done', 'cancelled', 'cancelled', 'cancelled']);
        },
      ]),
    ),
  },
  ...Object.fromEntries(
    (['requeue-child', 'requeue-map'] as const).map((scenario) => [
      scenario,
      {
        seed: (board: FileBoard) => {
          board.map({ title: 'dead map' }, [{ title: 'fine child', priority: 5 }, { title: 'dead child', priority: 5 }]);
          seedFinishNext(board, 'complete');
          seedFinishNext(board, 'fail');
        },
        steps: {
          'requeue:before-rename': (board: FileBoard) => {
            assert.equal(byTitle(board, 'dead child')!.status, 'dead');
            assert.equal(byTitle(board, 'dead map')!.status, 'dead', 'an interrupted requeue leaves the map as it was');
          },
          'requeue:after-rename': (board: FileBoard) => {
            assert.equal(byTitle(board, 'dead child')!.status, 'pending');
            assert.equal(byTitle(board, 'dead map')!.status, 'waiting');
          },
        },
      },
    ]),
  ),
  reclaim: {
    seed: (board) => {
      board.map({ title: 'reclaim map' }, [{ title: 'expiring', maxAttempts: 1, priority: 5 }]);
      board.claim({ agent: 'gone', leaseMs: 100 });
      const until = Date.now() + 250;
      while (Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    },
    steps: Object.fromEntries(
      ['reclaim:after-error-write', 'child:before-marker', 'parent:before-promote'].map((step) => [
        step,
        (board: FileBoard) => {
          assert.equal(byTitle(board, 'expiring')!.status, 'dead');
          assert.equal(byTitle(board, 'reclaim map')!.status, 'dead');
        },
      ]),
    ),
  },
};

/** The invariants every board must meet after recovery, whatever was killed where. */
function checkInvariants(root: string, board: FileBoard): void {
  for (const [id, states] of statesById(root)) assert.equal(states.length, 1, `${id} is in ${states.join(', ')}`);
  for (const dir of ['tmp', 'batches', 'cancelling']) assert.deepEqual(fs.readdirSync(path.join(root, dir)), [], `${dir}/ is empty after repair`);
  const tasks = board.list();
  const posted = new Map<string, number>();
  for (const event of board.events.read().events) if (event.type === 'posted' && event.taskId) posted.set(event.taskId, (posted.get(event.taskId) ?? 0) + 1);
  for (const task of tasks) assert.equal(posted.get(task.id), 1, `${task.title} has exactly one posted event`);
  assert.equal(posted.size, tasks.length, 'no posted event for a task that is not on the board');
  const ids = new Set(tasks.map((task) => task.id));
  for (const task of tasks) {
    if (task.parentId) assert.ok(ids.has(task.parentId), `${task.title}: its map exists`);
    if (task.childCount !== undefined) {
      for (let i = 0; i < task.childCount; i++) assert.ok(ids.has(`${task.id}.${String(i).padStart(4, '0')}`), `${task.title}: child ${i} exists`);
      if (task.status === 'waiting') {
        const progress = board.progress(task.id);
        assert.ok(progress.done + progress.dead + progress.cancelled < progress.total, `${task.title} does not wait for children that all ended`);
      }
    }
  }
  const ackDone = board.get(byTitle(board, 'ack done')!.id)!;
  assert.equal(ackDone.status, 'done');
  assert.deepEqual(ackDone.result, { ack: 1 }, 'an acknowledged completion is kept');
  assert.equal(byTitle(board, 'ack pending')!.status, 'pending', 'an acknowledged post is kept');
}

describe('attack: kill -9 at every step of every multi-step board command', () => {
  for (const [scenario, { seed, steps }] of Object.entries(scenarios)) {
    for (const [step, expect] of Object.entries(steps)) {
      it(`${scenario}, killed at ${step}`, { timeout: 60_000 }, async () => {
        const dir = tempDir('swarm-kill-');
        dirs.push(dir);
        const root = path.join(dir, '.swarm');
        const seeded = FileBoard.open({ root });
        seedAcknowledged(seeded);
        seed(seeded);
        seeded.close();
        const victim = await runVictim(root, scenario, step);
        assert.equal(victim.signal, 'SIGKILL', `the victim should die at ${step}: ${victim.output}`);
        await new Promise((resolve) => setTimeout(resolve, 400)); // the victim's 300 ms lease expires
        const recovered = FileBoard.open({ root }); // what the next claimer or pool host does:
        recovered.reclaimExpired(50); // open (repairs batches), then sweep (reclaims, repairs maps)
        checkInvariants(root, recovered);
        expect(recovered);
        recovered.close();
      });
    }
  }
});

describe('attack: a map left waiting by a crash does not keep `swarm run --until-empty` running', () => {
  it('the pool\'s own sweep completes the map and the run ends', { timeout: 120_000 }, async () => {
    const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)');
    const dir = tempDir('swarm-until-empty-');
    dirs.push(dir);
    const root = path.join(dir, '.swarm');
    const seeded = FileBoard.open({ root });
    seedAcknowledged(seeded);
    const { parent } = seeded.map({ title: 'complete map' }, [{ title: 'last', priority: 5 }]);
    seeded.close();
    const victim = await runVictim(root, 'complete', 'child:before-marker');
    assert.equal(victim.signal, 'SIGKILL', victim.output);
    const started = Date.now();
    const run = spawnSync(process.execPath, [cli, '--board', root, 'run', '--until-empty', '--exec', 'true', '--isolation', 'none', '--mode', 'sequential', '--json'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 90_000,
    });
    assert.equal(run.error, undefined, 'swarm run --until-empty ended');
    assert.equal(run.status, 0, run.stderr);
    const board = FileBoard.open({ root });
    assert.equal(board.get(parent.id)!.status, 'done', `the map was completed by the run (in ${Date.now() - started} ms)`);
    board.close();
  });
});

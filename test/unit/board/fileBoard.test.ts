// The async file board (FileBoard): its worker thread keeps the owning thread's event loop free,
// both drivers give the same answers and errors, a page reads only its own task bodies, and a
// worker engine beside a main-thread engine in one process never mistakes the other's files for
// leftovers of a crash.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { once } from 'events';
import { Worker } from 'worker_threads';
import { BoardFormatError, BoardInputError, FileBoard, FileBoardEngine, LeaseLostError, leaseLostCause, type Board, type EventBatch, type FileBoardThread, type TaskSpec } from '../../../src/core/board';
import { removeDir, tempDir } from './helpers';
import { waitFor } from '../pool/helpers';

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

async function open(thread: FileBoardThread, root?: string, warnings?: string[]): Promise<{ board: FileBoard; root: string }> {
  let boardRoot = root;
  if (!boardRoot) {
    const dir = tempDir('swarm-fileboard-');
    cleanups.push(() => removeDir(dir));
    boardRoot = path.join(dir, '.swarm');
  }
  const board = await FileBoard.open({ root: boardRoot, durable: false, excludeFromGit: false, thread, onWarning: (warning) => warnings?.push(warning) });
  cleanups.push(() => board.close());
  return { board, root: boardRoot };
}

/**
 * The largest stall of this thread's event loop while `work` runs, in milliseconds, beside the
 * largest stall an idle event loop in another thread of this process saw meanwhile (`control`).
 * On a machine this busy the operating system pauses every thread of the process now and then
 * (an idle loop alone stalls for a hundred milliseconds or more at a load of 12 on 2 cores); the
 * control tells such pauses from stalls that our own code causes.
 */
async function stalls(work: () => Promise<void>): Promise<{ stall: number; control: number }> {
  const control = new Worker(
    `const { monitorEventLoopDelay } = require('perf_hooks'); const { parentPort } = require('worker_threads');
     const histogram = monitorEventLoopDelay({ resolution: 5 }); histogram.enable(); const keep = setInterval(() => {}, 1000);
     parentPort.on('message', () => { histogram.disable(); clearInterval(keep); parentPort.postMessage(histogram.max / 1e6); });
     parentPort.postMessage('ready');`,
    { eval: true },
  );
  try {
    await once(control, 'message');
    const histogram = monitorEventLoopDelay({ resolution: 5 });
    histogram.enable();
    try {
      await work();
    } finally {
      histogram.disable();
    }
    control.postMessage('stop');
    const [controlStall] = (await once(control, 'message')) as [number];
    return { stall: histogram.max / 1e6, control: controlStall };
  } finally {
    await control.terminate();
  }
}

/** Counts this thread's synchronous file-system calls while `work` runs (the worker thread has its own fs). */
async function syncFsCalls(work: () => Promise<void>): Promise<number> {
  const names = ['readdirSync', 'readFileSync', 'openSync', 'readSync', 'writeSync', 'writeFileSync', 'statSync', 'lstatSync', 'fstatSync', 'renameSync', 'unlinkSync', 'mkdirSync', 'utimesSync', 'fsyncSync', 'existsSync', 'rmSync', 'closeSync'] as const;
  const real = new Map<string, unknown>();
  const counter = { calls: 0 };
  // The module object itself (an `import * as` namespace is read-only); the board reads its functions from it at each call.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const target = require('fs') as Record<string, (...args: unknown[]) => unknown>;
  for (const name of names) {
    const original = target[name];
    real.set(name, original);
    target[name] = function (this: unknown, ...args: unknown[]) {
      counter.calls++;
      return original.apply(this, args);
    };
  }
  try {
    await work();
  } finally {
    for (const [name, original] of real) target[name] = original as (...args: unknown[]) => unknown;
  }
  return counter.calls;
}

/**
 * One turn of the event loop, as a host's other work (a view, a keystroke) gets between two board
 * calls; without it a board that blocks but answers at once would never let the monitor sample.
 */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A stall is ours when it is over 50 ms and more than 25 ms beyond what the idle control saw. */
function isOurStall(measured: { stall: number; control: number }): boolean {
  return measured.stall >= 50 && measured.stall - measured.control >= 25;
}

/**
 * Measures `work` up to three times: a pause of the machine lands on one run by chance, while a
 * board that blocks this thread stalls every run. Returns every run's figures.
 */
async function stallRuns(work: () => Promise<void>): Promise<Array<{ stall: number; control: number }>> {
  const runs = [];
  do runs.push(await stalls(work));
  while (isOurStall(runs[runs.length - 1]) && runs.length < 3);
  return runs;
}

function describeRuns(runs: Array<{ stall: number; control: number }>): string {
  return runs.map((run) => `${run.stall.toFixed(1)} ms (idle control ${run.control.toFixed(1)} ms)`).join(', then ');
}

async function postMany(board: Board, count: number, spec: (index: number) => TaskSpec = (index) => ({ title: `task ${index}` })): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const specs = Array.from({ length: Math.min(1000, count - start) }, (_, offset) => spec(start + offset));
    ids.push(...(await board.postMany(specs)).map((task) => task.id));
  }
  return ids;
}

describe('file board in a worker thread: the event loop never waits for the board', { timeout: 600_000 }, () => {
  it('lists 10,000 tasks page by page, reads stats, and posts, claims and completes in a loop: no stall of its own, no file-system call on this thread', async () => {
    const { board } = await open('worker');
    await postMany(board, 10_000);
    const seen = new Set<string>();
    const listAll = async (): Promise<void> => {
      let cursor: string | undefined;
      do {
        const page = await board.list({ cursor, limit: 100 });
        for (const task of page.tasks) seen.add(task.id);
        cursor = page.nextCursor;
        await turn();
      } while (cursor);
      assert.equal((await board.stats()).counts.pending, 10_000);
    };
    const cycle = async (): Promise<void> => {
      for (let index = 0; index < 200; index++) {
        const task = await board.post({ title: `cycle ${index}`, priority: 10 });
        const claim = await board.claim({ agent: 'a' });
        assert.equal(claim?.task.id, task.id);
        await board.complete(claim!, { index });
        await turn();
      }
    };
    let listing: Array<{ stall: number; control: number }> = [];
    let cycling: Array<{ stall: number; control: number }> = [];
    const calls = await syncFsCalls(async () => {
      listing = await stallRuns(listAll);
      cycling = await stallRuns(cycle);
    });
    assert.equal(seen.size, 10_000, 'every task listed exactly once');
    console.log(`largest event-loop stall with the board in a worker: listing 10,000 tasks ${describeRuns(listing)}; 200 post/claim/complete cycles ${describeRuns(cycling)}`);
    assert.equal(calls, 0, 'no synchronous file-system call on the owning thread');
    assert.ok(!isOurStall(listing[listing.length - 1]), `listing stalled the event loop in every run: ${describeRuns(listing)}`);
    assert.ok(!isOurStall(cycling[cycling.length - 1]), `post/claim/complete stalled the event loop in every run: ${describeRuns(cycling)}`);
    // The same work inline does its I/O on this thread: the counter sees it (so 0 above means something).
    const inline = await FileBoard.open({ root: board.root, durable: false, excludeFromGit: false });
    cleanups.push(() => inline.close());
    assert.ok((await syncFsCalls(async () => void (await inline.list({ limit: 100 })))) > 0);
  });
});

describe('file board: both drivers, one engine', () => {
  for (const thread of ['inline', 'worker'] as const) {
    it(`${thread}: errors keep their class, their cause and their file-system details`, async () => {
      const { board, root } = await open(thread);
      await assert.rejects(board.post({ title: '' }), BoardInputError);
      await assert.rejects(board.get('../etc'), BoardInputError);
      const task = await board.post({ title: 'x' });
      const claim = (await board.claim({ agent: 'a' }))!;
      assert.equal(claim.task.id, task.id);
      await board.cancel(task.id);
      await assert.rejects(board.complete(claim, {}), (error: Error) => {
        assert.ok(error instanceof LeaseLostError, `${error.name}: ${error.message}`);
        assert.equal(leaseLostCause(error), 'cancelled');
        assert.equal(error.taskId, task.id);
        return true;
      });
      // A file-system error crosses with its code, syscall and path (the CLI turns them into advice).
      fs.rmSync(path.join(root, 'tmp'), { recursive: true });
      fs.writeFileSync(path.join(root, 'tmp'), 'not a folder');
      await assert.rejects(board.post({ title: 'y' }), (error: NodeJS.ErrnoException) => {
        assert.equal(error.code, 'ENOTDIR');
        assert.ok(error.path?.startsWith(path.join(root, 'tmp')), error.path);
        return true;
      });
    });

    it(`${thread}: a board of a newer format is refused when it opens`, async () => {
      const dir = tempDir('swarm-fileboard-');
      cleanups.push(() => removeDir(dir));
      const root = path.join(dir, '.swarm');
      fs.mkdirSync(root);
      fs.writeFileSync(path.join(root, 'board.json'), JSON.stringify({ format: 'agent-swarm-board', version: 99 }));
      await assert.rejects(FileBoard.open({ root, thread }), (error: Error) => error instanceof BoardFormatError && /newer than this Agent Swarm supports/.test(error.message));
    });

    it(`${thread}: artifacts round-trip as bytes, only plain files are read, and the cap is kept`, async () => {
      const { board, root } = await open(thread);
      const task = await board.post({ title: 'with artifacts' });
      const bytes = Buffer.from([0, 1, 2, 255, 10, 13]);
      await board.putArtifact(task.id, 'result.patch', bytes);
      await board.putArtifact(task.id, 'log.txt', 'hello\n');
      assert.deepEqual(await board.getArtifact(task.id, 'result.patch'), bytes);
      assert.ok(Buffer.isBuffer(await board.getArtifact(task.id, 'log.txt')));
      assert.deepEqual(await board.listArtifacts(task.id), [{ name: 'log.txt', bytes: 6 }, { name: 'result.patch', bytes: 6 }]);
      assert.equal(await board.getArtifact(task.id, 'missing.txt'), undefined);
      await assert.rejects(board.putArtifact(task.id, '../escape', 'x'), BoardInputError);
      await assert.rejects(board.putArtifact(task.id, 'big.bin', Buffer.alloc(8 * 1024 * 1024 + 1)), /over the board's limit/);
      // A link planted in place of an artifact, or of the task's folder, is never followed.
      const secret = path.join(path.dirname(root), 'secret.txt');
      fs.writeFileSync(secret, 'secret');
      fs.symlinkSync(secret, path.join(root, 'artifacts', task.id, 'linked.patch'));
      assert.equal(await board.getArtifact(task.id, 'linked.patch'), undefined);
      assert.ok(!(await board.listArtifacts(task.id)).some((artifact) => artifact.name === 'linked.patch'));
      const other = await board.post({ title: 'linked folder' });
      fs.symlinkSync(path.dirname(secret), path.join(root, 'artifacts', other.id));
      assert.equal(await board.getArtifact(other.id, 'secret.txt'), undefined);
      assert.deepEqual(await board.listArtifacts(other.id), []);
      await assert.rejects(board.putArtifact(other.id, 'planted.txt', 'x'), /is not a folder/);
      assert.ok(!fs.existsSync(path.join(path.dirname(secret), 'planted.txt')), 'nothing was written through the link');
    });

    it(`${thread}: follow() without a cursor delivers every event of calls made after it, in order`, async () => {
      const { board } = await open(thread);
      await board.post({ title: 'before' });
      const batches: EventBatch[] = [];
      const following = board.follow((batch) => batches.push(batch), { pollMs: 50 });
      cleanups.push(() => following.dispose());
      const task = await board.post({ title: 'right after' });
      const deadline = Date.now() + 20_000;
      while (!batches.some((batch) => batch.events.some((event) => event.taskId === task.id))) {
        assert.ok(Date.now() < deadline, 'the posted event arrives');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const events = batches.flatMap((batch) => batch.events);
      assert.deepEqual(events.map((event) => event.type), ['posted']);
      assert.equal(events[0].taskId, task.id);
      // The last cursor resumes after everything delivered.
      assert.deepEqual((await board.readEvents(batches[batches.length - 1].cursor)).events, []);
    });

    it(`${thread}: follow() reads nothing while deferWhile holds, then delivers all that came meanwhile, in order`, async () => {
      const { board } = await open(thread);
      const batches: EventBatch[] = [];
      let deferring = true;
      let asked = 0;
      const deferWhile = (): boolean => (asked++, deferring);
      const following = board.follow((batch) => batches.push(batch), { pollMs: 20, deferWhile });
      cleanups.push(() => following.dispose());
      const posted = [await board.post({ title: 'one' }), await board.post({ title: 'two' })];
      // Asked at every poll and at every change of the board folder: 20 answers span several polls.
      const askedBefore = asked;
      await waitFor('20 more looks', () => asked >= askedBefore + 20);
      assert.equal(batches.length, 0, 'nothing was read while deferring');
      deferring = false;
      await waitFor('the two events', () => batches.flatMap((batch) => batch.events).length >= 2);
      assert.deepEqual(batches.flatMap((batch) => batch.events).map((event) => event.taskId), posted.map((task) => task.id));
    });
  }

  it('readEvents honours its limit and its cursor continues exactly after the last event', async () => {
    const { board } = await open('inline');
    await postMany(board, 25);
    const first = await board.readEvents(undefined, 10);
    assert.equal(first.events.length, 10);
    const rest = await board.readEvents(first.cursor, 1000);
    assert.equal(rest.events.length, 15);
    assert.deepEqual([...first.events, ...rest.events].map((event) => event.detail?.title), Array.from({ length: 25 }, (_, index) => `task ${index}`));
    await assert.rejects(board.readEvents('not-a-cursor'), BoardInputError);
    await assert.rejects(board.readEvents(undefined, 0), BoardInputError);
  });
});

describe('file board: a page reads only its own task bodies', () => {
  it('a damaged task body outside the page is not read by list() or stats(); reading its own page finds it', async () => {
    const { board, root } = await open('inline');
    const ids = await postMany(board, 300);
    // Damage the body of the newest task (last in list order) without changing its name.
    const victim = ids[ids.length - 1];
    const file = fs.readdirSync(path.join(root, 'pending')).find((name) => name.includes(victim))!;
    fs.writeFileSync(path.join(root, 'pending', file), '{ damaged');
    const reopened = await FileBoard.open({ root, durable: false, excludeFromGit: false }); // no cached bodies
    cleanups.push(() => reopened.close());
    const page = await reopened.list({ limit: 100 });
    assert.deepEqual(page.tasks.map((task) => task.id), ids.slice(0, 100));
    assert.equal(page.total, 300);
    assert.equal((await reopened.stats()).counts.pending, 300);
    assert.deepEqual(fs.readdirSync(path.join(root, 'quarantine')), [], 'the damaged body was never read');
    const last = await reopened.list({ offset: 200, limit: 100 });
    assert.equal(last.tasks.length, 99, 'the damaged task is left out of its page');
    assert.equal(fs.readdirSync(path.join(root, 'quarantine')).filter((name) => !name.endsWith('.reason.txt')).length, 1, 'reading its page quarantined it');
  });
});

describe('file board: a worker engine and a main-thread engine in one process', { timeout: 300_000 }, () => {
  it("never takes each other's files in tmp/ for leftovers of a crash (no post is lost)", async () => {
    const warnings: string[] = [];
    const { board, root } = await open('worker', undefined, warnings);
    // The pool's engine on the main thread, repairing as often as it can while the worker posts.
    const engine = FileBoardEngine.open({ root, durable: false, excludeFromGit: false, repairIntervalMs: 0, onWarning: (warning) => warnings.push(warning) });
    cleanups.push(() => engine.close());
    let posting = true;
    const posted = (async () => {
      try {
        return await postMany(board, 3000, (index) => ({ title: `batch task ${index}` }));
      } finally {
        posting = false;
      }
    })();
    // Small batches: many windows between a batch's tmp files and its commit record.
    const small: Promise<string[]>[] = [];
    for (let index = 0; index < 300; index++) small.push(board.postMany([{ title: `small ${index}a` }, { title: `small ${index}b` }]).then((tasks) => tasks.map((task) => task.id)));
    while (posting) {
      engine.repairParents();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const ids = [...(await posted), ...(await Promise.all(small)).flat()];
    assert.equal(ids.length, 3600);
    const onBoard = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = engine.listPage({ cursor, limit: 1000 });
      for (const task of page.tasks) onBoard.add(task.id);
      cursor = page.nextCursor;
    } while (cursor);
    assert.deepEqual(ids.filter((id) => !onBoard.has(id)), [], 'every acknowledged post is on the board');
    assert.equal(onBoard.size, 3600);
    assert.deepEqual(warnings, []);
  });
});

describe('file board: the bundled worker', () => {
  it('dist/boardWorker.js (beside the bundles that start it) opens the board and answers calls', async () => {
    const bundle = path.join(__dirname, '..', '..', '..', 'dist', 'boardWorker.js');
    assert.ok(fs.existsSync(bundle), `${bundle} is missing: run \`npm run build\` first`);
    const dir = tempDir('swarm-fileboard-');
    cleanups.push(() => removeDir(dir));
    const worker = new Worker(bundle, { workerData: { root: path.join(dir, '.swarm'), durable: false, excludeFromGit: false } });
    cleanups.push(async () => void (await worker.terminate()));
    assert.deepEqual((await once(worker, 'message'))[0], { type: 'ready' });
    worker.postMessage({ id: 1, name: 'post', args: [{ title: 'from the bundle' }] });
    const [posted] = await once(worker, 'message');
    assert.equal(posted.type, 'result');
    worker.postMessage({ id: 2, name: 'list', args: [{}] });
    const [listed] = await once(worker, 'message');
    assert.deepEqual(listed.value.tasks.map((task: { title: string }) => task.title), ['from the bundle']);
    worker.postMessage({ id: 3, name: 'get', args: ['../x'] });
    const [refused] = await once(worker, 'message');
    assert.equal(refused.type, 'error');
    assert.equal(refused.error.kind, 'input');
  });
});

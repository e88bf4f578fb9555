// The Redis board with real processes on a real redis-server: a claim race, holders killed with
// SIGKILL and stopped with SIGSTOP, map tasks with dead and cancelled children, file-scope leases
// under contention, and an event reader restarted mid-run.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { openBoard } from '../../../src/core/board/open';
import type { Board } from '../../../src/core/board/interface';
import type { BoardEvent } from '../../../src/core/board/types';
import { startRedis, type RedisServer } from '../../harness/redis';

const worker = path.join(__dirname, 'fixtures', 'worker.ts');
let redis: RedisServer;
let scratch: string;
let boardCounter = 0;
const children: ChildProcess[] = [];
const boards: Board[] = [];

before(async () => {
  redis = await startRedis();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-redis-procs-'));
});
after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const board of boards) await board.close();
  await redis.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    child,
    output: () => stdout,
    exited,
    waitFor: async (pattern, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = stdout.match(pattern);
        if (match) return match;
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${pattern} in: ${stdout} ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

async function freshBoard(): Promise<{ url: string; board: Board }> {
  const url = redis.url(0, `procs-${++boardCounter}`);
  const board = await openBoard(url, { sweepIntervalMs: 100 });
  boards.push(board);
  return { url, board };
}

async function allEvents(board: Board): Promise<BoardEvent[]> {
  const events: BoardEvent[] = [];
  let cursor: string | undefined;
  for (;;) {
    const batch = await board.readEvents(cursor, 10_000);
    if (batch.events.length === 0) return events;
    events.push(...batch.events);
    cursor = batch.cursor;
  }
}

async function claimWithin(board: Board, agent: string, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const claim = await board.claim({ agent });
    if (claim) return claim;
    if (Date.now() > deadline) throw new Error(`no claim within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function countBy(values: (string | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) if (value) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

describe('Redis board across processes', { timeout: 600_000 }, () => {
  it('8 processes drain 2,000 tasks: every task claimed and completed exactly once', async () => {
    const { url, board } = await freshBoard();
    const posted = await board.postMany(Array.from({ length: 2_000 }, (_, i) => ({ title: `task ${i}`, priority: i % 5 })));
    const outputs = Array.from({ length: 8 }, (_, i) => path.join(scratch, `drain-${boardCounter}-${i}.txt`));
    const workers = outputs.map((out, i) => start(['drain', url, `worker-${i}`, out]));
    for (const running of workers) {
      const result = await running.exited;
      assert.equal(result.code, 0, result.stderr);
    }
    const completed = outputs.flatMap((out) => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter(Boolean) : []));
    assert.equal(completed.length, 2_000, 'acknowledged completions');
    assert.equal(new Set(completed).size, 2_000, 'no task completed twice');
    assert.deepEqual([...completed].sort(), posted.map((task) => task.id).sort());
    const stats = await board.stats();
    assert.equal(stats.counts.done, 2_000);
    assert.equal(stats.counts.pending + stats.counts.running, 0);
    const events = await allEvents(board);
    for (const type of ['claimed', 'completed'] as const) {
      const counts = countBy(events.filter((e) => e.type === type).map((e) => e.taskId));
      assert.equal(counts.size, 2_000, `${type} events`);
      assert.ok([...counts.values()].every((count) => count === 1), `each task ${type} exactly once`);
    }
    const busy = outputs.filter((out) => fs.existsSync(out) && fs.readFileSync(out, 'utf8').length > 0).length;
    assert.ok(busy >= 2, `work was shared (${busy} workers completed tasks)`);
  });

  it('a SIGKILLed holder is reclaimed after its lease and the task is done once', async () => {
    const { url, board } = await freshBoard();
    const task = await board.post({ title: 'victim' });
    const holder = start(['hold', url, 'doomed', '1000']);
    await holder.waitFor(/claimed (\S+)/);
    holder.child.kill('SIGKILL');
    const killedAt = Date.now();
    const claim = await claimWithin(board, 'rescuer', 30_000);
    const reclaimMs = Date.now() - killedAt;
    assert.equal(claim.task.id, task.id);
    assert.equal(claim.task.attempts, 2);
    assert.ok(reclaimMs < 15_000, `reclaimed after ${reclaimMs} ms (lease 1 s)`);
    await board.complete(claim, { by: 'rescuer' });
    assert.deepEqual((await board.errors(task.id)).map((e) => [e.kind, e.agent]), [['lease-expired', 'doomed']]);
    assert.equal((await allEvents(board)).filter((e) => e.type === 'completed').length, 1);
  });

  it('heartbeats of busy agents reclaim the task of a dead one, with no claim anywhere', async () => {
    const { board } = await freshBoard();
    const busyHost = await openBoard(redis.url(0, `procs-${boardCounter}`), { sweepIntervalMs: 100 });
    boards.push(busyHost);
    const orphan = await board.post({ title: 'held by a host that died', priority: 1 });
    await board.post({ title: 'long work' });
    const dead = start(['hold', redis.url(0, `procs-${boardCounter}`), 'gone', '500']);
    await dead.waitFor(/claimed/);
    dead.child.kill('SIGKILL');
    const busy = (await busyHost.claim({ agent: 'busy', leaseMs: 2_000 }))!;
    assert.notEqual(busy.task.id, orphan.id);
    const deadline = Date.now() + 30_000;
    while ((await busyHost.get(orphan.id))!.status !== 'pending') {
      assert.ok(Date.now() < deadline, "the dead host's task came back");
      await busyHost.heartbeat(busy, 2_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal((await board.errors(orphan.id))[0].kind, 'lease-expired');
  });

  it('a SIGSTOPped holder is reclaimed; once resumed it learns so and its completion is refused', async () => {
    const { url, board } = await freshBoard();
    const task = await board.post({ title: 'paused' });
    const holder = start(['hold', url, 'sleepy', '1000']);
    await holder.waitFor(/claimed/);
    holder.child.kill('SIGSTOP');
    try {
      const claim = await claimWithin(board, 'rescuer', 30_000);
      assert.equal(claim.task.id, task.id);
      await board.complete(claim, { by: 'rescuer' });
    } finally {
      holder.child.kill('SIGCONT');
    }
    await holder.waitFor(/refused (\S+)/);
    assert.match(holder.output(), /lost reclaimed\nrefused reclaimed\n/);
    assert.equal((await holder.exited).code, 0);
    assert.deepEqual((await board.get(task.id))!.result, { by: 'rescuer' });
    assert.equal((await allEvents(board)).filter((e) => e.type === 'completed').length, 1);
  });

  it('a map task with dead and cancelled children ends once (dead, beside its dead children), its progress only rising', async () => {
    const { url, board } = await freshBoard();
    const { parent, children: kids } = await board.map(
      { title: 'fix everything' },
      Array.from({ length: 40 }, (_, i) => ({ title: `child ${i}`, payload: { fail: i % 5 === 0 } })),
    );
    for (const child of kids.filter((_, i) => i % 7 === 3)) await board.cancel(child.id);
    const workers = [0, 1, 2, 3].map((i) => start(['map', url, `mapper-${i}`]));
    let last = -1;
    const seen: number[] = [];
    for (;;) {
      const progress = await board.progress(parent.id);
      assert.ok(progress.percent >= last, `progress went from ${last} to ${progress.percent}`);
      last = progress.percent;
      seen.push(progress.percent);
      if ((await board.get(parent.id))!.status !== 'waiting') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    for (const running of workers) assert.equal((await running.exited).code, 0);
    const ended = (await board.get(parent.id))!;
    const cancelled = kids.filter((_, i) => i % 7 === 3).length;
    const dead = kids.filter((_, i) => i % 5 === 0 && i % 7 !== 3).length;
    assert.equal(ended.status, 'dead', 'a child died, so the map did not succeed');
    assert.match(ended.lastError!.message, new RegExp(`^${dead} of 40 children died \\(done ${40 - cancelled - dead}, cancelled ${cancelled}\\)`));
    assert.ok(seen.some((percent) => percent > 0 && percent < 100), 'progress was visible mid-run');
    assert.equal((await board.progress(parent.id)).percent, Math.round(((40 - cancelled) / 40) * 1000) / 10, 'cancelled children never count');
    const completions = (await allEvents(board)).filter((e) => e.type === 'parent-completed');
    assert.equal(completions.length, 1);
    assert.deepEqual(completions[0].detail, { outcome: 'dead', done: 40 - cancelled - dead, dead, cancelled, total: 40 });
  });

  it('tasks with overlapping files never run at the same time, while disjoint ones do', async () => {
    const { url, board } = await freshBoard();
    const files = ['a.ts', 'b.ts', 'c.ts', 'd.ts', 'e.ts', 'f.ts'];
    const posted = await board.postMany(Array.from({ length: 120 }, (_, i) => ({ title: `edit ${i}`, files: [files[i % 6], files[(i * 7 + 2) % 6]] })));
    const filesOf = new Map(posted.map((task) => [task.id, new Set(task.files)]));
    const outputs = [0, 1, 2, 3].map((i) => path.join(scratch, `overlap-${boardCounter}-${i}.txt`));
    const workers = outputs.map((out, i) => start(['overlap', url, `editor-${i}`, out]));
    for (const running of workers) assert.equal((await running.exited).code, 0, (await running.exited).stderr);
    // A worker that started after the others had emptied the board ran no task and wrote no file.
    const spans = outputs.flatMap((out) =>
      (fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '').split('\n').filter(Boolean).map((line) => {
        const [id, startAt, endAt] = line.split(' ');
        return { id, start: Number(startAt), end: Number(endAt) };
      }),
    );
    assert.equal(spans.length, 120);
    let overlapping = 0;
    let concurrentDisjoint = 0;
    for (let i = 0; i < spans.length; i++) {
      for (let j = i + 1; j < spans.length; j++) {
        const [a, b] = [spans[i], spans[j]];
        const concurrent = a.start < b.end && b.start < a.end;
        if (!concurrent) continue;
        const shared = [...filesOf.get(a.id)!].some((file) => filesOf.get(b.id)!.has(file));
        if (shared) overlapping++;
        else concurrentDisjoint++;
      }
    }
    assert.equal(overlapping, 0, 'tasks sharing a file ran at the same time');
    assert.ok(concurrentDisjoint > 0, 'tasks with disjoint files did run in parallel (the check can see overlap)');
    assert.ok((await allEvents(board)).some((e) => e.type === 'conflict'), 'some tasks waited for a file');
  });

  it('a follower killed mid-run and restarted from its last cursor sees every event exactly once', async () => {
    const { url, board } = await freshBoard();
    const first = start(['follow', url, 'start']);
    await board.postMany(Array.from({ length: 300 }, (_, i) => ({ title: `e${i}` })));
    const workers = [0, 1].map((i) => start(['drain', url, `drainer-${i}`, path.join(scratch, `follow-${boardCounter}-${i}.txt`)]));
    await first.waitFor(/claimed/);
    first.child.kill('SIGKILL');
    await first.exited;
    const lines = first.output().split('\n');
    const complete = lines.slice(0, -1).filter(Boolean); // a torn last line is dropped, as a reader would
    const cursor = complete[complete.length - 1].split('\t')[0];
    const second = start(['follow', url, cursor]);
    for (const running of workers) assert.equal((await running.exited).code, 0);
    const total = (await allEvents(board)).length;
    const parse = (text: string[]): BoardEvent[] => text.flatMap((line) => JSON.parse(line.split('\t')[1]) as BoardEvent[]);
    await second.waitFor(/completed/, 180_000); // a Node start-up on a loaded machine can take long
    const deadline = Date.now() + 60_000;
    while (parse(complete).length + parse(second.output().split('\n').slice(0, -1).filter(Boolean)).length < total && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    second.child.kill('SIGKILL');
    const seen = [...parse(complete), ...parse(second.output().split('\n').slice(0, -1).filter(Boolean))];
    assert.deepEqual(seen, await allEvents(board));
    assert.equal(seen.filter((e) => e.type === 'completed').length, 300);
  });
});

// Cross-process tests with real OS processes: a claim race that drains a board, and fault injection
// that kills a process at every named step and checks what recovery leaves behind.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { removeDir, statesById, tempDir } from './helpers';

const fixtures = path.join(__dirname, 'fixtures');
const dirs: string[] = [];
after(() => dirs.forEach(removeDir));

function freshRoot(): string {
  const dir = tempDir();
  dirs.push(dir);
  return path.join(dir, '.swarm');
}

function runNode(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(fixtures, script), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('board across processes', () => {
  it('8 processes drain 2,000 tasks: every task done exactly once, none lost', { timeout: 180_000 }, async () => {
    const root = freshRoot();
    const board = FileBoard.open({ root, durable: false });
    board.postMany(Array.from({ length: 2_000 }, (_, i) => ({ title: `task ${i}`, priority: i % 5 })));
    const outputs = Array.from({ length: 8 }, (_, i) => path.join(path.dirname(root), `worker-${i}.txt`));
    const results = await Promise.all(outputs.map((out, i) => runNode('drain-worker.ts', [root, `worker-${i}`, out])));
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    const completed = outputs.flatMap((out) => fs.readFileSync(out, 'utf8').split('\n').filter(Boolean));
    assert.equal(completed.length, 2_000, 'completions reported by workers');
    assert.equal(new Set(completed).size, 2_000, 'no task completed twice');
    const stats = board.stats();
    assert.equal(stats.counts.done, 2_000);
    assert.equal(stats.counts.pending + stats.counts.running, 0);
    const events = board.events.read().events;
    const claimedBy = new Map<string, number>();
    for (const event of events.filter((e) => e.type === 'claimed')) claimedBy.set(event.taskId!, (claimedBy.get(event.taskId!) ?? 0) + 1);
    assert.equal(claimedBy.size, 2_000);
    assert.ok([...claimedBy.values()].every((count) => count === 1), 'each task claimed exactly once');
    const busyWorkers = outputs.filter((out) => fs.readFileSync(out, 'utf8').length > 0).length;
    assert.ok(busyWorkers >= 2, `work was shared (${busyWorkers} workers completed tasks)`);
    board.close();
  });
});

interface FaultCase {
  step: string;
  scenario: string;
  /** Prepares the board before the victim runs. */
  seed(board: FileBoard): void;
  /** Checks what recovery left, beyond "every task in exactly one state". */
  expect(board: FileBoard): void;
}

const seedOne = (board: FileBoard): void => void board.post({ title: 'acknowledged', maxAttempts: 3 });
const onlyTask = (board: FileBoard) => board.list().find((task) => task.title === 'acknowledged')!;

const cases: FaultCase[] = [
  { step: 'post:after-tmp-write', scenario: 'post', seed: seedOne, expect: (b) => assert.equal(b.list().length, 1, 'the unacknowledged post left nothing but a cleaned tmp file') },
  { step: 'post:after-rename', scenario: 'post', seed: seedOne, expect: (b) => assert.equal(b.list({ status: 'pending' }).length, 2) },
  { step: 'claim:after-rename', scenario: 'claim', seed: seedOne, expect: (b) => assert.equal(onlyTask(b).status, 'pending') },
  { step: 'claim:after-lease', scenario: 'claim', seed: seedOne, expect: (b) => assert.equal(onlyTask(b).status, 'pending') },
  {
    step: 'complete:after-result-write',
    scenario: 'complete',
    seed: seedOne,
    expect: (b) => {
      assert.equal(onlyTask(b).status, 'pending', 'an uncommitted completion is re-run');
      assert.equal(b.events.read().events.filter((e) => e.type === 'completed').length, 0);
    },
  },
  {
    step: 'complete:after-rename',
    scenario: 'complete',
    seed: seedOne,
    expect: (b) => {
      const task = b.get(onlyTask(b).id)!;
      assert.equal(task.status, 'done');
      assert.deepEqual(task.result, { answer: 42 }, 'the committed result is not lost');
    },
  },
  { step: 'fail:after-error-write', scenario: 'fail', seed: seedOne, expect: (b) => assert.equal(onlyTask(b).status, 'pending') },
  {
    step: 'fail:after-rename',
    scenario: 'fail',
    seed: seedOne,
    expect: (b) => {
      const task = b.get(onlyTask(b).id)!;
      assert.equal(task.status, 'pending');
      assert.ok(task.notBefore, 'scheduled for retry');
      assert.equal(b.errors(task.id)[0].message, 'transient trouble');
    },
  },
  {
    step: 'map:after-parent',
    scenario: 'map',
    seed: () => undefined,
    expect: (b) => {
      const stats = b.stats();
      assert.equal(stats.counts.waiting, 1);
      assert.equal(stats.counts.pending, 3, 'children rolled forward after the parent committed');
    },
  },
  { step: 'map:after-first-child', scenario: 'map', seed: () => undefined, expect: (b) => assert.equal(b.stats().counts.pending, 3) },
  {
    step: 'child:before-marker',
    scenario: 'child',
    seed: (b) => void b.map({ title: 'parent' }, [{ title: 'only child' }]),
    expect: (b) => assert.equal(b.list().find((t) => t.title === 'parent')!.status, 'done', 'repair completes the parent'),
  },
  {
    step: 'parent:before-promote',
    scenario: 'child',
    seed: (b) => void b.map({ title: 'parent' }, [{ title: 'c0' }, { title: 'c1' }]),
    expect: (b) => {
      assert.equal(b.list().find((t) => t.title === 'parent')!.status, 'done');
      assert.equal(b.events.read().events.filter((e) => e.type === 'parent-completed').length, 1, 'promoted exactly once');
    },
  },
  { step: 'cancel:after-rename', scenario: 'cancel', seed: seedOne, expect: (b) => assert.equal(onlyTask(b).status, 'cancelled') },
  {
    step: 'reclaim:after-error-write',
    scenario: 'reclaim',
    seed: (b) => {
      b.post({ title: 'acknowledged' });
      b.claim({ agent: 'gone', leaseMs: 100 });
      spawnSync('sleep', ['0.2']);
    },
    expect: (b) => assert.equal(onlyTask(b).status, 'pending'),
  },
];

describe('board crash consistency (kill -9 at each step)', () => {
  for (const testCase of cases) {
    it(`recovers after a crash at ${testCase.step}`, { timeout: 60_000 }, async () => {
      const root = freshRoot();
      const seeded = FileBoard.open({ root });
      testCase.seed(seeded);
      seeded.close();
      const victim = await runNode('fault-scenario.ts', [root, testCase.scenario], { SWARM_FAULT: testCase.step });
      assert.equal(victim.signal, 'SIGKILL', `the victim should die at ${testCase.step}: ${victim.stdout}${victim.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 400)); // let the victim's 300 ms lease expire
      const recovered = FileBoard.open({ root });
      recovered.reclaimExpired(50);
      recovered.repairParents();
      recovered.promoteDelayed();
      for (const [id, states] of statesById(root)) assert.equal(states.length, 1, `${id} is in ${states.join(', ')}`);
      assert.deepEqual(fs.readdirSync(path.join(root, 'tmp')), [], 'no orphans left in tmp/');
      testCase.expect(recovered);
      recovered.close();
    });
  }
});

describe('board repair: a writer that is a zombie is dead', () => {
  it('a post killed after its commit, whose process stays a zombie (its parent never reaps it, as under a PID 1 that never reaps), is rolled forward', { timeout: 60_000 }, async () => {
    const root = freshRoot();
    FileBoard.open({ root }).close();
    // sh starts the victim in the background, prints its pid, then becomes a sleep that never reaps it.
    const victimCommand = [process.execPath, '--import', 'tsx', path.join(fixtures, 'fault-scenario.ts'), root, 'post'].map((arg) => `'${arg}'`).join(' ');
    const parent = spawn('sh', ['-c', `${victimCommand} >/dev/null 2>&1 & echo $!; exec sleep 600`], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, SWARM_FAULT: 'post:after-commit' } });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (data: Buffer) => resolve(String(data)))));
      const deadline = Date.now() + 50_000;
      while (!/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))) {
        assert.ok(Date.now() < deadline, 'the victim killed itself at post:after-commit');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const recovered = FileBoard.open({ root });
      try {
        assert.equal(recovered.list().find((task) => task.title === 'posted by the victim')?.status, 'pending', 'the committed post was rolled forward');
        assert.deepEqual(fs.readdirSync(path.join(root, 'tmp')), [], 'no orphans left in tmp/');
      } finally {
        recovered.close();
      }
    } finally {
      parent.kill('SIGKILL');
    }
  });
});


// Issue 15, batches: several chunks of one map in one run of a command whose template depends on
// the task only through {files}. Real git repositories, real worktrees, real shell commands; the
// worker runs in this process (the agent-process paths are in batch-run.test.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as path from 'path';
import { afterEach, test } from 'node:test';
import * as fs from 'fs';
import * as os from 'os';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { FileBoard as AsyncFileBoard } from '../../../src/core/board/fileBoard';
import { PATCH_ARTIFACT, type Board } from '../../../src/core/board/interface';
import { LeaseLostError, type Task } from '../../../src/core/board/types';
import { createExecutor, parseExecutorConfig, resolveBatchLimit } from '../../../src/core/executors';
import { whyNotBatchable } from '../../../src/core/executors/template';
import { fairShare, fitsBatch, mayBatch, splitPatch } from '../../../src/core/pool/batch';
import { AgentWorker, type WorkerEvent } from '../../../src/core/pool/worker';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { makeRepo, fakeTask, type TempRepo } from '../worktree/helpers';
import { waitFor } from './helpers';

// ---- which commands and tasks may be batched

test('a template is batchable only when it depends on the task through {files} alone', () => {
  assert.equal(whyNotBatchable('eslint --fix {files}'), undefined);
  assert.equal(whyNotBatchable('cd {dir} && prettier -w {files}'), undefined);
  assert.match(whyNotBatchable('echo {title} > {files}') ?? '', /\{title\}/);
  assert.match(whyNotBatchable('fix {file}') ?? '', /\{files\}/, '{file} is one file of one task');
  assert.match(whyNotBatchable('npm run lint:fix') ?? '', /\{files\}/);
  assert.match(whyNotBatchable('sh -c \'tool "$SWARM_TASK_ID"\' {files}') ?? '', /SWARM_TASK_ID/);
  assert.equal(whyNotBatchable('echo ${files} {files}'), undefined, '${files} is a shell variable, not a placeholder');
});

test('batch config: auto batches what it can, false never, a number is a cap, bad values are refused at load', () => {
  const limit = (extra: Record<string, unknown>) => resolveBatchLimit(parseExecutorConfig({ type: 'command', command: 'eslint --fix {files}', ...extra }) as never);
  assert.equal(limit({}), 64);
  assert.equal(limit({ batch: false }), undefined);
  assert.equal(limit({ batch: 4 }), 4);
  assert.equal(limit({ batch: 1 }), undefined);
  assert.equal(limit({ verify: 'npm test' }), 64, 'a verify without placeholders does not stop a batch');
  assert.equal(limit({ verify: 'check {id}' }), undefined, 'auto: a verify that names the task runs per task');
  assert.equal(createExecutor({ type: 'command', command: 'echo {prompt}' }).batchLimit, undefined);
  assert.equal(createExecutor({ type: 'agent', agent: 'claude' }).batchLimit, undefined, 'agent CLIs run one task per run');
  assert.equal(createExecutor({ type: 'command', command: 'sed -i s/a/b/ {files}' }).batchLimit, 64);
  for (const bad of ['yes', true, 0, -2, 2.5, 5000]) {
    assert.throws(() => parseExecutorConfig({ type: 'command', command: 'x {files}', batch: bad }), /batch: must be "auto", false, or the most tasks per command/, String(bad));
  }
  assert.throws(() => parseExecutorConfig({ type: 'command', command: 'echo {title} {files}', batch: 4 }), /^ExecutorError: "batch": 4 needs a command that depends on the task only through \{files\}, but it uses \{title\}/);
  assert.throws(() => parseExecutorConfig({ type: 'agent', agent: 'claude', batch: 4 }), /batch/);
});

test('only first attempts of map children, from one parent and snapshot, with files of their own, run together', () => {
  const child = (partial: Partial<Task>) => fakeTask({ parentId: 'm1', attempts: 1, maxAttempts: 3, files: ['a.js'], ...partial });
  const leader = child({ files: ['src/a.js'] });
  assert.ok(mayBatch(leader));
  assert.ok(!mayBatch(child({ parentId: undefined })), 'not a map child');
  assert.ok(!mayBatch(child({ attempts: 2 })), 'a retry runs alone');
  assert.ok(!mayBatch(child({ lastError: { at: 1, attempt: 1, message: 'x', kind: 'transient' } as never })), 'a task that failed runs alone');
  assert.ok(!mayBatch(child({ maxAttempts: 1 })), 'a failed batch would use up its only attempt');
  assert.ok(!mayBatch(child({ payload: { bestOf: 2 } })));
  assert.ok(!mayBatch(child({ files: [] })));
  assert.ok(!mayBatch(child({ source: { kind: 'snapshot' } as never })), 'a snapshot task for other machines: its result travels as a bundle of its own');
  assert.ok(fitsBatch([leader], child({ files: ['src/b.js'] })));
  assert.ok(!fitsBatch([leader], child({ parentId: 'm2', files: ['src/b.js'] })), 'another map');
  assert.ok(!fitsBatch([leader], child({ files: ['src/b.js'], source: { kind: 'snapshot' } as never })), 'another snapshot');
  assert.ok(!fitsBatch([leader], child({ files: ['src'] })), 'files overlapping another task of the batch');
  const long = (prefix: string) => Array.from({ length: 400 }, (_, index) => `${prefix}/${'x'.repeat(90)}-${index}.js`);
  assert.ok(fitsBatch([child({ files: long('one') })], child({ files: long('two') })));
  assert.ok(!fitsBatch([child({ files: long('one') }), child({ files: long('two') })], child({ files: long('three') })), 'SWARM_FILES would pass the 128 KiB a single environment string may hold');
  assert.deepEqual([fairShare({ pending: 7, running: 1 }, 2, 64), fairShare({ pending: 3, running: 5 }, 2, 64), fairShare({ pending: 99, running: 1 }, 2, 10), fairShare({ pending: 0, running: 1 }, 4, 64)], [4, 4, 10, 1]);
});

test('a batch patch splits by path byte for byte; a path no task names goes to the first task', () => {
  const section = (file: string, body: Buffer | string) => Buffer.concat([Buffer.from(`diff --git a/${file} b/${file}\nindex 1111111..2222222 100644\n--- a/${file}\n+++ b/${file}\n@@ -1 +1 @@\n-x\n+`), Buffer.from(body), Buffer.from('\n')]);
  const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1: not UTF-8
  const whole = Buffer.concat([section('a/one.js', 'one'), section('b/two.js', latin1), section('c/stray.js', 'stray'), section('a/three.js', 'three')]);
  const tasks = [fakeTask({ id: 'tA', files: ['a'] }), fakeTask({ id: 'tB', files: ['b/two.js'] })];
  const split = splitPatch(whole, tasks);
  assert.deepEqual(split.strays, ['c/stray.js']);
  assert.ok((split.patches.get('tA') as Buffer).equals(Buffer.concat([section('a/one.js', 'one'), section('c/stray.js', 'stray'), section('a/three.js', 'three')])));
  assert.ok((split.patches.get('tB') as Buffer).equals(section('b/two.js', latin1)), 'bytes that are not UTF-8 survive');
  assert.deepEqual(split.paths.get('tA'), ['a/one.js', 'c/stray.js', 'a/three.js']);
  assert.equal(splitPatch(Buffer.alloc(0), tasks).patches.get('tB')?.length, 0);
});

// ---- real runs

const FILES = ['src/a.js', 'src/b.js', 'lib/c.js', 'lib/d.js', 'lib/e.js', 'test/f.js', 'test/g.js', 'h.js'];

function lintRepo(): TempRepo {
  const files = Object.fromEntries(FILES.map((file, index) => [file, `var x${index} = ${index};\nvar keep = 'é';\n`]));
  // Not UTF-8: the split must keep its bytes.
  files['h.js'] = Buffer.concat([Buffer.from('var h = "'), Buffer.from([0xe9, 0xff]), Buffer.from('";\n')]) as never;
  return makeRepo({ ...files, '.gitignore': '.swarm/\n' });
}

/** Four chunks of two files each, as `swarm map` would post them. */
function postMap(board: FileBoard, maxAttempts = 3): Task[] {
  const chunks = [0, 2, 4, 6].map((start) => FILES.slice(start, start + 2));
  return board.map({ title: 'lint' }, chunks.map((files, index) => ({ title: `chunk ${index + 1}`, files, maxAttempts }))).children;
}

interface Run {
  board: FileBoard;
  events: WorkerEvent[];
  worker: AgentWorker;
  done: Promise<void>;
}

function openBoard(repo: TempRepo): FileBoard {
  return FileBoard.open({ root: path.join(repo.root, '.swarm'), durable: false, retry: { baseMs: 20, capMs: 50 } });
}

function startWorker(repo: TempRepo, executor: unknown, options: { leaseMs?: number; stopWhenIdle?: boolean; board?: FileBoard; wrap?: (board: Board) => Board } = {}): Run {
  const board = options.board ?? openBoard(repo);
  const events: WorkerEvent[] = [];
  const boardApi = AsyncFileBoard.over(board);
  const worker = new AgentWorker({
    board: options.wrap ? options.wrap(boardApi) : boardApi,
    agentId: 'agent-1',
    slot: 's1',
    executor: createExecutor(executor),
    isolation: createWorktreeIsolation({ workspaceRoot: repo.root }),
    leaseMs: options.leaseMs ?? 30_000,
    stopWhenIdle: options.stopWhenIdle ?? true,
    minPollMs: 10,
    maxPollMs: 50,
    report: (event) => events.push(event),
  });
  return { board, events, worker, done: worker.run() };
}

async function patchOf(board: FileBoard, id: string): Promise<Buffer | undefined> {
  return AsyncFileBoard.over(board).getArtifact(id, PATCH_ARTIFACT);
}

const FIX = 'sed -i s/var/let/ {files}';

test('the same map with batch off and on: identical per-task patches, one command for all four chunks', async () => {
  const patches: Array<Array<Buffer | undefined>> = [];
  for (const batch of [false, 'auto']) {
    const repo = lintRepo();
    try {
      const board = openBoard(repo);
      const tasks = postMap(board);
      const trace = path.join(repo.root, '..', 'trace.jsonl');
      process.env.SWARM_TRACE = trace;
      const { events, done } = startWorker(repo, { type: 'command', command: FIX, batch }, { board });
      await done.finally(() => delete process.env.SWARM_TRACE);
      const phases = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { phase: string }).phase);
      assert.equal(phases.filter((phase) => phase === 'batch').length, batch === false ? 0 : 1, 'the trace marks the batch');
      for (const task of tasks) assert.equal(board.get(task.id)?.status, 'done', JSON.stringify(board.errors(task.id)));
      patches.push(await Promise.all(tasks.map((task) => patchOf(board, task.id))));
      const results = tasks.map((task) => board.get(task.id)?.result as { batch?: string[]; files: Array<{ path: string }> });
      const started = events.filter((event) => event.type === 'task-started').length;
      assert.equal(started, 4, 'every task is reported started');
      if (batch === false) {
        assert.ok(results.every((result) => result.batch === undefined));
      } else {
        const ids = tasks.map((task) => task.id);
        assert.ok(results.every((result) => JSON.stringify(result.batch) === JSON.stringify(ids)), 'each result names the batch');
        assert.deepEqual(results.map((result) => result.files.map((file) => file.path)), [0, 2, 4, 6].map((start) => FILES.slice(start, start + 2).sort()), 'each result lists only its own files');
        const log = (await AsyncFileBoard.over(board).getArtifact(tasks[2].id, 'log.txt'))?.toString() ?? '';
        assert.match(log, /\[batch\] one command for a batch of 4 tasks/);
        assert.equal(log.match(/^\$ sed/gm)?.length, 1, 'one command ran');
      }
      board.close();
    } finally {
      repo.cleanup();
    }
  }
  const [alone, together] = patches;
  for (let index = 0; index < alone.length; index++) {
    assert.ok(alone[index] && together[index] && alone[index]?.equals(together[index] as Buffer), `task ${index + 1}'s patch is byte-identical`);
  }
});

test('a failing batch fails each task once, naming the batch; their retries run alone, so one bad file does not kill its siblings', async () => {
  const repo = lintRepo();
  try {
    repo.write('lib/d.js', 'BAD\n');
    execFileSync('git', ['commit', '-qam', 'bad file'], { cwd: repo.root });
    // Fails (exit 3) when any file given to it holds BAD: a run of the bad chunk alone fails too.
    const command = `! grep -l BAD {files} && ${FIX} || exit 3`;
    const { board, worker, done } = startWorker(repo, { type: 'command', command }, { stopWhenIdle: false });
    const tasks = postMap(board, 2);
    const settled = () => tasks.every((task) => ['done', 'dead'].includes(board.get(task.id)?.status ?? ''));
    await waitFor('every task to end', settled, 60_000);
    assert.deepEqual(tasks.map((task) => board.get(task.id)?.status), ['done', 'dead', 'done', 'done']);
    for (const task of tasks) {
      const [first] = board.errors(task.id);
      assert.match(first.message, new RegExp(`^Ran in a batch of 4 with tasks ${tasks.filter((other) => other.id !== task.id).map((other) => other.id).join(', ')}: The command failed \\(exit 3\\)`));
    }
    assert.doesNotMatch(board.errors(tasks[1].id)[1].message, /batch/, 'the retry ran alone');
    for (const index of [0, 2, 3]) assert.equal((board.get(tasks[index].id)?.result as { batch?: string[] }).batch, undefined, 'retries run alone');
    worker.drain();
    await done;
    board.close();
  } finally {
    repo.cleanup();
  }
});

// ---- a task of a batch stops: the command stops, the others go back uncounted

const holds: string[] = [];
afterEach(() => {
  for (const dir of holds.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A command that waits while the returned file exists, then fixes its files. */
function heldCommand(): { command: string; release: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-batch-hold-'));
  holds.push(dir);
  const hold = path.join(dir, 'hold');
  fs.writeFileSync(hold, '');
  return { command: `while [ -f ${hold} ]; do sleep 0.05; done; ${FIX}`, release: () => fs.rmSync(hold, { force: true }) };
}

async function stopOneOfTheBatch(stop: (run: Run, tasks: Task[]) => void, expected: 'cancelled' | 'lost'): Promise<void> {
  const repo = lintRepo();
  const held = heldCommand();
  try {
    const board = openBoard(repo);
    const tasks = postMap(board);
    const lostTokens = new Set<string>();
    const wrap = (api: Board): Board =>
      new Proxy(api, {
        get(target, name, receiver) {
          if (name !== 'heartbeat') return Reflect.get(target, name, receiver) as unknown;
          return async (claim: { token: string }, leaseMs?: number) => {
            // The board has given this lease to someone else (as after a long network outage).
            if (lostTokens.has(claim.token)) throw new LeaseLostError(tasks[1].id, `The lease of task ${tasks[1].id} was reclaimed.`, 'reclaimed');
            return target.heartbeat(claim, leaseMs);
          };
        },
      });
    const run = startWorker(repo, { type: 'command', command: held.command }, { board, leaseMs: 900, stopWhenIdle: false, wrap });
    const started = await waitFor('the batch of four to start', () => {
      const events = run.events.filter((event) => event.type === 'task-started');
      return events.length === 4 && events;
    });
    if (expected === 'lost') {
      const second = started.find((event) => event.type === 'task-started' && event.taskId === tasks[1].id);
      lostTokens.add(second?.type === 'task-started' ? second.token : '');
    }
    stop(run, tasks);
    const ended = await waitFor('the batch to end', () => {
      const events = run.events.filter((event) => event.type === 'task-ended');
      return events.length >= 4 && events;
    }, 30_000);
    const outcomes = Object.fromEntries(ended.slice(0, 4).map((event) => [event.type === 'task-ended' ? event.taskId : '', event.type === 'task-ended' ? event.outcome : '']));
    assert.deepEqual(tasks.map((task) => outcomes[task.id]), ['released', expected, 'released', 'released']);
    for (const index of [0, 2, 3]) assert.deepEqual(board.errors(tasks[index].id), [], 'the others record no failure');
    held.release();
    await waitFor('the other three to be done', () => [0, 2, 3].every((index) => board.get(tasks[index].id)?.status === 'done'), 60_000);
    const result = board.get(tasks[0].id)?.result as { batch?: string[] };
    assert.deepEqual(result.batch, [tasks[0].id, tasks[2].id, tasks[3].id], 'they ran again together, attempts uncounted');
    assert.ok([0, 2, 3].every((index) => board.get(tasks[index].id)?.attempts === 1), 'the stopped attempt did not count');
    if (expected === 'cancelled') assert.equal(board.get(tasks[1].id)?.status, 'cancelled');
    else await waitFor('the lost task to come back and run', () => board.get(tasks[1].id)?.status === 'done', 60_000);
    run.worker.drain();
    await run.done;
    board.close();
  } finally {
    held.release();
    repo.cleanup();
  }
}

test('cancelling one task of a running batch stops the command; the others go back uncounted and run again', async () => {
  await stopOneOfTheBatch((run, tasks) => run.board.cancel(tasks[1].id), 'cancelled');
});

test('one task of a batch losing its lease stops the command; it records nothing, the others go back uncounted', async () => {
  await stopOneOfTheBatch(() => undefined, 'lost');
});

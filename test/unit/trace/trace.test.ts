// SWARM_TRACE=<file>: per-phase durations of real work (a real repository, real git, real
// processes, and `swarm run` through the built CLI for the agent's phases; `npm run build` first).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { runInProcessGroup } from '../../../src/core/executors/process';
import { recordPhase, summarizeTrace, tracePhase, type TraceLine } from '../../../src/core/trace';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { fakeTask, makeRepo, type TempRepo } from '../worktree/helpers';

const cli = path.join(__dirname, '..', '..', '..', 'dist', 'cli.js');
const cleanups: Array<() => void> = [];
const savedTrace = process.env.SWARM_TRACE;
afterEach(() => {
  if (savedTrace === undefined) delete process.env.SWARM_TRACE;
  else process.env.SWARM_TRACE = savedTrace;
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-trace-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function repo(): TempRepo {
  const made = makeRepo();
  cleanups.push(() => made.cleanup());
  return made;
}

function linesOf(file: string): TraceLine[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as TraceLine);
}

describe('SWARM_TRACE', () => {
  it('records the worktree phases and every git command of a cold and a warm attempt, with the task id', async () => {
    const r = repo();
    const file = path.join(tempDir(), 'trace.jsonl');
    process.env.SWARM_TRACE = file;
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    for (const _ of [1, 2]) {
      const task = fakeTask();
      const prepared = await isolation.prepare(task, '1', path.join(r.root, '.swarm', 'artifacts', task.id));
      fs.writeFileSync(path.join(prepared.cwd, 'src/a.txt'), 'changed\n');
      await isolation.collect(task, '1', prepared, path.join(r.root, '.swarm', 'artifacts', task.id));
    }
    await isolation.release();
    const phases = summarizeTrace(file);
    const count = (phase: string) => phases.find((row) => row.phase === phase)?.count ?? 0;
    assert.equal(count('slot create'), 1, JSON.stringify(phases));
    assert.equal(count('slot reset'), 1, JSON.stringify(phases));
    assert.equal(count('snapshot'), 2);
    assert.equal(count('collect stage'), 2);
    assert.equal(count('collect diff'), 2);
    assert.ok(count('git reset') >= 2 && count('git diff') >= 2, 'each git command is a phase named by its subcommand');
    const lines = linesOf(file);
    assert.ok(lines.every((line) => line.pid === process.pid && Number.isFinite(line.ms) && line.ms >= 0));
    assert.ok(lines.filter((line) => line.phase === 'snapshot').every((line) => typeof line.task === 'string' && line.task.length > 0), 'worktree phases name their task');
  });

  it('records a command and its teardown, each with the time it ended', async () => {
    const file = path.join(tempDir(), 'trace.jsonl');
    process.env.SWARM_TRACE = file;
    const before = Date.now();
    const result = await runInProcessGroup({ script: 'sleep 0.2; exit 3', cwd: os.tmpdir() });
    const after = Date.now();
    assert.equal(result.exitCode, 3);
    const [command, teardown] = linesOf(file);
    assert.deepEqual([command.phase, teardown.phase], ['command', 'command teardown']);
    // The command's start (its end less its length) lies within the call, and it ended before its teardown.
    assert.ok(command.at - command.ms >= before - 5 && command.at <= after + 5, JSON.stringify({ before, command, after }));
    assert.ok(command.ms >= 150, `the command took ${command.ms} ms`);
    assert.ok(teardown.at >= command.at && teardown.at <= after + 5);
  });

  it('writes nothing without SWARM_TRACE, and an unwritable trace file never fails the work', async () => {
    const dir = tempDir();
    delete process.env.SWARM_TRACE;
    assert.equal(await tracePhase('quiet', undefined, async () => 42), 42);
    recordPhase('quiet', 1);
    assert.deepEqual(fs.readdirSync(dir), []);
    process.env.SWARM_TRACE = dir; // a folder: cannot be opened for appending
    assert.equal(await tracePhase('lost', 't1', async () => 'done'), 'done');
    await assert.rejects(tracePhase('failing', 't1', async () => Promise.reject(new Error('the work failed'))), /the work failed/);
  });

  it('records a phase that throws, and summarizes counts, totals and means, skipping torn lines', async () => {
    const file = path.join(tempDir(), 'trace.jsonl');
    process.env.SWARM_TRACE = file;
    await assert.rejects(tracePhase('failing', 't1', async () => Promise.reject(new Error('no'))));
    recordPhase('fixed', 10);
    recordPhase('fixed', 30);
    fs.appendFileSync(file, '{"pid":1,"pha'); // a process killed mid-line
    const rows = summarizeTrace(file);
    assert.deepEqual(rows.find((row) => row.phase === 'fixed'), { phase: 'fixed', count: 2, totalMs: 40, meanMs: 20 });
    assert.equal(rows.find((row) => row.phase === 'failing')?.count, 1);
  });

  it('swarm run: the agents add claim, prepare, execute, collect, complete and task per task to one file', () => {
    assert.ok(fs.existsSync(cli), 'dist/cli.js is built (npm run build)');
    const r = repo();
    const file = path.join(tempDir(), 'trace.jsonl');
    execFileSync(process.execPath, [cli, 'post', 'first'], { cwd: r.root });
    execFileSync(process.execPath, [cli, 'post', 'second'], { cwd: r.root });
    const env = { ...process.env, SWARM_TRACE: file };
    const run = spawnSync(process.execPath, [cli, 'run', '--agents', '2', '--exec', 'echo traced > traced-$SWARM_TASK_ID.txt', '--until-empty'], { cwd: r.root, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(run.status, 0, run.stderr + run.stdout);
    const lines = linesOf(file);
    for (const phase of ['prepare', 'execute', 'command', 'collect', 'complete', 'task']) {
      assert.equal(lines.filter((line) => line.phase === phase).length, 2, `${phase} once per task: ${JSON.stringify(summarizeTrace(file))}`);
    }
    assert.ok(lines.filter((line) => line.phase === 'claim').length >= 2);
    assert.equal(new Set(lines.filter((line) => line.phase === 'task').map((line) => line.task)).size, 2);
    assert.ok(new Set(lines.map((line) => line.pid)).size >= 2, 'the host and its agents write to the same file');
  });
});

// Slots made ready while the agents that will use them still boot (WorktreeIsolation.warmUp): the
// first task of a warmed slot gets the warm-up's workspace as it is, from the run's snapshot; a
// task that must start elsewhere, a warm-up gone stale, one refused by the host's sweep or one cut
// short by the pool's stop each leave the slot exactly as a plain prepare would.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { createWorktreeIsolation, type WorktreeIsolationOptions } from '../../../src/core/worktree';
import { guardIsolation } from '../../../src/core/sandbox/escapeGuard';
import type { TaskIsolation } from '../../../src/core/pool/isolation';
import { fakeTask, git, killProcessGroup, makeRepo, manyFiles, slotsDir, waitForCondition, type TempRepo } from './helpers';

const repos: TempRepo[] = [];
afterEach(() => {
  for (const made of repos.splice(0)) made.cleanup();
});

function repoWithEdit(): TempRepo {
  const r = makeRepo({ 'src/a.txt': 'committed\n', 'README.md': '# demo\n' });
  repos.push(r);
  r.write('src/a.txt', 'edited before the run\n');
  return r;
}

/** A worktree isolation whose log lines are kept: "task <id>: ready|warm|cold worktree ...". */
function isolationOf(r: TempRepo, options: Partial<WorktreeIsolationOptions> = {}): { isolation: ReturnType<typeof createWorktreeIsolation>; lines: string[] } {
  const lines: string[] = [];
  const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [], log: (line) => lines.push(line), ...options });
  return { isolation, lines };
}

/** How the prepare of `taskId` found its slot, from its log line. */
function howPrepared(lines: string[], taskId: string): string | undefined {
  return lines.map((line) => new RegExp(`^task ${taskId}: (ready|warm|cold) worktree`).exec(line)?.[1]).find(Boolean);
}

function bigRepo(count: number): TempRepo {
  const made = makeRepo(manyFiles(count));
  repos.push(made);
  return made;
}



function registeredWorktrees(root: string): string[] {
  return git(root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ')).map((line) => line.slice('worktree '.length));
}

function artifacts(r: TempRepo, taskId: string): string {
  return path.join(r.root, '.swarm', 'artifacts', taskId);
}

describe('warm-up of agent slots', () => {
  it('the first task of a warmed slot gets the warm-up\'s workspace as it is, from the working state', async () => {
    const r = repoWithEdit();
    const { isolation, lines } = isolationOf(r);
    isolation.warmUp(['1', '2'], Promise.resolve());
    const [first, second] = [fakeTask(), fakeTask()];
    const prepared = await Promise.all([isolation.prepare(first, '1', artifacts(r, first.id)), isolation.prepare(second, '2', artifacts(r, second.id))]);
    assert.equal(howPrepared(lines, first.id), 'ready', lines.join('\n'));
    assert.equal(howPrepared(lines, second.id), 'ready', lines.join('\n'));
    for (const workspace of prepared) assert.equal(fs.readFileSync(path.join(workspace.cwd, 'src', 'a.txt'), 'utf8'), 'edited before the run\n');
    assert.equal(prepared[0].snapshot, prepared[1].snapshot, 'one snapshot for the run');
    await isolation.collect(first, '1', prepared[0], artifacts(r, first.id));
    // The slot's second task is prepared as any reused slot is: cleaned and reset.
    const third = fakeTask();
    await isolation.prepare(third, '1', artifacts(r, third.id));
    assert.equal(howPrepared(lines, third.id), 'warm');
    await isolation.release();
  });

  it('an edit made after the warm-up reaches no task of the run\'s start, and every task once the warm-up no longer stands for the working state', async () => {
    const r = repoWithEdit();
    const { isolation, lines } = isolationOf(r);
    isolation.warmUp(['1'], Promise.resolve());
    await new Promise((resolve) => setTimeout(resolve, 300)); // the warm-up's snapshot is taken
    r.write('src/a.txt', 'edited after the run started\n');
    const first = fakeTask();
    const prepared = await isolation.prepare(first, '1', artifacts(r, first.id));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src', 'a.txt'), 'utf8'), 'edited before the run\n', 'the run starts from the working state at its start');
    await isolation.release();

    const stale = isolationOf(r, { warmUpServesMs: 0 });
    stale.isolation.warmUp(['1'], Promise.resolve());
    await new Promise((resolve) => setTimeout(resolve, 300));
    r.write('src/a.txt', 'edited once more\n');
    const later = fakeTask();
    const fresh = await stale.isolation.prepare(later, '1', artifacts(r, later.id));
    assert.equal(fs.readFileSync(path.join(fresh.cwd, 'src', 'a.txt'), 'utf8'), 'edited once more\n', 'a stale warm-up stands for nothing');
    assert.equal(howPrepared(stale.lines, later.id), 'warm', 'the warmed slot is reset to the fresh snapshot');
    assert.equal(howPrepared(lines, first.id), 'ready');
    await stale.isolation.release();
  });

  it('a task that starts from its own snapshot (it names an untracked file) gets the slot reset to it', async () => {
    const r = repoWithEdit();
    const { isolation, lines } = isolationOf(r);
    isolation.warmUp(['1'], Promise.resolve());
    r.write('notes/new.txt', 'untracked\n');
    const task = fakeTask({ files: ['notes/new.txt'] });
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'notes', 'new.txt'), 'utf8'), 'untracked\n');
    assert.equal(howPrepared(lines, task.id), 'warm');
    await isolation.release();
  });

  it('a warm-up the host\'s sweep refuses touches no slot, and the task prepares its own', async () => {
    const r = repoWithEdit();
    const { isolation, lines } = isolationOf(r);
    isolation.warmUp(['1'], Promise.reject(new Error('the sweep failed')));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(registeredWorktrees(r.root), [fs.realpathSync(r.root)], 'no slot registered');
    assert.deepEqual(fs.existsSync(slotsDir(r.root)) ? fs.readdirSync(slotsDir(r.root)).filter((name) => name.endsWith('.lock')) : [], [], 'no slot locked');
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.equal(howPrepared(lines, task.id), 'cold');
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src', 'a.txt'), 'utf8'), 'edited before the run\n');
    await isolation.release();
  });

  it('a stop during the warm-up leaves no slot behind', async () => {
    const r = repoWithEdit();
    const { isolation } = isolationOf(r);
    let sweepDone!: () => void;
    isolation.warmUp(['1', '2'], new Promise<void>((resolve) => (sweepDone = resolve)));
    const released = isolation.release();
    sweepDone(); // the sweep ends after the stop began: the warm-ups must not go on
    await released;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(registeredWorktrees(r.root), [fs.realpathSync(r.root)]);
    const left = fs.existsSync(slotsDir(r.root)) ? fs.readdirSync(slotsDir(r.root)).filter((name) => name !== '.repository') : [];
    assert.deepEqual(left.filter((name) => /^(1|2)(\.|$)/.test(name)), [], `slot files left: ${left.join(', ')}`);
  });

  it('an isolation used again after its release warms its slots up again', async () => {
    const r = repoWithEdit();
    const { isolation, lines } = isolationOf(r);
    isolation.warmUp(['1'], Promise.resolve());
    const first = fakeTask();
    await isolation.prepare(first, '1', artifacts(r, first.id));
    await isolation.release();
    isolation.warmUp(['1'], Promise.resolve());
    const second = fakeTask();
    await isolation.prepare(second, '1', artifacts(r, second.id));
    assert.equal(howPrepared(lines, second.id), 'ready', lines.join('\n'));
    await isolation.release();
  });

  it('a runner (its tasks start from their poster\'s snapshot) warms nothing up', async () => {
    const r = repoWithEdit();
    const head = git(r.root, ['rev-parse', 'HEAD']);
    const { isolation, lines } = isolationOf(r, { startFrom: () => head });
    isolation.warmUp(['1'], Promise.resolve());
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.equal(howPrepared(lines, task.id), 'cold');
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src', 'a.txt'), 'utf8'), 'committed\n');
    await isolation.release();
  });

  it('with a setup command nothing is warmed up: the setup is part of its task\'s attempt', async () => {
    const r = repoWithEdit();
    const { isolation, lines } = isolationOf(r, { setupCommand: 'echo "$SWARM_TASK_ID" > .setup-of' });
    isolation.warmUp(['1'], Promise.resolve());
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.equal(howPrepared(lines, task.id), 'cold');
    assert.equal(fs.readFileSync(path.join(prepared.cwd, '.setup-of'), 'utf8').trim(), task.id, 'the setup ran for the task');
    await isolation.release();
  });

  for (const when of ['while it creates the slot', 'once the slot is ready'] as const) {
    it(`kill -9 of the host ${when}: the next start repairs or reuses the slot, from the working state of then`, async () => {
      const r = bigRepo(when === 'while it creates the slot' ? 4000 : 10);
      const slot = path.join(slotsDir(r.root), 'slot-1');
      const adminDir = path.join(r.root, '.git', 'worktrees');
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'warm-up-child.ts'), r.root], { detached: true, stdio: 'ignore' });
      const phase = (): string | undefined => (fs.existsSync(`${slot}.json`) ? (JSON.parse(fs.readFileSync(`${slot}.json`, 'utf8')) as { phase: string }).phase : undefined);
      try {
        if (when === 'while it creates the slot') await waitForCondition(() => fs.existsSync(adminDir) && fs.readdirSync(adminDir).length > 0 && fs.existsSync(slot), 60_000);
        else await waitForCondition(() => phase() === 'ready', 60_000);
      } finally {
        await killProcessGroup(child);
      }
      assert.equal(phase(), when === 'while it creates the slot' ? 'creating' : 'ready');
      r.write('d0/f0.txt', 'edited after the crash\n');
      const { isolation, lines } = isolationOf(r);
      await isolation.prune();
      const task = fakeTask();
      const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
      assert.equal(howPrepared(lines, task.id), when === 'while it creates the slot' ? 'cold' : 'warm');
      assert.equal(fs.readFileSync(path.join(prepared.cwd, 'd0', 'f0.txt'), 'utf8'), 'edited after the crash\n');
      assert.equal(git(prepared.cwd, ['status', '--porcelain']), '', 'nothing else differs from the snapshot');
      await isolation.release();
    });
  }

  it('the guard of an unsandboxed isolation passes the warm-up and a batch\'s keepBase through', async () => {
    const r = repoWithEdit();
    const { isolation, lines } = isolationOf(r);
    const guarded: TaskIsolation = guardIsolation(isolation, { checkout: r.root, gitCommonDir: path.join(r.root, '.git') }, () => undefined);
    assert.ok(guarded.warmUp && guarded.keepBase, 'both are there');
    guarded.warmUp(['1'], Promise.resolve());
    const [first, other] = [fakeTask(), fakeTask()];
    const prepared = await guarded.prepare(first, '1', artifacts(r, first.id));
    assert.equal(howPrepared(lines, first.id), 'ready');
    fs.writeFileSync(path.join(prepared.cwd, 'src', 'a.txt'), 'changed by the batch\n');
    const changes = await guarded.collect(first, '1', prepared, artifacts(r, first.id));
    await guarded.keepBase(first.id === other.id ? [] : [other.id], changes.base as string);
    assert.equal(git(r.root, ['rev-parse', `refs/swarm-base/${other.id}`]), changes.base, 'the batch\'s other task keeps its base');
    await guarded.release?.();
  });
});

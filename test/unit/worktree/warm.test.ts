// A slot made ready while its agent starts (WorktreeIsolation.warm): the first prepare finds it
// ready and only resets it to the task's own snapshot, so a task still sees the files as they are
// when it starts; a prepare or a release while it is being made waits for it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as os from 'node:os';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { listParked } from '../../../src/core/worktree/parked';
import { fakeTask, git, reposRemovedAfterEach, slotsDir, type TempRepo } from './helpers';

const repo = reposRemovedAfterEach();
const FILES = { 'src/a.txt': 'one\n', 'src/b.txt': 'bee\n', 'README.md': '# demo\n' };

function artifacts(r: TempRepo, id: string): string {
  return path.join(r.root, '.swarm', 'artifacts', id);
}

function registeredSlots(r: TempRepo): string[] {
  return git(r.root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ') && !line.endsWith(r.root));
}

/** Resolves once `check` holds, polling; fails after a generous deadline. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('a slot made ready ahead of its first task (warm)', () => {
  it('the first prepare finds it ready, and the task still starts from the files as they are when it starts', async () => {
    const r = repo(FILES);
    const logged: string[] = [];
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, log: (line) => logged.push(line) });
    isolation.warm?.('1');
    const worktree = path.join(slotsDir(r.root), 'slot-1');
    await until('the slot to be made', () => fs.existsSync(path.join(worktree, 'src/a.txt')) && !fs.existsSync(`${worktree}.lock`));
    assert.equal(fs.readFileSync(path.join(worktree, 'src/b.txt'), 'utf8'), 'bee\n');
    // Edits after the slot was made ready, before the task starts: the task must see them.
    r.write('src/b.txt', 'bee, edited after the agent started\n');
    r.write('src/new.txt', 'untracked, named by the task\n');
    const task = fakeTask({ files: ['src/new.txt'] });
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.equal(prepared.cwd, worktree);
    assert.ok(logged.some((line) => line.includes(`task ${task.id}: warm worktree`)), `the prepare reused the ready slot:\n${logged.join('\n')}`);
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/b.txt'), 'utf8'), 'bee, edited after the agent started\n');
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/new.txt'), 'utf8'), 'untracked, named by the task\n');
    fs.writeFileSync(path.join(prepared.cwd, 'src/a.txt'), 'ONE\n');
    const changes = await isolation.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files.map((file) => [file.path, file.status]), [['src/a.txt', 'modified']]);
    await isolation.release();
    assert.deepEqual(registeredSlots(r), []);
  });

  it('a prepare and a release while the slot is being made wait for it: one slot, parked at the end', async () => {
    const r = repo(FILES);
    const logged: string[] = [];
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, log: (line) => logged.push(line) });
    isolation.warm?.('1');
    isolation.warm?.('1'); // an agent started again in the same slot: one making at a time
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.ok(logged.some((line) => line.includes(`task ${task.id}: warm worktree`)), logged.join('\n'));
    assert.equal(registeredSlots(r).length, 1);
    await isolation.collect(task, '1', prepared, artifacts(r, task.id));
    isolation.warm?.('2'); // an agent that never gets a task: its slot is parked with the others
    await isolation.release();
    assert.deepEqual(registeredSlots(r), []);
    assert.equal(listParked(slotsDir(r.root)).length, 2, logged.join('\n'));
  });

  it('a parked tree is taken over while the agent starts; the task gets the snapshot of when it starts', async () => {
    const r = repo(FILES);
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    const earlier = fakeTask();
    const used = await first.prepare(earlier, '1', artifacts(r, earlier.id));
    fs.writeFileSync(path.join(used.cwd, 'src/a.txt'), 'left by the earlier run\n');
    await first.collect(earlier, '1', used, artifacts(r, earlier.id));
    await first.release();
    assert.equal(listParked(slotsDir(r.root)).length, 1);
    const logged: string[] = [];
    const second = createWorktreeIsolation({ workspaceRoot: r.root, log: (line) => logged.push(line) });
    second.warm?.('1');
    await until('the parked tree to be taken over', () => listParked(slotsDir(r.root)).length === 0 && !fs.existsSync(path.join(slotsDir(r.root), 'slot-1.lock')));
    r.write('README.md', '# demo, edited\n');
    const task = fakeTask();
    const prepared = await second.prepare(task, '1', artifacts(r, task.id));
    assert.ok(logged.some((line) => line.includes(`task ${task.id}: warm worktree`)), logged.join('\n'));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/a.txt'), 'utf8'), 'one\n', 'the earlier run\'s change is gone');
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'README.md'), 'utf8'), '# demo, edited\n');
    const changes = await second.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files, []);
    await second.release();
  });

  it('never with a setup command (it runs for a task): the first prepare makes the slot and runs it', async () => {
    const r = repo(FILES);
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, setupCommand: 'echo set up > setup.txt' });
    isolation.warm?.('1');
    assert.equal(fs.existsSync(path.join(slotsDir(r.root), 'slot-1')), false);
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'setup.txt'), 'utf8'), 'set up\n');
    await isolation.abandon(task, '1', prepared, 'test over');
    await isolation.release();
  });
});

describe('the prune at a run\'s start', () => {
  /** The git commands `work` runs, as SWARM_TRACE records them. */
  async function gitCommandsOf(work: () => Promise<unknown>): Promise<string[]> {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-trace-')), 'trace.jsonl');
    const saved = process.env.SWARM_TRACE;
    process.env.SWARM_TRACE = file;
    try {
      await work();
    } finally {
      if (saved === undefined) delete process.env.SWARM_TRACE;
      else process.env.SWARM_TRACE = saved;
    }
    const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    return lines.map((line) => (JSON.parse(line) as { phase: string }).phase).filter((phase) => phase.startsWith('git '));
  }

  it('after a clean end it runs one prune and one listing; a slot left behind is still removed', async () => {
    const r = repo(FILES);
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await first.prepare(task, '1', artifacts(r, task.id));
    await first.collect(task, '1', prepared, artifacts(r, task.id));
    await first.release();
    const next = createWorktreeIsolation({ workspaceRoot: r.root });
    const worktreeCommands = (commands: string[]): string[] => commands.filter((command) => command === 'git worktree');
    assert.deepEqual(worktreeCommands(await gitCommandsOf(() => next.prune?.())), ['git worktree', 'git worktree'], 'git worktree prune, then list');

    // A slot registered by a process that is gone (no state record): removed, then pruned and listed again.
    git(r.root, ['worktree', 'add', '--detach', '-q', path.join(slotsDir(r.root), 'slot-9'), 'HEAD']);
    const commands = await gitCommandsOf(() => createWorktreeIsolation({ workspaceRoot: r.root }).prune?.());
    assert.equal(worktreeCommands(commands).length, 5, `prune, list, remove, prune, list: ${commands.join(', ')}`);
    assert.deepEqual(registeredSlots(r), []);
  });
});

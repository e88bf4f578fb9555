// Worktrees live outside the checkout (issue 15): tools that search upward for their configuration
// from an agent's worktree must not reach the workspace's files or its parents'.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { createWorktreeIsolation, pruneWorktrees } from '../../../src/core/worktree';
import { fakeTask, git, reposRemovedAfterEach, slotsDir } from './helpers';

const repo = reposRemovedAfterEach();

/** Every `name` a tool searching upward from `cwd` would find (a real shell walking the parents). */
function foundUpward(cwd: string, name: string): string[] {
  const script = 'd=$PWD; while :; do [ -e "$d/$1" ] && echo "$d/$1"; [ "$d" = / ] && break; d=$(dirname "$d"); done';
  const result = spawnSync('sh', ['-c', script, 'sh', name], { cwd, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter(Boolean);
}

function swarmRefs(root: string): string[] {
  return git(root, ['for-each-ref', '--format=%(refname)', 'refs/swarm/', 'refs/swarm-base/']).split('\n').filter(Boolean);
}

describe('worktree location', () => {
  it("a config file in the workspace root or its parent chain does not reach an agent's worktree", async () => {
    const r = repo();
    const parentConfig = path.join(path.dirname(r.root), '.eslintrc.json');
    fs.writeFileSync(parentConfig, '{"root": false}\n');
    r.write('.prettierrc', '{}\n'); // untracked, at the workspace root: not part of the snapshot
    // The search itself works: from inside the checkout (where the slots used to be) both are found.
    fs.mkdirSync(path.join(r.root, '.git', 'swarm', 'worktrees', 'slot-1'), { recursive: true });
    assert.deepEqual(foundUpward(path.join(r.root, '.git', 'swarm', 'worktrees', 'slot-1'), '.eslintrc.json'), [parentConfig]);
    assert.deepEqual(foundUpward(path.join(r.root, '.git', 'swarm', 'worktrees', 'slot-1'), '.prettierrc'), [path.join(r.root, '.prettierrc')]);
    fs.rmSync(path.join(r.root, '.git', 'swarm'), { recursive: true });

    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', path.join(r.root, '.swarm', 'artifacts', task.id));
    assert.ok(!prepared.cwd.startsWith(path.dirname(r.root) + path.sep), `outside the workspace's parent: ${prepared.cwd}`);
    assert.deepEqual(foundUpward(path.join(prepared.cwd, 'src'), '.eslintrc.json'), [], 'the parent folder config is not found');
    assert.deepEqual(foundUpward(path.join(prepared.cwd, 'src'), '.prettierrc'), [], 'the untracked workspace config is not found');
    // A tracked config is part of the snapshot and found in the worktree itself, as it should be.
    assert.deepEqual(foundUpward(path.join(prepared.cwd, 'src'), 'README.md'), [path.join(prepared.cwd, 'README.md')]);
    await isolation.collect(task, '1', prepared, path.join(r.root, '.swarm', 'artifacts', task.id));
  });

  it('a configured folder is used; one inside the checkout is refused with what to do', async () => {
    const r = repo();
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-wtdir-'));
    try {
      const isolation = createWorktreeIsolation({ workspaceRoot: r.root, worktreesDir: outside, include: [] });
      const task = fakeTask();
      const prepared = await isolation.prepare(task, '1', path.join(r.root, '.swarm', 'artifacts', task.id));
      assert.equal(path.dirname(prepared.cwd), outside);
      await isolation.collect(task, '1', prepared, path.join(r.root, '.swarm', 'artifacts', task.id));
      await isolation.release();
      assert.equal(git(r.root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ')).length, 1);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
    const inside = createWorktreeIsolation({ workspaceRoot: r.root, worktreesDir: path.join(r.root, 'build', 'wt') });
    await assert.rejects(inside.prepare(fakeTask(), '1', path.join(r.root, '.swarm', 'artifacts', 'x')), /inside your checkout .*"worktrees\.dir"/s);
  });

  it('release at the end of a run removes idle slots; only results with changes keep a base ref', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    const changed = fakeTask();
    const noop = fakeTask();
    const first = await isolation.prepare(changed, '1', path.join(r.root, '.swarm', 'artifacts', changed.id));
    const second = await isolation.prepare(noop, '2', path.join(r.root, '.swarm', 'artifacts', noop.id));
    fs.writeFileSync(path.join(first.cwd, 'README.md'), 'changed\n');
    await isolation.collect(changed, '1', first, path.join(r.root, '.swarm', 'artifacts', changed.id));
    await isolation.collect(noop, '2', second, path.join(r.root, '.swarm', 'artifacts', noop.id));
    assert.deepEqual(swarmRefs(r.root), [`refs/swarm-base/${changed.id}`]);
    await isolation.release();
    assert.equal(git(r.root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ')).length, 1, 'only the main worktree');
    // The idle slots' files are parked for the next run (not registered, no state, no locks).
    assert.deepEqual(fs.readdirSync(slotsDir(r.root)).sort(), ['.repository', 'parked']);
    assert.equal(fs.readdirSync(path.join(slotsDir(r.root), 'parked')).length, 2);
    assert.equal(await isolation.pruneRefs((id) => id === changed.id), 0);
    assert.deepEqual(swarmRefs(r.root), [`refs/swarm-base/${changed.id}`], 'refs the caller keeps stay');
    assert.equal(await isolation.pruneRefs(() => false), 1);
    assert.deepEqual(swarmRefs(r.root), []);
  });

  it('release at the end of a run does not fail when the worktrees folder is already gone (another process pruned it)', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', path.join(r.root, '.swarm', 'artifacts', task.id));
    await isolation.collect(task, '1', prepared, path.join(r.root, '.swarm', 'artifacts', task.id));
    fs.rmSync(slotsDir(r.root), { recursive: true, force: true });
    await isolation.release();
    assert.ok(!fs.existsSync(slotsDir(r.root)));
  });

  it('prune removes the worktrees of repositories that no longer exist, and slots left in the old folder inside .git', async () => {
    const gone = repo();
    const goneIsolation = createWorktreeIsolation({ workspaceRoot: gone.root, include: [] });
    const task = fakeTask();
    await goneIsolation.prepare(task, '1', path.join(gone.root, '.swarm', 'artifacts', task.id));
    const goneSlots = slotsDir(gone.root);
    fs.rmSync(path.dirname(gone.root), { recursive: true, force: true }); // the clone is deleted, its slots stay
    assert.ok(fs.existsSync(goneSlots));

    const r = repo();
    const legacy = path.join(r.root, '.git', 'swarm', 'worktrees', 'slot-1');
    fs.mkdirSync(path.dirname(legacy), { recursive: true });
    git(r.root, ['worktree', 'add', '--detach', '--quiet', legacy, 'HEAD']);
    fs.writeFileSync(`${legacy}.json`, JSON.stringify({ slot: '1', path: legacy, phase: 'ready', setupDone: true, createdAt: 0, lastUsed: 0 }));
    await pruneWorktrees(r.root);
    assert.equal(fs.existsSync(goneSlots), false, 'the deleted repository’s slots are swept');
    assert.equal(fs.existsSync(path.join(r.root, '.git', 'swarm', 'worktrees')), false, 'the old folder inside the checkout is emptied');
    assert.equal(git(r.root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ')).length, 1);
  });
});

describe('one snapshot per run', () => {
  it('the agents of a run starting at once share one snapshot (one write-tree, one commit)', async () => {
    const r = repo();
    r.write('README.md', '# demo, uncommitted\n');
    const trace = path.join(path.dirname(r.root), 'trace.jsonl');
    const saved = process.env.SWARM_TRACE;
    process.env.SWARM_TRACE = trace;
    try {
      const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
      const art = (id: string) => path.join(r.root, '.swarm', 'artifacts', id);
      const tasks = [fakeTask(), fakeTask(), fakeTask()];
      const prepared = await Promise.all(tasks.map((task, index) => isolation.prepare(task, String(index + 1), art(task.id))));
      assert.equal(new Set(prepared.map((entry) => entry.snapshot)).size, 1);
      const phases = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { phase: string }).phase);
      assert.equal(phases.filter((phase) => phase === 'git write-tree').length, 1, phases.join(', '));
      for (const [index, task] of tasks.entries()) await isolation.collect(task, String(index + 1), prepared[index], art(task.id));
    } finally {
      if (saved === undefined) delete process.env.SWARM_TRACE;
      else process.env.SWARM_TRACE = saved;
    }
  });

  it('tasks that start while others run share a snapshot; one naming an untracked file gets its own; the next run sees new edits', async () => {
    const r = repo();
    r.write('README.md', '# demo, uncommitted\n');
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    const art = (id: string) => path.join(r.root, '.swarm', 'artifacts', id);
    const [a, b, c] = [fakeTask({ files: ['src/a.txt'] }), fakeTask(), fakeTask({ files: ['notes.txt'] })];
    const pa = await isolation.prepare(a, '1', art(a.id));
    r.write('README.md', '# demo, edited while the run goes on\n');
    r.write('notes.txt', 'untracked, named by c\n');
    const pb = await isolation.prepare(b, '2', art(b.id));
    assert.equal(pb.snapshot, pa.snapshot, 'b shares the run snapshot');
    assert.equal(fs.readFileSync(path.join(pb.cwd, 'README.md'), 'utf8'), '# demo, uncommitted\n');
    const pc = await isolation.prepare(c, '3', art(c.id));
    assert.notEqual(pc.snapshot, pa.snapshot, 'c names an untracked file: its own snapshot');
    assert.equal(fs.readFileSync(path.join(pc.cwd, 'notes.txt'), 'utf8'), 'untracked, named by c\n');
    for (const [task, slot, prepared] of [[a, '1', pa], [b, '2', pb], [c, '3', pc]] as const) await isolation.collect(task, slot, prepared, art(task.id));
    const next = fakeTask();
    const pn = await isolation.prepare(next, '1', art(next.id));
    assert.equal(fs.readFileSync(path.join(pn.cwd, 'README.md'), 'utf8'), '# demo, edited while the run goes on\n', 'the next run takes a new snapshot');
    await isolation.collect(next, '1', pn, art(next.id));
  });
});

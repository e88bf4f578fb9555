// Parked slot trees: a run's idle slots leave `git worktree list` with their files kept aside, and
// the next run's slots take them over instead of checking every file out. Real repositories, real git.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { createWorktreeIsolation, pruneWorktrees } from '../../../src/core/worktree';
import { listParked, PARKED_DIR } from '../../../src/core/worktree/parked';
import { fakeTask, git, reposRemovedAfterEach, slotsDir, type TempRepo } from './helpers';

const CHILD = path.join(__dirname, 'fixtures', 'park-child.ts');
const repo = reposRemovedAfterEach();

const FILES = { '.gitignore': 'dist/\nnode_modules/\n', 'src/a.txt': 'one\ntwo\nthree\n', 'src/b.txt': 'bee\n', 'README.md': '# demo\n', 'gone.txt': 'to be deleted\n' };

function artifacts(r: TempRepo, id: string): string {
  return path.join(r.root, '.swarm', 'artifacts', id);
}

/** Every file under `dir` (outside .git) with its bytes; links as `-> target`. */
function treeOf(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (sub: string): void => {
    for (const name of fs.readdirSync(path.join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      if (rel === '.git') continue;
      const stat = fs.lstatSync(path.join(dir, rel));
      if (stat.isSymbolicLink()) files[rel] = `-> ${fs.readlinkSync(path.join(dir, rel))}`;
      else if (stat.isDirectory()) walk(rel);
      else files[rel] = fs.readFileSync(path.join(dir, rel), 'utf8');
    }
  };
  walk('');
  return files;
}

/** One attempt that edits, adds, deletes and builds (an ignored file) in its slot, collected. */
async function messyAttempt(r: TempRepo, isolation: ReturnType<typeof createWorktreeIsolation>, slot: string): Promise<void> {
  const task = fakeTask();
  const prepared = await isolation.prepare(task, slot, artifacts(r, task.id));
  fs.writeFileSync(path.join(prepared.cwd, 'src/a.txt'), 'one\nTWO\nthree\n');
  fs.writeFileSync(path.join(prepared.cwd, 'src/new.txt'), 'new\n');
  fs.rmSync(path.join(prepared.cwd, 'gone.txt'));
  fs.mkdirSync(path.join(prepared.cwd, 'dist'));
  fs.writeFileSync(path.join(prepared.cwd, 'dist/out.js'), 'built\n');
  await isolation.collect(task, slot, prepared, artifacts(r, task.id));
}

/**
 * An attempt in slot 1 that `act` lets loose on its worktree, collected; then the next attempt's
 * workspace in the same slot: warm (the same isolation keeps its idle slot) or from the tree the
 * first run parked (a new isolation after the first one's release). The caller collects and
 * releases the next one.
 */
async function nextAttemptAfter(r: TempRepo, keepIdleSlots: boolean, act: (cwd: string) => void) {
  const first = createWorktreeIsolation({ workspaceRoot: r.root, keepIdleSlots });
  const task = fakeTask();
  const prepared = await first.prepare(task, '1', artifacts(r, task.id));
  act(prepared.cwd);
  await first.collect(task, '1', prepared, artifacts(r, task.id));
  if (!keepIdleSlots) await first.release();
  const next = keepIdleSlots ? first : createWorktreeIsolation({ workspaceRoot: r.root });
  const nextTask = fakeTask();
  return { next, task: nextTask, prepared: await next.prepare(nextTask, '1', artifacts(r, nextTask.id)) };
}

function registeredSlots(r: TempRepo): string[] {
  return git(r.root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ') && !line.endsWith(r.root));
}

describe('parked slot trees', () => {
  it('a run parks its idle slots outside git worktree list; the next run takes one over at the new snapshot and collects only its own changes', async () => {
    const r = repo(FILES);
    fs.mkdirSync(path.join(r.root, 'node_modules/dep'), { recursive: true });
    fs.writeFileSync(path.join(r.root, 'node_modules/dep/index.js'), 'dep\n');
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    await messyAttempt(r, first, '1');
    await first.release();
    assert.deepEqual(registeredSlots(r), [], 'no slot left in git worktree list');
    const parked = listParked(slotsDir(r.root));
    assert.equal(parked.length, 1);
    assert.equal(fs.existsSync(path.join(parked[0], 'tree', 'node_modules')), false, 'the linked dependency is not parked');
    const untouched = fs.statSync(path.join(parked[0], 'tree', '.gitignore')).ino;

    // The user edits and commits between the runs.
    r.write('src/b.txt', 'bee, edited and not committed\n');
    r.write('README.md', '# demo, committed\n');
    git(r.root, ['commit', '-q', '-am', 'second']);
    r.write('src/b.txt', 'bee, edited and not committed\n');
    const logged: string[] = [];
    const second = createWorktreeIsolation({ workspaceRoot: r.root, log: (line) => logged.push(line) });
    const task = fakeTask();
    const prepared = await second.prepare(task, '1', artifacts(r, task.id));
    assert.deepEqual(listParked(slotsDir(r.root)), [], 'the parked tree was taken over');
    assert.equal(fs.statSync(path.join(prepared.cwd, '.gitignore')).ino, untouched, 'a file that did not change is not written again (the index came along)');
    assert.deepEqual(
      treeOf(prepared.cwd),
      {
        '.gitignore': FILES['.gitignore'],
        'README.md': '# demo, committed\n',
        'gone.txt': FILES['gone.txt'],
        'node_modules': `-> ${path.join(r.root, 'node_modules')}`,
        'src/a.txt': FILES['src/a.txt'],
        'src/b.txt': 'bee, edited and not committed\n',
      },
      `${logged.join('\n')}`,
    );
    fs.writeFileSync(path.join(prepared.cwd, 'src/b.txt'), 'bee, by the agent\n');
    const changes = await second.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files.map((file) => [file.path, file.status]), [['src/b.txt', 'modified']]);
    git(r.root, ['apply', '--check', changes.patchFile!]);
    await second.release();
    assert.deepEqual(registeredSlots(r), []);
  });

  it('a file changed while parked, to the same size and the same mtime, is restored from the snapshot', async () => {
    const r = repo(FILES);
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    await messyAttempt(r, first, '1');
    await first.release();
    const [parked] = listParked(slotsDir(r.root));
    const file = path.join(parked, 'tree', 'src/b.txt');
    const before = fs.statSync(file);
    // Long enough after the index was written that git would not re-check the file as racy.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    fs.writeFileSync(file, 'BEE\n');
    fs.utimesSync(file, before.atime, before.mtime);
    const second = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await second.prepare(task, '1', artifacts(r, task.id));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/b.txt'), 'utf8'), 'bee\n');
    const changes = await second.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files, []);
  });

  it('prune removes what a killed park or takeover left; swarm worktrees --prune removes parked trees', async () => {
    const r = repo(FILES);
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    await messyAttempt(r, first, '1');
    await first.release();
    const dir = slotsDir(r.root);
    const dead = spawnSync('true').pid as number; // a pid that has exited
    fs.mkdirSync(path.join(dir, PARKED_DIR, `half.making-${dead}`, 'tree'), { recursive: true });
    fs.mkdirSync(path.join(dir, PARKED_DIR, `claimed-${dead}-taken`, 'tree'), { recursive: true });
    fs.mkdirSync(path.join(dir, PARKED_DIR, `live.making-${process.pid}`), { recursive: true });
    await pruneWorktrees(r.root);
    assert.deepEqual(fs.readdirSync(path.join(dir, PARKED_DIR)).sort(), [path.basename(listParked(dir)[0]), `live.making-${process.pid}`].sort());
    fs.rmSync(path.join(dir, PARKED_DIR, `live.making-${process.pid}`), { recursive: true });
    assert.equal(await pruneWorktrees(r.root, { idle: true }), 1);
    assert.equal(fs.existsSync(path.join(dir, PARKED_DIR)), false);
  });

  it('a link planted at the parked folder is never followed: nothing is parked into its target, and prune removes the link, not what it points to', async () => {
    const r = repo(FILES);
    const elsewhere = path.join(path.dirname(r.root), 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, 'precious.txt'), 'keep me\n');
    const dir = slotsDir(r.root);
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    await isolation.collect(task, '1', prepared, artifacts(r, task.id));
    fs.symlinkSync(elsewhere, path.join(dir, PARKED_DIR));
    await isolation.release();
    assert.deepEqual(fs.readdirSync(elsewhere), ['precious.txt'], 'nothing parked through the link');
    assert.deepEqual(registeredSlots(r), [], 'the slot was removed instead');
    await pruneWorktrees(r.root, { idle: true });
    assert.deepEqual(fs.readdirSync(elsewhere), ['precious.txt']);
    assert.equal(fs.lstatSync(path.join(dir, PARKED_DIR), { throwIfNoEntry: false }), undefined, 'the link is removed');
  });

  it('a half-parked slot (its index moved away by a killed park) is reused with a full checkout', async () => {
    const r = repo(FILES);
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, keepIdleSlots: true });
    await messyAttempt(r, isolation, '1');
    const adminIndex = git(slotsDir(r.root) + '/slot-1', ['rev-parse', '--git-path', 'index']);
    fs.rmSync(path.resolve(slotsDir(r.root), 'slot-1', adminIndex));
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    assert.deepEqual(Object.keys(treeOf(prepared.cwd)).sort(), ['.gitignore', 'README.md', 'gone.txt', 'src/a.txt', 'src/b.txt']);
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/a.txt'), 'utf8'), FILES['src/a.txt']);
    const changes = await isolation.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files, []);
  });

  it('slots a setup command made are removed, not parked; no more than maxSlots trees are parked', async () => {
    const r = repo(FILES);
    const withSetup = createWorktreeIsolation({ workspaceRoot: r.root, setupCommand: 'true' });
    await messyAttempt(r, withSetup, '1');
    await withSetup.release();
    assert.deepEqual(listParked(slotsDir(r.root)), []);
    assert.deepEqual(registeredSlots(r), []);

    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    await messyAttempt(r, first, '1');
    await first.release();
    const [tree] = listParked(slotsDir(r.root));
    fs.cpSync(tree, `${tree}-copy`, { recursive: true }); // two parked trees
    const capped = createWorktreeIsolation({ workspaceRoot: r.root, maxSlots: 1 });
    await messyAttempt(r, capped, '1'); // takes one over: one left
    await capped.release(); // one parked already: at the cap, so this slot is removed
    assert.equal(listParked(slotsDir(r.root)).length, 1);
    assert.deepEqual(registeredSlots(r), []);
  });

  it('a parked index whose entries were marked skip-worktree (or assume-unchanged) cannot keep a changed file: the slot is at the snapshot', async () => {
    const r = repo(FILES);
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    await messyAttempt(r, first, '1');
    await first.release();
    const [parked] = listParked(slotsDir(r.root));
    // Someone with write access to the cache marks two files and changes them while parked.
    const env = { ...process.env, GIT_INDEX_FILE: path.join(parked, 'index'), GIT_WORK_TREE: path.join(parked, 'tree'), GIT_DIR: path.join(r.root, '.git') };
    spawnSync('git', ['update-index', '--skip-worktree', 'src/b.txt'], { env });
    spawnSync('git', ['update-index', '--assume-unchanged', 'README.md'], { env });
    fs.writeFileSync(path.join(parked, 'tree', 'src/b.txt'), 'planted\n');
    fs.writeFileSync(path.join(parked, 'tree', 'README.md'), 'planted\n');
    const second = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await second.prepare(task, '1', artifacts(r, task.id));
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'src/b.txt'), 'utf8'), FILES['src/b.txt']);
    assert.equal(fs.readFileSync(path.join(prepared.cwd, 'README.md'), 'utf8'), FILES['README.md']);
    fs.writeFileSync(path.join(prepared.cwd, 'src/b.txt'), 'by the agent\n');
    const changes = await second.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files.map((file) => [file.path, file.status]), [['src/b.txt', 'modified']], 'a change to a file marked earlier is collected');
    await second.release();
  });

  it("an included folder an attempt made itself (none in the workspace then) is not kept in the parked tree: the next run links the workspace's", async () => {
    const r = repo(FILES);
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await first.prepare(task, '1', artifacts(r, task.id));
    fs.mkdirSync(path.join(prepared.cwd, 'node_modules/dep'), { recursive: true });
    fs.writeFileSync(path.join(prepared.cwd, 'node_modules/dep/index.js'), 'planted by the attempt\n');
    await first.collect(task, '1', prepared, artifacts(r, task.id));
    await first.release();
    // The user installs the dependencies between the runs.
    r.write('node_modules/dep/index.js', 'installed by the user\n');
    const second = createWorktreeIsolation({ workspaceRoot: r.root });
    const task2 = fakeTask();
    const prepared2 = await second.prepare(task2, '1', artifacts(r, task2.id));
    assert.equal(fs.readFileSync(path.join(prepared2.cwd, 'node_modules/dep/index.js'), 'utf8'), 'installed by the user\n');
    assert.equal(treeOf(prepared2.cwd).node_modules, `-> ${path.join(r.root, 'node_modules')}`);
    await second.collect(task2, '1', prepared2, artifacts(r, task2.id));
    await second.release();
  });

  for (const keepIdleSlots of [false, true]) {
  it(`a submodule an attempt checked out in its slot is empty again for the next attempt, whose result collects (${keepIdleSlots ? 'warm slot' : 'parked tree'})`, async () => {
    const sub = repo({ 'lib.txt': 'lib v1\n' });
    const r = repo(FILES);
    git(r.root, ['-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', sub.root, 'vendor/sub']);
    git(r.root, ['commit', '-q', '-m', 'submodule']);
    const { next: second, task: task2, prepared: prepared2 } = await nextAttemptAfter(r, keepIdleSlots, (cwd) => {
      git(cwd, ['-c', 'protocol.file.allow=always', 'submodule', 'update', '--init', '-q']);
      fs.writeFileSync(path.join(cwd, 'vendor/sub/lib.txt'), 'changed in the submodule\n');
      fs.writeFileSync(path.join(cwd, 'vendor/sub/secret.env'), 'TOKEN=1\n');
    });
    const leftovers = fs.readdirSync(path.join(prepared2.cwd, 'vendor/sub'));
    fs.writeFileSync(path.join(prepared2.cwd, 'src/b.txt'), 'by the agent\n');
    const changes = await second.collect(task2, '1', prepared2, artifacts(r, task2.id));
    assert.deepEqual(changes.files.map((file) => file.path), ['src/b.txt']);
    assert.deepEqual(leftovers, [], 'nothing of the earlier attempt\'s submodule checkout is left');
    await second.release();
  });
  }

  it('links and a .git folder planted in a parked tree are never followed: the slot is at the snapshot and nothing outside changes', async () => {
    const r = repo(FILES);
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    await messyAttempt(r, first, '1');
    await first.release();
    const [parked] = listParked(slotsDir(r.root));
    const outside = path.join(path.dirname(r.root), 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'a.txt'), 'outside a\n');
    fs.writeFileSync(path.join(outside, 'victim.txt'), 'victim\n');
    const tree = path.join(parked, 'tree');
    fs.rmSync(path.join(tree, 'src'), { recursive: true });
    fs.symlinkSync(outside, path.join(tree, 'src'));
    fs.rmSync(path.join(tree, 'README.md'));
    fs.symlinkSync(path.join(outside, 'victim.txt'), path.join(tree, 'README.md'));
    fs.mkdirSync(path.join(tree, 'nested/.git'), { recursive: true });
    // Its .git file replaced by a repository whose config would run a command.
    const pwned = path.join(outside, 'pwned');
    fs.rmSync(path.join(tree, '.git'), { force: true });
    git(path.dirname(r.root), ['init', '-q', path.join(tree)]);
    git(tree, ['config', 'core.fsmonitor', `touch ${pwned}`]);
    const second = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await second.prepare(task, '1', artifacts(r, task.id));
    assert.deepEqual(fs.readdirSync(outside).sort(), ['a.txt', 'victim.txt'], 'nothing written outside, no command run');
    assert.equal(fs.readFileSync(path.join(outside, 'a.txt'), 'utf8'), 'outside a\n');
    assert.equal(fs.readFileSync(path.join(outside, 'victim.txt'), 'utf8'), 'victim\n');
    const { 'node_modules': _ignored, ...files } = treeOf(prepared.cwd);
    assert.deepEqual(files, FILES);
    const changes = await second.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files, []);
  });

  it('a change an attempt hid behind skip-worktree or assume-unchanged is in its result', async () => {
    const r = repo(FILES);
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root });
    const task = fakeTask();
    const prepared = await isolation.prepare(task, '1', artifacts(r, task.id));
    git(prepared.cwd, ['update-index', '--skip-worktree', 'src/a.txt']);
    git(prepared.cwd, ['update-index', '--assume-unchanged', 'README.md']);
    fs.writeFileSync(path.join(prepared.cwd, 'src/a.txt'), 'hidden change\n');
    fs.writeFileSync(path.join(prepared.cwd, 'README.md'), 'hidden too\n');
    const changes = await isolation.collect(task, '1', prepared, artifacts(r, task.id));
    assert.deepEqual(changes.files.map((file) => [file.path, file.status]), [['README.md', 'modified'], ['src/a.txt', 'modified']]);
    await isolation.release();
  });

  for (const keepIdleSlots of [true, false]) {
    it(`an attempt that marks a file skip-worktree and changes it does not pass the change to the next attempt (${keepIdleSlots ? 'warm slot' : 'parked tree'})`, async () => {
      const r = repo(FILES);
      const { next, task: task2, prepared: prepared2 } = await nextAttemptAfter(r, keepIdleSlots, (cwd) => {
        git(cwd, ['update-index', '--skip-worktree', 'src/a.txt']);
        fs.writeFileSync(path.join(cwd, 'src/a.txt'), 'hidden change\n');
      });
      assert.equal(fs.readFileSync(path.join(prepared2.cwd, 'src/a.txt'), 'utf8'), FILES['src/a.txt']);
      const changes = await next.collect(task2, '1', prepared2, artifacts(r, task2.id));
      assert.deepEqual(changes.files, []);
      await next.release();
    });
  }

  it('two processes starting at once with one parked tree: one takes it over, the other checks out afresh; both slots are at the snapshot', async () => {
    const r = repo(FILES);
    const first = createWorktreeIsolation({ workspaceRoot: r.root });
    await messyAttempt(r, first, '1');
    await first.release();
    const [parked] = listParked(slotsDir(r.root));
    const parkedInode = fs.statSync(path.join(parked, 'tree', '.gitignore')).ino;
    // Each child holds its slot until both prepared theirs (their stdin ends then): they overlap.
    const runChild = (id: string): { prepared: Promise<void>; output: Promise<string>; finish(): void } => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, r.root, 'adopt', id], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let saidDone!: () => void;
      const prepared = new Promise<void>((resolve) => (saidDone = resolve));
      child.stdout.on('data', (data: Buffer) => ((out += data.toString()), out.includes('done') && saidDone()));
      child.stderr.on('data', (data: Buffer) => (out += data.toString()));
      const output = new Promise<string>((resolve) => child.on('close', () => (saidDone(), resolve(out))));
      return { prepared, output, finish: () => child.stdin.end() };
    };
    const children = [runChild('tracea'), runChild('traceb')];
    await Promise.all(children.map((child) => child.prepared));
    for (const child of children) child.finish();
    const outputs = await Promise.all(children.map((child) => child.output));
    assert.deepEqual(outputs.map((out) => out.trim()), ['done', 'done'], outputs.join('\n'));
    const slots = fs.readdirSync(slotsDir(r.root)).filter((name) => /^slot-1(-p\d+)?$/.test(name));
    assert.equal(slots.length, 2, `two slots: ${slots.join(', ')}`);
    const adopted = slots.filter((slot) => fs.statSync(path.join(slotsDir(r.root), slot, '.gitignore')).ino === parkedInode);
    assert.equal(adopted.length, 1, 'exactly one slot took the parked tree over');
    for (const slot of slots) {
      assert.deepEqual(treeOf(path.join(slotsDir(r.root), slot)), { '.gitignore': FILES['.gitignore'], 'README.md': FILES['README.md'], 'gone.txt': FILES['gone.txt'], 'src/a.txt': FILES['src/a.txt'], 'src/b.txt': FILES['src/b.txt'] });
    }
    assert.deepEqual(fs.existsSync(path.join(slotsDir(r.root), PARKED_DIR)) ? fs.readdirSync(path.join(slotsDir(r.root), PARKED_DIR)) : [], [], 'the parked tree was taken once, nothing half-taken left');
    await pruneWorktrees(r.root, { idle: true });
  });

  for (const step of ['park:after-index', 'park:after-tree', 'adopt:after-claim', 'adopt:after-git-file', 'adopt:after-tree']) {
    it(`killed with SIGKILL at ${step}, the next run repairs it: its slot is at the snapshot, only its change is collected, nothing stays registered`, async () => {
      const r = repo(FILES);
      const adopting = step.startsWith('adopt');
      if (adopting) {
        const first = createWorktreeIsolation({ workspaceRoot: r.root });
        await messyAttempt(r, first, '1');
        await first.release();
        assert.equal(listParked(slotsDir(r.root)).length, 1, 'a parked tree to take over');
      }
      const child = spawnSync(process.execPath, ['--import', 'tsx', CHILD, r.root, adopting ? 'adopt' : 'park', `tcrash${Date.now().toString(36)}`], { env: { ...process.env, SWARM_FAULT: step }, encoding: 'utf8', timeout: 120_000 });
      assert.equal(child.signal, 'SIGKILL', `the child died at ${step}: ${child.stdout}${child.stderr}`);
      r.write('src/b.txt', 'edited after the crash\n');
      const next = createWorktreeIsolation({ workspaceRoot: r.root });
      await next.prune(); // as every pool start does
      const task = fakeTask();
      const prepared = await next.prepare(task, '1', artifacts(r, task.id));
      assert.deepEqual(treeOf(prepared.cwd), { '.gitignore': FILES['.gitignore'], 'README.md': FILES['README.md'], 'gone.txt': FILES['gone.txt'], 'src/a.txt': FILES['src/a.txt'], 'src/b.txt': 'edited after the crash\n' });
      fs.writeFileSync(path.join(prepared.cwd, 'README.md'), '# by the agent\n');
      const changes = await next.collect(task, '1', prepared, artifacts(r, task.id));
      assert.deepEqual(changes.files.map((file) => file.path), ['README.md']);
      await next.release();
      assert.deepEqual(registeredSlots(r), []);
      const leftovers = fs.existsSync(path.join(slotsDir(r.root), PARKED_DIR)) ? fs.readdirSync(path.join(slotsDir(r.root), PARKED_DIR)).filter((name) => /making|claimed/.test(name)) : [];
      assert.deepEqual(leftovers, []);
    });
  }
});

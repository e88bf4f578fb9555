// Applying many results at once (`swarm apply --all-done`, issue 15): a constant number of git
// processes however many results, each result still planned against the files the ones before it
// wrote (three-way when they touch the same file), and a result that cannot be applied reported
// without stopping the others.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { applyRecord, applyTaskPatches, pendingResults, readUndoRecord, undoTaskApply, type BatchOutcome } from '../../../src/core/patch';
import { git } from '../worktree/helpers';
import { makeWorkspace, runTasks, type Workspace } from './helpers';
import { placeOf } from './place';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

const lines = (n: number, tag = 'line') => Array.from({ length: n }, (_, i) => `${tag} ${i + 1}`).join('\n') + '\n';

/** Counts the git processes started while `action` runs, with their subcommands. */
async function gitProcesses<T>(action: () => Promise<T>): Promise<{ value: T; count: number; commands: string[] }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const cp = require('child_process') as { spawn: (...args: unknown[]) => unknown };
  const spawn = cp.spawn;
  let count = 0;
  const commands: string[] = [];
  cp.spawn = (...args: unknown[]) => {
    if (args[0] === 'git') {
      count += 1;
      commands.push((args[1] as string[])[0]);
    }
    return spawn(...args);
  };
  try {
    return { value: await action(), count, commands };
  } finally {
    cp.spawn = spawn;
  }
}

function outcomeOf(results: BatchOutcome[], taskId: string) {
  const result = results.find((candidate) => candidate.taskId === taskId);
  assert.ok(result && 'outcome' in result, `task ${taskId}: ${result && 'error' in result ? result.error.message : 'missing'}`);
  return result.outcome;
}

/** `count` tasks, each changing its own two files (one of them new), all from one snapshot. */
async function manyResults(count: number): Promise<{ ws: Workspace; ids: string[] }> {
  const files: Record<string, string> = {};
  for (let i = 0; i < count; i += 1) files[`src/f${i}.txt`] = lines(10, `f${i}`);
  const ws = makeWorkspace(files);
  made.push(ws);
  const tasks = await runTasks(
    ws,
    Array.from({ length: count }, (_, i) => ({
      edit: (cwd: string) => {
        fs.writeFileSync(path.join(cwd, `src/f${i}.txt`), lines(10, `f${i}`).replace(`f${i} 5\n`, `f${i} 5 fixed\n`));
        fs.writeFileSync(path.join(cwd, `src/new${i}.txt`), `new ${i}\n`);
      },
    })),
  );
  return { ws, ids: tasks.map((task) => task.id) };
}

describe('apply of many results at once', () => {
  it('costs the same number of git processes for 3 results as for 24', async () => {
    const counts: number[] = [];
    for (const n of [3, 24]) {
      const { ws, ids } = await manyResults(n);
      const { value: results, count } = await gitProcesses(async () => applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: await pendingResults(placeOf(ws.board)) }));
      assert.equal(results.length, n);
      for (const id of ids) assert.equal(outcomeOf(results, id).status, 'applied');
      for (let i = 0; i < n; i += 1) {
        assert.match(ws.read(`src/f${i}.txt`), new RegExp(`f${i} 5 fixed`));
        assert.equal(ws.read(`src/new${i}.txt`), `new ${i}\n`);
      }
      counts.push(count);
    }
    assert.equal(counts[1], counts[0], `git processes for 3 and 24 results: ${counts.join(' and ')}`);
    assert.ok(counts[0] <= 10, `at most 10 git processes, not ${counts[0]}`);
  });

  it('later results see what earlier ones wrote: the same file merged three-way, the same lines a conflict', async () => {
    const ws = makeWorkspace({ 'a.txt': lines(40) });
    made.push(ws);
    const [first, second, third] = await runTasks(ws, [
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(40).replace('line 2\n', 'line 2 first\n')) },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(40).replace('line 35\n', 'line 35 second\n')) },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(40).replace('line 2\n', 'line 2 third\n')) },
    ]);
    const results = await applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: [first.id, second.id, third.id] });
    assert.equal(outcomeOf(results, first.id).status, 'applied');
    assert.equal(outcomeOf(results, second.id).status, 'applied-3way');
    assert.equal(outcomeOf(results, third.id).status, 'conflict');
    assert.equal(ws.read('a.txt'), lines(40).replace('line 2\n', 'line 2 first\n').replace('line 35\n', 'line 35 second\n'), 'the conflicting result wrote nothing');
    await undoTaskApply({ ...placeOf(ws.board, ws.root), taskId: second.id });
    assert.equal(ws.read('a.txt'), lines(40).replace('line 2\n', 'line 2 first\n'));
  });

  it('a damaged or unsafe result is reported, the others are applied', async () => {
    const { ws, ids } = await manyResults(4);
    const damaged = path.join(ws.board.artifactsDir(ids[1]), 'result.patch');
    fs.writeFileSync(damaged, fs.readFileSync(damaged, 'utf8').replace(/^ f1 4$/m, ' not what the snapshot has'));
    const unsafe = path.join(ws.board.artifactsDir(ids[2]), 'result.patch');
    fs.writeFileSync(unsafe, fs.readFileSync(unsafe, 'utf8').replaceAll('src/new2.txt', '.git/hooks/pre-commit'));
    const results = await applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: ids });
    assert.equal(outcomeOf(results, ids[0]).status, 'applied');
    assert.equal(outcomeOf(results, ids[3]).status, 'applied');
    const errors = results.filter((result) => 'error' in result).map((result) => [result.taskId, 'error' in result ? result.error.message : ''] as const);
    assert.deepEqual(errors.map(([id]) => id), [ids[1], ids[2]]);
    assert.match(errors[0][1], /does not apply to the snapshot it was made from/);
    assert.match(errors[1][1], /inside a \.git directory/);
    assert.equal(ws.read('src/f1.txt'), lines(10, 'f1'), 'nothing of the damaged result written');
    assert.ok(!fs.existsSync(path.join(ws.root, 'src/new2.txt')) && !fs.existsSync(path.join(ws.root, '.git/hooks/pre-commit')));
  });

  it('a result waits to be applied even when partial work of its task was applied before it was retried', async () => {
    const { ws, ids } = await manyResults(2);
    fs.writeFileSync(path.join(ws.board.artifactsDir(ids[0]), 'apply.json'), JSON.stringify({ status: 'applied', at: 1, undoId: 'x1-abcdef', files: [], partial: true }));
    fs.writeFileSync(path.join(ws.board.artifactsDir(ids[1]), 'apply.json'), JSON.stringify({ status: 'applied', at: 1, undoId: 'x1-abcdef', files: [] }));
    assert.deepEqual((await pendingResults(placeOf(ws.board))), [ids[0]]);
  });

  it('results made from different snapshots are each applied against their own', async () => {
    const ws = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    made.push(ws);
    const [first] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'A\n') }]);
    ws.write('c.txt', 'c\n');
    git(ws.root, ['add', 'c.txt']);
    git(ws.root, ['commit', '-q', '-m', 'c']);
    const [second, third] = await runTasks(ws, [
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'b.txt'), 'B\n') },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'c.txt'), 'C\n') },
    ]);
    const results = await applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: [first.id, second.id, third.id] });
    for (const id of [first.id, second.id, third.id]) assert.equal(outcomeOf(results, id).status, 'applied');
    assert.equal(ws.read('a.txt') + ws.read('b.txt') + ws.read('c.txt'), 'A\nB\nC\n');
  });

  it('results made from two snapshot commits of the same tree are applied together, through one index and one listing of the snapshot', async () => {
    const ws = makeWorkspace({ 'a.txt': lines(6, 'a'), 'b.txt': lines(6, 'b'), 'sub/c.txt': lines(6, 'c') });
    made.push(ws);
    const [first] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), lines(6, 'a').replace('a 3\n', 'a 3 fixed\n')) }]);
    git(ws.root, ['commit', '-q', '--allow-empty', '-m', 'same tree, another commit']);
    const [second] = await runTasks(ws, [
      {
        edit: (cwd) => {
          fs.writeFileSync(path.join(cwd, 'b.txt'), lines(6, 'b').replace('b 3\n', 'b 3 fixed\n'));
          fs.writeFileSync(path.join(cwd, 'sub/c.txt'), lines(6, 'c').replace('c 3\n', 'c 3 fixed\n'));
        },
      },
    ]);
    const { value: results, commands } = await gitProcesses(() => applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: [first.id, second.id] }));
    for (const id of [first.id, second.id]) assert.equal(outcomeOf(results, id).status, 'applied');
    assert.equal(ws.read('a.txt') + ws.read('b.txt') + ws.read('sub/c.txt'), (lines(6, 'a') + lines(6, 'b') + lines(6, 'c')).replace('a 3\n', 'a 3 fixed\n').replace('b 3\n', 'b 3 fixed\n').replace('c 3\n', 'c 3 fixed\n'));
    assert.equal(commands.filter((command) => command === 'apply').length, 1, `one throw-away index for both: ${commands.join(', ')}`);
    assert.equal(commands.filter((command) => command === 'ls-tree').length, 1, `one listing of the snapshot: ${commands.join(', ')}`);
  });

  it('reads only the paths a result names from its snapshot, never the whole tree, and takes those names literally', async () => {
    // Names a pathspec would read as magic or patterns, beside the files those patterns would match.
    const odd = [':(top)a.txt', '[ab].txt', '*.txt', 'dir/?.txt'];
    const files: Record<string, string> = { 'a.txt': 'a\n', 'b.txt': 'b\n', 'dir/x.txt': 'x\n' };
    for (const name of odd) files[name] = lines(6, name);
    for (let i = 0; i < 50; i += 1) files[`big/f${i}.txt`] = `${i}\n`;
    const ws = makeWorkspace(files);
    made.push(ws);
    const [task] = await runTasks(ws, [{ edit: (cwd) => odd.forEach((name) => fs.writeFileSync(path.join(cwd, name), lines(6, name).replace(' 3\n', ' 3 fixed\n'))) }]);
    const { value: results, commands } = await gitProcesses(() => applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: [task.id] }));
    assert.equal(outcomeOf(results, task.id).status, 'applied');
    for (const name of odd) assert.equal(ws.read(name), lines(6, name).replace(' 3\n', ' 3 fixed\n'), name);
    assert.deepEqual(['a.txt', 'b.txt', 'dir/x.txt'].map((name) => ws.read(name)), ['a\n', 'b\n', 'x\n']);
    for (const whole of ['read-tree', 'diff-index']) assert.ok(!commands.includes(whole), `git ${whole} reads the whole snapshot: ${commands.join(', ')}`);
  });

  it('a result that puts a file where the snapshot has a folder is applied: removals before writes', async () => {
    const ws = makeWorkspace({ 'd/x.txt': 'x\n', 'keep.txt': 'k\n' });
    made.push(ws);
    const [task] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'keep.txt'), 'kept\n') }]);
    const [folderToFile] = await runTasks(ws, [
      {
        edit: (cwd) => {
          fs.rmSync(path.join(cwd, 'd'), { recursive: true });
          fs.writeFileSync(path.join(cwd, 'd'), 'now a file\n');
        },
      },
    ]);
    const results = await applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: [task.id, folderToFile.id] });
    assert.equal(outcomeOf(results, task.id).status, 'applied');
    assert.equal(outcomeOf(results, folderToFile.id).status, 'applied');
    assert.equal(ws.read('d'), 'now a file\n');
    assert.equal(ws.read('keep.txt'), 'kept\n');
  });

  it('a result that names a file where its snapshot has a folder still holding files does not apply, also beside a result inside that folder', async () => {
    // The one listing of the snapshot is asked for every path of every result: a path inside the
    // folder makes ls-tree list the folder's files instead of the folder. Git refuses both patches
    // (the folder's other files are in the way), so nothing may plan them.
    const ws = makeWorkspace({ 'd/x.txt': 'x\n', 'd/y.txt': 'y\n', 'keep.txt': 'k\n' });
    made.push(ws);
    const [inside, besideIt, alone] = await runTasks(ws, [
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'd/x.txt'), 'x fixed\n') },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'keep.txt'), 'kept\n') },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'keep.txt'), 'kept\n') },
    ]);
    const newFileD = 'diff --git a/d b/d\nnew file mode 100644\n--- /dev/null\n+++ b/d\n@@ -0,0 +1 @@\n+now a file\n';
    const deleteXOnly = 'diff --git a/d/x.txt b/d/x.txt\ndeleted file mode 100644\n--- a/d/x.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n';
    fs.writeFileSync(path.join(ws.board.artifactsDir(besideIt.id), 'result.patch'), newFileD);
    fs.writeFileSync(path.join(ws.board.artifactsDir(alone.id), 'result.patch'), deleteXOnly + newFileD);
    // The user has removed d/y.txt: planned against the workspace alone, both would write d.
    fs.rmSync(path.join(ws.root, 'd/y.txt'));
    const together = await applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: [inside.id, besideIt.id] });
    assert.equal(outcomeOf(together, inside.id).status, 'applied');
    const [byItself] = await applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: [alone.id] });
    for (const result of [together[1], byItself]) {
      assert.ok('error' in result, `${result.taskId}: ${'outcome' in result ? result.outcome.message : ''}`);
      assert.match(result.error.message, /does not apply to the snapshot it was made from/);
    }
    assert.equal(ws.read('d/x.txt'), 'x fixed\n');
    assert.equal(fs.lstatSync(path.join(ws.root, 'd')).isDirectory(), true, 'd is still a folder');
  });

  it('creates one record file per result: apply.json is a second name of its undo record, and undo still reads both', async () => {
    const { ws, ids } = await manyResults(3);
    const results = await applyTaskPatches({ ...placeOf(ws.board, ws.root), taskIds: ids });
    for (const id of ids) {
      assert.equal(outcomeOf(results, id).status, 'applied');
      const undo = readUndoRecord(placeOf(ws.board), id);
      assert.ok(undo);
      const applied = fs.statSync(path.join(ws.board.artifactsDir(id), 'apply.json'));
      assert.equal(applied.ino, fs.statSync(undo.file).ino, 'apply.json and the undo record are one file');
      assert.deepEqual(applyRecord(placeOf(ws.board), id)?.files.sort(), [`src/f${ids.indexOf(id)}.txt`, `src/new${ids.indexOf(id)}.txt`]);
    }
    await undoTaskApply({ ...placeOf(ws.board, ws.root), taskId: ids[1] });
    assert.equal(ws.read('src/f1.txt'), lines(10, 'f1'));
    assert.equal(fs.existsSync(path.join(ws.root, 'src/new1.txt')), false);
    assert.equal(applyRecord(placeOf(ws.board), ids[1]), undefined, 'the undone apply is no longer recorded');
    assert.match(ws.read('src/f0.txt'), /f0 5 fixed/, 'the other results stay applied');
  });
});

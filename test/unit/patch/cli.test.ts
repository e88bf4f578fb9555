// `swarm diff/apply/undo/discard/conflicts/worktrees` as real processes (the CLI source through tsx).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { makeWorkspace, runSwarm, runTasks, type Workspace } from './helpers';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

const swarm = (ws: Workspace, args: string[], env: Record<string, string> = {}) => runSwarm(ws.root, args, env);

describe('swarm CLI: review and apply', () => {
  it('diff, diff --stat, apply, conflicts, undo, discard, worktrees', async () => {
    const ws = makeWorkspace({ 'a.txt': 'one\ntwo\nthree\n' });
    made.push(ws);
    const [first, second] = await runTasks(ws, [
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'one\nTWO\nthree\n') },
      { edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'one\nzwei\nthree\n') },
    ]);
    const diff = swarm(ws, ['diff', first.id]);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^diff --git a\/a\.txt b\/a\.txt/);
    assert.match(diff.stdout, /^-two$/m);
    assert.match(diff.stdout, /^\+TWO$/m);
    assert.doesNotMatch(diff.stdout, /\x1b\[/, 'no colour when not a terminal');
    assert.match(swarm(ws, ['diff', first.id], { FORCE_COLOR: '1' }).stdout, /\x1b\[32m\+TWO/);
    const stat = swarm(ws, ['diff', first.id, '--stat']);
    assert.match(stat.stdout, /a\.txt\s+\| modified +\+1 -1/);
    assert.match(stat.stdout, /1 file changed, 1 insertion\(\+\), 1 deletion\(-\)/);
    const conflicts = JSON.parse(swarm(ws, ['conflicts', '--json']).stdout) as Array<{ taskIds: string[] }>;
    assert.deepEqual(conflicts[0].taskIds, [first.id, second.id]);

    const applied = swarm(ws, ['apply', first.id]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /applied: 1 file changed/);
    assert.equal(ws.read('a.txt'), 'one\nTWO\nthree\n');
    const conflict = swarm(ws, ['apply', second.id, '--3way']);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stdout, /conflict: a\.txt/);
    assert.equal(ws.read('a.txt'), 'one\nTWO\nthree\n');

    const undo = swarm(ws, ['undo', first.id]);
    assert.equal(undo.code, 0, undo.stderr);
    assert.equal(ws.read('a.txt'), 'one\ntwo\nthree\n');
    assert.equal(swarm(ws, ['discard', second.id]).code, 0);
    const refused = swarm(ws, ['apply', second.id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^swarm: The result of task .* was discarded/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'a message, not a stack trace');

    const worktrees = JSON.parse(swarm(ws, ['worktrees', '--json']).stdout) as Array<{ path: string; busy: boolean }>;
    assert.equal(worktrees.length, 2);
    assert.ok(worktrees.every((wt) => !wt.busy && !wt.path.startsWith(path.dirname(ws.root) + path.sep)), 'worktrees outside the checkout');
    const listed = swarm(ws, ['worktrees']);
    assert.match(listed.stdout, /2 worktrees, [\d.]+ [KMG]B on disk \(budget 10 GB/);
    assert.match(listed.stdout, /idle/);
    const pruned = swarm(ws, ['worktrees', '--prune']);
    assert.equal(pruned.code, 0, pruned.stderr);
    // The idle slots go; the first result's base ref stays (undone, it waits again), the discarded one's went with the discard.
    assert.match(pruned.stdout, /Pruned 2 worktrees and 0 refs no task needs any more/);
    assert.match(pruned.stdout, /No agent worktrees/);
  });

  it('worktrees lists the trees parked at the end of a run, and --prune removes them', async () => {
    const ws = makeWorkspace({ 'a.txt': 'one\n' });
    made.push(ws);
    await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'two\n') }]);
    await ws.isolation.release(); // the run ends: its idle slot is parked
    const listed = swarm(ws, ['worktrees']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /0 worktrees and 1 parked for the next run, [\d.]+ [KMG]?B on disk/);
    assert.match(listed.stdout, /parked +- +\S+\/parked\/\S+, parked .+ ago$/m);
    const json = JSON.parse(swarm(ws, ['worktrees', '--json']).stdout) as Array<{ path: string; parked?: boolean }>;
    assert.deepEqual(json.map((entry) => entry.parked), [true]);
    const pruned = swarm(ws, ['worktrees', '--prune']);
    assert.match(pruned.stdout, /Pruned 1 worktree and 0 refs/);
    assert.match(pruned.stdout, /No agent worktrees/);
  });

  it('apply --all-done applies every waiting result; a map task diffs as one combined patch', async () => {
    const ws = makeWorkspace({ 'x.txt': 'x\n', 'y.txt': 'y\n' });
    made.push(ws);
    const { parent } = ws.board.map({ title: 'fix all' }, [{ title: 'x', files: ['x.txt'] }, { title: 'y', files: ['y.txt'] }]);
    for (let i = 0; i < 2; i += 1) {
      const claim = ws.board.claim({ agent: `a${i}` });
      assert.ok(claim);
      const prepared = await ws.isolation.prepare(claim.task, String(i), ws.board.artifactsDir(claim.task.id));
      fs.appendFileSync(path.join(prepared.cwd, claim.task.files[0]), 'fixed\n');
      const changes = await ws.isolation.collect(claim.task, String(i), prepared, ws.board.artifactsDir(claim.task.id));
      ws.board.complete(claim, { summary: 'ok', ...changes });
    }
    const combined = swarm(ws, ['diff', parent.id, '--stat']);
    assert.equal(combined.code, 0, combined.stderr);
    assert.match(combined.stdout, /2 files changed, 2 insertions/);
    const all = swarm(ws, ['apply', '--all-done']);
    assert.equal(all.code, 0, all.stderr);
    assert.equal(ws.read('x.txt'), 'x\nfixed\n');
    assert.equal(ws.read('y.txt'), 'y\nfixed\n');
    const again = swarm(ws, ['apply', '--all-done']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /No done results waiting to be applied/);
  });
});

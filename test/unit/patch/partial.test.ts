// Dead tasks show their work (issue 15): the partial work kept on refs/swarm/<id> is shown and
// applied on request (`--partial`), undone like a result, and `apply --all-done` says which tasks
// are dead, why, and which have partial work.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { fingerprint } from '../worktree/helpers';
import { makeWorkspace, runSwarm, runTasks, type Workspace } from './helpers';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

const swarm = (ws: Workspace, args: string[]) => runSwarm(ws.root, args);

/** A task that dies after its attempt edited `edit`'s files: the worktree's work is kept on its ref. */
async function deadTask(ws: Workspace, title: string, edit?: (cwd: string) => void): Promise<string> {
  ws.board.post({ title, maxAttempts: 1 });
  const claim = ws.board.claim({ agent: 'agent-dead' });
  assert.ok(claim);
  const prepared = await ws.isolation.prepare(claim.task, 'dead', ws.board.artifactsDir(claim.task.id));
  edit?.(prepared.cwd);
  await ws.isolation.abandon(claim.task, 'dead', prepared, 'timed out');
  ws.board.fail(claim, 'The agent timed out after 600 s.\nmore detail', { permanent: true });
  return claim.task.id;
}

describe('dead tasks show their work', () => {
  it('diff and apply --partial, undo, and the hint when asked without --partial', async () => {
    const ws = makeWorkspace({ 'a.txt': 'one\ntwo\n', 'b.txt': 'b\n' });
    made.push(ws);
    const id = await deadTask(ws, 'half done', (cwd) => {
      fs.writeFileSync(path.join(cwd, 'a.txt'), 'one\nTWO\n');
      fs.writeFileSync(path.join(cwd, 'new.txt'), 'started\n');
    });
    const plain = swarm(ws, ['diff', id]);
    assert.equal(plain.code, 1);
    assert.equal(plain.stderr.trim(), `swarm: Task ${id} has no result: it is dead (The agent timed out after 600 s.). Its partial work is kept: see it with \`swarm diff ${id} --partial\`, apply it with \`swarm apply ${id} --partial\`.`);

    const diff = swarm(ws, ['diff', id, '--partial']);
    assert.equal(diff.code, 0, diff.stderr);
    assert.match(diff.stdout, /^\+TWO$/m);
    assert.match(diff.stdout, /^\+started$/m);
    const stat = swarm(ws, ['diff', id, '--partial', '--stat']);
    assert.match(stat.stdout, /2 files changed/);

    const before = fingerprint(ws.root);
    const applied = swarm(ws, ['apply', id, '--partial']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(ws.read('a.txt'), 'one\nTWO\n');
    assert.equal(ws.read('new.txt'), 'started\n');
    const undo = swarm(ws, ['undo', id]);
    assert.equal(undo.code, 0, undo.stderr);
    assert.equal(fingerprint(ws.root), before);
  });

  it('a dead task without partial work, and --partial on a done task, say so', async () => {
    const ws = makeWorkspace({ 'a.txt': 'a\n' });
    made.push(ws);
    const [done] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'A\n') }]);
    const id = await deadTask(ws, 'did nothing');
    const diff = swarm(ws, ['diff', id]);
    assert.equal(diff.code, 1);
    assert.match(diff.stderr, new RegExp(`^swarm: Task ${id} has no patch: it is dead \\(The agent timed out after 600 s\\.\\), and no partial work of it was kept\\.`));
    assert.match(swarm(ws, ['apply', id, '--partial']).stderr, /no partial work of it was kept/);
    assert.match(swarm(ws, ['diff', done.id, '--partial']).stderr, /is done: its result is shown and applied without --partial/);
    assert.equal(swarm(ws, ['apply', '--all-done', '--partial']).code, 2, 'a usage error');
  });

  it('apply --all-done applies the done results and lists the dead tasks, with their partial work', async () => {
    const ws = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    made.push(ws);
    const [done] = await runTasks(ws, [{ edit: (cwd) => fs.writeFileSync(path.join(cwd, 'a.txt'), 'A\n') }]);
    const withWork = await deadTask(ws, 'ran out of time', (cwd) => fs.writeFileSync(path.join(cwd, 'b.txt'), 'B\n'));
    const without = await deadTask(ws, 'never started');
    const json = swarm(ws, ['apply', '--all-done', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const entries = JSON.parse(json.stdout) as Array<{ taskId: string; status: string; partialWork?: boolean }>;
    assert.deepEqual(
      entries.map((entry) => [entry.taskId, entry.status, entry.partialWork]),
      [
        [done.id, 'applied', undefined],
        [withWork, 'dead', true],
        [without, 'dead', false],
      ].sort((a, b) => (a[1] === b[1] ? 0 : a[1] === 'applied' ? -1 : 1)),
    );
    assert.equal(swarm(ws, ['undo', done.id]).code, 0);
    const result = swarm(ws, ['apply', '--all-done']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`Task ${done.id} applied`));
    assert.match(result.stdout, /^2 tasks are dead and not applied \(all of them: `swarm dlq list`; try again: `swarm dlq requeue <id>`\):$/m);
    assert.match(result.stdout, new RegExp(`^  ${withWork}  ran out of time: The agent timed out after 600 s\\. — partial work kept: \`swarm diff ${withWork} --partial\`$`, 'm'));
    assert.match(result.stdout, new RegExp(`^  ${without}  never started: The agent timed out after 600 s\\.$`, 'm'));
    assert.equal(ws.read('b.txt'), 'b\n', 'partial work is applied only on request');
    const again = swarm(ws, ['apply', '--all-done']);
    assert.equal(again.code, 1);
    assert.match(again.stdout, /^2 tasks are dead and not applied/m);
    assert.match(again.stderr, /No done results waiting to be applied/);
  });
});

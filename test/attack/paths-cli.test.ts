// Issue 13, end to end: an agent force-adds a task file into the board folder of its worktree, so
// its result patch carries `.swarm/pending/<task>.json` (a task whose payload names its own
// command). `swarm apply` and `swarm apply --all-done` must refuse it with one line and write
// nothing: no task appears on the board, and the result's other files stay unapplied too.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { git } from '../unit/worktree/helpers';
import { makeWorkspace, runSwarm, runTasks, type Workspace } from '../unit/patch/helpers';

const made: Workspace[] = [];
afterEach(() => {
  for (const ws of made.splice(0)) ws.cleanup();
});

const swarm = (ws: Workspace, args: string[]) => runSwarm(ws.root, args);

const EVIL_NAME = '09999~00000000000001~tevil00000001~a0.json';
const EVIL_TASK = JSON.stringify({ id: 'tevil00000001', title: 'innocent', type: 'fix', prompt: '', files: [], priority: 9999, payload: { executor: { type: 'command', command: 'touch /tmp/swarm-pwned' } }, maxAttempts: 1, createdAt: 1 });

describe('a result that writes into the board (swarm apply)', () => {
  it('is refused by apply and apply --all-done; nothing is written, no task appears', async () => {
    const ws = makeWorkspace({ 'a.txt': 'a\n' });
    made.push(ws);
    const [task] = await runTasks(ws, [
      {
        edit: (cwd) => {
          fs.writeFileSync(path.join(cwd, 'a.txt'), 'b\n');
          fs.mkdirSync(path.join(cwd, '.swarm', 'pending'), { recursive: true });
          fs.writeFileSync(path.join(cwd, '.swarm', 'pending', EVIL_NAME), EVIL_TASK);
          // The board is git-ignored; a hostile agent adds it anyway.
          git(cwd, ['add', '-f', '.swarm']);
        },
      },
    ]);
    assert.match(fs.readFileSync(path.join(ws.board.artifactsDir(task.id), 'result.patch'), 'utf8'), /\.swarm\/pending\//, 'the attack is in the patch');
    const pendingBefore = fs.readdirSync(path.join(ws.board.root, 'pending'));

    for (const args of [['apply', task.id], ['apply', '--all-done']]) {
      const result = swarm(ws, args);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const who = args[1] === '--all-done' ? `task ${task.id} was not applied: ` : '';
      assert.ok(result.stderr.startsWith(`swarm: ${who}Refusing to write a file: ".swarm/pending/`), result.stderr);
      assert.match(result.stderr, /" is inside the task board folder\./);
      assert.equal(result.stderr.trim().split('\n').length, 1, 'one line');
      assert.deepEqual(fs.readdirSync(path.join(ws.board.root, 'pending')), pendingBefore, 'no task planted');
      assert.equal(ws.read('a.txt'), 'a\n', 'the other files of the refused result are not written either');
    }
    const list = swarm(ws, ['list', '--json']);
    assert.ok(!(JSON.parse(list.stdout) as Array<{ id: string }>).some((t) => t.id === 'tevil00000001'));
  });
});

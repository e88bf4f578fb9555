// A sandboxed attempt cannot write outside its worktree, but the host runs git in that worktree
// afterwards (collect, the next task's warm reset): whatever the attempt left in its slot's git
// admin folder must not steer those host commands. Attacks: HEAD turned into a symbolic ref to the
// user's branch (a warm `reset --hard` would move the branch), a config.worktree defining a clean
// filter and an fsmonitor (the host's `git add` would run them, outside the sandbox), and a
// rewritten .git link / commondir (refused inside the sandbox).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { FileBoard } from '../../src/core/board';
import { AgentPool, type TaskResult } from '../../src/core/pool';
import { agentBundle } from '../unit/pool/helpers';
import { requireBwrap } from '../unit/sandbox/helpers';
import { git, makeRepo } from '../unit/worktree/helpers';

before(requireBwrap);

/** The attack, writing its markers into `pwned` (a literal path: the host's git has no $PWNED). */
const attack = (pwned: string): string => `
PWNED='${pwned}'
admin=$(git rev-parse --absolute-git-dir)
echo "admin: $admin"
git symbolic-ref HEAD refs/heads/main && echo "HEAD now follows main"
printf '[core]\\n\\tfsmonitor = "touch %s/fsmonitor-ran; false"\\n[filter "evil"]\\n\\tclean = "sh -c \\\\"touch %s/filter-ran; cat\\\\""\\n' "$PWNED" "$PWNED" > "$admin/config.worktree" && echo "config.worktree written"
cat "$admin/config.worktree"
echo '* filter=evil' > .gitattributes
echo "gitdir: $PWNED/fake" > .git || echo "refused: .git link"
echo "$PWNED/fake" > "$admin/commondir" || echo "refused: commondir"
echo change > {title}.txt
`;

test("nothing an attempt leaves in its slot's git admin folder steers the host's git", { timeout: 180_000 }, async () => {
  const repo = makeRepo({ 'README.md': '# demo\n' });
  const checkout = fs.realpathSync(repo.root);
  const pwned = path.join(path.dirname(checkout), 'pwned');
  fs.mkdirSync(pwned);
  git(checkout, ['config', 'extensions.worktreeConfig', 'true']);
  // An uncommitted edit: the snapshot is then a commit of its own, so a reset to it through a HEAD
  // that follows main would move main.
  fs.writeFileSync(path.join(checkout, 'README.md'), '# demo, being edited\n');
  const main = git(checkout, ['rev-parse', 'main']);
  const board = FileBoard.open({ root: path.join(checkout, '.swarm'), durable: false });
  try {
    const first = board.post({ title: 'first' });
    const second = board.post({ title: 'second' });
    const pool = new AgentPool({ board, workspaceRoot: checkout, executor: { type: 'command', command: attack(pwned) }, maxAgents: 1, untilEmpty: true, agentScript: agentBundle() });
    await pool.start();
    await pool.whenDone();
    for (const task of [first, second]) {
      const done = board.get(task.id);
      const log = fs.readFileSync((done?.result as TaskResult).logFile ?? '', 'utf8');
      assert.equal(done?.status, 'done', `${JSON.stringify(board.errors(task.id))}\n${log}`);
      assert.match(log, /HEAD now follows main/, 'the attempt could turn HEAD into a symbolic ref (its admin folder is writable)');
      assert.match(log, /config\.worktree written/);
      assert.match(log, /refused: \.git link/);
      assert.match(log, /refused: commondir/);
      assert.deepEqual((done?.result as TaskResult).files.map((file) => file.path).sort(), ['.gitattributes', `${task.title}.txt`]);
    }
    assert.deepEqual(fs.readdirSync(pwned), [], 'no filter and no fsmonitor of the attempt ran outside the sandbox');
    assert.equal(git(checkout, ['rev-parse', 'main']), main, "the user's branch did not move");
    assert.equal(git(checkout, ['status', '--porcelain']), 'M README.md', "only the user's own edit");
  } finally {
    board.close();
    repo.cleanup();
  }
});

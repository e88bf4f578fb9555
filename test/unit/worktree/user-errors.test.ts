// What a person can hit in the worktree code (a configuration to fix, a slot another process holds,
// a slot changed under the host) is a WorktreeError of a kind, with a first line that says what
// happened and what to do: the CLI prints that line, the extension shows it, a task records it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import type { UserErrorKind } from '../../../src/core/errors';
import { WorktreeError, createWorktreeIsolation } from '../../../src/core/worktree';
import { readSlotState, slotPaths, writeSlotState } from '../../../src/core/worktree/slots';
import { fakeTask, rejectsAsUserError, reposRemovedAfterEach, slotsDir } from './helpers';

const repo = reposRemovedAfterEach();

/** Rejects with a WorktreeError of `kind` whose first line matches `firstLine`. */
async function rejectsAs(action: Promise<unknown>, kind: UserErrorKind, firstLine: RegExp): Promise<void> {
  await rejectsAsUserError(
    action.catch((error: unknown) => {
      assert.ok(error instanceof WorktreeError, `a WorktreeError, not ${String(error)}`);
      throw error;
    }),
    kind,
    firstLine,
  );
}

describe('worktree: user errors', () => {
  it('a worktrees folder inside the checkout is a config error naming the setting to change', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, worktreesDir: path.join(r.root, 'wt') });
    await rejectsAs(isolation.prepare(fakeTask(), '1', path.join(r.root, '.swarm', 'artifacts', 'x')), 'config', /inside your checkout .*Set "worktrees\.dir" in swarm\.config\.json/);
  });

  it('a failing setup command is a config error; its first line names the command and the exit code, its output follows', async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [], setupCommand: 'echo npm says no >&2; exit 3' });
    try {
      await rejectsAs(isolation.prepare(fakeTask(), '1', path.join(r.root, '.swarm', 'artifacts', 'x')), 'config', /^The worktree setup command `echo npm says no >&2; exit 3` failed with exit code 3 in .*Fix the command \("worktrees\.setupCommand"/);
      await assert.rejects(isolation.prepare(fakeTask(), '1', path.join(r.root, '.swarm', 'artifacts', 'y')), /\nnpm says no$/);
    } finally {
      await isolation.release();
    }
  });

  it('a slot locked by another live process, twice over, is an environment error naming the lock file', async () => {
    const r = repo();
    const dir = slotsDir(r.root);
    // Both names this process could use are held by a live process (our parent) other than this one.
    for (const name of ['1', `1-p${process.pid}`]) {
      const lock = slotPaths(dir, name).stateFile.replace(/\.json$/, '.lock');
      fs.mkdirSync(path.dirname(lock), { recursive: true });
      fs.writeFileSync(lock, String(process.ppid));
    }
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    await rejectsAs(isolation.prepare(fakeTask(), '1', path.join(r.root, '.swarm', 'artifacts', 'x')), 'environment', /^Agent slot 1-p\d+ is locked by another process; remove .*\.lock if no agent host is running\.$/);
  });

  it("a slot whose record went away during the attempt is an environment error; one whose .git was pointed elsewhere is refused", async () => {
    const r = repo();
    const isolation = createWorktreeIsolation({ workspaceRoot: r.root, include: [] });
    try {
      const lost = fakeTask();
      const prepared = await isolation.prepare(lost, '1', path.join(r.root, '.swarm', 'artifacts', lost.id));
      const { stateFile } = slotPaths(slotsDir(r.root), '1');
      const state = readSlotState(stateFile);
      assert.ok(state?.gitDir, 'prepare records the slot admin folder');
      fs.rmSync(stateFile);
      await rejectsAs(isolation.collect(lost, '1', { ...prepared, snapshot: undefined }, path.join(r.root, '.swarm', 'artifacts', lost.id)), 'environment', /^Task t\w+: the record of slot 1 .* was removed while the attempt ran.*Do not prune worktrees while agents run\.$/);

      // A slot record without its admin folder (an older one): the .git file decides, and one an
      // attempt pointed at a folder of its own making is not followed.
      writeSlotState(stateFile, { ...state, gitDir: undefined });
      const elsewhere = fs.mkdtempSync(path.join(path.dirname(r.root), 'elsewhere-'));
      fs.writeFileSync(path.join(slotPaths(slotsDir(r.root), '1').dir, '.git'), `gitdir: ${elsewhere}\n`);
      await rejectsAs(isolation.collect(lost, '1', prepared, path.join(r.root, '.swarm', 'artifacts', lost.id)), 'refused', new RegExp(`links to ${elsewhere}, not to an admin folder of this repository`));
    } finally {
      await isolation.release().catch(() => undefined);
    }
  });
});

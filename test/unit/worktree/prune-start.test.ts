// The prune at a run's start: after a clean end it makes one `git worktree prune` and one listing
// (not a second round when it removed nothing); a slot a dead process left is still removed.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { fakeTask, git, reposRemovedAfterEach, slotsDir, type TempRepo } from './helpers';

const repo = reposRemovedAfterEach();
const FILES = { 'src/a.txt': 'one\n', 'src/b.txt': 'bee\n', 'README.md': '# demo\n' };

function artifacts(r: TempRepo, id: string): string {
  return path.join(r.root, '.swarm', 'artifacts', id);
}

function registeredSlots(r: TempRepo): string[] {
  return git(r.root, ['worktree', 'list', '--porcelain']).split('\n').filter((line) => line.startsWith('worktree ') && !line.endsWith(r.root));
}

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

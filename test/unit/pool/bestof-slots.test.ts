// Issue 13, item 4: a best-of-N slot stayed marked busy after the attempt. Two ways it happened: a
// losing attempt cancelled while its worktree was still being prepared (prepare had claimed the
// slot, then threw), and a losing attempt that succeeded too, a moment after the winner (its
// workspace was neither collected nor abandoned). Every slot is free again when the task ends.
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { test } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { FileBoard as AsyncFileBoard } from '../../../src/core/board/fileBoard';
import type { ExecutionContext, Executor } from '../../../src/core/executors';
import { AgentWorker } from '../../../src/core/pool/worker';
import { createWorktreeIsolation } from '../../../src/core/worktree';
import { makeRepo } from '../worktree/helpers';

/** Writes a file and finishes, never looking at the abort signal (after `gate`, when given). */
function executor(name: string, gate?: () => Promise<void>): Executor {
  return {
    name,
    async execute(ctx: ExecutionContext) {
      fs.writeFileSync(path.join(ctx.cwd, `${name}.txt`), `${name}\n`);
      await gate?.();
      return { summary: `${name} done` };
    },
  };
}

/** A gate that opens once `count` attempts reached it: they then all finish in the same instant. */
function barrier(count: number): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return () => {
    arrived += 1;
    if (arrived === count) open();
    return opened;
  };
}

async function runBestOf(makeExecutor: (name: string) => Executor): Promise<void> {
  const repo = makeRepo({ 'README.md': '# demo\n' });
  const board = FileBoard.open({ root: path.join(repo.root, '.swarm'), durable: false });
  try {
    const isolation = createWorktreeIsolation({ workspaceRoot: repo.root });
    const names = ['first', 'second', 'third'];
    const task = board.post({ title: 'race', payload: { bestOf: { executors: names } } });
    const worker = new AgentWorker({
      board: AsyncFileBoard.over(board),
      agentId: 'agent-1',
      slot: 's1',
      executor: makeExecutor('pool'),
      isolation,
      leaseMs: 30_000,
      namedExecutors: Object.fromEntries(names.map((name) => [name, name])),
      createExecutor: (config) => makeExecutor(String(config)),
      parallelAttempts: true,
      stopWhenIdle: true,
      report: () => undefined,
    });
    await worker.run();
    assert.equal(board.get(task.id)?.status, 'done', JSON.stringify(board.errors(task.id)));
    const dir = await isolation.worktreesDir();
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name.endsWith('.lock')), [], 'no slot lock is left held');
    assert.deepEqual((await isolation.list()).filter((slot) => slot.busy).map((slot) => slot.path), [], 'no slot is left busy');
  } finally {
    board.close();
    repo.cleanup();
  }
}

test('best of N: losers cancelled while their worktrees were being prepared leave no slot busy', async () => {
  await runBestOf((name) => executor(name));
});

test('best of N: losers that succeeded too, a moment after the winner, leave no slot busy', async () => {
  const gate = barrier(3);
  await runBestOf((name) => executor(name, gate));
});

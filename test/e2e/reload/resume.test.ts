// End to end: the pool resumes after a window reload. A person starts the swarm on a board with
// three tasks, reloads the window (Developer: Reload Window) while an agent works, and finds the
// Pool view running again; the task that was running when the window went away is not lost (its
// lease is reclaimed) and every task ends done.
//   node --import tsx --test test/e2e/reload/resume.test.ts   (after npm run build)
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { FileBoardEngine as FileBoard } from '../../../src/core/board';
import { openWorkbench } from '../support/workbench';

// Every task's command waits until the test opens this gate, so a task is surely running when the
// window reloads, however slowly the Pool view appears on a loaded machine (a fixed `sleep 4`
// could let all three tasks finish before the view ever showed "1/1 busy"). The gate is a file in
// the workspace (the command's working folder in direct isolation): the sandbox gives each command
// a private /tmp, so a gate in the host's temp folder would never open.
const GATE_NAME = '.swarm-e2e-reload-gate';
const settings = {
  'agentSwarm.executor': { type: 'command', command: `while [ ! -e ${GATE_NAME} ]; do sleep 0.2; done` },
  'agentSwarm.pool.maxAgents': 1,
  // The basic fixture is not a git repository: working in the folder is opted into.
  'agentSwarm.isolation': 'direct',
};

describe('e2e: the pool resumes after a window reload', () => {
  it('starts, survives Reload Window, and finishes every task', { timeout: 420_000 }, async () => {
    let boardDir = '';
    let gate = '';
    const bench = await openWorkbench({
      name: 'reload-resume',
      fixture: 'basic',
      settings,
      prepare: (workspace) => {
        boardDir = path.join(workspace, '.swarm');
        gate = path.join(workspace, GATE_NAME);
        const board = FileBoard.open({ root: boardDir });
        for (const n of [1, 2, 3]) board.post({ title: `Reload task ${n}` });
        board.close();
      },
    });
    let failed = true;
    try {
      const { page } = bench;
      await bench.runCommand('Swarm: Start');
      await bench.openActivity(/Swarm/);
      const poolBefore = await bench.waitForView(/^\s*Pool/);
      await poolBefore.getByText(/1\/1 busy/).first().waitFor({ timeout: 90_000 });
      await bench.screenshot('pool-before-reload');

      // Listening before the command: the new page's load event is the reload having happened
      // (the old page's workbench could otherwise pass the check below).
      const reloaded = page.waitForEvent('load', { timeout: 120_000 });
      await bench.runCommand('Developer: Reload Window');
      await reloaded;
      await page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
      // "View: Show Swarm" shows the container whatever the restored layout is (a click would toggle it).
      await bench.runCommand('View: Show Swarm');
      const pool = await bench.waitForView(/^\s*Pool/, 120_000);
      await pool.getByText(/\d\/1 busy/).first().waitFor({ timeout: 120_000 });
      await bench.screenshot('pool-after-reload');
      fs.writeFileSync(gate, '');

      const deadline = Date.now() + 180_000;
      let statuses: string[] = [];
      while (Date.now() < deadline) {
        const board = FileBoard.open({ root: boardDir });
        statuses = board.list().map((task) => task.status);
        board.close();
        if (statuses.length === 3 && statuses.every((status) => status === 'done')) break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      assert.deepEqual(statuses, ['done', 'done', 'done'], 'every task ends done after the reload');
      failed = false;
    } finally {
      await bench.close({ failed });
    }
  });
});

// The Swarm panel inside a real VS Code extension host: the Tasks view follows the board when another
// process (the `swarm` CLI) writes to it, map tasks show progress and expand to their children, a
// large board renders one page per group, palette commands act on the board, and the Pool view shows
// a running pool's agents. Runs in its own workspace (the "ui" run) because it fills the board.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import type { SwarmExtensionApi } from '../../../src/extension/extension';
import type { TaskNode } from '../../../src/extension/views/tasksTree';
import type { PoolRow } from '../../../src/extension/logic/poolView';
import { EXTENSION_ID, extensionApi as api, openBoard, waitFor, workspaceRoot } from '../support/workspace';


/** Runs the real CLI in another process, as a user in a terminal would. */
function swarmCli(...args: string[]): string {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension);
  const cli = path.join(extension.extensionPath, 'dist', 'cli.js');
  return execFileSync(process.execPath, [cli, ...args], { cwd: workspaceRoot(), env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, encoding: 'utf8' }).trim();
}

function taskNodes(nodes: TaskNode[]): Extract<TaskNode, { kind: 'task' }>[] {
  return nodes.filter((node): node is Extract<TaskNode, { kind: 'task' }> => node.kind === 'task');
}

function groupOf(swarm: SwarmExtensionApi, status: string): Extract<TaskNode, { kind: 'group' }> | undefined {
  return swarm.tasks.getChildren().find((node): node is Extract<TaskNode, { kind: 'group' }> => node.kind === 'group' && node.group.status === status);
}

suite('Swarm panel', () => {
  test('a task posted by the CLI in another process appears in the Tasks view', async () => {
    const swarm = await api();
    const id = swarmCli('post', 'Posted from a terminal', '--files', 'src/greet.ts', '--prompt', 'Say hello politely');
    const node = await waitFor('the posted task in the Pending group', () => {
      const pending = groupOf(swarm, 'pending');
      return pending ? taskNodes(swarm.tasks.getChildren(pending)).find((entry) => entry.task.id === id) : undefined;
    });
    const item = swarm.tasks.getTreeItem(node);
    assert.strictEqual(item.label, 'Posted from a terminal');
    assert.match(String(item.contextValue), /^task:pending.*:cancel/);
    const tooltip = item.tooltip as vscode.MarkdownString;
    assert.match(tooltip.value, /Say hello politely/);
    assert.match(tooltip.value, /src\/greet\.ts/);
  });

  test('Cancel on an item cancels the task on the board', async () => {
    const swarm = await api();
    const id = swarmCli('post', 'To be cancelled');
    const node = await waitFor('the task in the view', () => {
      const pending = groupOf(swarm, 'pending');
      return pending ? taskNodes(swarm.tasks.getChildren(pending)).find((entry) => entry.task.id === id) : undefined;
    });
    await vscode.commands.executeCommand('agentSwarm.task.cancel', node);
    const board = openBoard();
    try {
      assert.strictEqual(board.get(id)?.status, 'cancelled');
    } finally {
      board.close();
    }
    await waitFor('the task in the Cancelled group', () => {
      const cancelled = groupOf(swarm, 'cancelled');
      return cancelled ? taskNodes(swarm.tasks.getChildren(cancelled)).some((entry) => entry.task.id === id) : undefined;
    });
  });

  test('a map task shows its progress and expands to its children', async () => {
    const swarm = await api();
    const board = openBoard();
    let parentId: string;
    try {
      const { parent } = board.map({ title: 'Fix three files' }, [{ title: 'child a', priority: 10 }, { title: 'child b', priority: 10 }, { title: 'child c', priority: 10 }]);
      parentId = parent.id;
      const claim = board.claim({ agent: 'test' });
      assert.ok(claim);
      board.complete(claim, { summary: 'ok', executor: 'command', durationMs: 1, files: [] });
    } finally {
      board.close();
    }
    swarm.tasks.refresh();
    const parentNode = await waitFor('the map parent with 1 of 3 children done', () => {
      for (const group of swarm.tasks.getChildren()) {
        const found = taskNodes(swarm.tasks.getChildren(group)).find((entry) => entry.task.id === parentId && entry.progress?.done === 1);
        if (found) return found;
      }
      return undefined;
    });
    assert.strictEqual(parentNode.progress?.total, 3);
    const item = swarm.tasks.getTreeItem(parentNode);
    assert.strictEqual(item.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
    assert.match(String(item.description), /1\/3|33/);
    const children = taskNodes(swarm.tasks.getChildren(parentNode)).map((entry) => entry.task.title).sort();
    assert.deepStrictEqual(children, ['child a', 'child b', 'child c']);
  });

  test('Retry Failed requeues the dead-letter queue', async () => {
    const swarm = await api();
    const board = openBoard();
    let id: string;
    try {
      // Claim order is priority first, so the new task is the one claimed.
      id = board.post({ title: 'Fails for good', priority: 100, maxAttempts: 1 }).id;
      const claim = board.claim({ agent: 'test' });
      assert.strictEqual(claim?.task.id, id);
      board.fail(claim, 'bad configuration', { permanent: true });
      assert.strictEqual(board.get(id)?.status, 'dead');
    } finally {
      board.close();
    }
    await vscode.commands.executeCommand('agentSwarm.retryFailed');
    const reopened = openBoard();
    try {
      assert.strictEqual(reopened.get(id)?.status, 'pending');
      reopened.cancel(id); // keep the rest of the suite's board predictable
    } finally {
      reopened.close();
    }
    void swarm;
  });

  test('outside git, Swarm: Start does not work in the folder until the user opts in', async () => {
    const swarm = await api();
    const settings = vscode.workspace.getConfiguration('agentSwarm');
    // The folder's own setting: the run's user settings opt in ("direct"), the folder asks for "auto".
    await settings.update('isolation', 'auto', vscode.ConfigurationTarget.Workspace);
    try {
      await vscode.commands.executeCommand('agentSwarm.start');
      assert.strictEqual(swarm.session.isRunning, false, 'no pool without isolation or an opt-in');
    } finally {
      await settings.update('isolation', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('the Pool view shows the running pool, its agent and the task it works on', async function () {
    this.timeout(120_000);
    const swarm = await api();
    const board = openBoard();
    let id: string;
    try {
      // Only this task is left for the pool: earlier tests' leftovers are cancelled.
      for (const task of board.list({ status: 'pending' })) board.cancel(task.id);
      id = board.post({ title: 'Takes a few seconds', priority: 50 }).id;
    } finally {
      board.close();
    }
    await swarm.session.start().catch((error: unknown) => assert.fail(`Swarm: Start failed: ${String(error)}`));
    try {
      assert.ok(swarm.session.isRunning, 'Swarm: Start started the pool (executor from the run settings)');
      const agentRow = await waitFor('an agent working on the task in the Pool view', () => {
        const rows = swarm.pool.getChildren();
        const agents = rows.find((row: PoolRow) => row.id === 'agents');
        return agents?.children?.find((row) => row.label.includes('Takes a few seconds'));
      }, 60_000);
      assert.match(String(agentRow.description), /busy/);
      const capacity = swarm.pool.getChildren().find((row: PoolRow) => row.id === 'capacity');
      assert.match(String(capacity?.label), /^1\/\d+ busy$/, 'one agent busy with the one task');
      await waitFor('the task done', () => {
        const check = openBoard();
        try {
          return check.get(id)?.status === 'done' ? true : undefined;
        } finally {
          check.close();
        }
      }, 60_000);
    } finally {
      await vscode.commands.executeCommand('agentSwarm.stop');
    }
    assert.strictEqual(swarm.session.isRunning, false, 'Swarm: Stop stopped the pool');
  });

  test('10,000 pending tasks render one page per group, fast', async function () {
    this.timeout(180_000);
    const swarm = await api();
    const board = openBoard();
    try {
      const specs = Array.from({ length: 10_000 }, (_, index) => ({ title: `bulk ${index}`, priority: -1 }));
      for (let start = 0; start < specs.length; start += 1_000) board.postMany(specs.slice(start, start + 1_000));
    } finally {
      board.close();
    }
    swarm.tasks.refresh();
    const started = Date.now();
    const pending = await waitFor('the Pending group', () => groupOf(swarm, 'pending'));
    const nodes = swarm.tasks.getChildren(pending);
    for (const node of nodes) swarm.tasks.getTreeItem(node);
    const elapsedMs = Date.now() - started;
    console.log(`10,000 pending: listing + one page of tree items in ${elapsedMs} ms`);
    const more = nodes.find((node) => node.kind === 'more');
    assert.ok(more && more.kind === 'more', 'a "Show more" item caps what is rendered');
    assert.ok(nodes.length <= 201, `at most one page rendered (got ${nodes.length})`);
    assert.ok(more.hidden >= 9_800, `the rest is behind "Show more" (${more.hidden})`);
    assert.ok(elapsedMs < 20_000, `rendering stays interactive (generous bound; took ${elapsedMs} ms)`);
  });
});

// The Swarm panel inside a real VS Code extension host: the Tasks view follows the board when another
// process (the `swarm` CLI) writes to it, map tasks show progress and expand to their children, a
// large board renders one page per group, palette commands act on the board, and the Pool view shows
// a running pool's agents. Runs in its own workspace (the "ui" run) because it fills the board.
import * as assert from 'assert';
import { execFile, execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { promisify } from 'util';
import * as vscode from 'vscode';
import type { SwarmExtensionApi } from '../../../src/extension/extension';
import type { TaskNode } from '../../../src/extension/views/tasksTree';
import type { PoolRow } from '../../../src/extension/logic/poolView';
import { EXTENSION_ID, extensionApi as api, openBoard, waitFor, workspaceRoot } from '../support/workspace';

const execFileAsync = promisify(execFile);

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

async function groupOf(swarm: SwarmExtensionApi, status: string): Promise<Extract<TaskNode, { kind: 'group' }> | undefined> {
  return (await swarm.tasks.getChildren()).find((node): node is Extract<TaskNode, { kind: 'group' }> => node.kind === 'group' && node.group.status === status);
}

suite('Swarm panel', () => {
  test('a task posted by the CLI in another process appears in the Tasks view', async () => {
    const swarm = await api();
    const id = swarmCli('post', 'Posted from a terminal', '--files', 'src/greet.ts', '--prompt', 'Say hello politely');
    const node = await waitFor('the posted task in the Pending group', async () => {
      const pending = await groupOf(swarm, 'pending');
      return pending ? taskNodes(await swarm.tasks.getChildren(pending)).find((entry) => entry.task.id === id) : undefined;
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
    const node = await waitFor('the task in the view', async () => {
      const pending = await groupOf(swarm, 'pending');
      return pending ? taskNodes(await swarm.tasks.getChildren(pending)).find((entry) => entry.task.id === id) : undefined;
    });
    await vscode.commands.executeCommand('agentSwarm.task.cancel', node);
    const board = openBoard();
    try {
      assert.strictEqual(board.get(id)?.status, 'cancelled');
    } finally {
      board.close();
    }
    await waitFor('the task in the Cancelled group', async () => {
      const cancelled = await groupOf(swarm, 'cancelled');
      return cancelled ? taskNodes(await swarm.tasks.getChildren(cancelled)).some((entry) => entry.task.id === id) : undefined;
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
    const parentNode = await waitFor('the map parent with 1 of 3 children done', async () => {
      for (const group of await swarm.tasks.getChildren()) {
        const found = taskNodes(await swarm.tasks.getChildren(group)).find((entry) => entry.task.id === parentId && entry.progress?.done === 1);
        if (found) return found;
      }
      return undefined;
    });
    assert.strictEqual(parentNode.progress?.total, 3);
    const item = swarm.tasks.getTreeItem(parentNode);
    assert.strictEqual(item.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
    assert.match(String(item.description), /1\/3|33/);
    const children = taskNodes(await swarm.tasks.getChildren(parentNode)).map((entry) => entry.task.title).sort();
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
      const agentRow = await waitFor('an agent working on the task in the Pool view', async () => {
        const rows = await swarm.pool.getChildren();
        const agents = rows.find((row: PoolRow) => row.id === 'agents');
        return agents?.children?.find((row) => row.label.includes('Takes a few seconds'));
      }, 60_000);
      assert.match(String(agentRow.description), /busy/);
      const capacity = (await swarm.pool.getChildren()).find((row: PoolRow) => row.id === 'capacity');
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

  test('10,000 pending tasks: the Tasks view pages them and the extension host never stalls', async function () {
    this.timeout(240_000);
    const swarm = await api();
    // The guarantee itself: the views' file board runs its engine in a worker thread. The stall
    // bound below catches other work on this thread; with 10,000 tasks one refresh's reads take
    // about 50 ms here, too close to a busy machine's noise for a stall bound to tell alone.
    const viewBoard = await swarm.session.viewBoard();
    assert.ok(viewBoard && 'thread' in viewBoard, 'the views read a file board');
    assert.strictEqual(viewBoard.thread, 'worker', "the views' board reads in a worker thread, never on the extension host's");
    await fillBoard(10_000);
    // Spawning a process blocks the spawning thread (fork of a large process), so the CLI runs
    // from one helper process started before the measurement: the stalls measured are the view's.
    const cli = await CliRunner.start();
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    const viewStalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    viewStalls.enable();
    try {
      swarm.tasks.refresh();
      const started = Date.now();
      const pending = await waitFor('the Pending group with 10,000 tasks', async () => {
        const group = await groupOf(swarm, 'pending');
        return group && group.kind === 'group' && group.count >= 10_000 ? group : undefined;
      }, 60_000);
      const nodes = await swarm.tasks.getChildren(pending);
      for (const node of nodes) swarm.tasks.getTreeItem(node);
      const elapsedMs = Date.now() - started;
      const more = nodes.find((node) => node.kind === 'more');
      assert.ok(more && more.kind === 'more', 'a "Load more" item ends the page');
      assert.ok(nodes.length <= 101, `one page of ~100 tasks is listed (got ${nodes.length})`);
      assert.ok(more.hidden >= 9_800, `the rest is behind "Load more" (${more.hidden})`);
      assert.strictEqual(swarm.tasks.getTreeItem(more).label, `Load more (${more.hidden} not shown)`);
      await vscode.commands.executeCommand('agentSwarm.tasks.showMore', more);
      const second = taskNodes(await swarm.tasks.getChildren(pending));
      assert.strictEqual(second.length, nodes.length - 1 + 100, '"Load more" lists the next page');
      assert.strictEqual(new Set(second.map((node) => node.task.id)).size, second.length, 'no task listed twice');
      viewStalls.disable();

      // Posted, claimed and completed by other processes while the view follows the board.
      const id = await cli.run('post', 'Posted while measuring', '--priority', '9000');
      const claimed = JSON.parse(await cli.run('claim', '--agent', 'stall-test', '--json')) as { id?: string; token?: string };
      assert.strictEqual(claimed.id, id, 'the highest-priority task is claimed');
      await waitFor('the claimed task in the Running group', async () => {
        const running = await groupOf(swarm, 'running');
        return running ? taskNodes(await swarm.tasks.getChildren(running)).some((node) => node.task.id === id) : undefined;
      }, 60_000);
      await cli.run('complete', id, '--token', String(claimed.token));
      await waitFor('the completed task in the Done group', async () => {
        const done = await groupOf(swarm, 'done');
        return done ? taskNodes(await swarm.tasks.getChildren(done)).some((node) => node.task.id === id) : undefined;
      }, 60_000);
      stalls.disable();
      const maxStallMs = stalls.max / 1e6;
      const inlineMs = inlineRefreshMs();
      // The histogram counts from its 10 ms timer; a stall is the delay beyond it. A view that read
      // the board on this thread would stall for one refresh's reads at least, so the bound is three
      // quarters of those reads timed here and now (a busy machine slows both alike), and never
      // below 100 ms: a garbage collection of the host's heap alone can take 60 ms on a busy machine.
      const boundMs = Math.max(100, inlineMs * 0.75);
      console.log(`10,000 pending: first page in ${elapsedMs} ms; largest event-loop stall ${maxStallMs.toFixed(1)} ms (loading and paging: ${(viewStalls.max / 1e6).toFixed(1)} ms; p99 ${(stalls.percentile(99) / 1e6).toFixed(1)} ms); one refresh's reads on this thread ${inlineMs.toFixed(1)} ms, bound ${boundMs.toFixed(1)} ms`);
      assert.ok(maxStallMs - 10 < boundMs, `the extension host never stalls for ${boundMs.toFixed(1)} ms or more (largest: ${maxStallMs.toFixed(1)} ms)`);
    } finally {
      stalls.disable();
      viewStalls.disable();
      cli.close();
    }
  });
});

/**
 * What one refresh of the Tasks view reads (the stats and a page of the Pending group), done on
 * this thread as a view without the board's worker would: the fastest of three, once warm.
 */
function inlineRefreshMs(): number {
  const board = openBoard();
  try {
    let fastest = Infinity;
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      board.stats();
      board.listPage({ status: 'pending', limit: 100 });
      fastest = Math.min(fastest, performance.now() - started);
    }
    return fastest;
  } finally {
    board.close();
  }
}

/** One long-lived process that runs CLI commands sent as JSON lines and answers with their output. */
class CliRunner {
  private buffered = '';
  private readonly waiting: Array<(reply: { out?: string; error?: string }) => void> = [];

  private constructor(private readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let end = this.buffered.indexOf('\n'); end >= 0; end = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, end);
        this.buffered = this.buffered.slice(end + 1);
        this.waiting.shift()?.(JSON.parse(line) as { out?: string; error?: string });
      }
    });
  }

  static async start(): Promise<CliRunner> {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    const cliPath = path.join(extension.extensionPath, 'dist', 'cli.js');
    const script = `const { execFileSync } = require('child_process');
      require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
        let reply;
        try { reply = { out: execFileSync(process.execPath, [${JSON.stringify(cliPath)}, ...JSON.parse(line)], { encoding: 'utf8' }).trim() }; }
        catch (error) { reply = { error: String(error.stderr || error.message) }; }
        process.stdout.write(JSON.stringify(reply) + '\\n');
      });
      process.stdout.write('{}\\n');`;
    const child = spawn(process.execPath, ['-e', script], { cwd: workspaceRoot(), env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['pipe', 'pipe', 'inherit'] });
    const runner = new CliRunner(child);
    await new Promise<void>((resolve) => runner.waiting.push(() => resolve()));
    return runner;
  }

  run(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiting.push((reply) => (reply.error !== undefined ? reject(new Error(`swarm ${args.join(' ')}: ${reply.error}`)) : resolve(reply.out ?? '')));
      this.child.stdin?.write(`${JSON.stringify(args)}\n`);
    });
  }

  close(): void {
    this.child.stdin?.end();
  }
}

/** Posts `count` low-priority tasks from another process (the CLI), so posting does not stall this host. */
async function fillBoard(count: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-bulk-'));
  try {
    // In posts of 1,000: ids made in one millisecond repeat after 1,296 (a core issue reported apart).
    for (let start = 0; start < count; start += 1_000) {
      const file = path.join(dir, `tasks-${start}.jsonl`);
      const lines = Array.from({ length: Math.min(1_000, count - start) }, (_, index) => JSON.stringify({ title: `bulk ${start + index}`, priority: -1 }));
      fs.writeFileSync(file, lines.join('\n') + '\n');
      await swarmCliAsync('post', '--jsonl', file);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The CLI in another process without blocking this one (execFileSync would stall the host itself). */
async function swarmCliAsync(...args: string[]): Promise<string> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension);
  const cli = path.join(extension.extensionPath, 'dist', 'cli.js');
  const { stdout } = await execFileAsync(process.execPath, [cli, ...args], { cwd: workspaceRoot(), env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

// The agentSwarm.board setting pointing VS Code at a Redis board (a real redis-server started by
// test/harness/redis.ts): the Tasks view shows what the CLI posts there, Swarm: Start runs the
// pool on it until the task is done and its result opens for review, and a wrong password leaves
// the views empty until Swarm: Set Board Password fixes it.
import * as assert from 'assert';
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import * as vscode from 'vscode';
import type { SwarmExtensionApi } from '../../../src/extension/extension';
import type { TaskNode } from '../../../src/extension/views/tasksTree';
import type { DashboardProbe } from '../../../src/extension/dashboard/panel';
import type { PoolRow } from '../../../src/extension/logic/poolView';
import { startRedis, type RedisServer } from '../../harness/redis';
import { EXTENSION_ID, extensionApi as api, waitFor, workspaceRoot } from '../support/workspace';

const execFileAsync = promisify(execFile);

/** The CLI in another process, with the password (if any) from the environment as a user would pass it. */
async function swarmCli(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(extension);
  const cli = path.join(extension.extensionPath, 'dist', 'cli.js');
  const { stdout } = await execFileAsync(process.execPath, [cli, ...args], { cwd: workspaceRoot(), env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...env }, encoding: 'utf8' });
  return stdout.trim();
}

async function pendingIds(swarm: SwarmExtensionApi): Promise<string[]> {
  const pending = (await swarm.tasks.getChildren()).find((node) => node.kind === 'group' && node.group.status === 'pending');
  if (!pending) return [];
  return (await swarm.tasks.getChildren(pending)).flatMap((node: TaskNode) => (node.kind === 'task' ? [node.task.id] : []));
}

/** The Pool view's rows, two levels deep. */
async function poolRows(swarm: SwarmExtensionApi): Promise<PoolRow[]> {
  return swarm.pool.getChildren();
}

function setBoard(url: string | undefined): Thenable<void> {
  return vscode.workspace.getConfiguration('agentSwarm').update('board', url, vscode.ConfigurationTarget.Global);
}

suite('Redis board (agentSwarm.board)', () => {
  const servers: RedisServer[] = [];

  suiteTeardown(async function () {
    this.timeout(60_000);
    await setBoard(undefined);
    for (const server of servers) await server.stop();
  });

  test('the Tasks view shows tasks posted to the Redis board from the CLI, followed live', async function () {
    this.timeout(120_000);
    const swarm = await api();
    const redis = await startRedis();
    servers.push(redis);
    const url = `redis://127.0.0.1:${redis.port}/0?board=vscode`;
    const id = await swarmCli({}, '--board', url, 'post', 'Posted to Redis from a terminal');
    await setBoard(url);
    await waitFor('the Redis task in the Pending group', async () => ((await pendingIds(swarm)).includes(id) ? true : undefined), 60_000);
    assert.match((await swarm.session.viewBoard())?.describe() ?? '', /^redis:\/\/127\.0\.0\.1:\d+/);
    const later = await swarmCli({}, '--board', url, 'post', 'Posted while the view is open');
    await waitFor('the second Redis task, followed live', async () => ((await pendingIds(swarm)).includes(later) ? true : undefined), 60_000);
  });

  test('a server that goes away: the views and the dashboard keep the last state, marked offline, and recover when it is back; the dashboard lists the other pools', async function () {
    this.timeout(240_000);
    const swarm = await api();
    const redis = await startRedis({ aof: true });
    servers.push(redis);
    const url = `redis://127.0.0.1:${redis.port}/0?board=offline`;
    const id = await swarmCli({}, '--board', url, 'post', 'Seen before the outage');
    await setBoard(url);
    await waitFor('the task in the Pending group', async () => ((await pendingIds(swarm)).includes(id) ? true : undefined), 60_000);
    // A pool on "another machine": swarm run in its own process, holding the task.
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    const runner = spawn(process.execPath, [path.join(extension.extensionPath, 'dist', 'cli.js'), '--board', url, 'run', '--agents', '1', '--sandbox', 'off', '--isolation', 'none', '--exec', 'sleep 600'], {
      cwd: workspaceRoot(),
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: 'ignore',
    });
    const runnerExited = new Promise<void>((resolve) => runner.on('exit', () => resolve()));
    try {
      await vscode.commands.executeCommand('agentSwarm.openDashboard');
      const probe = (): Promise<DashboardProbe | undefined> => Promise.resolve(vscode.commands.executeCommand<DashboardProbe | undefined>('agentSwarm.internal.dashboardProbe'));
      await waitFor('the runner in the dashboard\'s other pools', async () => ((await probe())?.lastUpdate?.hosts?.some((host) => host.hostPid === runner.pid && !host.gone) ? true : undefined), 90_000);
      await waitFor('the Pool view to list the runner', async () => (JSON.stringify(await poolRows(swarm)).includes(`pid ${runner.pid}`) ? true : undefined), 60_000);

      const stoppedAt = Date.now();
      await redis.crash();
      const offline = await waitFor('the Tasks view marked offline', async () => {
        const top = await swarm.tasks.getChildren();
        return top[0]?.kind === 'offline' ? top[0] : undefined;
      }, 60_000);
      assert.ok(offline.kind === 'offline' && offline.state.since >= stoppedAt && (offline.state.lastSeenAt ?? 0) <= offline.state.since);
      const item = swarm.tasks.getTreeItem(offline);
      assert.match(String(item.label), /^Offline since .*: showing the board as last seen at /);
      assert.ok((await pendingIds(swarm)).includes(id) || (await swarm.tasks.getChildren()).some((node) => node.kind === 'group'), 'the last state read is still shown');
      await waitFor('the Pool view marked offline, with the hosts last read', async () => {
        const rows = await poolRows(swarm);
        const row = rows.find((candidate) => candidate.id === 'offline');
        return row && /^Offline since /.test(row.label) && JSON.stringify(row.children ?? []).includes(`pid ${runner.pid}`) ? true : undefined;
      }, 60_000);
      const dashboard = await waitFor('the dashboard marked offline, keeping the counts', async () => {
        const update = (await probe())?.lastUpdate;
        return update?.offline && update.board ? update : undefined;
      }, 60_000);
      assert.ok(dashboard.offline!.since >= stoppedAt);
      assert.ok((dashboard.board?.counts.pending ?? 0) + (dashboard.board?.counts.running ?? 0) >= 1);

      await redis.restart();
      await waitFor('the Tasks view online again', async () => {
        const top = await swarm.tasks.getChildren();
        return top.length > 0 && top.every((node) => node.kind !== 'offline') ? true : undefined;
      }, 90_000);
      await waitFor('the dashboard online again', async () => ((await probe())?.lastUpdate && !(await probe())?.lastUpdate?.offline ? true : undefined), 90_000);
      await waitFor('the Pool view online again', async () => ((await poolRows(swarm)).every((row) => row.id !== 'offline') ? true : undefined), 90_000);
    } finally {
      runner.kill('SIGKILL');
      await runnerExited;
    }
  });

  test('Swarm: Start runs the pool on the Redis board: the task is done and its result opens for review', async function () {
    this.timeout(240_000);
    const swarm = await api();
    const redis = await startRedis();
    servers.push(redis);
    const url = `redis://127.0.0.1:${redis.port}/0?board=run`;
    // The run's executor (runs.ts) writes shout.txt in the task's worktree.
    const id = await swarmCli({}, '--board', url, 'post', 'Shout from the Redis board');
    await setBoard(url);
    await waitFor('the task in the Pending group', async () => ((await pendingIds(swarm)).includes(id) ? true : undefined), 60_000);
    await vscode.commands.executeCommand('agentSwarm.start');
    try {
      assert.ok(swarm.session.isRunning, 'Swarm: Start started the pool on the Redis board');
      const board = await swarm.session.viewBoard();
      assert.ok(board);
      const done = await waitFor('the task done by the pool', async () => {
        const task = await board.get(id);
        return task?.status === 'done' ? task : undefined;
      }, 180_000);
      assert.deepStrictEqual(((done.result as { files?: Array<{ path: string }> }).files ?? []).map((file) => file.path), ['shout.txt']);
      await vscode.commands.executeCommand('agentSwarm.task.review', id);
      const diff = await waitFor('the review of the result', () =>
        vscode.window.tabGroups.all.flatMap((group) => group.tabs.map((tab) => tab.input)).find((input): input is vscode.TabInputTextDiff => input instanceof vscode.TabInputTextDiff && input.modified.scheme === 'swarm-result'),
      );
      assert.strictEqual((await vscode.workspace.openTextDocument(diff.modified)).getText(), 'shouted\n');
      assert.ok(!fs.existsSync(path.join(workspaceRoot(), 'shout.txt')), 'reviewing writes nothing to the workspace');
    } finally {
      await vscode.commands.executeCommand('workbench.action.closeAllEditors');
      await swarm.session.stop();
      await setBoard(undefined);
    }
  });

  test('Fix with Swarm on a Redis board posts the working state with the task: a source and its bundle on the board', async function () {
    this.timeout(120_000);
    const swarm = await api();
    const redis = await startRedis();
    servers.push(redis);
    const url = `redis://127.0.0.1:${redis.port}/0?board=fix`;
    await setBoard(url);
    try {
      const board = await waitFor('the Redis board in the views', async () => swarm.session.viewBoard());
      const file = vscode.Uri.file(path.join(workspaceRoot(), 'src', 'greet.ts'));
      // An unsaved-looking edit on disk: the snapshot takes the working state, not the last commit.
      fs.appendFileSync(file.fsPath, '// edited, not committed\n');
      const diagnostic = { message: 'name is never checked', severity: 0, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } } };
      await vscode.commands.executeCommand('agentSwarm.fixProblems', file, [diagnostic]);
      const task = await waitFor('the fix task on the Redis board', async () => (await board.list()).tasks.find((candidate) => candidate.source !== undefined));
      const source = task.source;
      assert.ok(source?.artifact, 'the task names its bundle artifact');
      const bundle = await board.getArtifact(source.artifact.taskId, source.artifact.name);
      assert.strictEqual(bundle?.length, source.bundleBytes, 'the bundle is stored on the board');
      const { stdout } = await execFileAsync('git', ['show', `${source.snapshot}:src/greet.ts`], { cwd: workspaceRoot(), encoding: 'utf8' });
      assert.match(stdout, /edited, not committed/, 'the snapshot holds the uncommitted edit');
    } finally {
      await execFileAsync('git', ['checkout', '--', 'src/greet.ts'], { cwd: workspaceRoot() });
      await setBoard(undefined);
    }
  });

  test('a folder path: the views read the file board there, not the workspace .swarm', async function () {
    this.timeout(120_000);
    const swarm = await api();
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-board-setting-')), 'board');
    try {
      const id = await swarmCli({}, '--board', dir, 'post', 'Posted to a board elsewhere');
      await setBoard(dir);
      await waitFor('the task of the folder board in the Pending group', async () => ((await pendingIds(swarm)).includes(id) ? true : undefined), 60_000);
      assert.strictEqual(swarm.session.boardDir, dir, 'the pool would use the same folder');
    } finally {
      await setBoard(undefined);
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });

  test('a wrong password leaves the views empty; Swarm: Set Board Password connects', async function () {
    this.timeout(120_000);
    const swarm = await api();
    const redis = await startRedis({ password: 'right-horse-battery' });
    servers.push(redis);
    const url = `redis://127.0.0.1:${redis.port}/0?board=locked`;
    const id = await swarmCli({ SWARM_BOARD_PASSWORD: 'right-horse-battery' }, '--board', url, 'post', 'Behind a password');
    await swarm.session.setBoardPassword('wrong-password');
    await setBoard(url);
    await waitFor('the unusable board reported', async () => ((await swarm.session.viewBoard()) === undefined ? true : undefined), 60_000);
    assert.deepStrictEqual(await swarm.tasks.getChildren(), [], 'nothing is shown from a board that refused us');
    const problem = swarm.session.boardProblem ?? '';
    assert.match(problem, /refused the credentials.*Swarm: Set Board Password/, 'one line naming the problem and the fix');
    assert.doesNotMatch(problem, /wrong-password|right-horse-battery|\n\s+at /, 'no password and no stack');
    await swarm.session.setBoardPassword('right-horse-battery');
    await waitFor('the task behind the password in the Pending group', async () => ((await pendingIds(swarm)).includes(id) ? true : undefined), 60_000);
    await swarm.session.setBoardPassword(undefined);
  });

  test('an unreachable server: one plain message with what to do, nothing shown', async function () {
    this.timeout(120_000);
    const swarm = await api();
    const redis = await startRedis();
    const port = redis.port;
    await redis.stop(); // a port where nothing listens now
    await setBoard(`redis://127.0.0.1:${port}/0?board=gone`);
    await waitFor('the unreachable board reported', async () => {
      await swarm.session.viewBoard();
      return /Cannot reach/.test(swarm.session.boardProblem ?? '') ? true : undefined;
    }, 60_000);
    assert.match(swarm.session.boardProblem ?? '', /^The board redis:\/\/127\.0\.0\.1:\d+\/0\?board=gone cannot be used: Cannot reach .*start the server .*agentSwarm\.board setting\.$/);
    assert.deepStrictEqual(await swarm.tasks.getChildren(), []);
  });
});

// swarm.config.json inside the real extension host (the trusted `main` run): the file written by
// the test decides the executor and pool settings the session resolves; a setting the user set
// overrides it (a default does not); a broken edit is reported with file, JSON path and
// expectation plus an "Open swarm.config.json" button, and the last good configuration stays in
// force; a pool started by Swarm: Start runs the file's executor; a verify command that already fails
// before any change stops Start with one message naming it and its output, and a Show Log action.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { descendantProcesses, waitFor, workspaceRoot } from '../support/workspace';

const EXTENSION_ID = 'agent-swarm.agent-swarm';

interface ExecutorLike {
  type: string;
  command?: string;
  verify?: unknown;
}
interface SessionLike {
  isRunning: boolean;
  resolveExecutor(): ExecutorLike;
  poolSettings(): { maxAgents?: number; idleTimeoutMs?: number; minAgents?: number };
  projectConfig: { honoured: boolean; state?: { keptLastGood: boolean; errors: unknown[] } };
  ensureBoard(): { post(input: { title: string }): { id: string }; get(id: string): { status: string; attempts: number } | undefined; cancel(id: string): unknown };
  stop(): Promise<void>;
}

async function session(): Promise<SessionLike> {
  const extension = vscode.extensions.getExtension<{ session: SessionLike }>(EXTENSION_ID);
  assert.ok(extension, 'the extension is installed');
  const api = await extension.activate();
  return api.session;
}

function configFile(): string {
  return path.join(workspaceRoot(), 'swarm.config.json');
}

function writeConfig(config: unknown): void {
  fs.writeFileSync(configFile(), typeof config === 'string' ? config : JSON.stringify(config, null, 2));
}

function commandOf(swarm: SessionLike): string | undefined {
  try {
    return swarm.resolveExecutor().command;
  } catch {
    return undefined;
  }
}

const settings = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('agentSwarm');

const fileConfig = {
  executors: {
    fromFile: { type: 'command', command: 'echo file > marker-$SWARM_TASK_ID.txt' },
    other: { type: 'command', command: 'echo other' },
  },
  defaultExecutor: 'fromFile',
  verify: 'true',
  pool: { maxAgents: 3, idleTimeoutMs: 5_000 },
};

describe('swarm.config.json in a trusted workspace', function () {
  this.timeout(90_000);
  type Shown = { message: string; items: string[] };
  const shownErrors: Shown[] = [];
  const originalShowError = vscode.window.showErrorMessage;

  before(() => {
    // Capture the messages the extension shows (this module shares the extension's vscode API object).
    (vscode.window as { showErrorMessage: unknown }).showErrorMessage = (message: string, ...items: unknown[]) => {
      shownErrors.push({ message, items: items.filter((item): item is string => typeof item === 'string') });
      return Promise.resolve(undefined);
    };
  });

  after(async () => {
    (vscode.window as { showErrorMessage: unknown }).showErrorMessage = originalShowError;
    const swarm = await session();
    await swarm.stop();
    for (const key of ['executor', 'pool.maxAgents', 'pool.idleTimeoutSeconds', 'verify', 'isolation']) await settings().update(key, undefined, vscode.ConfigurationTarget.Global);
    await settings().update('isolation', undefined, vscode.ConfigurationTarget.Workspace);
    fs.rmSync(configFile(), { force: true });
    for (const name of fs.readdirSync(workspaceRoot())) if (name.startsWith('marker-')) fs.rmSync(path.join(workspaceRoot(), name), { force: true });
  });

  it('the executor, verify and pool settings the session resolves come from the file (read on change)', async () => {
    const swarm = await session();
    assert.strictEqual(swarm.projectConfig.honoured, true, 'a trusted workspace honours the file');
    writeConfig(fileConfig);
    await waitFor('the file executor', () => (commandOf(swarm) === fileConfig.executors.fromFile.command ? true : undefined));
    const executor = swarm.resolveExecutor();
    assert.strictEqual(executor.type, 'command');
    assert.deepStrictEqual(executor.verify, 'true', 'the top-level verify applies to the executor');
    const pool = swarm.poolSettings();
    assert.strictEqual(pool.maxAgents, 3);
    assert.strictEqual(pool.idleTimeoutMs, 5_000, 'a setting left at its default does not hide the file');
  });

  it('a setting the user set overrides the file, and unsetting it brings the file back', async () => {
    const swarm = await session();
    await settings().update('executor', { type: 'command', command: 'echo from-setting' }, vscode.ConfigurationTarget.Global);
    await waitFor('the setting executor', () => (commandOf(swarm) === 'echo from-setting' ? true : undefined));
    await settings().update('executor', 'other', vscode.ConfigurationTarget.Global);
    await waitFor('the file entry named by the setting', () => (commandOf(swarm) === 'echo other' ? true : undefined));
    await settings().update('executor', undefined, vscode.ConfigurationTarget.Global);
    await waitFor('the file executor again', () => (commandOf(swarm) === fileConfig.executors.fromFile.command ? true : undefined));

    await settings().update('pool.maxAgents', 5, vscode.ConfigurationTarget.Global);
    await settings().update('pool.idleTimeoutSeconds', 7, vscode.ConfigurationTarget.Global);
    await waitFor('pool settings from the user settings', () => (swarm.poolSettings().maxAgents === 5 ? true : undefined));
    assert.strictEqual(swarm.poolSettings().idleTimeoutMs, 7_000);
    await settings().update('pool.maxAgents', undefined, vscode.ConfigurationTarget.Global);
    await settings().update('pool.idleTimeoutSeconds', undefined, vscode.ConfigurationTarget.Global);
    await waitFor('pool settings from the file again', () => (swarm.poolSettings().maxAgents === 3 ? true : undefined));
  });

  it('a broken edit is reported precisely with an Open button, and the last good configuration stays in force', async () => {
    const swarm = await session();
    shownErrors.length = 0;
    writeConfig({ ...fileConfig, defaultExecutor: 'other', pool: { maxAgents: 'four' } });
    const shown = await waitFor('an error message about the file', () => shownErrors.find((entry) => entry.message.includes('swarm.config.json')));
    assert.ok(shown.message.includes(configFile()), `names the file: ${shown.message}`);
    assert.match(shown.message, /pool\.maxAgents: expected number, found string/);
    assert.match(shown.message, /last valid configuration stays in force/);
    assert.deepStrictEqual(shown.items, ['Open swarm.config.json']);
    assert.strictEqual(swarm.projectConfig.state?.keptLastGood, true);
    assert.strictEqual(commandOf(swarm), fileConfig.executors.fromFile.command, 'the executor of the last good file, not the broken edit');
    assert.strictEqual(swarm.poolSettings().maxAgents, 3);

    writeConfig(fileConfig);
    await waitFor('the fixed file in force', () => (swarm.projectConfig.state?.errors.length === 0 ? true : undefined));
  });

  it('Swarm: Start runs the pool with the file\'s executor', async () => {
    const swarm = await session();
    // The fixture is not a git repository: working in the folder is opted into for this test.
    await settings().update('isolation', 'direct', vscode.ConfigurationTarget.Workspace);
    writeConfig({ ...fileConfig, verify: undefined });
    await waitFor('the file without verify', () => (swarm.resolveExecutor().verify === undefined ? true : undefined));
    const task = swarm.ensureBoard().post({ title: 'config decides the executor' });
    await vscode.commands.executeCommand('agentSwarm.start');
    assert.deepStrictEqual(shownErrors.filter((entry) => !entry.message.includes('swarm.config.json')), [], 'Swarm: Start reported no error');
    const marker = path.join(workspaceRoot(), `marker-${task.id}.txt`);
    await waitFor('the marker written by the file executor', () => (fs.existsSync(marker) ? true : undefined), 60_000);
    assert.strictEqual(fs.readFileSync(marker, 'utf8').trim(), 'file');
    assert.ok(
      descendantProcesses(process.pid).some((child) => /agent\.js/.test(child.args)),
      'agent.js processes run below the extension host while the pool runs (what the Restricted Mode suite looks for)',
    );
    await swarm.stop();
  });

  it('Swarm: Start refuses when the verify command fails before any change: one message with the command and its first output line, Show Log, no task claimed', async () => {
    const swarm = await session();
    await settings().update('isolation', 'direct', vscode.ConfigurationTarget.Workspace);
    const verify = 'echo "FAIL sum(2, 2) gave 0"; echo "1 of 3 tests failed"; exit 3';
    writeConfig({ ...fileConfig, verify });
    await waitFor('the file with the failing verify', () => (swarm.resolveExecutor().verify === verify ? true : undefined));
    const task = swarm.ensureBoard().post({ title: 'never claimed: verify fails before any change' });
    try {
      shownErrors.length = 0;
      await vscode.commands.executeCommand('agentSwarm.start');
      const shown = await waitFor('the verify failure shown', () => shownErrors.find((entry) => entry.message.includes('verify command')), 60_000);
      assert.doesNotMatch(shown.message, /\n/, `one line: ${shown.message}`);
      assert.ok(shown.message.includes(`\`${verify}\` (exit 3): FAIL sum(2, 2) gave 0`), `names the command, its exit and its first output line: ${shown.message}`);
      assert.match(shown.message, /before any change/);
      assert.match(shown.message, /No task was started: fix the verify command/);
      assert.doesNotMatch(shown.message, /See the Agent Swarm log for details|--verify/, 'a message for the user, not a logged bug or a CLI flag');
      assert.deepStrictEqual(shown.items, ['Show Log']);
      assert.strictEqual(swarm.isRunning, false, 'the pool stopped');
      const markers = fs.readdirSync(workspaceRoot()).filter((name) => name === `marker-${task.id}.txt`);
      assert.deepStrictEqual(markers, [], 'the executor never ran the task');
      assert.deepStrictEqual([swarm.ensureBoard().get(task.id)?.status, swarm.ensureBoard().get(task.id)?.attempts], ['pending', 0], 'the task was never claimed');
    } finally {
      swarm.ensureBoard().cancel(task.id); // later suites claim the board's next pending task
    }
  });
});
